// What an installation changes. Override in your own jsonnet:
//   (import 'checklist-exporter/mixin/mixin.libsonnet') + { _config+:: { jobSelector: 'job="deploy-checklist"' } }
// then generate with mixin/generate.sh (or the commands in it).
{
  _config+:: {
    // Selects the exporter's series in every alert and dashboard query.
    jobSelector: 'job="checklist"',
    // Runbook anchors are appended to this: it must be absolute so the notification link works.
    runbookURLBase: 'https://github.com/checklist-exporter/checklist-exporter/blob/main/docs/runbooks.md',

    // How long a condition must hold before it fires.
    forRegressed: '2m',
    forCriticalFailing: '15m',
    forUndecidable: '30m',
    forStale: '5m',
    forExporterDown: '5m',
    forValue: '10m',
    forValueCritical: '5m',
    // While an exporter is not up, item and value alerts are decided on the last value seen
    // within this long: a restart or an outage up to this long resolves nothing (the exporter
    // also restores its verdicts at start). ChecklistExporterDown pages meanwhile.
    outageTolerance: '1h',

    // Severity labels of the non-item alerts; item alerts carry the item's own severity.
    severityPage: 'critical',
    severityTicket: 'warning',

    // Alertmanager (deploy/alertmanager.yml): receivers per severity, and the group timings.
    receiverPage: 'page',
    receiverTicket: 'ticket',
    receiverNobody: 'nobody',
    groupWait: '30s',
    groupInterval: '5m',
    repeatInterval: '4h',

    // Dashboard.
    dashboardUID: 'checklist-exporter',
    dashboardTitle: 'Deployment checklist',
    readinessRedBelow: 0.8,
    readinessGreenFrom: 1,
  },
}
