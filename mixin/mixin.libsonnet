// The checklist-exporter monitoring mixin: alerts and recording rules, the Alertmanager routing
// that goes with them, and the Grafana dashboard. alerts/checklist.rules.yml,
// deploy/alertmanager.yml and dashboards/checklist.json are generated from it (generate.sh);
// tests/mixin.rs fails when they differ from a fresh generation.
(import 'config.libsonnet') +
(import 'alerts.libsonnet') +
(import 'rules.libsonnet') +
(import 'alertmanager.libsonnet') +
(import 'dashboards.libsonnet')
