#!/usr/bin/env bash
# Every bench script in its short mode (BENCH_SHORT=1: seconds, small sizes, the debug build,
# nothing kept), one after the other, so that a change that breaks a bench fails CI. Each
# script's own output goes to stderr; then one line per script with its status and seconds.
# Exits non-zero when any script failed, after running them all.
#
# Usage (as root, from anywhere): bash bench/short.sh [SCRIPT...]   default: every bench/*.sh
# but common.sh and this one.
set -uo pipefail
cd "$(dirname "$0")/.."

if (($#)); then
  scripts=("$@")
else
  scripts=()
  for f in bench/*.sh; do
    case "${f##*/}" in common.sh | short.sh) ;; *) scripts+=("$f") ;; esac
  done
fi

# One build for all: each script would otherwise run cargo's up-to-date check itself.
if [ -z "${BENCH_BIN:-}" ]; then
  cargo build -q --bin checklist-exporter || { echo "cargo build failed" >&2; exit 1; }
  export BENCH_BIN=$PWD/target/debug/checklist-exporter
fi

summary=()
failed=0
for script in "${scripts[@]}"; do
  echo "=== $script (short mode)" >&2
  start=$SECONDS
  BENCH_SHORT=1 bash "$script" >&2
  status=$?
  seconds=$((SECONDS - start))
  if ((status == 0)); then
    summary+=("ok     ${seconds}s  $script")
  else
    summary+=("FAILED ${seconds}s  $script (exit status $status)")
    failed=$((failed + 1))
  fi
done
printf '%s\n' "${summary[@]}"
((failed == 0)) || { echo "$failed of ${#scripts[@]} bench scripts failed in short mode" >&2; exit 1; }
