#!/usr/bin/env bash
# A one-step `http_journey` against blackbox_exporter's http prober: the same loopback target
# (nginx answering a JSON login), the same assertions (status 200, a JSON field present), the
# same probe rate, side by side in one run. CPU per probe and RSS of each, and their ratios.
#
# Usage (as root, on a fresh Debian machine; everything runs on 127.0.0.1):
#   bash bench/journey.sh
#   BENCH_SHORT=1 bash bench/journey.sh     3 s runs, nothing kept (what CI runs)
# Env knobs: BENCH_DIR (default /tmp/checklist-bench-journey, wiped each run), RUN_S (seconds
#   each side is measured, default 30), INTERVAL_MS (the probe interval of both, default 100).
# Prints key=value results; raw outputs stay in BENCH_DIR. Every process it starts is stopped by
# PID on exit.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
source bench/common.sh

if bench_short; then
  RUN_S=${RUN_S:-3}
else
  RUN_S=${RUN_S:-30}
fi
INTERVAL_MS=${INTERVAL_MS:-100}
BB=/usr/bin/prometheus-blackbox-exporter
HZ=$(getconf CLK_TCK)

need=()
[ -x /usr/sbin/nginx ] || need+=(nginx)
[ -x "$BB" ] || need+=(prometheus-blackbox-exporter)
command -v curl >/dev/null || need+=(curl)
install_missing "${need[@]}"
CE=$(bench_binary)
bench_dir /tmp/checklist-bench-journey
mkdir -p "$W"/{nginx/tmp,blackbox,ce}
P_APP=$(free_port) P_BB=$(free_port) P_CE=$(free_port)

res() { printf '%s=%s\n' "$1" "$2" | tee -a "$W/results.txt"; }
res load_avg_1m_at_start "$(cut -d' ' -f1 /proc/loadavg)"
res cpus "$(nproc)"
res interval_ms "$INTERVAL_MS"

# ---------------------------------------------------------------- the target: a JSON login on nginx
n=$W/nginx
cat >"$n/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $n/tmp/body;
  proxy_temp_path $n/tmp/proxy;
  fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi;
  scgi_temp_path $n/tmp/scgi;
  server {
    listen 127.0.0.1:$P_APP;
    location /api/auth/login { default_type application/json; return 200 '{"access_token":"bench-token","token_type":"bearer"}'; }
  }
}
EOF
/usr/sbin/nginx -p "$n/" -c "$n/nginx.conf" -e "$n/error.log" &
pids+=("$!")
wait_port "$P_APP" "$!" nginx 10 "$n/error.log"
TARGET="http://127.0.0.1:$P_APP/api/auth/login"

# ---------------------------------------------------------------- blackbox_exporter, driven at the same rate
cat >"$W/blackbox/blackbox.yml" <<EOF
modules:
  login:
    prober: http
    timeout: 5s
    http:
      method: POST
      headers:
        Content-Type: application/x-www-form-urlencoded
      body: username=bench%40example.test&password=bench-password
      valid_status_codes: [200]
      fail_if_body_not_matches_regexp:
        - '"access_token"'
EOF
"$BB" --config.file="$W/blackbox/blackbox.yml" --web.listen-address=127.0.0.1:$P_BB >"$W/blackbox/log" 2>&1 &
BB_PID=$!
pids+=("$BB_PID")
wait_http "http://127.0.0.1:$P_BB/metrics" "$BB_PID" blackbox_exporter 20 "$W/blackbox/log"
PROBE="http://127.0.0.1:$P_BB/probe?module=login&target=$TARGET"
curl -s "$PROBE" >"$W/blackbox/probe.txt"
grep -q '^probe_success 1' "$W/blackbox/probe.txt" || die "blackbox probe failed: $(cat "$W/blackbox/probe.txt")"
t0=$(cpu_ticks $BB_PID)
probes=0
deadline=$((SECONDS + RUN_S))
next=$(date +%s%N)
while ((SECONDS < deadline)); do
  curl -sf -o /dev/null "$PROBE" || die "a blackbox probe failed"
  probes=$((probes + 1))
  # On a schedule, as the daemon's interval is: the next probe is due one interval after the last was.
  next=$((next + INTERVAL_MS * 1000000))
  now=$(date +%s%N)
  ((next <= now)) || sleep "$(awk -v d=$((next - now)) 'BEGIN{printf "%.3f", d/1e9}')"
done
t1=$(cpu_ticks $BB_PID)
bb_ms=$(ms_per $((t1 - t0)) "$probes")
res blackbox_probes "$probes"
res blackbox_cpu_ms_per_probe "$bb_ms"
bb_rss=$(status_kib $BB_PID VmRSS)
res blackbox_rss_kib "$bb_rss"

# ---------------------------------------------------------------- checklist-exporter: a one-step journey
printf 'bench-password\n' >"$W/ce/password"
cat >"$W/ce/journey.toml" <<EOF
[[checks]]
kind = "http_journey"
name = "bench"
interval = "${INTERVAL_MS}ms"
timeout = "${INTERVAL_MS}ms"
request_timeout = "$((INTERVAL_MS * 3 / 4))ms"
secrets = { password = { file = "$W/ce/password" } }

  [[checks.steps]]
  name = "login"
  method = "POST"
  url = "$TARGET"
  form = { username = "bench@example.test", password = "{{password}}" }
  expect = { status = 200, json_exists = ["\$.access_token"] }

  [[checks.items]]
  id = "bench.login"
  section = "Bench"
  title = "Login answers a token"
  severity = "critical"
  decides = "login"
EOF
"$CE" --config.file "$W/ce/journey.toml" --web.listen-address 127.0.0.1:$P_CE >"$W/ce/log" 2>&1 &
CE_PID=$!
pids+=("$CE_PID")
wait_http "http://127.0.0.1:$P_CE/-/ready" "$CE_PID" checklist-exporter 30 "$W/ce/log"
evaluations() {
  curl -sf "http://127.0.0.1:$P_CE/metrics" | awk '$1 ~ /^checklist_item_evaluations_total/ && index($1, "id=\"bench.login\"") {s+=$2} END{print s+0}'
}
sleep 1   # start-up, not measured
c0=$(cpu_ticks $CE_PID); e0=$(evaluations)
sleep "$RUN_S"
require_alive "$CE_PID" checklist-exporter "$W/ce/log"
c1=$(cpu_ticks $CE_PID); e1=$(evaluations)
curl -sf "http://127.0.0.1:$P_CE/api/v1/items" >"$W/ce/items.json" || die "GET /api/v1/items failed"
grep -q '"state": *"pass"' "$W/ce/items.json" || die "the journey did not pass: $(cat "$W/ce/items.json")"
if grep -q 'bench-token' "$W/ce/items.json" "$W/ce/log"; then die "the captured/answered token reached the output"; fi
ce_ms=$(ms_per $((c1 - c0)) $((e1 - e0)))
ce_rss=$(status_kib $CE_PID VmRSS)
res checklist_journeys "$((e1 - e0))"
res checklist_cpu_ms_per_one_step_journey "$ce_ms"
res checklist_rss_kib "$ce_rss"
res cpu_ratio_checklist_over_blackbox "$(awk -v a="$ce_ms" -v b="$bb_ms" 'BEGIN{ if (b==0) print "nan"; else printf "%.2f", a/b}')"
res rss_ratio_checklist_over_blackbox "$(awk -v a="$ce_rss" -v b="$bb_rss" 'BEGIN{printf "%.2f", a/b}')"
