#!/usr/bin/env bash
# Restore drill overhead: one dump restored by hand (createdb, then `gzip -dc | psql` for a plain
# gzip dump and `pg_restore` for a custom-format one, then dropdb) and by checklist-exporter's
# `backup_restore` check (`checklist-exporter check` on a config holding just that check, deciding
# `restores` only, so no comparison queries are counted: its own steps are the process start,
# the config, the role check, creating, marking and dropping the scratch database), on
# the machine's PostgreSQL (127.0.0.1:5432), as the same non-superuser role with CREATEDB,
# alternating, best of ROUNDS each. Prints key=value results: seconds of each and the overhead
# ratio (drill over by hand) per format.
#
# Usage (as root, PostgreSQL on 127.0.0.1:5432 with trust auth for postgres, from the repository):
#        bash bench/restore.sh               (about 1.5 million rows, 5 rounds)
#        BENCH_SHORT=1 bash bench/restore.sh (20,000 rows, one round, nothing kept: what CI runs)
# Environment: BENCH_DIR (default /tmp/checklist-bench-restore), ROWS, ROUNDS.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

need=()
command -v psql >/dev/null || need+=(postgresql-client)
command -v gzip >/dev/null || need+=(gzip)
install_missing "${need[@]}"

exporter=$(bench_binary)
if bench_short; then
  rows=${ROWS:-20000} rounds=${ROUNDS:-1}
else
  rows=${ROWS:-1500000} rounds=${ROUNDS:-5}
fi
bench_dir /tmp/checklist-bench-restore
work=$W
cleanup_dirs+=("$work/backups") # the dumps are no figures, and are large

as_postgres() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p 5432 -U postgres "$@"; }
as_postgres -d postgres -Atc 'SELECT 1' >/dev/null || die "no PostgreSQL with trust auth on 127.0.0.1:5432"

# Names unique to this run; the database, the role and any scratch database go on exit.
source_db=checklist_bench_restore_src_$$
role=checklist_bench_restore_$$
by_hand_db=checklist_bench_restore_hand_$$
drop_all() {
  as_postgres -d postgres -c "DROP DATABASE IF EXISTS $source_db WITH (FORCE)" \
    -c "DROP DATABASE IF EXISTS $by_hand_db WITH (FORCE)" >/dev/null 2>&1 || true
  for db in $(as_postgres -d postgres -Atc "SELECT datname FROM pg_database WHERE datdba = (SELECT oid FROM pg_roles WHERE rolname = '$role')" 2>/dev/null); do
    as_postgres -d postgres -c "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
  as_postgres -d postgres -c "DROP ROLE IF EXISTS $role" >/dev/null 2>&1 || true
}
trap 'drop_all; cleanup' EXIT

as_postgres -d postgres -c "CREATE DATABASE $source_db" -c "CREATE ROLE $role LOGIN CREATEDB NOSUPERUSER" >/dev/null
as_postgres -d "$source_db" >/dev/null <<SQL
CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE stories (id serial PRIMARY KEY, user_id int REFERENCES users(id), title text, body text, created_at timestamptz);
CREATE INDEX stories_user ON stories (user_id);
CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
INSERT INTO alembic_version VALUES ('abc123');
INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 1000) g;
INSERT INTO stories (user_id, title, body, created_at)
  SELECT 1 + g % 1000, 'story ' || g, md5(g::text) || ' a dragon guards the hoard ' || md5((g * 7)::text),
         timestamptz '2026-01-01' + g * interval '1 second'
  FROM generate_series(1, $rows) g;
SQL

mkdir -p "$work/backups/plain" "$work/backups/custom"
pg_dump -h 127.0.0.1 -p 5432 -U postgres --no-owner --no-privileges "$source_db" | gzip -6 > "$work/backups/plain/db.sql.gz"
pg_dump -h 127.0.0.1 -p 5432 -U postgres --no-owner --no-privileges -Fc "$source_db" > "$work/backups/custom/db.dump"

config() { # format pattern
  cat > "$work/$1.toml" <<TOML
[[checks]]
kind = "backup_restore"
set = "bench-$1"
directory = "$work/backups/$1"
pattern = "$2"
scratch_url = "postgres://$role@127.0.0.1:5432/postgres?sslmode=disable"
rto = "1h"
interval = "1d"
timeout = "1h"

  [[checks.items]]
  id = "dr.database_restore"
  decides = "restores"
  section = "Disaster Recovery Plan"
  title = "Database restore verified"
  severity = "critical"
TOML
}
config plain "*.sql.gz"
config custom "*.dump"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a == "" || b < a) ? b : a }'; }
as_role() { PGUSER=$role PGHOST=127.0.0.1 PGPORT=5432 "$@"; }

by_hand() { # format
  local start
  start=$(now)
  as_role createdb -T template0 "$by_hand_db"
  if [ "$1" = plain ]; then
    gzip -dc "$work/backups/plain/db.sql.gz" | as_role psql -X -q -v ON_ERROR_STOP=1 -d "$by_hand_db" >/dev/null
  else
    as_role pg_restore --exit-on-error --no-owner --no-privileges -d "$by_hand_db" "$work/backups/custom/db.dump"
  fi
  as_role dropdb "$by_hand_db"
  elapsed "$start"
}

drill() { # format
  local start out
  start=$(now)
  out=$("$exporter" check --format json --config.file "$work/$1.toml") || true
  local seconds
  seconds=$(elapsed "$start")
  grep -q '"state": "pass"' <<<"$out" && ! grep -q '"state": "\(fail\|error\)"' <<<"$out" \
    || { echo "the drill did not pass:" >&2; echo "$out" >&2; exit 1; }
  echo "$seconds"
}

declare -A hand drilled
for round in $(seq 1 "$rounds"); do
  for format in plain custom; do
    hand[$format]=$(best "${hand[$format]:-}" "$(by_hand "$format")")
    drilled[$format]=$(best "${drilled[$format]:-}" "$(drill "$format")")
  done
done

echo "rows=$rows"
echo "rounds=$rounds"
echo "plain_gzip_bytes=$(stat -c %s "$work/backups/plain/db.sql.gz")"
echo "custom_bytes=$(stat -c %s "$work/backups/custom/db.dump")"
for format in plain custom; do
  echo "${format}_by_hand_seconds=${hand[$format]}"
  echo "${format}_drill_seconds=${drilled[$format]}"
  awk -v h="${hand[$format]}" -v d="${drilled[$format]}" -v f="$format" 'BEGIN { printf "%s_overhead_ratio=%.3f\n", f, d / h }'
done
