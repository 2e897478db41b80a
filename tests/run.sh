#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs the real components the tests talk to
# (Debian packages), starts what must be running, then runs `cargo test`. Extra arguments go to
# cargo test (for example a test name).
set -euo pipefail
cd "$(dirname "$0")/.."

# command -> Debian package that provides it
declare -A wanted=(
  [promtool]=prometheus
  [chromium]=chromium
  [chromedriver]=chromium-driver  # tests/page_document.rs: clicks, forms and screenshots over WebDriver
  [psql]=postgresql-client
  [pgbouncer]=pgbouncer
  [nginx]=nginx
  [prometheus-blackbox-exporter]=prometheus-blackbox-exporter
  [openssl]=openssl
  [gzip]=gzip                  # tests/backup.rs: real gzip backups
  [zstd]=zstd                  # tests/backup.rs: real zstd backups
  [gpg]=gpg                    # tests/backup.rs: OpenPGP-encrypted backups
  [age]=age                    # tests/backup.rs: age-encrypted backups
  [pg_dump]=postgresql-client  # tests/backup.rs: real dumps of a test database
  [setpriv]=util-linux         # tests/files.rs, env.rs: run as another uid for real EACCES
  [systemd-analyze]=systemd
  [amtool]=prometheus-alertmanager
  [jsonnet]=jsonnet             # tests/mixin.rs: the mixin generates alerts/, dashboards/, deploy/alertmanager.yml
  [curl]=curl                  # tests/webconfig.rs: a second, OpenSSL-based TLS client
  [testssl]=testssl.sh         # tests/tls_grade.rs: the grade compared with testssl's findings
)
missing=()
for command in "${!wanted[@]}"; do
  command -v "$command" >/dev/null 2>&1 || missing+=("${wanted[$command]}")
done
if ((${#missing[@]})); then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q
  # Package scripts may try to start services; the tests start their own on loopback.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# tests/kubernetes.rs runs kubernetes-validate (PyPI: no Debian package has the Kubernetes
# schemas), from a virtualenv of its own so that the system Python is left alone.
kubernetes_validate="${XDG_CACHE_HOME:-$HOME/.cache}/checklist-exporter/kubernetes-validate"
if [[ "$("$kubernetes_validate/bin/kubernetes-validate" --version 2>/dev/null)" != 1.37.0 ]]; then
  echo "installing kubernetes-validate 1.37.0 from PyPI into $kubernetes_validate"
  if ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends python3-venv
  fi
  python3 -m venv --clear "$kubernetes_validate"
  "$kubernetes_validate/bin/pip" install --quiet 'kubernetes-validate==1.37.0'
fi
export PATH="$kubernetes_validate/bin:$PATH"

# PostgreSQL on 127.0.0.1:5432 (trust auth) is part of this machine kind; start it if it is down.
if command -v pg_ctlcluster >/dev/null 2>&1 && ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi

exec cargo test "$@"
