#!/usr/bin/env bash
# Soak run: the daemon on a mixed config where every check runs every second, for
# ${SOAK_MINUTES:-30} minutes, sampled once a minute into a CSV:
#   VmRSS, RssAnon, open file descriptors (/proc/PID/fd), threads, and from /metrics the item
#   evaluations so far and how many items are in error.
# The config mixes passing items (disk, memory, tcp, dns, http, a command), failing items (a
# refused port, too few cores, a superuser on PostgreSQL), and hanging targets (a listener that
# accepts and never answers, so the tcp/http/postgres checks against it run to their timeout),
# plus PostgreSQL on 127.0.0.1:5432. Everything is on loopback.
# Usage (as root): SOAK_MINUTES=30 [SOAK_BIN=path/to/checklist-exporter] bash bench/soak.sh    results: key=value lines on stdout,
#   samples in $SOAK_DIR/samples.csv
#   BENCH_SHORT=1 bash bench/soak.sh      3 samples 2 s apart (a "minute" is 2 s), nothing kept;
#                                          fails unless the daemon lives and evaluates (what CI runs)
# Needs: curl, python3, psql and the shared PostgreSQL on 127.0.0.1:5432 (trust auth).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

if bench_short; then
  MINUTES=${SOAK_MINUTES:-3} WARMUP=${SOAK_WARMUP_MINUTES:-1} STEP_SECONDS=2
else
  MINUTES=${SOAK_MINUTES:-30} WARMUP=${SOAK_WARMUP_MINUTES:-5} STEP_SECONDS=60
fi

command -v curl >/dev/null || die "curl is needed"
# SOAK_BIN: a binary built earlier (a commit's release build), else this tree's build.
BENCH_BIN=${SOAK_BIN:-${BENCH_BIN:-}}
SOURCE_BIN=$(bench_binary)
BENCH_DIR=${SOAK_DIR:-${BENCH_DIR:-}}
bench_dir /tmp/checklist-soak
# A copy, so that a rebuild during the run does not change what runs.
cp "$SOURCE_BIN" "$W/checklist-exporter"
BIN=$W/checklist-exporter
PORT=$(free_port)

python3 bench/loopback.py silent "$W/silent.port" & pids+=($!)
wait_file "$W/silent.port" $! "the silent loopback helper"
python3 bench/loopback.py http "$W/http.port" & pids+=($!)
wait_file "$W/http.port" $! "the loopback HTTP helper"
SILENT=$(cat "$W/silent.port")
HTTP=$(cat "$W/http.port")
# A port nothing listens on: bind, note it, release it.
REFUSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')

item() { # id severity [decides]
  printf '  [[checks.items]]\n  id = "%s"\n  section = "Soak"\n  title = "%s"\n  severity = "%s"\n' "$1" "$1" "$2"
  [ -n "${3:-}" ] && printf '  decides = "%s"\n' "$3"
  echo
}
{
  printf '[settings]\ndefault_interval = "1s"\ndefault_timeout = "1s"\n\n'
  printf '[[checks]]\nkind = "disk"\npath = "/"\nmin_free_bytes = "1MiB"\nmin_free_ratio = 0.01\n'
  item soak.disk critical minimum; item soak.disk_ratio warning free_ratio
  printf '[[checks]]\nkind = "memory"\nmin_total_bytes = "64MiB"\nmax_used_ratio = 0.99\n'
  item soak.memory critical minimum; item soak.memory_used warning used_ratio
  printf '[[checks]]\nkind = "cpu"\nmin_cores = 512\n'
  item soak.cpu_fails warning minimum
  printf '[[checks]]\nkind = "tcp_port"\naddress = "127.0.0.2:%s"\nexpect = "closed"\nconnect_timeout = "500ms"\n' "$REFUSED"
  item soak.refused_closed info
  printf '[[checks]]\nkind = "tcp_port"\naddress = "127.0.0.1:%s"\nexpect = "open"\nconnect_timeout = "500ms"\n' "$REFUSED"
  item soak.refused_open_fails critical
  printf '[[checks]]\nkind = "tcp_port"\naddress = "127.0.0.1:%s"\nexpect = "open"\nconnect_timeout = "500ms"\n' "$SILENT"
  item soak.silent_open info
  printf '[[checks]]\nkind = "dns"\nname = "localhost"\nrecord_types = ["A"]\n'
  item soak.dns info
  printf '[[checks]]\nkind = "http"\nurl = "http://127.0.0.1:%s/health"\nrequest_timeout = "800ms"\njson_path = "status"\njson_equals = "ok"\n' "$HTTP"
  item soak.http_status critical status; item soak.http_body warning body
  printf '[[checks]]\nkind = "http"\nurl = "http://127.0.0.1:%s/health"\nrequest_timeout = "800ms"\n' "$SILENT"
  item soak.http_hangs critical status
  printf '[[checks]]\nkind = "http_headers"\nurl = "http://127.0.0.1:%s/health"\nrequest_timeout = "800ms"\n' "$REFUSED"
  item soak.http_refused warning content_type_options
  printf '[[checks]]\nkind = "postgres"\nurl = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"\nconnect_timeout = "800ms"\nquery_timeout = "800ms"\nexpect_database = "postgres"\nmax_connections_range = [1, 100000]\n'
  item soak.pg_running critical running; item soak.pg_database info database
  item soak.pg_least_privilege_fails warning least_privilege; item soak.pg_connections info connections
  item soak.pg_latency info latency
  printf '[[checks]]\nkind = "postgres"\nurl = "postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable"\nconnect_timeout = "800ms"\n' "$SILENT"
  item soak.pg_hangs critical running
  printf '[[checks]]\nkind = "postgres"\nurl = "postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable"\nconnect_timeout = "800ms"\n' "$REFUSED"
  item soak.pg_refused critical running
  printf '[[checks]]\nkind = "command"\nargv = ["/bin/true"]\ncommand_timeout = "800ms"\n'
  item soak.command info
} >"$W/soak.toml"
"$BIN" --config.check --config.file "$W/soak.toml" >/dev/null

"$BIN" --config.file "$W/soak.toml" --baseline.file "$W/baseline.json" --web.listen-address "127.0.0.1:$PORT" \
  --log.level warn </dev/null >/dev/null 2>"$W/exporter.log" &
pid=$!; pids+=("$pid")
wait_http "http://127.0.0.1:$PORT/-/healthy" "$pid" checklist-exporter 30 "$W/exporter.log"

sample() { # minute
  local metrics evaluations errors
  metrics=$(curl -sf --max-time 5 "http://127.0.0.1:$PORT/metrics") || die "GET /metrics failed at minute $1"
  evaluations=$(awk '/^checklist_item_evaluations_total/ {s += $NF} END {printf "%d", s}' <<<"$metrics")
  errors=$(awk '/^checklist_item_error\{/ {s += $NF} END {printf "%d", s}' <<<"$metrics")
  echo "$1,$(date -u +%FT%TZ),$(status_kib "$pid" VmRSS),$(status_kib "$pid" RssAnon),$(ls "/proc/$pid/fd" | wc -l),$(status_kib "$pid" Threads),$evaluations,$errors"
}
echo "minute,time,vmrss_kib,rssanon_kib,fds,threads,evaluations,items_in_error" >"$W/samples.csv"
echo "# machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ); $MINUTES minutes" >&2
start=$(date +%s)
for minute in $(seq 0 "$MINUTES"); do
  # Sample on the minute mark from the start, whatever the sampling itself took.
  while (($(date +%s) < start + minute * STEP_SECONDS)); do sleep 1; done
  require_alive "$pid" "checklist-exporter (at minute $minute)" "$W/exporter.log"
  sample "$minute" | tee -a "$W/samples.csv" >&2
done
curl -sf "http://127.0.0.1:$PORT/api/v1/items" >"$W/items_end.json" || die "GET /api/v1/items failed at the end"
col() { awk -F, -v m="$1" -v c="$2" 'NR > 1 && $1 == m {print $c}' "$W/samples.csv"; }
res soak_minutes "$MINUTES"
res checks_in_config "$(grep -c '^\[\[checks\]\]' "$W/soak.toml")"
res items_in_config "$(grep -c 'checks.items' "$W/soak.toml")"
res evaluations_total "$(col "$MINUTES" 7)"
res items_in_error_at_end "$(col "$MINUTES" 8)"
for c in 3:vmrss_kib 4:rssanon_kib 5:fds 6:threads; do
  n=${c%%:*} name=${c#*:}
  res "${name}_minute_0" "$(col 0 "$n")"
  res "${name}_minute_${WARMUP}" "$(col "$WARMUP" "$n")"
  res "${name}_end" "$(col "$MINUTES" "$n")"
  res "${name}_growth_after_warmup" "$(($(col "$MINUTES" "$n") - $(col "$WARMUP" "$n")))"
  res "${name}_max_after_warmup" "$(awk -F, -v w="$WARMUP" -v c="$n" 'NR > 1 && $1 >= w && $c > m {m = $c} END {print m}' "$W/samples.csv")"
done
res exporter_log_lines "$(wc -l <"$W/exporter.log")"
(($(col "$MINUTES" 7) > $(col 0 7))) || die "no evaluation between the first and the last sample"
bench_short || echo "# samples: $W/samples.csv; verdicts at the end: $W/items_end.json" >&2
