// jsonnet -S mixin/build/rules.jsonnet > alerts/checklist.rules.yml
// Overrides for tests: --tla-code config='{ forRegressed: "1s" }'
function(config={})
  local mixin = (import '../mixin.libsonnet') + { _config+:: config };
  '# Generated from mixin/ by mixin/generate.sh: edit the jsonnet, not this file.\n'
  + std.manifestYamlDoc({ groups: mixin.prometheusRules.groups + mixin.prometheusAlerts.groups }, indent_array_in_object=true, quote_keys=false)
