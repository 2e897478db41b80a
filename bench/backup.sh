#!/usr/bin/env bash
# Integrity check of a 1 GiB (uncompressed) gzip backup: checklist-exporter's backup_integrity
# check side by side with GNU `gzip -t` on the same file, in one run, alternating, five rounds
# each. Prints key=value results: throughput in MB/s of uncompressed data, their ratio, and the
# peak resident memory (VmHWM, from /usr/bin/time -v) of each.
#
# Usage (as root on a fresh Debian machine, from the repository): bash bench/backup.sh
#        BENCH_SHORT=1 bash bench/backup.sh   (8 MiB, one round, nothing kept: what CI runs)
# Environment: BENCH_DIR (default /tmp/checklist-bench-backup), BENCH_BYTES (default 1073741824),
# ROUNDS (5).
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/common.sh

need=()
command -v gzip >/dev/null || need+=(gzip)
[ -x /usr/bin/time ] || need+=(time)
command -v gawk >/dev/null || command -v mawk >/dev/null || need+=(mawk)
install_missing "${need[@]}"

exporter=$(bench_binary)
if bench_short; then
  bytes=${BENCH_BYTES:-8388608} rounds=${ROUNDS:-1}
else
  bytes=${BENCH_BYTES:-1073741824} rounds=${ROUNDS:-5}
fi
bench_dir /tmp/checklist-bench-backup
work=$W
cleanup_dirs+=("$work") # the backup file is no figure, and is large
mkdir -p "$work/backups"
backup="$work/backups/dndstory-bench.sql.gz"

# A plain-format dump of about $bytes: pg_dump's header, COPY rows of ids, titles, timestamps
# and hex strings (compressing about 3:1 at gzip -6, like real row data), and pg_dump's trailer.
awk -v limit="$bytes" 'BEGIN {
  srand(42);
  header = "--\n-- PostgreSQL database dump\n--\n\nSET statement_timeout = 0;\n\nCOPY public.story (id, title, created_at, body) FROM stdin;\n";
  printf "%s", header; total = length(header);
  for (i = 1; total < limit - 200; i++) {
    line = sprintf("%d\tstory number %d\t2026-%02d-%02d 12:%02d:%02d+00\t%08x%08x%08x%08x %s\n", i, i, i % 12 + 1, i % 28 + 1, i % 60, (i * 7) % 60,
      int(rand() * 4294967295), int(rand() * 4294967295), int(rand() * 4294967295), int(rand() * 4294967295),
      (i % 3 == 0 ? "the party enters the dungeon" : "a dragon guards the hoard"));
    printf "%s", line; total += length(line);
  }
  printf "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n";
}' | gzip -6 > "$backup"
uncompressed=$(gzip -dc "$backup" | wc -c)
compressed=$(stat -c %s "$backup")

cat > "$work/checklist.toml" <<TOML
[[checks]]
kind = "backup_integrity"
set = "bench"
directory = "$work/backups"
pattern = "*.sql.gz"
interval = "1h"
timeout = "30m"

  [[checks.items]]
  id = "backup.integrity"
  section = "Backup System"
  title = "Newest backup reads end to end"
  severity = "critical"
TOML

# Runs "$@" under /usr/bin/time -v; prints "seconds peak_kib".
measure() {
  local report="$work/time.txt"
  /usr/bin/time -v -o "$report" "$@" > "$work/out.txt" 2>/dev/null || { cat "$work/out.txt" "$report" >&2; return 1; }
  local elapsed peak
  elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$report")
  peak=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$report")
  echo "$elapsed $peak"
}

best_gzip=""; best_exporter=""; gzip_peak=0; exporter_peak=0
for round in $(seq 1 "$rounds"); do
  read -r seconds peak < <(measure gzip -t "$backup")
  if [ -z "$best_gzip" ] || awk -v a="$seconds" -v b="$best_gzip" 'BEGIN { exit !(a < b) }'; then best_gzip=$seconds; fi
  ((peak > gzip_peak)) && gzip_peak=$peak
  read -r seconds peak < <(measure "$exporter" check --format json --config.file "$work/checklist.toml")
  grep -q '"state": "pass"' "$work/out.txt" || { echo "the integrity check did not pass:" >&2; cat "$work/out.txt" >&2; exit 1; }
  if [ -z "$best_exporter" ] || awk -v a="$seconds" -v b="$best_exporter" 'BEGIN { exit !(a < b) }'; then best_exporter=$seconds; fi
  ((peak > exporter_peak)) && exporter_peak=$peak
done

awk -v u="$uncompressed" -v c="$compressed" -v g="$best_gzip" -v e="$best_exporter" -v gp="$gzip_peak" -v ep="$exporter_peak" -v r="$rounds" 'BEGIN {
  printf "uncompressed_bytes=%d\ncompressed_bytes=%d\nrounds=%d\n", u, c, r;
  printf "gzip_t_seconds=%.2f\nexporter_seconds=%.2f\n", g, e;
  printf "gzip_t_mb_per_s=%.0f\nexporter_mb_per_s=%.0f\n", u / g / 1e6, u / e / 1e6;
  printf "throughput_ratio=%.2f\n", g / e;
  printf "gzip_t_peak_rss_kib=%d\nexporter_peak_rss_kib=%d\nexporter_peak_rss_mib=%.1f\n", gp, ep, ep / 1024;
}'
