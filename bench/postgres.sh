#!/usr/bin/env bash
# Server-side and client cost of one full `postgres` evaluation of checklist-exporter, side by
# side with one scrape of Debian's prometheus-postgres-exporter, in one run against one cluster.
#
# Runs as root on a fresh Debian machine: installs what it needs, starts its own PostgreSQL 15
# cluster (as the postgres OS user) on a free loopback port with pg_stat_statements and
# log_min_duration_statement = 0, starts both exporters on loopback, lets them work side by side
# for N evaluations / scrapes, stops everything it started and prints key=value results.
#
#   bash bench/postgres.sh            # N=30
#   N=60 bash bench/postgres.sh
#   BENCH_SHORT=1 bash bench/postgres.sh   # N=3, the debug build, what CI runs
#
# Counting: pg_stat_statements per role (the two exporters log in as different roles), after a
# warm-up evaluation/scrape and a reset, so connection set-up and statement preparation are left
# out: both tools keep their connection. Server time = total_exec_time + total_plan_time. The
# statement log (`duration:` lines per role) is the second, independent count.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

if bench_short; then N=${N:-3}; else N=${N:-30}; fi
PGBIN=/usr/lib/postgresql/15/bin

need=()
[[ -x $PGBIN/initdb ]] || need+=(postgresql-15)
command -v psql >/dev/null || need+=(postgresql-client)
command -v prometheus-postgres-exporter >/dev/null || need+=(prometheus-postgres-exporter)
command -v curl >/dev/null || need+=(curl)
install_missing "${need[@]}"
daemon=$(bench_binary)

work=$(mktemp -d /tmp/bench-pg.XXXXXX)
chown postgres:postgres "$work"
pg_port=$(free_port)
exporter_port=$(free_port)
daemon_pid="" exporter_pid=""
# The exporters first (common.sh's cleanup stops what is in pids), then the cluster.
stop_cluster() {
  cleanup
  runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap stop_cluster EXIT

runuser -u postgres -- "$PGBIN/initdb" -D "$work/data" -A trust -U postgres --no-sync >/dev/null
cat >>"$work/data/postgresql.conf" <<EOF
port = $pg_port
listen_addresses = '127.0.0.1'
unix_socket_directories = '$work'
shared_preload_libraries = 'pg_stat_statements'
pg_stat_statements.track = all
pg_stat_statements.track_planning = on
log_min_duration_statement = 0
log_line_prefix = '%u '
logging_collector = off
EOF
runuser -u postgres -- "$PGBIN/pg_ctl" -D "$work/data" -l "$work/server.log" -w start >/dev/null

sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$pg_port" -U postgres -d "${2:-postgres}" -c "$1"; }
sql "CREATE EXTENSION pg_stat_statements"
sql "CREATE ROLE dnduser LOGIN; CREATE ROLE pgexporter LOGIN IN ROLE pg_monitor"
sql "CREATE DATABASE dndstory OWNER dnduser"
sql "CREATE TABLE users (id int); CREATE TABLE stories (id int);
     CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
     INSERT INTO alembic_version VALUES ('abc123');
     ALTER TABLE users OWNER TO dnduser; ALTER TABLE stories OWNER TO dnduser;
     ALTER TABLE alembic_version OWNER TO dnduser" dndstory

# Every aspect of the postgres kind, on one check.
aspects=(running database user least_privilege password_strength schema migrations shared_buffers
  effective_cache_size max_connections checkpoint_completion_target connections latency)
{
  cat <<EOF
[[checks]]
kind = "postgres"
url = "postgres://dnduser@127.0.0.1:$pg_port/dndstory?sslmode=disable"
expect_database = "dndstory"
expect_user = "dnduser"
min_password_length = 20
expect_tables = ["users", "stories"]
alembic_revision = "abc123"
max_connections_range = [20, 500]
interval = "1s"
timeout = "1s"
connect_timeout = "500ms"
query_timeout = "500ms"
EOF
  for aspect in "${aspects[@]}"; do
    printf '  [[checks.items]]\n  id = "db.%s"\n  section = "Database"\n  title = "%s"\n  severity = "critical"\n  decides = "%s"\n' \
      "$aspect" "$aspect" "$aspect"
  done
} >"$work/checklist.toml"

daemon_port=$(free_port)
"$daemon" --config.check --config.file "$work/checklist.toml" >/dev/null || die "the daemon refuses the bench's config"
"$daemon" --config.file "$work/checklist.toml" --web.listen-address "127.0.0.1:$daemon_port" \
  --log.level warn 2>"$work/daemon.log" &
daemon_pid=$!
pids+=("$daemon_pid")
DATA_SOURCE_NAME="postgresql://pgexporter@127.0.0.1:$pg_port/postgres?sslmode=disable" \
  prometheus-postgres-exporter --web.listen-address "127.0.0.1:$exporter_port" --log.level=warn 2>"$work/exporter.log" &
exporter_pid=$!
pids+=("$exporter_pid")
wait_http "http://127.0.0.1:$daemon_port/-/healthy" "$daemon_pid" checklist-exporter 30 "$work/daemon.log"
wait_http "http://127.0.0.1:$exporter_port/metrics" "$exporter_pid" postgres_exporter 30 "$work/exporter.log"

evaluations() {
  curl -sf "http://127.0.0.1:$daemon_port/api/v1/items" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); e=[i for i in d["items"] if i["id"]=="db.running"][0]["evaluations"]; print(e["pass"]+e["fail"]+e["error"])' 2>/dev/null || echo 0
}
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
wait_evaluations() { # until the daemon has done at least $1 evaluations, bounded; fails at once when it exits
  for _ in $(seq 1 $((N * 4 + 60))); do
    (($(evaluations) >= $1)) && return 0
    require_alive "$daemon_pid" checklist-exporter "$work/daemon.log"
    require_alive "$exporter_pid" postgres_exporter "$work/exporter.log"
    sleep 0.5
  done
  die "the daemon did not reach $1 evaluations of db.running in $((N * 2 + 30)) s (log: $work/daemon.log)"
}

# Warm-up: one evaluation and one scrape each open their connection and prepare.
wait_evaluations 1
curl -sf "http://127.0.0.1:$exporter_port/metrics" >/dev/null
sleep 1
sql "SELECT pg_stat_statements_reset()" >/dev/null
log_start=$(wc -l <"$work/server.log")
start_evaluations=$(evaluations)
daemon_ticks0=$(ticks "$daemon_pid")
exporter_ticks0=$(ticks "$exporter_pid")

# Side by side: N scrapes of postgres_exporter, one a second, while the daemon evaluates once a second.
for _ in $(seq 1 "$N"); do
  curl -sf --max-time 10 "http://127.0.0.1:$exporter_port/metrics" >/dev/null || die "a postgres_exporter scrape failed"
  sleep 1
done
wait_evaluations $((start_evaluations + N))
daemon_ticks1=$(ticks "$daemon_pid")
exporter_ticks1=$(ticks "$exporter_pid")
kill "$daemon_pid" "$exporter_pid"
wait "$daemon_pid" "$exporter_pid" 2>/dev/null || true
daemon_pid="" exporter_pid=""
# Each evaluation runs the probe query exactly once, so its calls count the evaluations that
# the figures cover, whatever the daemon did between the last look and being stopped.
evaluated=$(sql "SELECT sum(calls) FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
                 WHERE r.rolname = 'dnduser' AND s.query = 'SELECT \$1'")

stats=$(sql "SELECT r.rolname, sum(s.calls), round(sum(s.total_exec_time + s.total_plan_time)::numeric, 3)
             FROM pg_stat_statements s JOIN pg_roles r ON r.oid = s.userid
             WHERE r.rolname IN ('dnduser', 'pgexporter') GROUP BY r.rolname ORDER BY 1")
read_stat() { echo "$stats" | awk -F'|' -v role="$1" -v col="$2" '$1 == role {print $col}'; }
cl_calls=$(read_stat dnduser 2)
cl_ms=$(read_stat dnduser 3)
ex_calls=$(read_stat pgexporter 2)
ex_ms=$(read_stat pgexporter 3)

# The statement log: one `duration:` line per statement (simple protocol) or per execute
# (extended protocol); parse and bind lines are time too but not statements.
log_figures() {
  tail -n +"$((log_start + 1))" "$work/server.log" | awk -v role="$1" '
    $1 == role && /duration: / {
      for (i = 1; i <= NF; i++) if ($i == "duration:") ms += $(i + 1)
      if ($0 ~ /statement: |execute /) n++
    }
    END { printf "%d %.3f\n", n, ms }'
}
read -r cl_log_n cl_log_ms < <(log_figures dnduser)
read -r ex_log_n ex_log_ms < <(log_figures pgexporter)

hz=$(getconf CLK_TCK)
per() { python3 -c "print(round($1 / $2, 3))"; }
echo "evaluations=$evaluated"
echo "scrapes=$N"
echo "checklist_statements_per_evaluation=$(per "$cl_calls" "$evaluated")"
echo "exporter_statements_per_scrape=$(per "$ex_calls" "$N")"
echo "checklist_server_ms_per_evaluation=$(per "$cl_ms" "$evaluated")"
echo "exporter_server_ms_per_scrape=$(per "$ex_ms" "$N")"
echo "checklist_log_statements_per_evaluation=$(per "$cl_log_n" "$evaluated")"
echo "exporter_log_statements_per_scrape=$(per "$ex_log_n" "$N")"
echo "checklist_log_ms_per_evaluation=$(per "$cl_log_ms" "$evaluated")"
echo "exporter_log_ms_per_scrape=$(per "$ex_log_ms" "$N")"
echo "checklist_client_cpu_ms_per_evaluation=$(per "($daemon_ticks1 - $daemon_ticks0) * 1000 / $hz" "$evaluated")"
echo "exporter_client_cpu_ms_per_scrape=$(per "($exporter_ticks1 - $exporter_ticks0) * 1000 / $hz" "$N")"
echo "ratio_statements=$(python3 -c "print(round(($cl_calls / $evaluated) / ($ex_calls / $N), 3))")"
echo "ratio_server_time=$(python3 -c "print(round(($cl_ms / $evaluated) / ($ex_ms / $N), 3))")"
echo "ratio_log_server_time=$(python3 -c "print(round(($cl_log_ms / $evaluated) / ($ex_log_ms / $N), 3))")"
