#!/usr/bin/env bash
# TLS + security-header probes: checklist-exporter against blackbox_exporter, side by side in one
# run, against the same local nginx TLS target; then 1,000 TLS endpoints (one nginx port, 1,000
# SNI names) evaluated within one 60 s interval.
#
# Usage (as root, on a fresh Debian machine; everything runs on 127.0.0.1):
#   bash bench/tls.sh
#   BENCH_SHORT=1 bash bench/tls.sh     20 probes, 3 s runs, 50 endpoints, nothing kept (what CI runs)
# Env knobs: BENCH_DIR (default /tmp/checklist-bench-tls, wiped each run), N_PROBES (blackbox
#   probes, default 300), RUN_S (seconds each checklist-exporter run lasts, default 15),
#   N_ENDPOINTS (default 1000). Ports are free ones, picked at start.
# Prints key=value results; raw outputs stay in BENCH_DIR. Every process it starts is stopped by
# PID on exit.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
source bench/common.sh

if bench_short; then
  N_PROBES=${N_PROBES:-20} RUN_S=${RUN_S:-3} N_ENDPOINTS=${N_ENDPOINTS:-50}
else
  N_PROBES=${N_PROBES:-300} RUN_S=${RUN_S:-15} N_ENDPOINTS=${N_ENDPOINTS:-1000}
fi
BB=/usr/bin/prometheus-blackbox-exporter
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- packages and the binary
need=()
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x "$BB" ] || need+=(prometheus-blackbox-exporter)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
install_missing "${need[@]}"
CE=$(bench_binary)
bench_dir /tmp/checklist-bench-tls
mkdir -p "$W"/{blackbox,ce}
P_TLS=$(free_port) P_BB=$(free_port) P_CE=$(free_port)

res() { printf '%s=%s\n' "$1" "$2" | tee -a "$W/results.txt"; }
counter() { # sum of checklist_item_evaluations_total for item $1 (all results)
  curl -sf "http://127.0.0.1:$P_CE/metrics" | awk -v id="id=\"$1\"" '$1 ~ /^checklist_item_evaluations_total/ && index($1, id) {s+=$2} END{print s+0}'
}

# Other processes share the CPU: record how busy the machine was (CPU figures below are per
# process, so they hold up under load; wall-clock ones do not).
res load_avg_1m_at_start "$(cut -d' ' -f1 /proc/loadavg)"
res cpus "$(nproc)"

# ---------------------------------------------------------------- PKI and the nginx target
make_pki "$W/pki" 2>"$W/pki.log"
start_nginx_tls "$W/nginx" "$W/pki" "$P_TLS"

# ---------------------------------------------------------------- blackbox_exporter
cat >"$W/blackbox/blackbox.yml" <<EOF
modules:
  https_headers:
    prober: http
    timeout: 5s
    http:
      valid_status_codes: [200]
      fail_if_not_ssl: true
      tls_config:
        ca_file: $W/pki/ca.crt
        server_name: app.test
      fail_if_header_not_matches:
        - header: Strict-Transport-Security
          regexp: 'max-age=[0-9]+'
        - header: Content-Security-Policy
          regexp: '.+'
        - header: X-Frame-Options
          regexp: '^DENY$'
        - header: X-Content-Type-Options
          regexp: '^nosniff$'
        - header: X-XSS-Protection
          regexp: '^1; mode=block$'
        - header: Referrer-Policy
          regexp: '.+'
EOF
"$BB" --config.file="$W/blackbox/blackbox.yml" --web.listen-address=127.0.0.1:$P_BB >"$W/blackbox/log" 2>&1 &
BB_PID=$!
pids+=("$BB_PID")
wait_http "http://127.0.0.1:$P_BB/metrics" "$BB_PID" blackbox_exporter 20 "$W/blackbox/log"
PROBE="http://127.0.0.1:$P_BB/probe?module=https_headers&target=https://127.0.0.1:$P_TLS/"
curl -s "$PROBE" >"$W/blackbox/probe.txt"
grep -q '^probe_success 1' "$W/blackbox/probe.txt" || die "blackbox probe failed: $(cat "$W/blackbox/probe.txt")"
for _ in $(seq 20); do curl -sf -o /dev/null "$PROBE" || die "a blackbox probe failed"; done   # warm-up
t0=$(cpu_ticks $BB_PID)
for _ in $(seq "$N_PROBES"); do curl -sf -o /dev/null "$PROBE" || die "a blackbox probe failed"; done
t1=$(cpu_ticks $BB_PID)
bb_ms=$(ms_per $((t1 - t0)) "$N_PROBES")
res blackbox_probes "$N_PROBES"
res blackbox_cpu_ms_per_tls_headers_probe "$bb_ms"
res blackbox_rss_kib "$(status_kib $BB_PID VmRSS)"
res blackbox_peak_rss_kib "$(status_kib $BB_PID VmHWM)"

# ---------------------------------------------------------------- checklist-exporter, same target
common="system_roots = false
ca_files = [\"$W/pki/ca.crt\"]
interval = \"200ms\"
timeout = \"200ms\""
item() { printf '  [[checks.items]]\n  id = "%s"\n  section = "Bench"\n  title = "%s"\n  severity = "critical"\n  decides = "%s"\n' "$1" "$1" "$2"; }
headers_check() {
  printf '[[checks]]\nkind = "http_headers"\nurl = "https://127.0.0.1:%s/"\nhsts_include_subdomains = true\n%s\n' "$P_TLS" "$common"
  for a in hsts csp frame_options content_type_options xss_protection referrer_policy; do item "h.$a" "$a"; done
}
tls_check() {
  printf '[[checks]]\nkind = "tls"\naddress = "127.0.0.1:%s"\nserver_name = "app.test"\nmin_remaining_ratio = 0.2\n%s\n' "$P_TLS" "$common"
  for a in trusted chain_complete covers_names expiry legacy_refused strength; do item "t.$a" "$a"; done
}

# Runs the daemon on $W/ce/NAME.toml; writes "cpu_ticks evaluations_of_first_item rss hwm" to
# $W/ce/NAME.out. Not in a subshell, so that what it starts is in pids and a failure stops the bench.
run_ce() { # $1 name, $2 first item
  local name=$1 first=$2 pid c0 c1 e0 e1
  "$CE" --config.file "$W/ce/$name.toml" --web.listen-address 127.0.0.1:$P_CE >"$W/ce/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  wait_http "http://127.0.0.1:$P_CE/-/healthy" "$pid" checklist-exporter 30 "$W/ce/$name.log"
  sleep 2   # start-up and first evaluations, not measured
  c0=$(cpu_ticks $pid); e0=$(counter "$first")
  sleep "$RUN_S"
  require_alive "$pid" checklist-exporter "$W/ce/$name.log"
  c1=$(cpu_ticks $pid); e1=$(counter "$first")
  curl -sf "http://127.0.0.1:$P_CE/api/v1/items" >"$W/ce/$name-items.json" || die "GET /api/v1/items failed"
  echo "$((c1 - c0)) $((e1 - e0)) $(status_kib $pid VmRSS) $(status_kib $pid VmHWM)" >"$W/ce/$name.out"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

headers_check >"$W/ce/headers.toml"
run_ce headers h.hsts
read -r ticks evals rss hwm <"$W/ce/headers.out"
grep -q '"state": *"pass"' "$W/ce/headers-items.json" || die "headers check did not pass: $(cat "$W/ce/headers-items.json")"
ce_headers_ms=$(ms_per "$ticks" "$evals")
res checklist_headers_probes "$evals"
res checklist_cpu_ms_per_tls_headers_probe "$ce_headers_ms"
res checklist_rss_kib "$rss"
res checklist_peak_rss_kib "$hwm"
res cpu_ratio_headers_probe_checklist_over_blackbox "$(awk -v a="$ce_headers_ms" -v b="$bb_ms" 'BEGIN{printf "%.2f", a/b}')"

{ tls_check; headers_check; } >"$W/ce/both.toml"
run_ce both t.trusted
read -r ticks evals rss hwm <"$W/ce/both.out"
ce_both_ms=$(ms_per "$ticks" "$evals")
res checklist_tls_plus_headers_rounds "$evals"
res checklist_cpu_ms_per_tls_check_plus_headers_probe "$ce_both_ms"
res checklist_rss_kib_tls_plus_headers "$rss"
res cpu_ratio_tls_plus_headers_checklist_over_blackbox "$(awk -v a="$ce_both_ms" -v b="$bb_ms" 'BEGIN{printf "%.2f", a/b}')"

# ---------------------------------------------------------------- 1,000 TLS endpoints in one interval
{
  echo '[settings]'
  echo 'max_concurrent_checks = 16'
  for i in $(seq "$N_ENDPOINTS"); do
    printf '[[checks]]\nkind = "tls"\naddress = "127.0.0.1:%s"\nserver_name = "s%s.app.test"\nsystem_roots = false\nca_files = ["%s"]\ninterval = "60s"\ntimeout = "30s"\n' \
      "$P_TLS" "$i" "$W/pki/ca.crt"
    item "e$i.trusted" trusted
  done
} >"$W/ce/many.toml"
start=$(date +%s.%N)
"$CE" --config.file "$W/ce/many.toml" --web.listen-address 127.0.0.1:$P_CE >"$W/ce/many.log" 2>&1 &
pid=$!
pids+=("$pid")
wait_http "http://127.0.0.1:$P_CE/-/ready" "$pid" "checklist-exporter on $N_ENDPOINTS endpoints" 120 "$W/ce/many.log"
end=$(date +%s.%N)
ticks=$(cpu_ticks $pid)
curl -sf "http://127.0.0.1:$P_CE/api/v1/items" >"$W/ce/many-items.json" || die "GET /api/v1/items failed"
passing=$(grep -o '"state": *"pass"' "$W/ce/many-items.json" | wc -l)
((passing == N_ENDPOINTS)) || die "$passing of $N_ENDPOINTS endpoints pass (see $W/ce/many.log)"
res endpoints "$N_ENDPOINTS"
res endpoints_all_evaluated_seconds "$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.1f", e-s}')"
res endpoints_passing "$passing"
res endpoints_cpu_seconds "$(awk -v t="$ticks" -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz}')"
res endpoints_cpu_ms_per_endpoint "$(ms_per "$ticks" "$N_ENDPOINTS")"
res endpoints_rss_kib "$(status_kib $pid VmRSS)"
kill "$pid"; wait "$pid" 2>/dev/null || true
