#!/usr/bin/env bash
# The cost of an environment (`[environments.NAME.vars]`, issue 17 item 4): one config of N `tls`
# checks against a local nginx TLS target, declared for E = 1 (no [environments] table), 2, 4 and
# 8 environments. Each environment doubles nothing but itself: every check and item once more.
# For each E the daemon runs its schedule while blackbox_exporter, in the same run, probes the same
# target at the same rate (E x N probes per interval); both processes' CPU and RSS are read from
# /proc, and the per-extra-environment cost is the slope over E.
#
# Usage (as root, on a fresh Debian machine; everything runs on 127.0.0.1 on free ports):
#   bash bench/environments.sh
#   BENCH_SHORT=1 bash bench/environments.sh   N=10, E = 1 and 2, 3 s windows, nothing kept (what CI runs)
# Env knobs: BENCH_DIR (default /tmp/checklist-bench-environments, wiped each run), N (checks, default
#   100), ENVS (default "1 2 4 8"), INTERVAL_S (each check's interval, default 10), RUN_S (measured
#   window, default 30). Prints key=value results; raw outputs stay in BENCH_DIR. Every process it
#   starts is stopped by PID on exit.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
source bench/common.sh

if bench_short; then
  N=${N:-10} ENVS=${ENVS:-"1 2"} INTERVAL_S=${INTERVAL_S:-2} RUN_S=${RUN_S:-3}
else
  N=${N:-100} ENVS=${ENVS:-"1 2 4 8"} INTERVAL_S=${INTERVAL_S:-10} RUN_S=${RUN_S:-30}
fi
BB=/usr/bin/prometheus-blackbox-exporter
HZ=$(getconf CLK_TCK)

need=()
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x "$BB" ] || need+=(prometheus-blackbox-exporter)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
install_missing "${need[@]}"
BIN=$(bench_binary)
bench_dir /tmp/checklist-bench-environments
P_TLS=$(free_port)
res() { printf '%s=%s\n' "$1" "$2" | tee -a "$W/results.txt"; }
res load_avg_1m_at_start "$(cut -d' ' -f1 /proc/loadavg)"
res cpus "$(nproc)"
res checks "$N"
res interval_seconds "$INTERVAL_S"

make_pki "$W/pki" 2>"$W/pki.log"
start_nginx_tls "$W/nginx" "$W/pki" "$P_TLS"

write_blackbox_tls_module "$W/blackbox.yml" "$W/pki/ca.crt"

# N tls checks, each environment pointing them at the same target under its own SNI prefix (a
# variable per environment, as a real staging/production pair would differ by host name).
config() { # environments file
  local e=$1 file=$2 i
  {
    printf '[vars]\nhost = "env1"\n'
    if ((e > 1)); then
      for ((i = 1; i <= e; i++)); do printf '[environments.env%d.vars]\nhost = "env%d"\n' "$i" "$i"; done
    fi
    for ((i = 1; i <= N; i++)); do
      printf '[[checks]]\nkind = "tls"\naddress = "127.0.0.1:%s"\nserver_name = "${host}-s%d.app.test"\nsystem_roots = false\nca_files = ["%s"]\ninterval = "%ss"\ntimeout = "%ss"\n' \
        "$P_TLS" "$i" "$W/pki/ca.crt" "$INTERVAL_S" "$INTERVAL_S"
      printf '  [[checks.items]]\n  id = "tls_%d"\n  section = "Environments"\n  title = "TLS endpoint %d trusted"\n  severity = "info"\n  decides = "trusted"\n' "$i" "$i"
    done
  } >"$file"
  "$BIN" --config.check --config.file "$file" >/dev/null || die "the daemon refuses $file"
}

# The evaluations so far, summed from an exposition on standard input.
evaluations() { awk '$1 ~ /^checklist_item_evaluations_total/ {s += $2} END {print s + 0}'; }

for e in $ENVS; do
  config "$e" "$W/envs_$e.toml"
  p_ce=$(free_port)
  "$BIN" --config.file "$W/envs_$e.toml" --web.listen-address "127.0.0.1:$p_ce" --state.file "$W/state_$e.json" \
    >"$W/exporter_$e.log" 2>&1 &
  ce=$!
  pids+=("$ce")
  wait_http "http://127.0.0.1:$p_ce/-/ready" "$ce" "checklist-exporter with $e environments" 120 "$W/exporter_$e.log"
  bb_port=$(free_port)
  "$BB" --config.file="$W/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" >"$W/blackbox_$e.log" 2>&1 &
  bb=$!
  pids+=("$bb")
  probe_path="/probe?module=tls_connect&target=127.0.0.1:$P_TLS"
  wait_http "http://127.0.0.1:$bb_port/metrics" "$bb" blackbox_exporter 20 "$W/blackbox_$e.log"
  curl -sf "http://127.0.0.1:$bb_port$probe_path" | grep -q '^probe_success 1' || die "blackbox_exporter's probe failed"
  e0=$(curl -sf "http://127.0.0.1:$p_ce/metrics" | evaluations) c0=$(cpu_ticks "$ce") b0=$(cpu_ticks "$bb")
  rate=$(awk -v n="$N" -v e="$e" -v i="$INTERVAL_S" 'BEGIN {printf "%.3f", n * e / i}')
  python3 bench/loopback.py probes "$bb_port" "$probe_path" "$rate" "$RUN_S" >"$W/driver_$e.txt" &
  driver=$!
  pids+=("$driver")
  sleep "$RUN_S"
  wait "$driver" || die "the blackbox probes failed: $(cat "$W/driver_$e.txt")"
  require_alive "$ce" checklist-exporter "$W/exporter_$e.log"
  curl -sf "http://127.0.0.1:$p_ce/metrics" >"$W/metrics_$e.txt" || die "GET /metrics failed"
  e1=$(evaluations <"$W/metrics_$e.txt") c1=$(cpu_ticks "$ce") b1=$(cpu_ticks "$bb")
  probes=$(awk '{sub(/probes=/, "", $1); print $1}' "$W/driver_$e.txt")

  curl -sf "http://127.0.0.1:$p_ce/api/v1/items" >"$W/items_$e.json" || die "GET /api/v1/items failed"
  passing=$(grep -o '"state": *"pass"' "$W/items_$e.json" | wc -l)
  ((passing == N * e)) || die "$passing of $((N * e)) items pass with $e environments (see $W/exporter_$e.log)"
  bytes=$(wc -c <"$W/metrics_$e.txt")
  if ((e > 1)); then
    labelled=$(grep -c '^checklist_item_passing{.*environment="env' "$W/metrics_$e.txt" || true)
    ((labelled == N * e)) || die "$labelled checklist_item_passing series carry an environment; wanted $((N * e))"
  fi

  res "envs_${e}_items" "$((N * e))"
  res "envs_${e}_checklist_rss_kib" "$(status_kib "$ce" VmRSS)"
  res "envs_${e}_checklist_peak_rss_kib" "$(status_kib "$ce" VmHWM)"
  res "envs_${e}_checklist_evaluations" "$((e1 - e0))"
  res "envs_${e}_checklist_cpu_ms" "$(((c1 - c0) * 1000 / HZ))"
  res "envs_${e}_checklist_cpu_ms_per_evaluation" "$(ms_per $((c1 - c0)) $((e1 - e0)))"
  res "envs_${e}_blackbox_probes" "$probes"
  res "envs_${e}_blackbox_cpu_ms" "$(((b1 - b0) * 1000 / HZ))"
  res "envs_${e}_blackbox_rss_kib" "$(status_kib "$bb" VmRSS)"
  res "envs_${e}_metrics_bytes" "$bytes"
  kill "$ce" "$bb"
  wait "$ce" "$bb" 2>/dev/null || true
done

# The slope over E: what each environment beyond the first adds.
first=${ENVS%% *}
last=${ENVS##* }
if ((last > first)); then
  get() { awk -F= -v k="$1" '$1 == k {print $2}' "$W/results.txt"; }
  slope() { awk -v a="$(get "envs_${last}_$1")" -v b="$(get "envs_${first}_$1")" -v d=$((last - first)) 'BEGIN {printf "%.0f", (a - b) / d}'; }
  res per_extra_environment_checklist_rss_kib "$(slope checklist_rss_kib)"
  res per_extra_environment_checklist_cpu_ms_per_window "$(slope checklist_cpu_ms)"
  res per_extra_environment_blackbox_cpu_ms_per_window "$(slope blackbox_cpu_ms)"
  res per_extra_environment_metrics_bytes "$(slope metrics_bytes)"
fi
res load_avg_1m_at_end "$(cut -d' ' -f1 /proc/loadavg)"
