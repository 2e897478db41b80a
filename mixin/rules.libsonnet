{
  prometheusRules+:: {
    groups+: [
      {
        name: 'checklist-readiness',
        rules: [
          {
            record: 'instance_%s:checklist_readiness:ratio' % by,
            expr: |||
              (
                  sum by (job, instance, environment, %(by)s) (checklist_item_passing{%(job)s})
                or
                  0 * count by (job, instance, environment, %(by)s) (checklist_item_info{%(job)s})
              )
              / count by (job, instance, environment, %(by)s) (checklist_item_info{%(job)s} unless on (job, instance, environment, id) checklist_item_not_applicable)
            ||| % { by: by, job: $._config.jobSelector },
          }
          for by in ['section', 'severity']
        ] + [
          {
            // Share of items passing. Items not evaluated yet count as not passing: the
            // denominator is checklist_item_info, present from start-up. Items the config
            // switched off for this site (checklist_item_not_applicable) count neither way.
            record: 'instance:checklist_readiness:ratio',
            expr: |||
              (
                  sum by (job, instance, environment) (checklist_item_passing{%(job)s})
                or
                  0 * count by (job, instance, environment) (checklist_item_info{%(job)s})
              )
              / count by (job, instance, environment) (checklist_item_info{%(job)s} unless on (job, instance, environment, id) checklist_item_not_applicable)
            ||| % { job: $._config.jobSelector },
          },
        ],
      },
    ],
  },
}
