#!/usr/bin/env bash
# Benchmark of the daemon core, side by side with node_exporter in one run (all on loopback):
#  - resident memory idle on the default config, and after the first full evaluation of
#    1,000 / 5,000 / 10,000 items (memory per extra 1,000 items follows);
#  - /metrics under wrk (2 threads, 8 connections, 10 s, as shared/anchors/run.sh measures
#    node_exporter) for the default config and for 10,000 items, and node_exporter's /metrics.
# Usage (as root): bash bench/daemon.sh            results: key=value lines on stdout
# Needs: wrk, prometheus-node-exporter, curl (installed here with apt-get when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

W=${BENCH_DIR:-/tmp/checklist-bench-daemon}
DURATION=${DURATION:-10s}
PORT_EXPORTER=19847
PORT_NODE=19100

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
source bench/common.sh
install_missing "${need[@]}"

cargo build --release -q
BIN=$PWD/target/release/checklist-exporter

ensure_free_ports $PORT_EXPORTER $PORT_NODE
rm -rf "$W" && mkdir -p "$W"
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
# Anonymous memory only: RSS also counts the pages of the binary that happen to be mapped, which
# depends on the binary's size and on the page cache more than on the program.
anon_kib() { awk '/^RssAnon:/ {print $2}' "/proc/$1/status"; }

# A config of N items: N tcp_port checks on distinct loopback addresses, port 9 (discard),
# where nothing listens, so each evaluation is one refused connect on loopback.
make_config() {
  local n=$1 file=$2
  {
    echo '[settings]'
    echo 'default_interval = "1m"'
    for ((i = 0; i < n; i++)); do
      printf '[[checks]]\nkind = "tcp_port"\naddress = "127.%d.%d.%d:9"\nexpect = "closed"\nconnect_timeout = "1s"\n' \
        $((1 + i / 62500)) $(((i / 250) % 250)) $((1 + i % 250))
      printf '  [[checks.items]]\n  id = "bench.port_%d"\n  section = "Network Configuration"\n  title = "Port 9 closed on loopback address %d"\n  severity = "info"\n' "$i" "$i"
    done
  } >"$file"
}

# Starts the exporter on a config and waits until every item was evaluated once; sets $pid.
start_exporter() {
  local config=$1
  "$BIN" --config.file "$config" --web.listen-address "127.0.0.1:$PORT_EXPORTER" --log.level warn \
    </dev/null >/dev/null 2>>"$W/exporter.log" &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 1 600); do
    if curl -sf "http://127.0.0.1:$PORT_EXPORTER/-/ready" >/dev/null 2>&1; then return; fi
    sleep 0.1
  done
  echo "exporter on $config did not become ready" >&2
  exit 1
}

wrk_run() { # $1 url, $2 output file
  wrk -t2 -c8 -d"$DURATION" --timeout 10s --latency "$1" >"$2"
}
wrk_errors() { grep -E "Socket errors|Non-2xx" "$1" | tr '\n' ' ' || true; }

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
res exporter_version "$("$BIN" --version | awk '{print $2}')"
res node_exporter_version "$(/usr/bin/prometheus-node-exporter --version 2>&1 | awk 'NR==1 {print $3}')"

# --- default config: idle memory and /metrics throughput, next to node_exporter
start_exporter config/checklist.toml
sleep 2
res default_items "$(curl -s "http://127.0.0.1:$PORT_EXPORTER/api/v1/items" | grep -c '"id"')"
res default_rss_kib "$(rss_kib "$pid")"
res default_rss_anon_kib "$(anon_kib "$pid")"
res default_metrics_bytes "$(curl -s "http://127.0.0.1:$PORT_EXPORTER/metrics" | wc -c)"
wrk_run "http://127.0.0.1:$PORT_EXPORTER/metrics" "$W/wrk_default.txt"
res default_wrk_rps "$(wrk_rps "$W/wrk_default.txt")"
res default_wrk_p99_ms "$(wrk_p99 "$W/wrk_default.txt")"
res default_wrk_errors "\"$(wrk_errors "$W/wrk_default.txt")\""
res default_rss_after_wrk_kib "$(rss_kib "$pid")"
kill "$pid"; wait "$pid" 2>/dev/null || true

start_node_exporter "$PORT_NODE" "$W"
res node_metrics_bytes "$(curl -s "http://127.0.0.1:$PORT_NODE/metrics" | wc -c)"
res node_rss_idle_kib "$(rss_kib "$node")"
res node_rss_anon_idle_kib "$(anon_kib "$node")"
wrk_run "http://127.0.0.1:$PORT_NODE/metrics" "$W/wrk_node.txt"
res node_wrk_rps "$(wrk_rps "$W/wrk_node.txt")"
res node_wrk_p99_ms "$(wrk_p99 "$W/wrk_node.txt")"
res node_wrk_errors "\"$(wrk_errors "$W/wrk_node.txt")\""
res node_rss_after_wrk_kib "$(rss_kib "$node")"
kill "$node"; wait "$node" 2>/dev/null || true

# --- memory per item count, after the first full evaluation
for n in 1000 5000 10000; do
  make_config "$n" "$W/items_$n.toml"
  start_exporter "$W/items_$n.toml"
  sleep 2
  res "items_${n}_rss_kib" "$(rss_kib "$pid")"
  res "items_${n}_hwm_kib" "$(hwm_kib "$pid")"
  res "items_${n}_rss_anon_kib" "$(anon_kib "$pid")"
  if [ "$n" = 10000 ]; then
    res items_10000_metrics_bytes "$(curl -s "http://127.0.0.1:$PORT_EXPORTER/metrics" | wc -c)"
    wrk_run "http://127.0.0.1:$PORT_EXPORTER/metrics" "$W/wrk_10000.txt"
    res items_10000_wrk_rps "$(wrk_rps "$W/wrk_10000.txt")"
    res items_10000_wrk_p99_ms "$(wrk_p99 "$W/wrk_10000.txt")"
    res items_10000_wrk_errors "\"$(wrk_errors "$W/wrk_10000.txt")\""
    res items_10000_rss_after_wrk_kib "$(rss_kib "$pid")"
  fi
  kill "$pid"; wait "$pid" 2>/dev/null || true
done
echo "# raw wrk outputs: $W/wrk_*.txt"
