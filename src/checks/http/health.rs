//! `kind = "http"`: a health endpoint answers the expected status, its JSON body holds the
//! expected value at a dotted path, and its latency over a rolling window stays under
//! thresholds. Every request's duration also goes into an exported histogram.

use std::time::{Duration, Instant};

use super::request::{default_max_body, http_kind};
use super::{status_sample, Answer, ClientSlot, HTTP_STATUS_CODE};
use crate::checks::latency::LatencyTracker;
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, Report, Sample};
use crate::support::text::excerpt;
use crate::support::units::{format_bytes, format_duration, format_durations_apart, HumanDuration};

pub static HTTP_REQUEST_DURATION: MetricFamily = MetricFamily {
    name: "checklist_http_request_duration_seconds",
    help: "Time from sending the request to reading the whole (capped) body, in seconds.",
    kind: MetricKind::Histogram,
};

http_kind! {
    /// `kind = "http"`: a health endpoint answers the expected status, its JSON body holds the
    /// expected value at a dotted path, and its latency stays under thresholds over a window.
    #[request(max_body_bytes = "default_max_body", redirects)]
    pub struct HttpCheck {
        #[serde(default = "default_status")]
        pub expect_status: u16,
        /// A dotted path into the JSON body (`checks.database`); array elements by index (`items.0`).
        pub json_path: Option<String>,
        /// The value wanted at `json_path`: compared with strings as they are, with other JSON
        /// values by their JSON text (`true`, `3`).
        pub json_equals: Option<String>,
        pub max_mean_latency: Option<HumanDuration>,
        pub max_p95_latency: Option<HumanDuration>,
        /// The rolling window the latency verdicts look at.
        #[serde(default = "default_window")]
        pub latency_window: HumanDuration,
    }
}

fn default_status() -> u16 {
    200
}
fn default_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}

/// What an `http` check keeps between evaluations: its client and its latency window.
#[derive(Default)]
pub struct HttpState {
    client: ClientSlot,
    latency: LatencyTracker,
}

/// Latency figures over the window, for the decision.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LatencyFigures {
    pub mean: Duration,
    pub p95: Duration,
    pub count: usize,
}

impl Check for HttpCheck {
    const KIND: &'static str = "http";
    const ASPECTS: &'static [&'static str] = &["status", "body", "latency_mean", "latency_p95"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_REQUEST_DURATION, &HTTP_STATUS_CODE];
    type State = HttpState;

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])?;
        if !(100..=599).contains(&self.expect_status) {
            return Err(KeyError::new("expect_status", format!("{} is not an HTTP status", self.expect_status)));
        }
        match aspect {
            "body" if self.json_path.is_none() || self.json_equals.is_none() => {
                Err(KeyError::new("json_path", "an item decides `body`, which needs `json_path` and `json_equals`"))
            }
            "latency_mean" => crate::checks::require(&self.max_mean_latency, aspect, "max_mean_latency"),
            "latency_p95" => crate::checks::require(&self.max_p95_latency, aspect, "max_p95_latency"),
            _ => Ok(()),
        }
    }

    fn target(&self) -> String {
        self.request_target()
    }

    async fn run(&self, ctx: &CheckContext, state: &mut Self::State) -> CheckResult {
        let answer = state.client.fetch(ctx, &self.spec()).await?;
        state.latency.observe(Instant::now(), answer.elapsed, self.latency_window.0);
        let figures = match (state.latency.mean(), state.latency.quantile(0.95)) {
            (Some(mean), Some(p95)) => Some(LatencyFigures { mean, p95, count: state.latency.len() }),
            _ => None,
        };
        let histogram = state.latency.histogram();
        Ok(self
            .decide(&answer, figures)
            .sample(Sample::histogram(&HTTP_REQUEST_DURATION, histogram).label("target", self.request_target())))
    }
}

impl HttpCheck {
    pub fn decide(&self, answer: &Answer, latency: Option<LatencyFigures>) -> Report {
        let url = &self.url;
        let mut report = Report::default().sample(status_sample("http", &self.request_target(), answer.status));
        let status = Outcome::decide(
            answer.status == self.expect_status,
            Cause::UnexpectedStatus,
            format!("{url} answered {}; want {}", answer.status, self.expect_status),
        );
        report = report.with("status", status);
        if let (Some(path), Some(wanted)) = (&self.json_path, &self.json_equals) {
            report = report.with("body", decide_json(answer, path, wanted));
        }
        let window = format_duration(self.latency_window.0);
        if let (Some(max), Some(figures)) = (self.max_mean_latency, latency) {
            let (seen, wanted) = format_durations_apart(figures.mean, max.0);
            let reason = format!(
                "mean latency {seen} over {} request(s) in the last {window}; want at most {wanted}",
                figures.count
            );
            report = report.with("latency_mean", Outcome::decide(figures.mean <= max.0, Cause::AboveMaximum, reason));
        }
        if let (Some(max), Some(figures)) = (self.max_p95_latency, latency) {
            let (seen, wanted) = format_durations_apart(figures.p95, max.0);
            let reason = format!(
                "95th percentile latency {seen} over {} request(s) in the last {window}; want at most {wanted}",
                figures.count
            );
            report = report.with("latency_p95", Outcome::decide(figures.p95 <= max.0, Cause::AboveMaximum, reason));
        }
        report
    }
}

/// Follows a dotted path into a JSON value: object keys by name, array elements by index.
pub fn json_at<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    path.split('.').filter(|part| !part.is_empty()).try_fold(value, |current, part| match current {
        serde_json::Value::Object(map) => map.get(part),
        serde_json::Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => None,
    })
}

/// Decides `body`: the JSON body holds `wanted` at `path`.
pub fn decide_json(answer: &Answer, path: &str, wanted: &str) -> Outcome {
    if answer.truncated {
        return Outcome::error(
            Cause::Invalid,
            format!("the body is larger than the cap of {}; cannot judge it", format_bytes(answer.body.len() as u64)),
        );
    }
    let value: serde_json::Value = match serde_json::from_slice(&answer.body) {
        Ok(value) => value,
        Err(err) => return Outcome::fail(Cause::Invalid, format!("the body is not JSON: {err}")),
    };
    match json_at(&value, path) {
        None => Outcome::fail(Cause::Missing, format!("the JSON body has nothing at `{path}`; want {wanted:?}")),
        Some(found) => {
            let text = match found {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let shown = excerpt(&text, 80);
            Outcome::decide(text == wanted, Cause::Mismatch, format!("`{path}` is {shown:?}; want {wanted:?}"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::http::client::answer;
    use crate::model::Verdict;

    #[test]
    fn json_assertions_follow_dotted_paths() {
        let ok = answer(200, &[], r#"{"status":"ok","checks":{"database":"ok","replicas":[{"up":true}]}}"#);
        assert_eq!(decide_json(&ok, "checks.database", "ok").verdict, Verdict::Pass);
        assert_eq!(decide_json(&ok, "checks.replicas.0.up", "true").verdict, Verdict::Pass);
        let outcome = decide_json(&ok, "status", "healthy");
        assert_eq!(outcome.reason, "`status` is \"ok\"; want \"healthy\"");
        assert_eq!(decide_json(&ok, "checks.cache", "ok").cause, Some(Cause::Missing));
        assert_eq!(decide_json(&answer(200, &[], "<html>"), "status", "ok").cause, Some(Cause::Invalid));
    }
}
