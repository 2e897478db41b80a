# Helpers shared by the bench scripts; sourced from the repository root.

# Installs the Debian packages given, when any is given.
install_missing() {
  (($#)) || return 0
  apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" >/dev/null
}

# Stops the script when one of the loopback ports is taken.
ensure_free_ports() {
  local port
  for port in "$@"; do
    if ss -ltn "sport = :$port" | grep -q LISTEN; then echo "port $port is in use; stop what listens there" >&2; exit 1; fi
  done
}

# Everything started in the background goes into pids, and is stopped on exit.
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

res() { echo "$1=$2"; }

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
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/metrics" >/dev/null && break; sleep 0.1; done
}
