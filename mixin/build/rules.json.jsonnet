// The rules as JSON (which Prometheus reads as YAML), manifested natively: seconds faster than
// the YAML of rules.jsonnet, for tests that generate rules with their own `for:` durations.
//   jsonnet --tla-code config='{ forRegressed: "1s" }' mixin/build/rules.json.jsonnet > rules.yml
function(config={})
  local mixin = (import '../mixin.libsonnet') + { _config+:: config };
  { groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }
