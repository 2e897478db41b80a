// The Alertmanager routing the alerts are designed for (docs/alerting.md).
{
  local c = $._config,
  alertmanagerConfig+:: {
    route: {
      receiver: c.receiverTicket,
      // One notification per broken thing: the items of one check share its target.
      group_by: ['job', 'instance', 'target'],
      group_wait: c.groupWait,
      group_interval: c.groupInterval,
      repeat_interval: c.repeatInterval,
      routes: [
        { matchers: ['severity="critical"'], receiver: c.receiverPage, repeat_interval: '1h' },
        { matchers: ['severity="warning"'], receiver: c.receiverTicket },
        // Info items are on the page and the dashboard; they notify nobody.
        { matchers: ['severity="info"'], receiver: c.receiverNobody },
      ],
    },
    receivers: [
      // Add your integration (email_configs, slack_configs, pagerduty_configs,
      // webhook_configs) to page and ticket.
      { name: c.receiverPage },
      { name: c.receiverTicket },
      { name: c.receiverNobody },
    ],
    inhibit_rules: [
      {
        // A regressed item also fails or cannot be decided: one notification, the regression.
        source_matchers: ['alertname="ChecklistItemRegressed"'],
        target_matchers: ['alertname=~"ChecklistCriticalItemFailing|ChecklistItemUndecidable"'],
        equal: ['job', 'instance', 'id'],
      },
      {
        // A value alert about a target an item alert already reports on (an expired
        // certificate, an old backup set, a full disk) does not notify a second time.
        source_matchers: ['alertname=~"ChecklistItemRegressed|ChecklistCriticalItemFailing|ChecklistItemUndecidable"'],
        target_matchers: ['alertname=~"CertificateExpiringSoon|CertificateExpiryCritical|BackupTooOld|DiskSpaceLow|HealthEndpointSlow"'],
        equal: ['job', 'instance', 'target'],
      },
      {
        // While the exporter is down its items cannot be evaluated.
        source_matchers: ['alertname="ChecklistExporterDown"'],
        target_matchers: ['alertname="ChecklistEvaluationStale"'],
        equal: ['job', 'instance'],
      },
    ],
  },
}
