// The alert model (docs/alerting.md):
// - Item alerts carry the item's labels and its check's `target` (joined from
//   checklist_item_reason_info); Alertmanager groups on (job, instance, target), so one broken
//   target, file or backup set is one notification listing every item it breaks.
// - ChecklistItemRegressed keeps the item's own severity: critical pages, warning makes a
//   ticket, info notifies nobody.
// - Value alerts carry `target` too, and Alertmanager inhibits them while an item alert fires
//   for the same target: one page per broken thing.
// - While an exporter is not up (a restart, an outage, a target gone from discovery), item and
//   value alerts are decided on the last value seen within outageTolerance, so nothing resolves
//   and nothing pages again; ChecklistExporterDown pages once. A repair resolves at once: this
//   is not keep_firing_for, which would also hold a genuine resolution back.
// - Annotations read the title, the reason and the page URL with `query` templates, so no
//   alert disappears or churns because of them.
{
  local c = $._config,

  // A query template for the last value of `series` seen within outageTolerance, so that
  // notifications sent during an outage still read the title and the reason.
  local query(series, labels) =
    'printf "last_over_time(' + series + '{' + std.join(',', [l + '=%q' for l in labels]) + '}[' + c.outageTolerance + '])" '
    + std.join(' ', ['$labels.' + l for l in labels]) + ' | query',
  // `environment` is empty, and matches series without it, when the config declares none.
  local itemLabels = ['job', 'instance', 'environment', 'id'],
  local title = '{{ with ' + query('checklist_item_info', itemLabels) + ' }}{{ . | first | label "title" }}{{ else }}{{ $labels.id }}{{ end }}',
  local reason = '{{ with ' + query('checklist_item_reason_info', itemLabels) + ' }}{{ . | first | label "reason" }}{{ else }}(no reason exported){{ end }}',
  local itemURL = '{{ with ' + query('checklist_web_info', ['job', 'instance']) + ' }}{{ . | first | label "external_url" }}{{ else }}http://{{ $labels.instance }}/{{ end }}{{ if $labels.environment }}?environment={{ $labels.environment }}{{ end }}#item-{{ $labels.id }}',

  local runbook(alert) = c.runbookURLBase + '#' + std.asciiLower(alert),

  // `name{job}` as scraped now, or its last value within outageTolerance.
  local now(name, extra='') = '%s{%s%s}' % [name, c.jobSelector, extra],
  local lastSeen(name, extra='') = 'last_over_time(%s{%s%s}[%s])' % [name, c.jobSelector, extra, c.outageTolerance],
  local indent(text) = std.strReplace(std.stripChars(text, '\n'), '\n', '\n  '),

  // `exprOf(series)` as scraped now, or, while the exporter is not up, on the last values seen.
  local tolerateOutage(exprOf) = |||
    %(now)s
    or
    (
      %(last)s
    )
    unless on (job, instance) (up{%(job)s} == 1)
  ||| % { now: std.stripChars(exprOf(now), '\n'), last: indent(exprOf(lastSeen)), job: c.jobSelector },

  // Item alerts: the expression's series with the check's target joined in (one reason series
  // per item, even where the last hour saw two). An item whose reason series is missing still
  // alerts, without a target.
  local withTarget(exprOf) = function(series) |||
    (
      %(expr)s
    )
    * on (job, instance, environment, id) group_left (target)
      topk by (job, instance, environment, id) (1, %(reason)s)
    or
    (
      %(expr)s
    )
    unless on (job, instance, environment, id)
      %(reason)s
  ||| % { expr: indent(exprOf(series)), reason: series('checklist_item_reason_info') },

  local notGroup(series) = 'unless on (job, instance, environment, id) %s' % series('checklist_item_info', ',kind="group"'),

  local itemAnnotations(alert, what) = {
    summary: title + ' (' + '{{ $labels.id }}) ' + what,
    description: 'Item {{ $labels.id }} (' + title + '; section {{ $labels.section }}, {{ $labels.severity }}) on {{ $labels.instance }} '
                 + what + ': ' + reason + '.',
    reason: reason,
    item_url: itemURL,
    runbook_url: runbook(alert),
  },

  local valueAlert(alert) = {
    alert: alert,
    annotations+: { runbook_url: runbook(alert) },
  },

  prometheusAlerts+:: {
    groups+: [
      {
        name: 'checklist-items',
        // Group items (kind="group") are left out: a group breaks only through a member,
        // whose alert names the cause.
        rules: [
          {
            alert: 'ChecklistItemRegressed',
            // Present only for items in the go-live baseline, so an item that never passed
            // never pages here. Severity is the item's own.
            expr: tolerateOutage(withTarget(function(series) '%s == 1 %s' % [series('checklist_item_regressed'), notGroup(series)])),
            'for': c.forRegressed,
            annotations: itemAnnotations('ChecklistItemRegressed', 'passed at go-live and does not pass now'),
          },
          {
            alert: 'ChecklistCriticalItemFailing',
            // Decided and failing; not a page: a critical item that never passed is go-live
            // work, not an incident.
            expr: tolerateOutage(withTarget(function(series) |||
              (%(passing)s == 0)
              and on (job, instance, environment, id) (%(error)s == 0)
              %(notGroup)s
            ||| % { passing: series('checklist_item_passing', ',severity="critical"'), 'error': series('checklist_item_error'), notGroup: notGroup(series) })),
            'for': c.forCriticalFailing,
            labels: { severity: c.severityTicket, item_severity: 'critical' },
            annotations: itemAnnotations('ChecklistCriticalItemFailing', 'fails'),
          },
          {
            alert: 'ChecklistItemUndecidable',
            expr: tolerateOutage(withTarget(function(series) '%s == 1 %s' % [series('checklist_item_error'), notGroup(series)])),
            'for': c.forUndecidable,
            labels: { severity: c.severityTicket },
            annotations: itemAnnotations('ChecklistItemUndecidable', 'cannot be decided'),
          },
          {
            alert: 'ChecklistEvaluationStale',
            // Older than three of its own intervals, which the exporter exports: the same rule as
            // the page's Stale state, exact for every interval.
            expr: |||
              (
                  time() - checklist_item_last_evaluation_timestamp_seconds{%(job)s}
                > on (job, instance, environment, id)
                  3 * checklist_item_interval_seconds{%(job)s}
              )
              %(notGroup)s
            ||| % { job: c.jobSelector, notGroup: notGroup(now) },
            'for': c.forStale,
            labels: { severity: c.severityTicket },
            annotations: {
              summary: 'Checklist item {{ $labels.id }} is not being evaluated',
              description: 'Item {{ $labels.id }} on {{ $labels.instance }} was last evaluated {{ $value | humanizeDuration }} ago, more than three of its intervals (about {{ with printf "checklist_item_interval_seconds{id=%q,instance=%q}" $labels.id $labels.instance | query }}{{ . | first | value | humanizeDuration }}{{ else }}unknown{{ end }} each). Its gauges show an old verdict.',
              item_url: itemURL,
              runbook_url: runbook('ChecklistEvaluationStale'),
            },
          },
        ],
      },
      {
        name: 'checklist-exporter',
        rules: [
          {
            alert: 'ChecklistExporterDown',
            // A silent exporter means no regression can page, so this pages. absent() covers
            // a target that disappeared from service discovery.
            expr: 'up{%(job)s} == 0 or absent(up{%(job)s})' % { job: c.jobSelector },
            'for': c.forExporterDown,
            labels: { severity: c.severityPage },
            annotations: {
              summary: 'checklist-exporter {{ with $labels.instance }}{{ . }}{{ else }}(%s, no target){{ end }} is down' % c.jobSelector,
              description: 'Prometheus could not scrape %s{{ with $labels.instance }} on {{ . }}{{ end }} for %s{{ if not $labels.instance }} (no target at all){{ end }}. No checklist item is evaluated while it is down; alerts already firing stay on their last values for up to %s.' % [c.jobSelector, c.forExporterDown, c.outageTolerance],
              runbook_url: runbook('ChecklistExporterDown'),
            },
          },
        ],
      },
      {
        name: 'checklist-values',
        // Each carries `target` (the check's target) so Alertmanager inhibits it while an
        // item alert about the same target fires.
        rules: [
          valueAlert('CertificateExpiringSoon') {
            // Below 21 days but not yet below 7, where CertificateExpiryCritical takes over.
            expr: tolerateOutage(function(series) |||
              (%(cert)s - time() < 21 * 86400)
              and
              (%(cert)s - time() >= 7 * 86400)
            ||| % { cert: series('checklist_tls_cert_not_after_timestamp_seconds') }),
            'for': c.forValue,
            labels: { severity: c.severityTicket },
            annotations+: {
              summary: 'Certificate of {{ $labels.target }} expires in {{ $value | humanizeDuration }}',
              description: 'The leaf certificate of {{ $labels.target }} (checked by {{ $labels.instance }}) expires in {{ $value | humanizeDuration }}, under the 21 days wanted. Renewal should have happened by now.',
            },
          },
          valueAlert('CertificateExpiryCritical') {
            expr: tolerateOutage(function(series) '%s - time() < 7 * 86400' % series('checklist_tls_cert_not_after_timestamp_seconds')),
            'for': c.forValueCritical,
            labels: { severity: c.severityPage },
            annotations+: {
              summary: 'Certificate of {{ $labels.target }} {{ if le $value 0.0 }}has expired{{ else }}expires in {{ $value | humanizeDuration }}{{ end }}',
              description: 'The leaf certificate of {{ $labels.target }} (checked by {{ $labels.instance }}) {{ if le $value 0.0 }}has expired{{ else }}expires in {{ $value | humanizeDuration }}{{ end }}; 7 days is the last moment to renew by hand.',
            },
          },
          valueAlert('BackupTooOld') {
            // 26 hours: a daily backup plus two hours of slack for a slow run.
            expr: tolerateOutage(function(series) 'label_replace(%s > 26 * 3600, "target", "$1", "set", "(.*)")' % series('checklist_backup_newest_age_seconds')),
            'for': c.forValue,
            labels: { severity: c.severityPage },
            annotations+: {
              summary: 'Newest backup of {{ $labels.set }} is {{ $value | humanizeDuration }} old',
              description: 'The newest backup in set {{ $labels.set }} (checked by {{ $labels.instance }}) is {{ $value | humanizeDuration }} old; a daily backup should be at most 26 hours old.',
            },
          },
          valueAlert('DiskSpaceLow') {
            expr: tolerateOutage(function(series) 'label_replace(%s < 0.10, "target", "$1", "path", "(.*)")' % series('checklist_disk_free_ratio')),
            'for': c.forValue,
            labels: { severity: c.severityTicket },
            annotations+: {
              summary: 'Disk holding {{ $labels.path }} has {{ $value | humanizePercentage }} free',
              description: 'The filesystem that holds {{ $labels.path }} on {{ $labels.instance }} has {{ $value | humanizePercentage }} free, under the 10% wanted.',
            },
          },
          valueAlert('MemoryUsageHigh') {
            expr: tolerateOutage(function(series) '%s > 0.80' % series('checklist_host_memory_used_ratio')),
            'for': '15m',
            labels: { severity: c.severityTicket },
            annotations+: {
              summary: 'Memory {{ $value | humanizePercentage }} used on {{ $labels.instance }}',
              description: '{{ $labels.instance }} has used {{ $value | humanizePercentage }} of its memory (total minus MemAvailable) for 15 minutes, over the 80% wanted.',
            },
          },
          valueAlert('HealthEndpointSlow') {
            expr: |||
              histogram_quantile(0.95,
                sum by (job, instance, target, le) (rate(checklist_http_request_duration_seconds_bucket{%(job)s}[10m]))
              ) > 2
            ||| % { job: c.jobSelector },
            'for': c.forValue,
            labels: { severity: c.severityTicket },
            annotations+: {
              summary: 'Health endpoint {{ $labels.target }} p95 is {{ $value | humanizeDuration }}',
              description: 'The 95th percentile of the request time to {{ $labels.target }} (measured by {{ $labels.instance }} over 10 minutes) is {{ $value | humanizeDuration }}, over the 2 s wanted.',
            },
          },
        ],
      },
    ],
  },
}
