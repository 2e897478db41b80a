#!/usr/bin/env bash
# Benchmark of the daemon core, side by side with node_exporter in one run (all on loopback):
#  - resident memory idle on the default config, and after the first full evaluation of
#    1,000 / 5,000 / 10,000 items (memory per extra 1,000 items follows);
#  - /metrics under wrk (2 threads, 8 connections, 10 s, as shared/anchors/run.sh measures
#    node_exporter) for the default config and for 10,000 items, and node_exporter's /metrics.
# Usage (as root): bash bench/daemon.sh            results: key=value lines on stdout
#   BENCH_SHORT=1 bash bench/daemon.sh       wrk for 2 s, 200 items only, nothing kept (what CI runs)
# Needs: wrk, prometheus-node-exporter, curl (installed here with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
if bench_short; then
  DURATION=${DURATION:-2s} SIZES=${SIZES:-200}
else
  DURATION=${DURATION:-10s} SIZES=${SIZES:-"1000 5000 10000"}
fi
LARGEST=${SIZES##* }

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
install_missing "${need[@]}"

BIN=$(bench_binary)
bench_dir /tmp/checklist-bench-daemon
PORT_EXPORTER=$(free_port)
PORT_NODE=$(free_port)
rss_kib() { status_kib "$1" VmRSS; }
hwm_kib() { status_kib "$1" VmHWM; }
# Anonymous memory only: RSS also counts the pages of the binary that happen to be mapped, which
# depends on the binary's size and on the page cache more than on the program.
anon_kib() { status_kib "$1" RssAnon; }

# Starts the exporter on a config and waits until every item was evaluated once; sets $pid.
start_exporter() {
  local config=$1
  "$BIN" --config.file "$config" --web.listen-address "127.0.0.1:$PORT_EXPORTER" --log.level warn \
    </dev/null >/dev/null 2>>"$W/exporter.log" &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$PORT_EXPORTER/-/ready" "$pid" "checklist-exporter on $config" 120 "$W/exporter.log"
}

# wrk fails the bench when it could not run or a request failed: a figure from errors is no figure.
wrk_run() { # $1 url, $2 output file
  wrk -t2 -c8 -d"$DURATION" --timeout 10s --latency "$1" >"$2" || die "wrk on $1 failed: $(cat "$2")"
  ! grep -qE "Socket errors|Non-2xx" "$2" || die "wrk on $1 saw errors: $(grep -E "Socket errors|Non-2xx" "$2")"
}

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
res exporter_version "$("$BIN" --version | awk '{print $2}')"
res node_exporter_version "$(/usr/bin/prometheus-node-exporter --version 2>&1 | awk 'NR==1 {print $3}')"

# --- default config: idle memory and /metrics throughput, next to node_exporter
start_exporter config/checklist.toml
sleep 2
res default_items "$(curl -sf "http://127.0.0.1:$PORT_EXPORTER/api/v1/items" | grep -c '"id"')"
res default_rss_kib "$(rss_kib "$pid")"
res default_rss_anon_kib "$(anon_kib "$pid")"
res default_metrics_bytes "$(curl -sf "http://127.0.0.1:$PORT_EXPORTER/metrics" | wc -c)"
wrk_run "http://127.0.0.1:$PORT_EXPORTER/metrics" "$W/wrk_default.txt"
res default_wrk_rps "$(wrk_rps "$W/wrk_default.txt")"
res default_wrk_p99_ms "$(wrk_p99 "$W/wrk_default.txt")"
res default_rss_after_wrk_kib "$(rss_kib "$pid")"
require_alive "$pid" checklist-exporter "$W/exporter.log"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_node_exporter "$PORT_NODE" "$W"
res node_metrics_bytes "$(curl -sf "http://127.0.0.1:$PORT_NODE/metrics" | wc -c)"
res node_rss_idle_kib "$(rss_kib "$node")"
res node_rss_anon_idle_kib "$(anon_kib "$node")"
wrk_run "http://127.0.0.1:$PORT_NODE/metrics" "$W/wrk_node.txt"
res node_wrk_rps "$(wrk_rps "$W/wrk_node.txt")"
res node_wrk_p99_ms "$(wrk_p99 "$W/wrk_node.txt")"
res node_rss_after_wrk_kib "$(rss_kib "$node")"
require_alive "$node" node_exporter "$W/node.log"
kill "$node"; wait "$node" 2>/dev/null || true

# --- memory per item count, after the first full evaluation
for n in $SIZES; do
  make_tcp_port_config "$n" "$W/items_$n.toml"
  start_exporter "$W/items_$n.toml"
  sleep 2
  res "items_${n}_rss_kib" "$(rss_kib "$pid")"
  res "items_${n}_hwm_kib" "$(hwm_kib "$pid")"
  res "items_${n}_rss_anon_kib" "$(anon_kib "$pid")"
  if [ "$n" = "$LARGEST" ]; then
    res "items_${n}_metrics_bytes" "$(curl -sf "http://127.0.0.1:$PORT_EXPORTER/metrics" | wc -c)"
    wrk_run "http://127.0.0.1:$PORT_EXPORTER/metrics" "$W/wrk_$n.txt"
    res "items_${n}_wrk_rps" "$(wrk_rps "$W/wrk_$n.txt")"
    res "items_${n}_wrk_p99_ms" "$(wrk_p99 "$W/wrk_$n.txt")"
    res "items_${n}_rss_after_wrk_kib" "$(rss_kib "$pid")"
  fi
  require_alive "$pid" checklist-exporter "$W/exporter.log"
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
bench_short || echo "# raw wrk outputs: $W/wrk_*.txt"
