#!/usr/bin/env bash
# Runs every fuzz target for a bounded time, starting from its committed corpus and crash
# regressions. New inputs go to a scratch directory, so the committed corpus only changes when
# someone merges them in on purpose (see README.md, Development). A crash stops the script with
# the input under fuzz/artifacts/<target>/.
#
#   bash fuzz/run.sh                    # every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=600 bash fuzz/run.sh tls_hello
#   FUZZ_RUNS=20000 bash fuzz/run.sh    # a fixed number of inputs from seed FUZZ_SEED (default 1):
#                                       # the same binary and corpus give the same run (CI)
#
# libFuzzer needs nightly compiler flags; RUSTC_BOOTSTRAP=1 lets the stable toolchain accept
# them. AddressSanitizer is on, as cargo-fuzz has it by default; FUZZ_SANITIZER=none builds
# without it (a separate build of everything: the flags differ).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-20}
# A fixed count and seed make a run repeatable; the time limit still bounds it.
bounds=(-max_total_time="$seconds")
if [[ -n "${FUZZ_RUNS:-}" ]]; then
  bounds+=(-runs="$FUZZ_RUNS" -seed="${FUZZ_SEED:-1}")
fi
sanitizer=${FUZZ_SANITIZER:-address}
export RUSTC_BOOTSTRAP=1

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  cargo install --locked cargo-fuzz@0.13.2
fi

targets=("$@")
if ((${#targets[@]} == 0)); then
  mapfile -t targets < <(cargo fuzz list)
fi

# No separate `cargo fuzz build`: `run` builds with other debug-info settings and would build
# the crate a second time.
flags=(-O --debug-assertions --sanitizer "$sanitizer")
for target in "${targets[@]}"; do
  scratch=$(mktemp -d)
  mkdir -p "fuzz/corpus/$target" "fuzz/regressions/$target"
  echo "fuzz: $target for ${seconds}s"
  # One process (no -jobs): CI machines have 2 cores; -rss_limit_mb bounds a runaway input;
  # -max_len 64 KiB: bigger than any config, header block or certificate chain seed.
  log="$scratch.log"
  status=0
  cargo fuzz run "${flags[@]}" "$target" "$scratch" "fuzz/corpus/$target" "fuzz/regressions/$target" -- \
    "${bounds[@]}" -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 >"$log" 2>&1 || status=$?
  grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)|^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
  rm -rf "$scratch"
  if ((status != 0)); then
    tail -n 40 "$log" >&2
    echo "fuzz: $target failed (exit $status); the input is in fuzz/artifacts/$target/" >&2
    exit "$status"
  fi
  rm -f "$log"
done
