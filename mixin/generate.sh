#!/usr/bin/env bash
# Regenerates the mixin's output: the alert and recording rules, the Alertmanager routing and
# the Grafana dashboard. tests/mixin.rs fails when the committed files differ from this.
set -euo pipefail
cd "$(dirname "$0")/.."
jsonnet -S mixin/build/rules.jsonnet > alerts/checklist.rules.yml
jsonnet -S mixin/build/alertmanager.jsonnet > deploy/alertmanager.yml
jsonnet mixin/build/dashboard.jsonnet > dashboards/checklist.json
