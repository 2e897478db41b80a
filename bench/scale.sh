#!/usr/bin/env bash
# Scale (issue 17), all on loopback, in one run:
#  - for each N in $SCALE_SIZES (1,000 and 10,000; short mode 200): N `tls` checks every 60 s
#    against one local nginx TLS port (one SNI name each), side by side with blackbox_exporter
#    driven at the same probe rate (N / 60 probes a second, evenly paced) against the same port:
#    CPU % of a core over $PROFILE_SECONDS (60), the per-second CPU profile (peak second over
#    mean, from utime+stime in /proc/PID/stat read each second), RSS when the first round is
#    done and after a few scrapes of /metrics and /api/v1/items;
#  - $TCP_ITEMS (10,000; short 200) `tcp_port` items with a 1 h interval, so the store does not
#    change while it is scraped: RSS, CPU of the first /metrics scrape, CPU per scrape over
#    $SCRAPES (50) scrapes of the unchanged store with and without gzip asked for, and bytes on
#    the wire each way (what Content-Encoding is served), next to node_exporter's per-scrape CPU
#    and bytes in the same run.
# Usage (as root): bash bench/scale.sh       results: key=value lines on stdout; per-second
#   profiles in $BENCH_DIR/profile_N.csv (default /tmp/checklist-bench-scale)
#   BENCH_SHORT=1 bash bench/scale.sh         seconds, small sizes, nothing kept (what CI runs)
# Needs: nginx, prometheus-blackbox-exporter, prometheus-node-exporter, openssl, curl, python3.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
source bench/common.sh

if bench_short; then
  SIZES=${SCALE_SIZES:-200} PROFILE_SECONDS=${PROFILE_SECONDS:-5} TCP_ITEMS=${TCP_ITEMS:-200} SCRAPES=${SCRAPES:-5}
else
  SIZES=${SCALE_SIZES:-"1000 10000"} PROFILE_SECONDS=${PROFILE_SECONDS:-60} TCP_ITEMS=${TCP_ITEMS:-10000} SCRAPES=${SCRAPES:-50}
fi
READY_SECONDS=${READY_SECONDS:-300}
if bench_short; then SETTLE_SECONDS=${SETTLE_SECONDS:-0}; else SETTLE_SECONDS=${SETTLE_SECONDS:-60}; fi

need=()
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x /usr/bin/prometheus-blackbox-exporter ] || need+=(prometheus-blackbox-exporter)
[ -x /usr/bin/prometheus-node-exporter ] || need+=(prometheus-node-exporter)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
install_missing "${need[@]}"

bench_dir /tmp/checklist-bench-scale
BIN=$(bench_binary)
# Written back to disk, as an installed binary is: the daemon hands its start-up code pages back
# after the first round (src/support/memory.rs), and the kernel cannot drop dirty ones.
sync "$BIN"
HZ=$(getconf CLK_TCK)
# CPU time of all of a process's threads in nanoseconds (first field of each thread's schedstat):
# finer than clock ticks, for a single scrape.
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d", s}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f", k / 1024}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b == 0) print "nan"; else printf "%.2f", a / b}'; }

echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ); binary $BIN"
res exporter_version "$("$BIN" --version | awk 'NR == 1 {print $3}')"
res blackbox_version "$(/usr/bin/prometheus-blackbox-exporter --version 2>&1 | awk 'NR == 1 {print $3}')"
res node_exporter_version "$(/usr/bin/prometheus-node-exporter --version 2>&1 | awk 'NR == 1 {print $3}')"

make_pki "$W/pki" 2>"$W/pki.log"
P_TLS=$(free_port)
start_nginx_tls "$W/nginx" "$W/pki" "$P_TLS"

# Starts the daemon on CONFIG at a free port and waits until every item was evaluated once
# (/-/ready); sets $ce and $ce_url.
start_exporter() { # config log
  local port
  port=$(free_port)
  # The state file in the bench's directory: the default (data/ beside the working directory)
  # would carry verdicts from an earlier run into this one.
  "$BIN" --config.file "$1" --web.listen-address "127.0.0.1:$port" --state.file "$W/state_$port.json" --log.level warn \
    </dev/null >/dev/null 2>"$2" &
  ce=$!
  pids+=("$ce")
  ce_url="http://127.0.0.1:$port"
  wait_http "$ce_url/-/ready" "$ce" checklist-exporter "$READY_SECONDS" "$2"
}
stop() { kill "$1" 2>/dev/null || true; wait "$1" 2>/dev/null || true; }
evaluations() { curl -sf --max-time 60 "$ce_url/metrics" | awk '/^checklist_item_evaluations_total/ {s += $NF} END {printf "%d", s}'; }

# The per-second profile of two processes over SECONDS: a CSV of second, elapsed, and each
# one's % of a core in that second. utime+stime are read on each whole second from the start
# (the sleep is what is left of the second, so the reads do not drift), and the elapsed time
# between reads is measured, not assumed.
profile() { # seconds csv pid_a pid_b
  local i a0 b0 t0 a1 b1 t1 start
  echo "second,elapsed_s,checklist_percent,blackbox_percent" >"$2"
  a0=$(cpu_ticks "$3"); b0=$(cpu_ticks "$4"); t0=$(date +%s%N)
  start=$t0
  for ((i = 1; i <= $1; i++)); do
    sleep "$(awk -v d=$((start + i * 1000000000 - $(date +%s%N))) 'BEGIN {printf "%.3f", (d > 0 ? d : 0) / 1e9}')"
    require_alive "$3" checklist-exporter
    require_alive "$4" blackbox_exporter
    a1=$(cpu_ticks "$3"); b1=$(cpu_ticks "$4"); t1=$(date +%s%N)
    awk -v i="$i" -v a=$((a1 - a0)) -v b=$((b1 - b0)) -v dt=$((t1 - t0)) -v hz="$HZ" \
      'BEGIN {s = dt / 1e9; printf "%d,%.3f,%.1f,%.1f\n", i, s, a / hz / s * 100, b / hz / s * 100}' >>"$2"
    a0=$a1 b0=$b1 t0=$t1
  done
}
# Mean % of a core over the profile (weighted by elapsed time), the busiest second, their ratio.
profile_figures() { # csv column
  awk -F, -v c="$2" 'NR > 1 {t += $2; busy += $c * $2; if ($c > peak) peak = $c}
    END {mean = busy / t; printf "%.2f %.1f %s\n", mean, peak, (mean > 0 ? sprintf("%.1f", peak / mean) : "nan")}' "$1"
}

# CPU milliseconds per event over the whole profile: the column's busy time over the count.
cpu_ms_per_event() { # csv column count
  awk -F, -v c="$2" -v n="$3" 'NR > 1 {busy += $c * $2 / 100} END {if (n == 0) print "nan"; else printf "%.3f", busy * 1000 / n}' "$1"
}

# ---------------------------------------------------------------- N tls checks against blackbox
tls_scale() { # n
  local n=$1 i bb_port bb bb_url rate driver e0 e1 passing
  {
    echo '[settings]'
    for ((i = 1; i <= n; i++)); do
      printf '[[checks]]\nkind = "tls"\naddress = "127.0.0.1:%s"\nserver_name = "s%d.app.test"\nsystem_roots = false\nca_files = ["%s"]\ninterval = "60s"\ntimeout = "30s"\n' \
        "$P_TLS" "$i" "$W/pki/ca.crt"
      printf '  [[checks.items]]\n  id = "scale.tls_%d"\n  section = "Scale"\n  title = "TLS endpoint %d trusted"\n  severity = "info"\n  decides = "trusted"\n' "$i" "$i"
    done
  } >"$W/tls_$n.toml"
  "$BIN" --config.check --config.file "$W/tls_$n.toml" >/dev/null || die "the daemon refuses $W/tls_$n.toml"

  write_blackbox_tls_module "$W/blackbox.yml" "$W/pki/ca.crt"
  bb_port=$(free_port)
  /usr/bin/prometheus-blackbox-exporter --config.file="$W/blackbox.yml" --web.listen-address="127.0.0.1:$bb_port" \
    >"$W/blackbox_$n.log" 2>&1 &
  bb=$!
  pids+=("$bb")
  bb_url="http://127.0.0.1:$bb_port"
  local probe_path="/probe?module=tls_connect&target=127.0.0.1:$P_TLS"
  wait_http "$bb_url/metrics" "$bb" blackbox_exporter 20 "$W/blackbox_$n.log"
  curl -sf "$bb_url$probe_path" | grep -q '^probe_success 1' || die "blackbox_exporter's TLS probe of 127.0.0.1:$P_TLS did not succeed (log: $W/blackbox_$n.log)"

  start_exporter "$W/tls_$n.toml" "$W/exporter_tls_$n.log"
  res "tls_${n}_checklist_rss_first_round_done_kib" "$(status_kib "$ce" VmRSS)"
  # The first round runs in the start-up seconds; each check's next run then falls on its own
  # offset in the interval after it, so the minute right after /-/ready holds only about half a
  # round. Profiled after one more interval, the minute holds one evaluation of every check:
  # the same work as blackbox's N probes.
  sleep "$SETTLE_SECONDS"
  require_alive "$ce" checklist-exporter
  e0=$(evaluations)

  # Side by side: blackbox at the daemon's probe rate for the profile, while the daemon runs.
  rate=$(awk -v n="$n" 'BEGIN {printf "%.3f", n / 60}')
  python3 bench/loopback.py probes "$bb_port" "$probe_path" "$rate" "$PROFILE_SECONDS" >"$W/driver_$n.txt" &
  driver=$!
  pids+=("$driver")
  profile "$PROFILE_SECONDS" "$W/profile_$n.csv" "$ce" "$bb"
  wait "$driver" || die "the blackbox probes failed: $(cat "$W/driver_$n.txt")"
  e1=$(evaluations)

  read -r ce_mean ce_peak ce_peak_over_mean < <(profile_figures "$W/profile_$n.csv" 3)
  read -r bb_mean bb_peak bb_peak_over_mean < <(profile_figures "$W/profile_$n.csv" 4)
  res "tls_${n}_profile_seconds" "$PROFILE_SECONDS"
  res "tls_${n}_checklist_evaluations_in_profile" "$((e1 - e0))"
  res "tls_${n}_blackbox_probes_in_profile" "$(awk '{sub(/probes=/, "", $1); print $1}' "$W/driver_$n.txt")"
  res "tls_${n}_checklist_cpu_percent_of_a_core" "$ce_mean"
  res "tls_${n}_blackbox_cpu_percent_of_a_core" "$bb_mean"
  res "tls_${n}_cpu_ratio_checklist_over_blackbox" "$(ratio "$ce_mean" "$bb_mean")"
  # The window need not hold exactly one round (the second round queues behind the 16 slots too):
  # per evaluation, and per probe, the figures compare whatever the window held.
  res "tls_${n}_checklist_cpu_ms_per_evaluation" "$(cpu_ms_per_event "$W/profile_$n.csv" 3 $((e1 - e0)))"
  res "tls_${n}_blackbox_cpu_ms_per_probe" "$(cpu_ms_per_event "$W/profile_$n.csv" 4 "$(awk '{sub(/probes=/, "", $1); print $1}' "$W/driver_$n.txt")")"
  res "tls_${n}_checklist_peak_second_percent" "$ce_peak"
  res "tls_${n}_checklist_peak_second_over_mean" "$ce_peak_over_mean"
  res "tls_${n}_blackbox_peak_second_percent" "$bb_peak"
  res "tls_${n}_blackbox_peak_second_over_mean" "$bb_peak_over_mean"

  # A few scrapes of each, as Prometheus and the page would make, then memory.
  for i in 1 2; do
    curl -sf --max-time 60 -o "$W/items_$n.json" "$ce_url/api/v1/items" || die "GET /api/v1/items failed"
    curl -sf --max-time 60 -o /dev/null "$ce_url/metrics" || die "GET /metrics failed"
    curl -sf --max-time 10 -o /dev/null "$bb_url/metrics" || die "blackbox_exporter's /metrics failed"
  done
  passing=$(grep -o '"state": *"pass"' "$W/items_$n.json" | wc -l)
  ((passing == n)) || die "$passing of $n tls items pass (wanted all; see $W/items_$n.json)"
  local rss anon hwm bb_rss
  rss=$(status_kib "$ce" VmRSS) anon=$(status_kib "$ce" RssAnon) hwm=$(status_kib "$ce" VmHWM)
  bb_rss=$(status_kib "$bb" VmRSS)
  res "tls_${n}_checklist_rss_after_scrapes_kib" "$rss"
  res "tls_${n}_checklist_rss_after_scrapes_mib" "$(mib "$rss")"
  res "tls_${n}_checklist_rss_anon_after_scrapes_mib" "$(mib "$anon")"
  res "tls_${n}_checklist_peak_rss_mib" "$(mib "$hwm")"
  res "tls_${n}_blackbox_rss_kib" "$bb_rss"
  res "tls_${n}_blackbox_rss_mib" "$(mib "$bb_rss")"
  res "tls_${n}_blackbox_rss_anon_mib" "$(mib "$(status_kib "$bb" RssAnon)")"
  res "tls_${n}_rss_ratio_checklist_over_blackbox" "$(ratio "$rss" "$bb_rss")"
  stop "$ce"
  stop "$bb"
}

for n in $SIZES; do tls_scale "$n"; done

# ---------------------------------------------------------------- tcp_port items; one scrape's cost
make_tcp_port_config "$TCP_ITEMS" "$W/tcp_$TCP_ITEMS.toml" 1h
start_exporter "$W/tcp_$TCP_ITEMS.toml" "$W/exporter_tcp.log"
node_port=$(free_port)
start_node_exporter "$node_port" "$W"
node_url=http://127.0.0.1:$node_port
res "tcp_${TCP_ITEMS}_rss_first_round_done_kib" "$(status_kib "$ce" VmRSS)"

# The first scrape after the first full round renders what the round wrote.
c0=$(cpu_ns "$ce")
curl -sf --max-time 60 -o "$W/metrics_identity.txt" "$ce_url/metrics" || die "GET /metrics failed"
c1=$(cpu_ns "$ce")
res "tcp_${TCP_ITEMS}_first_scrape_cpu_ms" "$(awk -v d=$((c1 - c0)) 'BEGIN {printf "%.2f", d / 1e6}')"
series_passing=$(grep -c '^checklist_item_passing{' "$W/metrics_identity.txt" || true)
((series_passing == TCP_ITEMS)) || die "/metrics holds $series_passing checklist_item_passing series for $TCP_ITEMS tcp_port items"
curl -sf --max-time 60 -H 'Accept-Encoding: gzip' -D "$W/gzip_head.txt" -o "$W/metrics_gzip.bin" "$ce_url/metrics" || die "GET /metrics with gzip failed"
encoding=$(awk -F': *' 'tolower($1) == "content-encoding" {gsub(/\r/, "", $2); print $2}' "$W/gzip_head.txt")
res "tcp_${TCP_ITEMS}_metrics_series" "$(grep -c '^checklist_' "$W/metrics_identity.txt")"
res "tcp_${TCP_ITEMS}_metrics_bytes" "$(wc -c <"$W/metrics_identity.txt")"
res "tcp_${TCP_ITEMS}_metrics_bytes_gzip_asked" "$(wc -c <"$W/metrics_gzip.bin")"
res "tcp_${TCP_ITEMS}_metrics_content_encoding_gzip_asked" "${encoding:-none}"

# CPU per scrape of the unchanged store: the CPU time of all the process's threads (schedstat,
# in nanoseconds: clock ticks of 10 ms are too coarse for scrapes of under a millisecond) over
# SCRAPES scrapes, of the daemon and of node_exporter, one after the other in the same run.
scrape_cost() { # pid url [curl options...]
  local pid=$1 url=$2 t0 t1 i
  shift 2
  t0=$(cpu_ns "$pid")
  for ((i = 0; i < SCRAPES; i++)); do
    curl -sf --max-time 60 -o /dev/null "$@" "$url" || die "scrape $i of $url failed"
  done
  t1=$(cpu_ns "$pid")
  awk -v d=$((t1 - t0)) -v n="$SCRAPES" 'BEGIN {printf "%.3f", d / 1e6 / n}'
}
res scrapes "$SCRAPES"
res "tcp_${TCP_ITEMS}_cpu_ms_per_scrape" "$(scrape_cost "$ce" "$ce_url/metrics")"
res "tcp_${TCP_ITEMS}_cpu_ms_per_scrape_gzip_asked" "$(scrape_cost "$ce" "$ce_url/metrics" -H 'Accept-Encoding: gzip')"
res "tcp_${TCP_ITEMS}_cpu_ms_per_items_json" "$(scrape_cost "$ce" "$ce_url/api/v1/items")"
res node_cpu_ms_per_scrape "$(scrape_cost "$node" "$node_url/metrics")"
res node_cpu_ms_per_scrape_gzip_asked "$(scrape_cost "$node" "$node_url/metrics" -H 'Accept-Encoding: gzip')"
res node_metrics_bytes "$(curl -sf "$node_url/metrics" | wc -c)"
res node_metrics_bytes_gzip_asked "$(curl -sf -H 'Accept-Encoding: gzip' "$node_url/metrics" | wc -c)"
res "tcp_${TCP_ITEMS}_rss_after_scrapes_kib" "$(status_kib "$ce" VmRSS)"
res "tcp_${TCP_ITEMS}_rss_after_scrapes_mib" "$(mib "$(status_kib "$ce" VmRSS)")"
res "tcp_${TCP_ITEMS}_rss_anon_after_scrapes_mib" "$(mib "$(status_kib "$ce" RssAnon)")"
res "tcp_${TCP_ITEMS}_peak_rss_mib" "$(mib "$(status_kib "$ce" VmHWM)")"
require_alive "$ce" checklist-exporter "$W/exporter_tcp.log"
echo "# load at end $(cut -d' ' -f1-3 /proc/loadavg); raw files in $W"
