//! The monitoring stack as the checklist's "Monitoring & Alerting" lines see it: a PromQL instant
//! query whose samples must stay within a band ("Custom Metrics", such as a story generation
//! success rate), an alerting rule that is loaded and evaluates without error ("Alert Rules
//! Configured"), and an Alertmanager that is ready and has a receiver for a notification channel
//! ("Notification Channels").
//!
//! Requests go through the HTTP kinds' client: rustls with the system roots and optional CA
//! files, a request timeout, and a byte cap on the body. A server that refuses, stays silent or
//! does not speak the API gives `error` on every item of the check. The decisions are pure
//! functions of the answers, tested below.
//!
//! Alertmanager's `/api/v2/status` carries its whole configuration. It masks secrets as
//! `<secret>`, but the text is still never quoted anywhere: only receiver names leave this file.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use super::http::{default_max_body, http_kind, Answer, ClientSlot, RequestSpec};
use super::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample};
use crate::support::text::excerpt;
use crate::support::units::format_bytes;
use crate::support::url::mask_url;

pub static PROMETHEUS_QUERY_SAMPLES: MetricFamily = MetricFamily {
    name: "checklist_prometheus_query_samples",
    help: "Samples the last instant query returned.",
    kind: MetricKind::Gauge,
};
pub static PROMETHEUS_QUERY_VALUE: MetricFamily = MetricFamily {
    name: "checklist_prometheus_query_value",
    help: "The value of the last instant query, when it returned exactly one sample.",
    kind: MetricKind::Gauge,
};

/// The notification integrations Alertmanager knows, each configured as `<name>_configs` in a
/// receiver.
pub const INTEGRATIONS: &[&str] = &[
    "email",
    "slack",
    "pagerduty",
    "webhook",
    "opsgenie",
    "victorops",
    "pushover",
    "telegram",
    "discord",
    "msteams",
    "sns",
    "wechat",
    "webex",
    "jira",
    "rocketchat",
];

/// The longest text taken from a server (an error message, a series) into a reason.
const MAX_QUOTED_CHARS: usize = 200;

/// Refuses a base URL with a query or fragment: API paths are appended to it.
fn validate_base_url(url: &str) -> Result<(), KeyError> {
    if url.contains(['?', '#']) {
        return Err(KeyError::new(
            "url",
            format!("`{}` must be the server's base URL, without `?` or `#`", mask_url(url)),
        ));
    }
    Ok(())
}

/// GETs `path` below the base URL of `base` with the check's client. A failure names the
/// endpoint without its parameters (a long PromQL query would drown the reason).
async fn get(
    ctx: &CheckContext,
    slot: &mut ClientSlot,
    base: &RequestSpec,
    path: &str,
    params: &[(&str, &str)],
) -> Result<Answer, ProbeFailure> {
    let endpoint = endpoint(&base.url, path);
    let url = if params.is_empty() {
        reqwest::Url::parse(&endpoint)
    } else {
        reqwest::Url::parse_with_params(&endpoint, params)
    }
    .map_err(|err| ProbeFailure::new(Cause::Invalid, format!("`{endpoint}` is not a URL: {err}")))?;
    let spec = RequestSpec { url: url.to_string(), ..base.clone() };
    slot.fetch(ctx, &spec)
        .await
        .map_err(|failure| ProbeFailure { reason: failure.reason.replace(&spec.url, &endpoint), ..failure })
}

/// `base` + `path`, keeping a route prefix such as `/prometheus`.
fn endpoint(base: &str, path: &str) -> String {
    format!("{}{path}", base.trim_end_matches('/'))
}

/// At most [`MAX_QUOTED_CHARS`] of a target's text.
fn quote(text: &str) -> String {
    excerpt(text, MAX_QUOTED_CHARS)
}

/// A sample value as Prometheus writes it.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".into()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.into()
    } else {
        value.to_string()
    }
}

/// Refuses an answer cut at the byte cap: half a JSON document cannot be judged.
fn whole(what: &str, answer: &Answer, cap: u64) -> Result<(), ProbeFailure> {
    if answer.truncated {
        return Err(ProbeFailure::new(
            Cause::Invalid,
            format!("{what} answered more than {}; raise max_body_bytes", format_bytes(cap)),
        ));
    }
    Ok(())
}

/// The `data` of a Prometheus API answer (`{"status":"success","data":…}`), or why there is
/// none: an error the server explains (bad PromQL is `bad_data`), another status, or a body that
/// is not the API at all.
pub fn api_data(what: &str, answer: &Answer, cap: u64) -> Result<Value, ProbeFailure> {
    whole(what, answer, cap)?;
    let document: Option<Value> = serde_json::from_slice(&answer.body).ok();
    let status = answer.status;
    match document {
        Some(Value::Object(mut fields)) if status == 200 && fields.get("status") == Some(&"success".into()) => {
            Ok(fields.remove("data").unwrap_or(Value::Null))
        }
        Some(document) if document["status"] == "error" => {
            let kind = document["errorType"].as_str().unwrap_or("error");
            let message = quote(document["error"].as_str().unwrap_or("no message"));
            let cause = match kind {
                "bad_data" => Cause::Invalid,
                "timeout" | "canceled" => Cause::Timeout,
                _ => Cause::Io,
            };
            Err(ProbeFailure::new(cause, format!("{what} answered {status} ({kind}): {message}")))
        }
        _ if status != 200 => Err(ProbeFailure::new(
            Cause::UnexpectedStatus,
            format!("{what} answered {status}; want 200 (is the URL a Prometheus server?)"),
        )),
        _ => Err(ProbeFailure::new(
            Cause::Invalid,
            format!("{what} answered 200 but not with Prometheus API JSON (is the URL a Prometheus server?)"),
        )),
    }
}

// ------------------------------------------------------------------------------------------
// kind = "prometheus"

http_kind! {
    /// `kind = "prometheus"`: an instant query whose every sample is within `[min, max]`, or an
    /// alerting rule that is loaded with health `ok`. One of the two per check. `url` is the
    /// server's base URL, like `http://127.0.0.1:9090`.
    #[request(max_body_bytes = "default_max_body")]
    pub struct PrometheusCheck {
        /// A PromQL instant query (aspect `query`).
        pub query: Option<String>,
        /// The name of an alerting rule (aspect `alert_rule`).
        pub alert: Option<String>,
        pub min: Option<f64>,
        pub max: Option<f64>,
    }
}

/// One sample of a query result: its series as Prometheus prints it, and its value.
#[derive(Clone, Debug, PartialEq)]
pub struct QuerySample {
    pub series: String,
    pub value: f64,
}

impl Check for PrometheusCheck {
    const KIND: &'static str = "prometheus";
    const ASPECTS: &'static [&'static str] = &["query", "alert_rule"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&PROMETHEUS_QUERY_SAMPLES, &PROMETHEUS_QUERY_VALUE];
    type State = ClientSlot;

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])?;
        validate_base_url(&self.url)?;
        match (&self.query, &self.alert) {
            (None, None) => {
                return Err(KeyError::new(
                    "query",
                    "missing; give `query` (a PromQL instant query) or `alert` (the name of an alerting rule)",
                ))
            }
            (Some(_), Some(_)) => {
                return Err(KeyError::new("alert", "give either `query` or `alert`, not both; use a check for each"))
            }
            (Some(query), None) if query.trim().is_empty() => return Err(KeyError::new("query", "must not be empty")),
            (None, Some(alert)) if alert.trim().is_empty() => return Err(KeyError::new("alert", "must not be empty")),
            _ => {}
        }
        for (key, bound) in [("min", self.min), ("max", self.max)] {
            if self.alert.is_some() && bound.is_some() {
                return Err(KeyError::new(key, "bounds the samples of `query`; an `alert` check has none"));
            }
            if bound.is_some_and(f64::is_nan) {
                return Err(KeyError::new(key, "must be a number, not nan"));
            }
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(KeyError::new("min", format!("the band [{min}, {max}] is upside down")));
            }
        }
        match aspect {
            "query" => super::require(&self.query, aspect, "query"),
            "alert_rule" => super::require(&self.alert, aspect, "alert"),
            _ => Ok(()),
        }
    }

    /// The URL and what is asked of it: several checks may ask one server.
    fn target(&self) -> String {
        let url = self.request_target();
        match (&self.query, &self.alert) {
            (Some(query), _) => format!("{url} (query {query})"),
            (None, Some(alert)) => format!("{url} (alert {alert})"),
            (None, None) => url,
        }
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let base = self.spec();
        let cap = base.max_body_bytes;
        if let Some(query) = &self.query {
            let path = "/api/v1/query";
            // The server gives up when this client does, instead of finishing a query nobody reads.
            let timeout = base.request_timeout.as_secs_f64().to_string();
            let answer = get(ctx, slot, &base, path, &[("query", query), ("timeout", &timeout)]).await?;
            let samples = query_samples(&api_data(&endpoint(&self.url, path), &answer, cap)?)?;
            let mut report = Report::default().with("query", decide_query(&samples, self.min, self.max));
            let labelled = |family, value| Sample::new(family, value).label("target", &self.url).label("query", query);
            report = report.sample(labelled(&PROMETHEUS_QUERY_SAMPLES, samples.len() as f64));
            if let [only] = samples.as_slice() {
                report = report.sample(labelled(&PROMETHEUS_QUERY_VALUE, only.value));
            }
            return Ok(report);
        }
        let Some(alert) = &self.alert else {
            return Err(ProbeFailure::new(Cause::Invalid, "the check has neither `query` nor `alert`"));
        };
        // `type=alert` leaves out recording rules; the decision filters again for servers
        // older than 2.24 that ignore the parameter.
        let path = "/api/v1/rules";
        let answer = get(ctx, slot, &base, path, &[("type", "alert")]).await?;
        let data = api_data(&endpoint(&self.url, path), &answer, cap)?;
        Ok(Report::default().with("alert_rule", decide_alert_rule(&data, alert)?))
    }
}

/// The series of a result sample as Prometheus prints it: `up{instance="a:9100", job="node"}`.
fn series_text(metric: &Value) -> String {
    let Some(labels) = metric.as_object() else { return "{}".into() };
    let name = labels.get("__name__").and_then(Value::as_str).unwrap_or_default();
    let pairs: Vec<String> = labels
        .iter()
        .filter(|(label, _)| *label != "__name__")
        .map(|(label, value)| format!("{label}={value}"))
        .collect();
    quote(&format!("{name}{{{}}}", pairs.join(", ")))
}

/// The value of a `[timestamp, "value"]` pair.
fn pair_value(pair: &Value) -> Option<f64> {
    pair.get(1)?.as_str()?.parse().ok()
}

/// The samples of an instant query's `data`. A range vector or a string cannot be compared with
/// bounds, and says so.
pub fn query_samples(data: &Value) -> Result<Vec<QuerySample>, ProbeFailure> {
    let unreadable = || ProbeFailure::new(Cause::Invalid, "the query answer has no readable result");
    match data["resultType"].as_str() {
        Some("vector") => data["result"]
            .as_array()
            .ok_or_else(unreadable)?
            .iter()
            .map(|sample| {
                let series = series_text(&sample["metric"]);
                match pair_value(&sample["value"]) {
                    Some(value) => Ok(QuerySample { series, value }),
                    None if sample.get("histogram").is_some() => Err(ProbeFailure::new(
                        Cause::Invalid,
                        format!("{series} is a native histogram; query a number from it (histogram_quantile, histogram_count)"),
                    )),
                    None => Err(ProbeFailure::new(Cause::Invalid, format!("{series} has no readable value"))),
                }
            })
            .collect(),
        Some("scalar") => {
            let value = pair_value(&data["result"]).ok_or_else(unreadable)?;
            Ok(vec![QuerySample { series: "scalar".into(), value }])
        }
        Some("matrix") => Err(ProbeFailure::new(
            Cause::Invalid,
            "the query returns a range vector; want an instant vector or a scalar (wrap the range in a function such as rate or avg_over_time)",
        )),
        Some(other) => Err(ProbeFailure::new(
            Cause::Invalid,
            format!("the query returns a {}; want an instant vector or a scalar", quote(other)),
        )),
        None => Err(unreadable()),
    }
}

/// Decides `query`: at least one sample, every one within `[min, max]`. The reason names the
/// worst sample, and with several samples its series.
pub fn decide_query(samples: &[QuerySample], min: Option<f64>, max: Option<f64>) -> Outcome {
    let count = samples.len();
    if count == 0 {
        return Outcome::fail(Cause::Missing, "query returned no samples (is the metric exported and scraped?)");
    }
    let returned = format!("query returned {count} sample{}", if count == 1 { "" } else { "s" });
    let series = |sample: &QuerySample| if count == 1 { String::new() } else { format!(" for {}", sample.series) };
    let share = |n: usize, side: &str| if count == 1 { String::new() } else { format!(" ({n} of {count} {side})") };
    if min.is_some() || max.is_some() {
        if let Some(nan) = samples.iter().find(|s| s.value.is_nan()) {
            return Outcome::fail(
                Cause::Invalid,
                format!("{returned}: NaN{} cannot be compared with the bounds (zero divided by zero?)", series(nan)),
            );
        }
    }
    if let Some(min) = min {
        let below: Vec<&QuerySample> = samples.iter().filter(|s| s.value < min).collect();
        if let Some(lowest) = below.iter().min_by(|a, b| a.value.total_cmp(&b.value)) {
            return Outcome::fail(
                Cause::BelowMinimum,
                format!(
                    "{returned}: {} < min {}{}{}",
                    number(lowest.value),
                    number(min),
                    series(lowest),
                    share(below.len(), "below")
                ),
            );
        }
    }
    if let Some(max) = max {
        let above: Vec<&QuerySample> = samples.iter().filter(|s| s.value > max).collect();
        if let Some(highest) = above.iter().max_by(|a, b| a.value.total_cmp(&b.value)) {
            return Outcome::fail(
                Cause::AboveMaximum,
                format!(
                    "{returned}: {} > max {}{}{}",
                    number(highest.value),
                    number(max),
                    series(highest),
                    share(above.len(), "above")
                ),
            );
        }
    }
    let lowest = samples.iter().map(|s| s.value).min_by(f64::total_cmp).unwrap_or_default();
    let highest = samples.iter().map(|s| s.value).max_by(f64::total_cmp).unwrap_or_default();
    let values = if lowest.total_cmp(&highest).is_eq() {
        number(lowest)
    } else {
        format!("{} to {}", number(lowest), number(highest))
    };
    let bounds = match (min, max) {
        (Some(min), Some(max)) => format!(" (min {}, max {})", number(min), number(max)),
        (Some(min), None) => format!(" (min {})", number(min)),
        (None, Some(max)) => format!(" (max {})", number(max)),
        (None, None) => String::new(),
    };
    Outcome::pass(format!("{returned}: {values}{bounds}"))
}

/// Decides `alert_rule` from the `data` of `/api/v1/rules`: an alerting rule named `name` is
/// loaded and its last evaluation succeeded (health `ok`).
pub fn decide_alert_rule(data: &Value, name: &str) -> Result<Outcome, ProbeFailure> {
    let groups = data["groups"]
        .as_array()
        .ok_or_else(|| ProbeFailure::new(Cause::Invalid, "the rules answer has no rule groups"))?;
    let alerting: Vec<&Value> = groups
        .iter()
        .flat_map(|group| group["rules"].as_array().into_iter().flatten())
        .filter(|rule| rule["type"] == "alerting")
        .collect();
    let named: Vec<&Value> = alerting.iter().copied().filter(|rule| rule["name"] == name).collect();
    if named.is_empty() {
        let hint = match closest(name, alerting.iter().filter_map(|rule| rule["name"].as_str())) {
            Some(close) => format!(" (closest: {})", quote(close)),
            None if alerting.is_empty() => " (is the rule file listed in rule_files?)".into(),
            None => String::new(),
        };
        return Ok(Outcome::fail(
            Cause::Missing,
            format!("no alerting rule named {name} among {} loaded{hint}", alerting.len()),
        ));
    }
    if let Some(broken) = named.iter().find(|rule| rule["health"] == "err") {
        let error = quote(broken["lastError"].as_str().unwrap_or("no error message"));
        return Ok(Outcome::fail(Cause::Invalid, format!("rule {name} health is err: {error}")));
    }
    if let Some(pending) = named.iter().find(|rule| rule["health"] != "ok") {
        // A rule loaded a moment ago has health "unknown" until its group first runs.
        let health = quote(pending["health"].as_str().unwrap_or("missing"));
        return Ok(Outcome::error(
            Cause::Missing,
            format!("rule {name} is loaded but not evaluated yet (health {health})"),
        ));
    }
    let times = if named.len() > 1 { format!(" {} times", named.len()) } else { String::new() };
    Ok(Outcome::pass(format!("alerting rule {name} is loaded{times}, health ok")))
}

/// The candidate nearest to `wanted` by edit distance (case aside), if it is near enough to be
/// a likely typo: at most a third of the name's length, and at least 2 edits allowed.
fn closest<'a>(wanted: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let wanted: Vec<char> = wanted.to_lowercase().chars().collect();
    let limit = (wanted.len() / 3).max(2);
    candidates
        .map(|candidate| (edit_distance(&wanted, &candidate.to_lowercase().chars().collect::<Vec<_>>()), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// Levenshtein distance, one row at a time.
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, left) in a.iter().enumerate() {
        let mut current = vec![i + 1];
        for (j, right) in b.iter().enumerate() {
            let substitute = previous[j] + usize::from(left != right);
            current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
        }
        previous = current;
    }
    previous[b.len()]
}

// ------------------------------------------------------------------------------------------
// kind = "alertmanager"

http_kind! {
    /// `kind = "alertmanager"`: Alertmanager is ready, and a receiver has a given integration.
    /// `url` is the server's base URL, like `http://127.0.0.1:9093`.
    #[request(max_body_bytes = "default_max_body")]
    pub struct AlertmanagerCheck {
        /// One of [`INTEGRATIONS`] (aspect `integration`).
        pub integration: Option<String>,
    }
}

/// What `/api/v2/status` says that the decisions need. The configuration text is dropped once
/// the receivers are read from it.
#[derive(Clone, Debug, PartialEq)]
pub struct AlertmanagerStatus {
    /// `ready`, `settling` or `disabled` (no clustering).
    pub cluster: String,
    pub peers: usize,
    /// Receiver names with the integrations each has at least one config of.
    pub receivers: Vec<(String, Vec<String>)>,
}

impl Check for AlertmanagerCheck {
    const KIND: &'static str = "alertmanager";
    const ASPECTS: &'static [&'static str] = &["integration", "ready"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ClientSlot;

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])?;
        validate_base_url(&self.url)?;
        if let Some(integration) = &self.integration {
            if !INTEGRATIONS.contains(&integration.as_str()) {
                return Err(KeyError::new(
                    "integration",
                    format!("`{integration}` is not an Alertmanager integration; one of {}", INTEGRATIONS.join(", ")),
                ));
            }
        }
        match aspect {
            "integration" => super::require(&self.integration, aspect, "integration"),
            _ => Ok(()),
        }
    }

    /// The URL and the integration: several checks may ask one Alertmanager.
    fn target(&self) -> String {
        match &self.integration {
            Some(integration) => format!("{} ({integration})", self.request_target()),
            None => self.request_target(),
        }
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let base = self.spec();
        let path = "/api/v2/status";
        let answer = get(ctx, slot, &base, path, &[]).await?;
        let status = parse_status(&endpoint(&self.url, path), &answer, base.max_body_bytes)?;
        // Only `ready` needs this answer, so its failure stays with `ready`.
        let ready = get(ctx, slot, &base, "/-/ready", &[]).await.map(|answer| answer.status);
        let mut report = Report::default().with("ready", decide_ready(&self.url, ready, &status));
        if let Some(integration) = &self.integration {
            report = report.with("integration", decide_integration(&status, integration));
        }
        Ok(report)
    }
}

/// The part of Alertmanager's configuration the decision reads; everything else (secrets
/// included) is skipped by the decoder.
#[derive(Deserialize)]
struct ReceiversOnly {
    #[serde(default)]
    receivers: Vec<BTreeMap<String, yaml_serde::Value>>,
}

/// Reads `/api/v2/status`: the cluster state and, from `config.original`, the receivers.
pub fn parse_status(what: &str, answer: &Answer, cap: u64) -> Result<AlertmanagerStatus, ProbeFailure> {
    whole(what, answer, cap)?;
    if answer.status != 200 {
        return Err(ProbeFailure::new(
            Cause::UnexpectedStatus,
            format!(
                "{what} answered {}; want 200 (is the URL an Alertmanager with API v2, 0.16 or newer?)",
                answer.status
            ),
        ));
    }
    let not_status = || {
        ProbeFailure::new(
            Cause::Invalid,
            format!("{what} answered 200 but not with Alertmanager's status JSON (is the URL an Alertmanager?)"),
        )
    };
    let document: Value = serde_json::from_slice(&answer.body).map_err(|_| not_status())?;
    let cluster = document["cluster"]["status"].as_str().ok_or_else(not_status)?.to_string();
    let original = document["config"]["original"].as_str().ok_or_else(not_status)?;
    // The parser's message may quote the text, which may hold secrets: only the place is said.
    let config: ReceiversOnly = yaml_serde::from_str(original).map_err(|err| {
        let at = err.location().map(|l| format!(" (line {})", l.line())).unwrap_or_default();
        ProbeFailure::new(Cause::Invalid, format!("the configuration in {what} does not parse{at}"))
    })?;
    let receivers = config
        .receivers
        .iter()
        .map(|receiver| {
            let name = receiver.get("name").and_then(yaml_serde::Value::as_str).unwrap_or("(unnamed)");
            let integrations = receiver
                .iter()
                .filter(|(_, configs)| configs.as_sequence().is_some_and(|list| !list.is_empty()))
                .filter_map(|(key, _)| key.strip_suffix("_configs").map(str::to_string))
                .collect();
            (quote(name), integrations)
        })
        .collect();
    let peers = document["cluster"]["peers"].as_array().map_or(0, Vec::len);
    Ok(AlertmanagerStatus { cluster, peers, receivers })
}

/// Decides `integration`: some receiver has at least one `<integration>_configs` entry.
pub fn decide_integration(status: &AlertmanagerStatus, integration: &str) -> Outcome {
    let with: Vec<&str> = status
        .receivers
        .iter()
        .filter(|(_, integrations)| integrations.iter().any(|i| i == integration))
        .map(|(name, _)| name.as_str())
        .collect();
    if !with.is_empty() {
        return Outcome::pass(format!("receivers with {integration}: {}", with.join(", ")));
    }
    let names: Vec<&str> = status.receivers.iter().map(|(name, _)| name.as_str()).collect();
    let receivers = if names.is_empty() { "none".to_string() } else { names.join(", ") };
    Outcome::fail(Cause::Missing, format!("no receiver has {integration}_configs (receivers: {receivers})"))
}

/// Decides `ready`: `/-/ready` answers 200 and the cluster is ready or disabled.
pub fn decide_ready(url: &str, ready: Result<u16, ProbeFailure>, status: &AlertmanagerStatus) -> Outcome {
    let ready_url = endpoint(url, "/-/ready");
    let code = match ready {
        Ok(code) => code,
        Err(failure) => {
            let outcome = Outcome::error(failure.cause, failure.reason);
            return match failure.subject {
                Some(subject) => outcome.about(subject),
                None => outcome,
            };
        }
    };
    if code != 200 {
        return Outcome::fail(Cause::UnexpectedStatus, format!("{ready_url} answered {code}; want 200"));
    }
    match status.cluster.as_str() {
        "ready" => Outcome::pass(format!("{ready_url} answered 200; cluster ready with {} peer(s)", status.peers)),
        "disabled" => Outcome::pass(format!("{ready_url} answered 200; clustering disabled (a single Alertmanager)")),
        other => Outcome::fail(
            Cause::Mismatch,
            format!("{ready_url} answered 200 but the cluster is {}; want ready", quote(other)),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::http::default_request_timeout;
    use crate::model::Verdict;

    fn answer(status: u16, body: &str) -> Answer {
        Answer { status, body: body.as_bytes().to_vec(), ..Answer::default() }
    }

    fn sample(series: &str, value: f64) -> QuerySample {
        QuerySample { series: series.into(), value }
    }

    const WHAT: &str = "http://127.0.0.1:9090/api/v1/query";

    #[test]
    fn a_single_sample_is_judged_against_the_band() {
        let one = |value| [sample("{}", value)];
        let below = decide_query(&one(0.91), Some(0.95), Some(1.0));
        assert_eq!((below.verdict, below.cause), (Verdict::Fail, Some(Cause::BelowMinimum)));
        assert_eq!(below.reason, "query returned 1 sample: 0.91 < min 0.95");
        let above = decide_query(&one(1.5), Some(0.95), Some(1.0));
        assert_eq!(above.cause, Some(Cause::AboveMaximum));
        assert_eq!(above.reason, "query returned 1 sample: 1.5 > max 1");
        let within = decide_query(&one(0.97), Some(0.95), Some(1.0));
        assert_eq!(within.verdict, Verdict::Pass);
        assert_eq!(within.reason, "query returned 1 sample: 0.97 (min 0.95, max 1)");
        assert_eq!(decide_query(&one(0.95), Some(0.95), None).verdict, Verdict::Pass, "the bounds are inclusive");
        assert_eq!(decide_query(&one(f64::INFINITY), None, Some(1.0)).reason, "query returned 1 sample: +Inf > max 1");
        assert_eq!(decide_query(&one(7.0), None, None).reason, "query returned 1 sample: 7");
    }

    #[test]
    fn with_several_samples_the_worst_one_is_named() {
        let samples = [sample("up{job=\"a\"}", 1.0), sample("up{job=\"b\"}", 0.0), sample("up{job=\"c\"}", 0.5)];
        let low = decide_query(&samples, Some(0.9), None);
        assert_eq!(low.reason, "query returned 3 samples: 0 < min 0.9 for up{job=\"b\"} (2 of 3 below)");
        let pass = decide_query(&samples, Some(0.0), Some(1.0));
        assert_eq!(pass.reason, "query returned 3 samples: 0 to 1 (min 0, max 1)");
    }

    #[test]
    fn no_samples_or_nan_fail() {
        let empty = decide_query(&[], Some(0.95), None);
        assert_eq!((empty.verdict, empty.cause), (Verdict::Fail, Some(Cause::Missing)));
        assert_eq!(empty.reason, "query returned no samples (is the metric exported and scraped?)");
        let nan = decide_query(&[sample("{}", f64::NAN)], Some(0.95), None);
        assert_eq!(nan.cause, Some(Cause::Invalid));
        assert_eq!(
            decide_query(&[sample("{}", f64::NAN)], None, None).verdict,
            Verdict::Pass,
            "no bounds, no judgement"
        );
    }

    #[test]
    fn query_answers_are_read_as_vectors_or_scalars() {
        let vector = r#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"__name__":"up","job":"app","instance":"127.0.0.1:80"},"value":[1700000000.1,"1"]},
            {"metric":{},"value":[1700000000.1,"NaN"]}]}}"#;
        let data = api_data(WHAT, &answer(200, vector), 1 << 20).unwrap();
        let samples = query_samples(&data).unwrap();
        assert_eq!(samples[0], sample("up{instance=\"127.0.0.1:80\", job=\"app\"}", 1.0));
        assert!(samples[1].value.is_nan());
        let scalar = r#"{"status":"success","data":{"resultType":"scalar","result":[1700000000,"0.5"]}}"#;
        let data = api_data(WHAT, &answer(200, scalar), 1 << 20).unwrap();
        assert_eq!(query_samples(&data).unwrap(), vec![sample("scalar", 0.5)]);
        let matrix = r#"{"resultType":"matrix","result":[]}"#;
        let refused = query_samples(&serde_json::from_str(matrix).unwrap()).unwrap_err();
        assert_eq!(refused.cause, Cause::Invalid);
        assert!(refused.reason.starts_with("the query returns a range vector"), "{refused:?}");
    }

    #[test]
    fn api_errors_say_what_the_server_said() {
        let bad = r#"{"status":"error","errorType":"bad_data","error":"1:5: parse error: unexpected character"}"#;
        let failure = api_data(WHAT, &answer(400, bad), 1 << 20).unwrap_err();
        assert_eq!(failure.cause, Cause::Invalid);
        assert_eq!(
            failure.reason,
            "http://127.0.0.1:9090/api/v1/query answered 400 (bad_data): 1:5: parse error: unexpected character"
        );
        let timeout = r#"{"status":"error","errorType":"timeout","error":"query timed out"}"#;
        assert_eq!(api_data(WHAT, &answer(503, timeout), 1 << 20).unwrap_err().cause, Cause::Timeout);
        assert_eq!(api_data(WHAT, &answer(404, "Not Found"), 1 << 20).unwrap_err().cause, Cause::UnexpectedStatus);
        let html = api_data(WHAT, &answer(200, "<html>"), 1 << 20).unwrap_err();
        assert_eq!(html.cause, Cause::Invalid);
        let long = format!(r#"{{"status":"error","errorType":"execution","error":"{}"}}"#, "x".repeat(5000));
        assert!(api_data(WHAT, &answer(422, &long), 1 << 20).unwrap_err().reason.len() < 400, "quotes are bounded");
        let cut = Answer { truncated: true, ..answer(200, "{") };
        assert_eq!(
            api_data(WHAT, &cut, 1024).unwrap_err().reason,
            format!("{WHAT} answered more than 1 KiB; raise max_body_bytes")
        );
    }

    fn rules(rules: &str) -> Value {
        serde_json::from_str(&format!(r#"{{"groups":[{{"name":"g","file":"f","rules":[{rules}]}}]}}"#)).unwrap()
    }

    #[test]
    fn an_alert_rule_must_be_loaded_and_healthy() {
        let ok = rules(
            r#"{"type":"alerting","name":"HighErrorRate","health":"ok"},{"type":"recording","name":"Disk","health":"ok"}"#,
        );
        assert_eq!(
            decide_alert_rule(&ok, "HighErrorRate").unwrap().reason,
            "alerting rule HighErrorRate is loaded, health ok"
        );
        let missing = decide_alert_rule(&ok, "HighErrorRatio").unwrap();
        assert_eq!((missing.verdict, missing.cause), (Verdict::Fail, Some(Cause::Missing)));
        assert_eq!(missing.reason, "no alerting rule named HighErrorRatio among 1 loaded (closest: HighErrorRate)");
        assert_eq!(
            decide_alert_rule(&ok, "Disk").unwrap().reason,
            "no alerting rule named Disk among 1 loaded",
            "a recording rule is not an alerting rule, and too far from HighErrorRate to suggest it"
        );
        let broken = rules(
            r#"{"type":"alerting","name":"Bad","health":"err","lastError":"vector contains metrics with the same labelset"}"#,
        );
        let outcome = decide_alert_rule(&broken, "Bad").unwrap();
        assert_eq!((outcome.verdict, outcome.cause), (Verdict::Fail, Some(Cause::Invalid)));
        assert_eq!(outcome.reason, "rule Bad health is err: vector contains metrics with the same labelset");
        let fresh = rules(r#"{"type":"alerting","name":"New","health":"unknown"}"#);
        assert_eq!(decide_alert_rule(&fresh, "New").unwrap().verdict, Verdict::Error);
        let none = decide_alert_rule(&rules(""), "New").unwrap();
        assert_eq!(none.reason, "no alerting rule named New among 0 loaded (is the rule file listed in rule_files?)");
        assert_eq!(decide_alert_rule(&Value::Null, "New").unwrap_err().cause, Cause::Invalid);
    }

    #[test]
    fn edit_distance_counts_single_character_edits() {
        let chars = |s: &str| s.chars().collect::<Vec<_>>();
        assert_eq!(edit_distance(&chars("kitten"), &chars("sitting")), 3);
        assert_eq!(edit_distance(&chars(""), &chars("abc")), 3);
        assert_eq!(closest("higherrorrate", ["HighErrorRate", "Other"].into_iter()), Some("HighErrorRate"));
        assert_eq!(closest("Disk", ["HighErrorRate"].into_iter()), None);
    }

    const STATUS: &str = r#"{"cluster":{"status":"disabled","peers":null},"config":{"original":"global:\n  smtp_auth_password: <secret>\nreceivers:\n- name: default\n- name: team-mail\n  email_configs:\n  - to: team@example.com\n    auth_password: <secret>\n- name: oncall\n  webhook_configs:\n  - url: <secret>\n  pagerduty_configs: []\n"},"uptime":"2026-11-27T00:00:00Z"}"#;
    const AM_STATUS: &str = "http://127.0.0.1:9093/api/v2/status";

    #[test]
    fn receivers_are_read_from_the_status_config() {
        let status = parse_status(AM_STATUS, &answer(200, STATUS), 1 << 20).unwrap();
        assert_eq!(status.cluster, "disabled");
        assert_eq!(
            status.receivers,
            vec![
                ("default".to_string(), vec![]),
                ("team-mail".to_string(), vec!["email".to_string()]),
                ("oncall".to_string(), vec!["webhook".to_string()]),
            ]
        );
        assert_eq!(decide_integration(&status, "email").reason, "receivers with email: team-mail");
        let pagerduty = decide_integration(&status, "pagerduty");
        assert_eq!((pagerduty.verdict, pagerduty.cause), (Verdict::Fail, Some(Cause::Missing)));
        assert_eq!(pagerduty.reason, "no receiver has pagerduty_configs (receivers: default, team-mail, oncall)");
    }

    #[test]
    fn a_status_that_is_not_alertmanager_is_an_error_that_quotes_no_config() {
        assert_eq!(parse_status(AM_STATUS, &answer(404, ""), 1 << 20).unwrap_err().cause, Cause::UnexpectedStatus);
        assert_eq!(parse_status(AM_STATUS, &answer(200, "{}"), 1 << 20).unwrap_err().cause, Cause::Invalid);
        let secret = r#"{"cluster":{"status":"ready"},"config":{"original":"receivers: [ {name: hunter2-secret"}}"#;
        let failure = parse_status(AM_STATUS, &answer(200, secret), 1 << 20).unwrap_err();
        assert!(failure.reason.starts_with("the configuration in http://127.0.0.1:9093/api/v2/status does not parse"));
        assert!(!failure.reason.contains("hunter2"), "{failure:?}");
    }

    #[test]
    fn ready_wants_200_and_a_settled_cluster() {
        let url = "http://127.0.0.1:9093";
        let status = |cluster: &str| AlertmanagerStatus { cluster: cluster.into(), peers: 2, receivers: vec![] };
        let single = decide_ready(url, Ok(200), &status("disabled"));
        assert_eq!(
            single.reason,
            "http://127.0.0.1:9093/-/ready answered 200; clustering disabled (a single Alertmanager)"
        );
        assert_eq!(decide_ready(url, Ok(200), &status("ready")).verdict, Verdict::Pass);
        assert_eq!(decide_ready(url, Ok(200), &status("settling")).cause, Some(Cause::Mismatch));
        let starting = decide_ready(url, Ok(503), &status("ready"));
        assert_eq!(starting.reason, "http://127.0.0.1:9093/-/ready answered 503; want 200");
        let refused = decide_ready(url, Err(ProbeFailure::new(Cause::Refused, "refused")), &status("ready"));
        assert_eq!((refused.verdict, refused.cause), (Verdict::Error, Some(Cause::Refused)));
    }

    #[test]
    fn a_prometheus_check_asks_exactly_one_thing() {
        let check = |query: Option<&str>, alert: Option<&str>| PrometheusCheck {
            url: "http://127.0.0.1:9090".into(),
            resolve: None,
            ca_files: vec![],
            system_roots: true,
            request_timeout: default_request_timeout(),
            max_body_bytes: default_max_body(),
            query: query.map(str::to_string),
            alert: alert.map(str::to_string),
            min: None,
            max: None,
        };
        assert_eq!(check(None, None).validate("query").unwrap_err().key, "query");
        assert_eq!(check(Some("up"), Some("A")).validate("query").unwrap_err().key, "alert");
        assert_eq!(check(Some("up"), None).validate("alert_rule").unwrap_err().key, "alert");
        assert!(check(Some("up"), None).validate("query").is_ok());
        assert_eq!(check(Some("up"), None).target(), "http://127.0.0.1:9090 (query up)");
        assert_eq!(check(None, Some("A")).target(), "http://127.0.0.1:9090 (alert A)");
    }
}
