#!/usr/bin/env bash
# Reading a large dependency-audit report: checklist-exporter's `vuln_report` check (one
# `check` run, process start and config load included) side by side with `jq` deciding the same
# thing on the same file (how many vulnerabilities outside the ignore list), in one run,
# alternating, five rounds each. Prints key=value results: the wall time of each in ms, their
# ratio, and the peak resident memory (VmHWM, from /usr/bin/time -v) of each.
#
# Usage (as root on a fresh Debian machine, from the repository): bash bench/vuln_report.sh
#        BENCH_SHORT=1 bash bench/vuln_report.sh   (200 dependencies, one round: what CI runs)
# Environment: BENCH_DIR (default /tmp/checklist-bench-vuln), DEPENDENCIES (default 40000,
# about 10 MB of pip-audit JSON, below the kind's 16 MiB read limit), ROUNDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

need=()
command -v jq >/dev/null || need+=(jq)
[ -x /usr/bin/time ] || need+=(time)
install_missing "${need[@]}"

exporter=$(bench_binary)
if bench_short; then
  dependencies=${DEPENDENCIES:-200} rounds=${ROUNDS:-1}
else
  dependencies=${DEPENDENCIES:-40000} rounds=${ROUNDS:-5}
fi
bench_dir /tmp/checklist-bench-vuln
work=$W
report="$work/pip-audit.json"

# A pip-audit 2 report: every 50th dependency has two vulnerabilities (one of them ignored by
# the config), every 7th one was skipped (not on PyPI), as `pip-audit --format json` writes them.
python3 - "$dependencies" "$report" <<'PY'
import json, sys
count, path = int(sys.argv[1]), sys.argv[2]
deps = []
for i in range(count):
    name = f"package-{i:06d}"
    if i % 7 == 3:
        deps.append({"name": name, "skip_reason": "Dependency not found on PyPI and could not be audited"})
        continue
    vulns = []
    if i % 50 == 0:
        vulns = [
            {"id": f"PYSEC-2024-{i}", "fix_versions": [f"{i % 9 + 1}.0.1"], "aliases": [f"CVE-2024-{10000 + i}"],
             "description": "A crafted request makes the parser allocate without bound. " * 4},
            {"id": f"GHSA-ign{i:05d}", "fix_versions": [], "aliases": [],
             "description": "Accepted on purpose: not reachable from the application."},
        ]
    deps.append({"name": name, "version": f"{i % 9 + 1}.0.0", "vulns": vulns})
json.dump({"dependencies": deps, "fixes": []}, open(path, "w"), indent=2)
PY
bytes=$(stat -c %s "$report")
vulnerable=$(seq 0 50 $((dependencies - 1)) | awk '$1 % 7 != 3' | wc -l)

# The ignore list: every accepted GHSA id, as a config would carry them.
ignore=$(seq 0 50 $((dependencies - 1)) | awk '{printf "%s\"GHSA-ign%05d\"", (NR > 1 ? ", " : ""), $1}')
cat > "$work/checklist.toml" <<TOML
[[checks]]
kind = "vuln_report"
file = "$report"
max_age = "1d"
ignore = [$ignore]

  [[checks.items]]
  id = "security.dependency_audit"
  section = "Security"
  title = "Dependency security audit completed"
  severity = "warning"
  decides = "vulnerabilities"
TOML
printf '%s\n' $(seq 0 50 $((dependencies - 1)) | awk '{printf "GHSA-ign%05d\n", $1}') > "$work/ignore.txt"

# The same decision in jq: vulnerabilities whose id and aliases are all outside the ignore list.
jq_filter='($ignore | split("\n") | map(select(. != "")) | map({(.): true}) | add // {}) as $ok
  | [.dependencies[] | .vulns // [] | .[] | select(([.id] + (.aliases // [])) | any(. as $x | $ok[$x]) | not)] | length'

peak_kib() { awk '/Maximum resident set size/ {print $NF}' "$1"; }
ms_since() { echo $((($(date +%s%N) - $1) / 1000000)); }

ours_ms=() jq_ms=() ours_kib=0 jq_kib=0
for ((round = 1; round <= rounds; round++)); do
  start=$(date +%s%N)
  status=0
  /usr/bin/time -v -o "$work/ours.time" "$exporter" check --config.file "$work/checklist.toml" --format json \
    > "$work/ours.json" 2> "$work/ours.log" || status=$?
  ours_ms+=("$(ms_since "$start")")
  # Exit 0: the only item is a warning, so a failing verdict does not fail the run.
  ((status == 0)) || { cat "$work/ours.log" >&2; die "checklist-exporter check exited $status"; }
  reason=$(jq -r '.items[0].reason' "$work/ours.json")
  case "$reason" in
    *"lists $vulnerable known vulnerabilit"*) ;;
    *) die "unexpected verdict from checklist-exporter: $reason" ;;
  esac
  kib=$(peak_kib "$work/ours.time") && ((kib > ours_kib)) && ours_kib=$kib

  start=$(date +%s%N)
  found=$(/usr/bin/time -v -o "$work/jq.time" jq --rawfile ignore "$work/ignore.txt" "$jq_filter" "$report")
  jq_ms+=("$(ms_since "$start")")
  ((found == vulnerable)) || die "jq counted $found vulnerabilities, want $vulnerable"
  kib=$(peak_kib "$work/jq.time") && ((kib > jq_kib)) && jq_kib=$kib
done

median() { printf '%s\n' "$@" | sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
ours=$(median "${ours_ms[@]}") theirs=$(median "${jq_ms[@]}")
echo "report_bytes=$bytes"
echo "dependencies=$dependencies vulnerabilities_outside_ignore=$vulnerable"
echo "checklist_exporter_check_ms=$ours (rounds: ${ours_ms[*]})"
echo "jq_ms=$theirs (rounds: ${jq_ms[*]})"
echo "time_ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
echo "checklist_exporter_peak_rss_kib=$ours_kib"
echo "jq_peak_rss_kib=$jq_kib"
echo "rss_ratio=$(awk -v a="$ours_kib" -v b="$jq_kib" 'BEGIN {printf "%.2f", (b > 0 ? a / b : 0)}')"
