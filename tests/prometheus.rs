//! The `prometheus` and `alertmanager` kinds against a real Prometheus (scraping a loopback
//! target with known values and evaluating a rules file with one healthy and one broken alerting
//! rule) and a real Alertmanager (email and webhook receivers); and against a dead port, a
//! silent listener, a server answering bytes that are not HTTP, and one answering HTML.

mod common;

use checklist_exporter::model::{Cause, Verdict};
use common::hostile::{fixed_answer, garbage, hostile, silent};
use common::pki::{write, Leaf, Pki};
use common::probe::{outcome, run_once};
use common::prometheus::{Alertmanager, Prometheus};
use common::{closed_port, item, promtool_complaints, wait_for, Daemon};
use std::time::Duration;

/// What the scrape target serves: a success ratio, an error ratio and two queue depths.
const TARGET_METRICS: &str = "\
# TYPE app_story_success_ratio gauge
app_story_success_ratio 0.97
# TYPE app_error_ratio gauge
app_error_ratio 0.01
# TYPE app_queue_depth gauge
app_queue_depth{queue=\"audio\"} 3
app_queue_depth{queue=\"story\"} 12
";

/// One rule that evaluates fine, and one whose result holds two series that differ only by
/// metric name: once the alert drops `__name__` they collide, and evaluation fails every time.
const RULES: &str = "\
groups:
  - name: app
    interval: 1s
    rules:
      - alert: HighErrorRate
        expr: app_error_ratio > 0.05
        for: 5m
      - alert: CollidingSeries
        expr: '{__name__=~\"app_story_success_ratio|app_error_ratio\"}'
";

/// A Prometheus that has scraped the target and evaluated both rules.
fn prometheus() -> (Prometheus, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("rules.yml");
    std::fs::write(&rules, RULES).unwrap();
    let target = fixed_answer("text/plain; version=0.0.4", TARGET_METRICS.to_string());
    let prometheus = Prometheus::start(target, Some(&rules));
    wait_for("the target scraped", Duration::from_secs(60), || prometheus.query("app_queue_depth").len() == 2);
    prometheus.wait_rules_evaluated();
    (prometheus, dir)
}

fn query_check(url: &str, query: &str, bounds: &str) -> String {
    format!("kind = \"prometheus\"\nurl = \"{url}\"\nquery = '{query}'\n{bounds}")
}

fn alert_check(url: &str, alert: &str) -> String {
    format!("kind = \"prometheus\"\nurl = \"{url}\"\nalert = \"{alert}\"")
}

#[test]
fn queries_against_a_real_prometheus_pass_fail_and_error_with_readable_reasons() {
    let (prometheus, _dir) = prometheus();
    let url = prometheus.url();
    let judge = |query: &str, bounds: &str| {
        let report =
            run_once(&query_check(&url, query, bounds), &["query"]).unwrap_or_else(|f| panic!("{query}: {f:?}"));
        outcome(&report, "query").clone()
    };

    let within = judge("app_story_success_ratio", "min = 0.95\nmax = 1.0");
    assert_eq!(within.verdict, Verdict::Pass, "{within:?}");
    assert_eq!(within.reason, "query returned 1 sample: 0.97 (min 0.95, max 1)");

    let below = judge("app_story_success_ratio", "min = 0.99");
    assert_eq!((below.verdict, below.cause), (Verdict::Fail, Some(Cause::BelowMinimum)));
    assert_eq!(below.reason, "query returned 1 sample: 0.97 < min 0.99");

    let above = judge("app_queue_depth", "max = 10");
    assert_eq!((above.verdict, above.cause), (Verdict::Fail, Some(Cause::AboveMaximum)));
    assert!(above.reason.starts_with("query returned 2 samples: 12 > max 10 for app_queue_depth{"), "{above:?}");
    assert!(above.reason.contains("queue=\"story\"") && above.reason.ends_with("(1 of 2 above)"), "{above:?}");

    let aggregated = judge("max(app_queue_depth)", "max = 20");
    assert_eq!(aggregated.reason, "query returned 1 sample: 12 (max 20)");

    let empty = judge("app_not_exported_anywhere", "min = 1");
    assert_eq!((empty.verdict, empty.cause), (Verdict::Fail, Some(Cause::Missing)));
    assert_eq!(empty.reason, "query returned no samples (is the metric exported and scraped?)");

    let bad_promql = run_once(&query_check(&url, "sum(app_queue_depth", ""), &["query"]).unwrap_err();
    assert_eq!(bad_promql.cause, Cause::Invalid);
    assert!(
        bad_promql.reason.starts_with(&format!("{url}/api/v1/query answered 400 (bad_data): ")),
        "Prometheus's own message: {bad_promql:?}"
    );
    assert!(bad_promql.reason.contains("parse error"), "{bad_promql:?}");

    let range = run_once(&query_check(&url, "app_queue_depth[1m]", ""), &["query"]).unwrap_err();
    assert!(range.reason.starts_with("the query returns a range vector"), "{range:?}");
    let string = run_once(&query_check(&url, "\"story\"", ""), &["query"]).unwrap_err();
    assert_eq!(string.reason, "the query returns a string; want an instant vector or a scalar");

    let capped = run_once(&query_check(&url, "app_queue_depth", "max_body_bytes = \"64B\""), &["query"]).unwrap_err();
    assert_eq!(capped.cause, Cause::Invalid);
    assert_eq!(capped.reason, format!("{url}/api/v1/query answered more than 64 B; raise max_body_bytes"));
}

#[test]
fn alert_rules_are_found_by_name_and_their_health_is_judged() {
    let (prometheus, _dir) = prometheus();
    let url = prometheus.url();
    let judge =
        |alert: &str| outcome(&run_once(&alert_check(&url, alert), &["alert_rule"]).unwrap(), "alert_rule").clone();

    let healthy = judge("HighErrorRate");
    assert_eq!(healthy.verdict, Verdict::Pass, "{healthy:?}");
    assert_eq!(healthy.reason, "alerting rule HighErrorRate is loaded, health ok");

    let typo = judge("HighErrorRatio");
    assert_eq!((typo.verdict, typo.cause), (Verdict::Fail, Some(Cause::Missing)));
    assert_eq!(typo.reason, "no alerting rule named HighErrorRatio among 2 loaded (closest: HighErrorRate)");

    let broken = judge("CollidingSeries");
    assert_eq!((broken.verdict, broken.cause), (Verdict::Fail, Some(Cause::Invalid)));
    assert!(broken.reason.starts_with("rule CollidingSeries health is err: "), "{broken:?}");
    assert!(broken.reason.contains("same labelset"), "Prometheus's lastError: {broken:?}");
}

#[test]
fn the_daemon_exports_the_query_value_and_keeps_series_apart_per_query() {
    let (prometheus, _dir) = prometheus();
    let url = prometheus.url();
    let config = format!(
        "[[checks]]\n{}\ninterval = \"1s\"\ntimeout = \"900ms\"\nrequest_timeout = \"800ms\"\n{}\n\
         [[checks]]\n{}\ninterval = \"1s\"\ntimeout = \"900ms\"\nrequest_timeout = \"800ms\"\n{}\n\
         [[checks]]\n{}\ninterval = \"1s\"\ntimeout = \"900ms\"\nrequest_timeout = \"800ms\"\n{}",
        query_check(&url, "app_story_success_ratio", "min = 0.95"),
        item("custom_metrics.story_success_rate", "warning", Some("query")),
        query_check(&url, "app_queue_depth", ""),
        item("custom_metrics.queues", "info", Some("query")),
        alert_check(&url, "HighErrorRate"),
        item("alerts.high_error_rate", "critical", Some("alert_rule")),
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    wait_for("the query value exported", Duration::from_secs(30), || {
        daemon.metrics().value("checklist_prometheus_query_value", &[("query", "app_story_success_ratio")]).is_some()
    });
    let metrics = daemon.metrics();
    let ratio = [("target", url.as_str()), ("query", "app_story_success_ratio")];
    assert_eq!(metrics.value("checklist_prometheus_query_value", &ratio), Some(0.97));
    assert_eq!(metrics.value("checklist_prometheus_query_samples", &ratio), Some(1.0));
    let queues = [("query", "app_queue_depth")];
    assert_eq!(metrics.value("checklist_prometheus_query_samples", &queues), Some(2.0));
    assert_eq!(
        metrics.value("checklist_prometheus_query_value", &queues),
        None,
        "two samples have no single value, and their labels are never copied"
    );
    for id in ["custom_metrics.story_success_rate", "custom_metrics.queues", "alerts.high_error_rate"] {
        assert_eq!(metrics.value("checklist_item_passing", &[("id", id)]), Some(1.0), "{id}: {}", daemon.item(id));
    }
    assert_eq!(promtool_complaints(&daemon.metrics_text()), None);
}

#[test]
fn a_prometheus_behind_tls_is_trusted_through_ca_files() {
    let pki = Pki::new();
    let chain = pki.chain(&Leaf::valid(&["127.0.0.1"]), true);
    let files = pki.dir.path();
    let cert = write(files, "fullchain.pem", &format!("{}{}", chain.leaf_pem, pki.intermediate_pem));
    let key = write(files, "key.pem", &chain.key_pem);
    let target = fixed_answer("text/plain; version=0.0.4", TARGET_METRICS.to_string());
    let prometheus = Prometheus::start_tls(target, None, &cert, &key);
    let url = prometheus.url();
    assert!(url.starts_with("https://"));
    let ratio = query_check(&url, "app_story_success_ratio", "min = 0.95");
    let trusted = format!("{ratio}\nsystem_roots = false\nca_files = [\"{}\"]", pki.root_file().display());
    wait_for("the query to pass over TLS", Duration::from_secs(60), || {
        run_once(&trusted, &["query"])
            .is_ok_and(|report| report.outcome("query").is_some_and(|o| o.verdict == Verdict::Pass))
    });
    let untrusted = run_once(&ratio, &["query"]).unwrap_err();
    assert_eq!(untrusted.cause, Cause::Untrusted, "the test CA is not among the system roots: {untrusted:?}");
}

/// Email and webhook receivers; the SMTP password must never come back out.
const ALERTMANAGER_CONFIG: &str = "\
global:
  smtp_from: alerts@example.invalid
  smtp_smarthost: 127.0.0.1:25
  smtp_auth_username: alerts
  smtp_auth_password: hunter2-smtp-password
route:
  receiver: default
  routes:
    - receiver: team-mail
      matchers: [severity=\"warning\"]
    - receiver: oncall
      matchers: [severity=\"critical\"]
receivers:
  - name: default
  - name: team-mail
    email_configs:
      - to: team@example.invalid
  - name: oncall
    webhook_configs:
      - url: http://127.0.0.1:9/hook
";

#[test]
fn a_real_alertmanager_has_email_and_webhook_but_not_pagerduty_and_is_ready() {
    let alertmanager = Alertmanager::start(ALERTMANAGER_CONFIG);
    alertmanager.wait_ready();
    let url = alertmanager.url();
    let check =
        |integration: &str| format!("kind = \"alertmanager\"\nurl = \"{url}\"\nintegration = \"{integration}\"");

    let email = run_once(&check("email"), &["integration", "ready"]).unwrap();
    let verdict = outcome(&email, "integration");
    assert_eq!(verdict.verdict, Verdict::Pass, "{verdict:?}");
    assert_eq!(verdict.reason, "receivers with email: team-mail");
    let ready = outcome(&email, "ready");
    assert_eq!(ready.verdict, Verdict::Pass, "{ready:?}");
    assert_eq!(ready.reason, format!("{url}/-/ready answered 200; clustering disabled (a single Alertmanager)"));

    let webhook = run_once(&check("webhook"), &["integration"]).unwrap();
    assert_eq!(outcome(&webhook, "integration").reason, "receivers with webhook: oncall");

    let pagerduty = run_once(&check("pagerduty"), &["integration"]).unwrap();
    let verdict = outcome(&pagerduty, "integration");
    assert_eq!((verdict.verdict, verdict.cause), (Verdict::Fail, Some(Cause::Missing)));
    assert_eq!(verdict.reason, "no receiver has pagerduty_configs (receivers: default, team-mail, oncall)");

    for report in [&email, &webhook, &pagerduty] {
        assert!(!format!("{report:?}").contains("hunter2"), "no secret in any reason: {report:?}");
    }

    // The daemon evaluates the same check: the secret is in nothing it serves or logs.
    let config = format!(
        "[[checks]]\n{}\ninterval = \"1s\"\ntimeout = \"900ms\"\nrequest_timeout = \"800ms\"\n{}{}",
        check("email"),
        item("notify.email", "critical", Some("integration")),
        item("notify.ready", "critical", Some("ready")),
    );
    let daemon = Daemon::start(&config);
    wait_for("both items evaluated", Duration::from_secs(30), || {
        ["notify.email", "notify.ready"].iter().all(|id| daemon.item(id)["state"] == "pass")
    });
    let served = [
        daemon.metrics_text(),
        daemon.get("/").text().unwrap(),
        daemon.get("/api/v1/items").text().unwrap(),
        daemon.get("/api/v1/report?format=markdown").text().unwrap(),
        daemon.logs().join("\n"),
    ];
    for text in served {
        assert!(!text.contains("hunter2") && !text.contains("smtp_auth"), "{text}");
    }
}

#[test]
fn a_dead_silent_or_garbage_speaking_server_is_an_error_with_a_reason() {
    let html = fixed_answer("text/html", "<html><body>It works!</body></html>".to_string());
    let servers = [
        ("dead port", format!("127.0.0.1:{}", closed_port()), Cause::Refused, "cannot connect to"),
        ("silent listener", hostile(silent).to_string(), Cause::Timeout, "gave no complete answer within 1s"),
        ("not HTTP", hostile(garbage).to_string(), Cause::Io, "did not give a valid HTTP answer"),
        ("an HTML page", html.to_string(), Cause::Invalid, "answered 200 but not with"),
    ];
    for (case, address, cause, says) in servers {
        let url = format!("http://{address}");
        let checks = [
            (format!("{}\nrequest_timeout = \"1s\"", query_check(&url, "up", "min = 1")), "query"),
            (format!("{}\nrequest_timeout = \"1s\"", alert_check(&url, "HighErrorRate")), "alert_rule"),
            (
                format!("kind = \"alertmanager\"\nurl = \"{url}\"\nintegration = \"email\"\nrequest_timeout = \"1s\""),
                "integration",
            ),
        ];
        for (check, aspect) in checks {
            let failure = run_once(&check, &[aspect]).expect_err(case);
            assert_eq!(failure.cause, cause, "{case}, {aspect}: {failure:?}");
            assert!(failure.reason.contains(says), "{case}, {aspect}: {failure:?}");
            assert!(!failure.reason.contains("query="), "the reason names the endpoint, not the request: {failure:?}");
        }
    }
}
