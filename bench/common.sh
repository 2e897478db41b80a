# Helpers shared by the bench scripts; sourced from the repository root.
#
# Short mode (BENCH_SHORT=1, what CI runs): each script runs for seconds on small sizes, keeps no
# figures (its work directory is a fresh temp dir, removed on exit), uses the debug build that the
# tests already made, and exits non-zero on any failure. Without it, a script measures for real.

bench_short() { [ "${BENCH_SHORT:-0}" = 1 ]; }

# Stops the script with a message that names the script.
die() {
  echo "${0##*/}: $*" >&2
  exit 1
}

# Installs the Debian packages given, when any is given.
install_missing() {
  (($#)) || return 0
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

# A free TCP port on loopback: bound to port 0, noted, released.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Everything started in the background goes into pids, and is stopped on exit; so are the
# directories in cleanup_dirs.
pids=()
cleanup_dirs=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for p in "${cleanup_dirs[@]}"; do rm -rf "$p"; done
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Sets W, the work directory: $BENCH_DIR (or the default given) in full mode, wiped first; a
# fresh temp directory, removed on exit, in short mode.
bench_dir() { # default
  if bench_short; then
    W=$(mktemp -d /tmp/checklist-bench-short.XXXXXX)
    cleanup_dirs+=("$W")
  else
    W=${BENCH_DIR:-$1}
    case "$W" in /tmp/?*) ;; *) die "BENCH_DIR must be under /tmp, not $W" ;; esac
    rm -rf "$W"
    mkdir -p "$W"
  fi
}

# The daemon binary: $BENCH_BIN when set, else this tree's release build (full mode) or debug
# build (short mode: the tests built it, and the figures are not kept). Prints its path.
bench_binary() {
  if [ -n "${BENCH_BIN:-}" ]; then
    [ -x "$BENCH_BIN" ] || die "BENCH_BIN=$BENCH_BIN is not an executable"
    echo "$BENCH_BIN"
  elif bench_short; then
    cargo build -q --bin checklist-exporter >&2 || die "cargo build failed"
    echo "$PWD/target/debug/checklist-exporter"
  else
    cargo build --release -q --bin checklist-exporter >&2 || die "cargo build --release failed"
    echo "$PWD/target/release/checklist-exporter"
  fi
}

# Fails when the process PID (named WHAT, its log in LOG when given) is gone; shows the log's end.
require_alive() { # pid what [log]
  kill -0 "$1" 2>/dev/null && return 0
  local status=0
  wait "$1" 2>/dev/null || status=$?
  echo "${0##*/}: $2 (pid $1) exited with status $status" >&2
  [ -z "${3:-}" ] || { echo "--- last lines of $3:" >&2; tail -n 20 "$3" >&2; }
  exit 1
}

# Polls URL every 0.2 s until it answers 2xx, for at most SECONDS; fails at once when PID exits.
wait_http() { # url pid what seconds [log]
  local deadline=$((SECONDS + $4))
  while ((SECONDS < deadline)); do
    curl -sf --max-time 5 -o /dev/null "$1" 2>/dev/null && return 0
    require_alive "$2" "$3" "${5:-}"
    sleep 0.2
  done
  require_alive "$2" "$3" "${5:-}"
  die "$3 did not answer $1 within $4 s"
}

# Polls until TCP port PORT on 127.0.0.1 listens, for at most SECONDS; fails at once when PID exits.
wait_port() { # port pid what seconds [log]
  local deadline=$((SECONDS + $4))
  while ((SECONDS < deadline)); do
    ss -Hltn "sport = :$1" | grep -q . && return 0
    require_alive "$2" "$3" "${5:-}"
    sleep 0.1
  done
  die "$3 did not listen on port $1 within $4 s"
}

# Waits until FILE is not empty (a helper writes its port there); fails at once when PID exits.
wait_file() { # file pid what
  local i
  for i in $(seq 1 100); do
    [ -s "$1" ] && return 0
    require_alive "$2" "$3"
    sleep 0.1
  done
  die "$3 did not write $1 within 10 s"
}

res() { echo "$1=$2"; }

# CPU time of a process so far, all its threads, in clock ticks (utime + stime of /proc/PID/stat;
# the fields are counted after the command name, which may hold spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12 + $13}'; }
# A /proc/PID/status field in KiB (VmRSS, VmHWM, RssAnon).
# CPU milliseconds per event from a difference of clock ticks (utime+stime); nan when there was
# no event.
ms_per() { # ticks events
  awk -v t="$1" -v hz="$(getconf CLK_TCK)" -v n="$2" 'BEGIN {if (n == 0) print "nan"; else printf "%.3f", t * 1000 / hz / n}'
}
status_kib() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# Figures from a `wrk --latency` output file.
wrk_rps() { awk '/^Requests\/sec:/ {print $2}' "$1"; }
wrk_p99() { awk '$1 == "99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v=v/1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v=v*1000}; print v}' "$1"; }

# Starts Debian's node_exporter on 127.0.0.1:PORT (textfile directory DIR, logs in DIR/node.log)
# and waits until it answers; sets $node.
start_node_exporter() {
  /usr/bin/prometheus-node-exporter --web.listen-address="127.0.0.1:$1" \
    --collector.textfile.directory="$2" >"$2/node.log" 2>&1 &
  node=$!
  pids+=("$node")
  wait_http "http://127.0.0.1:$1/metrics" "$node" node_exporter 20 "$2/node.log"
}

# A config of N items: N tcp_port checks on distinct loopback addresses, port 9 (discard),
# where nothing listens, so each evaluation is one refused connect on loopback. INTERVAL is
# every check's interval (default 1m).
make_tcp_port_config() { # n file [interval]
  local n=$1 file=$2 interval=${3:-1m} i
  {
    echo '[settings]'
    echo "default_interval = \"$interval\""
    for ((i = 0; i < n; i++)); do
      printf '[[checks]]\nkind = "tcp_port"\naddress = "127.%d.%d.%d:9"\nexpect = "closed"\nconnect_timeout = "1s"\n' \
        $((1 + i / 62500)) $(((i / 250) % 250)) $((1 + i % 250))
      printf '  [[checks.items]]\n  id = "bench.port_%d"\n  section = "Network Configuration"\n  title = "Port 9 closed on loopback address %d"\n  severity = "info"\n' "$i" "$i"
    done
  } >"$file"
}

# A throwaway CA and a leaf for app.test, *.app.test and 127.0.0.1, in DIR: ca.crt, server.crt,
# server.key.
make_pki() { # dir
  mkdir -p "$1"
  (
    cd "$1"
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out ca.key
    openssl req -x509 -new -key ca.key -sha256 -days 30 -subj "/CN=checklist bench CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out server.key
    openssl req -new -key server.key -subj "/CN=app.test" -out server.csr
    printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:app.test,DNS:*.app.test,IP:127.0.0.1\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 30 -sha256 \
      -extfile server.ext -out server.crt 2>/dev/null
  ) || die "could not make the bench PKI in $1"
}

# nginx serving TLS (the PKI of make_pki in PKI_DIR) on 127.0.0.1:PORT, with every security header,
# one worker, no session resumption (each probe is a full handshake); files in DIR. Sets $nginx.
start_nginx_tls() { # dir pki_dir port
  local n=$1
  mkdir -p "$n/tmp"
  cat >"$n/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $n/nginx.pid;
error_log $n/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  client_body_temp_path $n/tmp/body;
  proxy_temp_path $n/tmp/proxy;
  fastcgi_temp_path $n/tmp/fastcgi;
  uwsgi_temp_path $n/tmp/uwsgi;
  scgi_temp_path $n/tmp/scgi;
  server {
    listen 127.0.0.1:$3 ssl;
    server_name app.test *.app.test;
    ssl_certificate $2/server.crt;
    ssl_certificate_key $2/server.key;
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
  /usr/sbin/nginx -p "$n/" -c "$n/nginx.conf" -e "$n/error.log" &
  nginx=$!
  pids+=("$nginx")
  wait_port "$3" "$nginx" nginx 10 "$n/error.log"
}

# blackbox_exporter's config with one module, `tls_connect`: a TCP connect with a TLS handshake
# verified against CA_FILE for the name app.test (the PKI of make_pki), as the daemon's tls
# checks do. Written to FILE.
write_blackbox_tls_module() { # file ca_file
  cat >"$1" <<EOF
modules:
  tls_connect:
    prober: tcp
    timeout: 5s
    tcp:
      tls: true
      tls_config:
        ca_file: $2
        server_name: app.test
EOF
}
