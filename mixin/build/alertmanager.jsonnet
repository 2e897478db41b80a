// jsonnet -S mixin/build/alertmanager.jsonnet > deploy/alertmanager.yml
function(config={})
  local mixin = (import '../mixin.libsonnet') + { _config+:: config };
  '# Generated from mixin/ by mixin/generate.sh: edit the jsonnet, not this file.\n'
  + std.manifestYamlDoc(mixin.alertmanagerConfig, indent_array_in_object=true, quote_keys=false)
