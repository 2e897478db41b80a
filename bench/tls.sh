#!/usr/bin/env bash
# TLS + security-header probes: checklist-exporter against blackbox_exporter, side by side in one
# run, against the same local nginx TLS target; then 1,000 TLS endpoints (one nginx port, 1,000
# SNI names) evaluated within one 60 s interval.
#
# Usage (as root, on a fresh Debian machine; everything runs on 127.0.0.1):
#   bash bench/tls.sh
# Env knobs: BENCH_DIR (default /tmp/checklist-bench-tls, wiped each run), N_PROBES (blackbox
#   probes, default 300), RUN_S (seconds each checklist-exporter run lasts, default 15),
#   N_ENDPOINTS (default 1000).
# Prints key=value results; raw outputs stay in BENCH_DIR. Every process it starts is stopped by
# PID on exit.
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

W=${BENCH_DIR:-/tmp/checklist-bench-tls}
N_PROBES=${N_PROBES:-300}
RUN_S=${RUN_S:-15}
N_ENDPOINTS=${N_ENDPOINTS:-1000}
P_TLS=28443 P_BB=29115 P_CE=29847
BB=/usr/bin/prometheus-blackbox-exporter
NGINX=/usr/sbin/nginx
HZ=$(getconf CLK_TCK)

case "$W" in /tmp/?*) ;; *) echo "BENCH_DIR must be under /tmp" >&2; exit 2;; esac

# ---------------------------------------------------------------- packages and the binary
need=()
[ -x "$NGINX" ] || need+=(nginx)
[ -x "$BB" ] || need+=(prometheus-blackbox-exporter)
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
if ((${#need[@]})); then
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}"
fi
cargo build --release -q
CE=$PWD/target/release/checklist-exporter

# ---------------------------------------------------------------- process helpers
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT
trap 'exit 130' INT TERM
rm -rf "$W"
mkdir -p "$W"/{pki,nginx/tmp,blackbox,ce}
for p in $P_TLS $P_BB $P_CE; do
  if ss -Hltn "sport = :$p" | grep -q .; then echo "port $p already in use; aborting" >&2; exit 1; fi
done
wait_port() { local i; for i in $(seq 100); do ss -Hltn "sport = :$1" | grep -q . && return 0; sleep 0.1; done
  echo "port $1 did not open" >&2; return 1; }
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12+$13}'; }   # utime+stime of the process
kb() { awk -v k="$2:" '$1==k{print $2}' "/proc/$1/status"; }
ms_per() { awk -v t="$1" -v hz="$HZ" -v n="$2" 'BEGIN{ if (n==0) print "nan"; else printf "%.3f", t*1000/hz/n }'; }
res() { printf '%s=%s\n' "$1" "$2" | tee -a "$W/results.txt"; }
counter() { # sum of checklist_item_evaluations_total for item $1 (all results)
  curl -s "http://127.0.0.1:$P_CE/metrics" | awk -v id="id=\"$1\"" '$1 ~ /^checklist_item_evaluations_total/ && index($1, id) {s+=$2} END{print s+0}'
}

# Other processes share the CPU: record how busy the machine was (CPU figures below are per
# process, so they hold up under load; wall-clock ones do not).
res load_avg_1m_at_start "$(cut -d' ' -f1 /proc/loadavg)"
res cpus "$(nproc)"

# ---------------------------------------------------------------- PKI: throwaway CA, wildcard leaf
cd "$W/pki"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=checklist bench CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
openssl req -new -key server.key -subj "/CN=app.test" -out server.csr
printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:app.test,DNS:*.app.test,IP:127.0.0.1\n' >server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -sha256 \
  -extfile server.ext -out server.crt 2>/dev/null
cd - >/dev/null

# ---------------------------------------------------------------- nginx target
N="$W/nginx"
cat >"$N/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $N/nginx.pid;
error_log $N/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path $N/tmp/body;
  proxy_temp_path $N/tmp/proxy;
  fastcgi_temp_path $N/tmp/fastcgi;
  uwsgi_temp_path $N/tmp/uwsgi;
  scgi_temp_path $N/tmp/scgi;
  server {
    listen 127.0.0.1:$P_TLS ssl;
    server_name app.test *.app.test;
    ssl_certificate $W/pki/server.crt;
    ssl_certificate_key $W/pki/server.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
    add_header X-Frame-Options DENY always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-XSS-Protection "1; mode=block" always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;
    location / { default_type application/json; return 200 '{"status":"ok"}'; }
  }
}
EOF
"$NGINX" -p "$N/" -c "$N/nginx.conf" -e "$N/error.log" &
PIDS+=($!)
wait_port $P_TLS

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
PIDS+=($BB_PID)
wait_port $P_BB
PROBE="http://127.0.0.1:$P_BB/probe?module=https_headers&target=https://127.0.0.1:$P_TLS/"
curl -s "$PROBE" >"$W/blackbox/probe.txt"
grep -q '^probe_success 1' "$W/blackbox/probe.txt" || { echo "blackbox probe failed:"; cat "$W/blackbox/probe.txt"; exit 1; }
for _ in $(seq 20); do curl -s -o /dev/null "$PROBE"; done   # warm-up
t0=$(cpu_ticks $BB_PID)
for _ in $(seq "$N_PROBES"); do curl -s -o /dev/null "$PROBE"; done
t1=$(cpu_ticks $BB_PID)
bb_ms=$(ms_per $((t1 - t0)) "$N_PROBES")
res blackbox_probes "$N_PROBES"
res blackbox_cpu_ms_per_tls_headers_probe "$bb_ms"
res blackbox_rss_kib "$(kb $BB_PID VmRSS)"
res blackbox_peak_rss_kib "$(kb $BB_PID VmHWM)"

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

run_ce() { # $1 name, config on stdin; prints "cpu_ticks evaluations_of_first_item rss hwm"
  local name=$1 first=$2 pid c0 c1 e0 e1
  cat >"$W/ce/$name.toml"
  "$CE" --config.file "$W/ce/$name.toml" --web.listen-address 127.0.0.1:$P_CE >"$W/ce/$name.log" 2>&1 &
  pid=$!
  PIDS+=($pid)
  wait_port $P_CE
  sleep 2   # start-up and first evaluations, not measured
  c0=$(cpu_ticks $pid); e0=$(counter "$first")
  sleep "$RUN_S"
  c1=$(cpu_ticks $pid); e1=$(counter "$first")
  curl -s "http://127.0.0.1:$P_CE/api/v1/items" >"$W/ce/$name-items.json"
  echo "$((c1 - c0)) $((e1 - e0)) $(kb $pid VmRSS) $(kb $pid VmHWM)"
  kill "$pid"; wait "$pid" 2>/dev/null || true
}

read -r ticks evals rss hwm < <(headers_check | run_ce headers h.hsts)
grep -q '"state": *"pass"' "$W/ce/headers-items.json" || { echo "headers check did not pass"; cat "$W/ce/headers-items.json"; exit 1; }
ce_headers_ms=$(ms_per "$ticks" "$evals")
res checklist_headers_probes "$evals"
res checklist_cpu_ms_per_tls_headers_probe "$ce_headers_ms"
res checklist_rss_kib "$rss"
res checklist_peak_rss_kib "$hwm"
res cpu_ratio_headers_probe_checklist_over_blackbox "$(awk -v a="$ce_headers_ms" -v b="$bb_ms" 'BEGIN{printf "%.2f", a/b}')"

read -r ticks evals rss hwm < <({ tls_check; headers_check; } | run_ce both t.trusted)
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
PIDS+=($pid)
wait_port $P_CE
until [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$P_CE/-/ready")" = 200 ]; do
  sleep 0.2
  if awk -v s="$start" -v n="$(date +%s.%N)" 'BEGIN{exit !(n-s > 120)}'; then echo "not all evaluated in 120 s" >&2; break; fi
done
end=$(date +%s.%N)
ticks=$(cpu_ticks $pid)
curl -s "http://127.0.0.1:$P_CE/api/v1/items" >"$W/ce/many-items.json"
res endpoints "$N_ENDPOINTS"
res endpoints_all_evaluated_seconds "$(awk -v s="$start" -v e="$end" 'BEGIN{printf "%.1f", e-s}')"
res endpoints_passing "$(grep -o '"state": *"pass"' "$W/ce/many-items.json" | wc -l)"
res endpoints_cpu_seconds "$(awk -v t="$ticks" -v hz="$HZ" 'BEGIN{printf "%.2f", t/hz}')"
res endpoints_cpu_ms_per_endpoint "$(ms_per "$ticks" "$N_ENDPOINTS")"
res endpoints_rss_kib "$(kb $pid VmRSS)"
kill "$pid"; wait "$pid" 2>/dev/null || true
