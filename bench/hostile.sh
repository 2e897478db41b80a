#!/usr/bin/env bash
# Hostile load on the HTTP server while every check runs every second (all on loopback):
#  - wrk -t2 -c64 on /metrics, then on / (the page), $DURATION each; non-2xx and socket errors,
#    requests/s, p99; meanwhile a scrape every 2 s is kept and checked: every item present, and
#    `promtool check metrics` on each;
#  - the same wrk on node_exporter's /metrics, for the ratio;
#  - oversized heads (431) and bodies (413), $OVERSIZED of each;
#  - $IDLE idle connections (slowloris: a partial request head, then nothing) opened at once and
#    held, while a scrape is timed; how many the server closed;
#  - resident memory and open file descriptors before, during and after.
# Usage (as root): bash bench/hostile.sh     results: key=value lines on stdout
#   BENCH_SHORT=1 bash bench/hostile.sh      4 s of wrk, 200 idle connections held 5 s, 5 oversized,
#                                            nothing kept; fails unless every scrape is whole and
#                                            passes promtool and the daemon lives (what CI runs)
# Needs: wrk, curl, promtool, python3, prometheus-node-exporter (installed when missing).
set -euo pipefail
cd "$(dirname "$0")/.."

source bench/common.sh
if bench_short; then
  DURATION=${DURATION:-4s} IDLE=${IDLE:-200} IDLE_SECONDS=${IDLE_SECONDS:-5} OVERSIZED=${OVERSIZED:-5}
else
  DURATION=${DURATION:-60s} IDLE=${IDLE:-10000} IDLE_SECONDS=${IDLE_SECONDS:-60} OVERSIZED=${OVERSIZED:-200}
fi

need=()
command -v wrk >/dev/null || need+=(wrk)
command -v curl >/dev/null || need+=(curl)
command -v promtool >/dev/null || need+=(prometheus)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
install_missing "${need[@]}"
# The idle client holds $IDLE sockets; the daemon raises its own soft limit at start.
ulimit -n "$(ulimit -Hn)"
((IDLE + 100 <= $(ulimit -n))) || { echo "ulimit -n $(ulimit -n) is too low for $IDLE connections" >&2; exit 1; }

BIN=$(bench_binary)
bench_dir /tmp/checklist-bench-hostile
PORT=$(free_port)
PORT_NODE=$(free_port)
kib() { status_kib "$@"; }
fds() { ls "/proc/$1/fd" | wc -l; }
memory() { # label pid
  res "${1}_rss_kib" "$(kib "$2" VmRSS)"
  res "${1}_rss_anon_kib" "$(kib "$2" RssAnon)"
  res "${1}_fds" "$(fds "$2")"
}

python3 bench/loopback.py http "$W/http.port" & pids+=($!)
wait_file "$W/http.port" $! "the loopback HTTP helper"
HTTP=$(cat "$W/http.port")

# Every check every second: host checks, DNS, a command, an http check and 40 tcp_port checks
# on loopback (half open on the helper's port, half refused on 127.0.0.x:9).
item() { printf '  [[checks.items]]\n  id = "%s"\n  section = "Hostile"\n  title = "%s"\n  severity = "info"\n' "$1" "$1"; [ -z "${2:-}" ] || printf '  decides = "%s"\n' "$2"; }
{
  printf '[settings]\ndefault_interval = "1s"\ndefault_timeout = "1s"\n'
  printf '[[checks]]\nkind = "disk"\npath = "/"\nmin_free_bytes = 1\nmin_free_ratio = 0.0\n'; item h.disk minimum
  printf '[[checks]]\nkind = "memory"\nmin_total_bytes = 1\nmax_used_ratio = 1.0\n'; item h.memory minimum; item h.memory_used used_ratio
  printf '[[checks]]\nkind = "cpu"\nmin_cores = 1\n'; item h.cpu minimum
  printf '[[checks]]\nkind = "dns"\nname = "localhost"\nrecord_types = ["A"]\n'; item h.dns
  printf '[[checks]]\nkind = "command"\nargv = ["/bin/true"]\ncommand_timeout = "800ms"\n'; item h.command
  printf '[[checks]]\nkind = "http"\nurl = "http://127.0.0.1:%s/health"\nrequest_timeout = "800ms"\n' "$HTTP"; item h.http status
  for i in $(seq 1 20); do
    printf '[[checks]]\nkind = "tcp_port"\naddress = "127.0.1.%d:%s"\nexpect = "open"\nconnect_timeout = "500ms"\n' "$i" "$HTTP"; item "h.open_$i"
    printf '[[checks]]\nkind = "tcp_port"\naddress = "127.0.2.%d:9"\nexpect = "closed"\nconnect_timeout = "500ms"\n' "$i"; item "h.closed_$i"
  done
} >"$W/hostile.toml"
"$BIN" --config.check --config.file "$W/hostile.toml" >/dev/null
ITEMS=$(grep -c 'checks.items' "$W/hostile.toml")

"$BIN" --config.file "$W/hostile.toml" --baseline.file "$W/baseline.json" --web.listen-address "127.0.0.1:$PORT" \
  --log.level warn </dev/null >/dev/null 2>"$W/exporter.log" &
pid=$!; pids+=("$pid")
wait_http "http://127.0.0.1:$PORT/-/ready" "$pid" checklist-exporter 60 "$W/exporter.log"
sleep 2

wrk_run() { wrk -t2 -c64 -d"$DURATION" --timeout 10s --latency "$1" >"$2"; }
wrk_requests() { awk '/requests in/ {print $1}' "$1"; }
# "Non-2xx or 3xx responses: N" and "Socket errors: connect A, read B, write C, timeout D", 0 when absent.
wrk_non2xx() { awk -F': ' '/Non-2xx/ {n=$2} END {print n+0}' "$1"; }
wrk_socket_errors() { awk '/Socket errors/ {gsub(/,/,""); n=$4+$6+$8+$10} END {print n+0}' "$1"; }
# 2xx answers per second: node_exporter answers 503 beyond its 40 concurrent requests.
wrk_ok_rps() { echo "$(wrk_requests "$1") $(wrk_non2xx "$1") ${DURATION%s}" | awk '{printf "%.1f", ($1 - $2) / $3}'; }
# Scrapes /metrics every 2 s while wrk runs; each is checked afterwards.
sampler() { # prefix
  local i=0
  while kill -0 "$wrk_pid" 2>/dev/null; do
    curl -sf --max-time 10 "http://127.0.0.1:$PORT/metrics" >"$W/$1_scrape_$i.txt" || echo "failed" >"$W/$1_scrape_$i.txt"
    i=$((i + 1)); sleep 2
  done
}
check_scrapes() { # prefix
  local total=0 complete=0 promtool_ok=0 f
  for f in "$W/$1"_scrape_*.txt; do
    total=$((total + 1))
    [ "$(grep -c '^checklist_item_passing{' "$f")" = "$ITEMS" ] && complete=$((complete + 1))
    promtool check metrics <"$f" >"$f.promtool" 2>&1 && promtool_ok=$((promtool_ok + 1))
  done
  res "${1}_scrapes_during_load" "$total"
  res "${1}_scrapes_with_all_${ITEMS}_items" "$complete"
  res "${1}_scrapes_passing_promtool" "$promtool_ok"
  if bench_short && ((total == 0 || complete != total || promtool_ok != total)); then
    die "$1: of $total scrapes during load, $complete held all $ITEMS items and $promtool_ok passed promtool (wanted all; files in $W)"
  fi
}
load() { # prefix url
  wrk_run "$2" "$W/wrk_$1.txt" &
  wrk_pid=$!
  sampler "$1" &
  local sampler_pid=$!
  sleep "$(( ${DURATION%s} / 2 ))"
  memory "${1}_during" "$pid"
  wait "$wrk_pid" || die "wrk on $2 failed: $(cat "$W/wrk_$1.txt")"
  wait "$sampler_pid"
  require_alive "$pid" checklist-exporter "$W/exporter.log"
  res "${1}_requests" "$(wrk_requests "$W/wrk_$1.txt")"
  res "${1}_rps" "$(wrk_rps "$W/wrk_$1.txt")"
  res "${1}_2xx_per_second" "$(wrk_ok_rps "$W/wrk_$1.txt")"
  res "${1}_p99_ms" "$(wrk_p99 "$W/wrk_$1.txt")"
  res "${1}_non_2xx" "$(wrk_non2xx "$W/wrk_$1.txt")"
  res "${1}_socket_errors" "$(wrk_socket_errors "$W/wrk_$1.txt")"
  check_scrapes "$1"
  memory "${1}_after" "$pid"
}

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
res items "$ITEMS"
memory before "$pid"
res metrics_bytes "$(curl -sf "http://127.0.0.1:$PORT/metrics" | wc -c)"
res page_bytes "$(curl -sf "http://127.0.0.1:$PORT/" | wc -c)"
load metrics "http://127.0.0.1:$PORT/metrics"
load page "http://127.0.0.1:$PORT/"
res evaluations_during_load "$(curl -sf "http://127.0.0.1:$PORT/metrics" | awk '/^checklist_item_evaluations_total/ {s += $NF} END {printf "%d", s}')"

# --- oversized heads and bodies
python3 bench/loopback.py oversized "$PORT" "$OVERSIZED" || die "the oversized requests could not be sent"
memory oversized_after "$pid"

# --- idle connections held while a scrape is timed
python3 bench/loopback.py idle "$PORT" "$IDLE" "$IDLE_SECONDS" >"$W/idle.txt" &
idle_pid=$!; pids+=("$idle_pid")
for _ in $(seq 1 600); do
  grep -q idle_opened "$W/idle.txt" && break
  require_alive "$idle_pid" "the idle-connection client"
  sleep 0.1
done
grep -q idle_opened "$W/idle.txt" || die "the idle-connection client did not open $IDLE connections within 60 s"
cat "$W/idle.txt"
memory idle_held "$pid"
res idle_scrape "$(curl -s -o "$W/idle_scrape.txt" -w 'status:%{http_code},seconds:%{time_total}' --max-time 30 "http://127.0.0.1:$PORT/metrics")"
res idle_scrape_items "$(grep -c '^checklist_item_passing{' "$W/idle_scrape.txt" || true)"
wait "$idle_pid" || true
tail -n 1 "$W/idle.txt"
memory idle_after "$pid"
res exporter_warnings "$(grep -c 'level=warn' "$W/exporter.log" || true)"
require_alive "$pid" checklist-exporter "$W/exporter.log"
res exporter_alive yes
kill "$pid"; wait "$pid" 2>/dev/null || true

# --- node_exporter under the same wrk, for the ratio
start_node_exporter "$PORT_NODE" "$W"
memory node_before "$node"
wrk_run "http://127.0.0.1:$PORT_NODE/metrics" "$W/wrk_node.txt"
res node_requests "$(wrk_requests "$W/wrk_node.txt")"
res node_rps "$(wrk_rps "$W/wrk_node.txt")"
res node_2xx_per_second "$(wrk_ok_rps "$W/wrk_node.txt")"
res node_p99_ms "$(wrk_p99 "$W/wrk_node.txt")"
res node_non_2xx "$(wrk_non2xx "$W/wrk_node.txt")"
res node_socket_errors "$(wrk_socket_errors "$W/wrk_node.txt")"
memory node_after "$node"
bench_short || echo "# raw outputs: $W"
