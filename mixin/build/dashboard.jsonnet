// jsonnet mixin/build/dashboard.jsonnet > dashboards/checklist.json
function(config={})
  ((import '../mixin.libsonnet') + { _config+:: config }).grafanaDashboards['checklist.json']
