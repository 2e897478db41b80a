//! `kind = "metrics_endpoint"`: the application's `/metrics` answers 200 with a valid Prometheus
//! text (or OpenMetrics) exposition, checked line by line by [`check_exposition`].

use super::request::http_kind;
use super::{status_sample, ClientSlot, HTTP_STATUS_CODE};
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, Report};
use crate::support::text::excerpt;
use crate::support::units::{format_bytes, ByteSize};

http_kind! {
    /// `kind = "metrics_endpoint"`: the application's `/metrics` serves a valid exposition.
    #[request(max_body_bytes = "default_metrics_body")]
    pub struct MetricsEndpointCheck {}
}

fn default_metrics_body() -> ByteSize {
    ByteSize(16 << 20, false)
}

impl Check for MetricsEndpointCheck {
    const KIND: &'static str = "metrics_endpoint";
    const ASPECTS: &'static [&'static str] = &["valid"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])
    }

    fn target(&self) -> String {
        self.request_target()
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec().header("accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1");
        let answer = slot.fetch(ctx, &spec).await?;
        let outcome = if answer.status != 200 {
            Outcome::fail(Cause::UnexpectedStatus, format!("{} answered {}; want 200", self.url, answer.status))
        } else if answer.truncated {
            Outcome::fail(
                Cause::Invalid,
                format!("{} serves more than {}; cannot judge it", self.url, format_bytes(spec.max_body_bytes)),
            )
        } else {
            match check_exposition(&String::from_utf8_lossy(&answer.body)) {
                Ok(summary) => Outcome::pass(format!(
                    "{} serves a valid exposition: {} sample(s) in {} metric name(s)",
                    self.url, summary.samples, summary.names
                )),
                Err(why) => Outcome::fail(Cause::Invalid, format!("{} serves an invalid exposition: {why}", self.url)),
            }
        };
        Ok(Report::default()
            .sample(status_sample("metrics_endpoint", &self.request_target(), answer.status))
            .with("valid", outcome))
    }
}

/// What a valid exposition holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExpositionSummary {
    pub samples: usize,
    pub names: usize,
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_value(text: &str) -> bool {
    matches!(text, "NaN" | "+Inf" | "-Inf" | "Inf") || text.parse::<f64>().is_ok()
}

/// Parses a label set `{a="x",b="y"}` body (without braces); returns the rest after `}`.
fn skip_labels(text: &str) -> Result<&str, String> {
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches([' ', ',']);
        if let Some(after) = rest.strip_prefix('}') {
            return Ok(after);
        }
        let (name, after) = rest.split_once('=').ok_or("a label without `=`")?;
        if !valid_metric_name(name.trim()) || name.contains(':') {
            return Err(format!("bad label name `{}`", name.trim()));
        }
        let mut chars = after.strip_prefix('"').ok_or("a label value without quotes")?.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    chars.next();
                }
                Some((i, '"')) => break i,
                Some(_) => {}
                None => return Err("an unterminated label value".into()),
            }
        };
        rest = &after[end + 2..];
    }
}

/// Checks a Prometheus text (or OpenMetrics) exposition line by line.
pub fn check_exposition(text: &str) -> Result<ExpositionSummary, String> {
    let mut samples = 0;
    let mut names = std::collections::HashSet::new();
    for (number, line) in text.lines().enumerate() {
        let at = |why: String| format!("line {}: {why}", number + 1);
        let line = line.trim_end_matches('\r');
        if line.is_empty() || line == "# EOF" {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.split_whitespace();
            if let Some(keyword @ ("HELP" | "TYPE" | "UNIT")) = words.next() {
                let name = words.next().ok_or_else(|| at(format!("# {keyword} without a metric name")))?;
                if !valid_metric_name(name) {
                    return Err(at(format!("bad metric name `{name}`")));
                }
                if keyword == "TYPE" {
                    let kind = words.next().unwrap_or_default();
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "summary",
                        "untyped",
                        "unknown",
                        "gaugehistogram",
                        "stateset",
                        "info",
                    ];
                    if !known.contains(&kind) {
                        return Err(at(format!("unknown type `{kind}` for {name}")));
                    }
                }
            }
            continue;
        }
        let name_end = line.find(['{', ' ']).ok_or_else(|| at("a sample without a value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(at(format!("bad metric name `{}`", excerpt(name, 60))));
        }
        let rest = &line[name_end..];
        let rest = match rest.strip_prefix('{') {
            Some(labels) => skip_labels(labels).map_err(at)?,
            None => rest,
        };
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or_else(|| at(format!("{name} has no value")))?;
        if !valid_value(value) {
            return Err(at(format!("{name} has the value `{}`, not a number", excerpt(value, 30))));
        }
        if let Some(timestamp) = fields.next() {
            if timestamp.parse::<f64>().is_err() && !timestamp.starts_with('#') {
                return Err(at(format!("{name} has a bad timestamp")));
            }
        }
        samples += 1;
        names.insert(name.to_string());
    }
    if samples == 0 {
        return Err("no samples".into());
    }
    Ok(ExpositionSummary { samples, names: names.len() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expositions_are_checked_line_by_line() {
        let good = "# HELP up Whether up.\n# TYPE up gauge\nup 1\nhttp_requests_total{code=\"200\",path=\"/a\\\"b\"} 3 1700000000000\nx NaN\n";
        assert_eq!(check_exposition(good), Ok(ExpositionSummary { samples: 3, names: 3 }));
        assert_eq!(check_exposition("<!DOCTYPE html>").unwrap_err(), "line 1: bad metric name `<!DOCTYPE`");
        assert_eq!(check_exposition("garbage").unwrap_err(), "line 1: a sample without a value");
        assert_eq!(check_exposition("up one").unwrap_err(), "line 1: up has the value `one`, not a number");
        assert_eq!(check_exposition("up{a=\"x} 1").unwrap_err(), "line 1: an unterminated label value");
        assert_eq!(check_exposition("# TYPE up gauges\nup 1").unwrap_err(), "line 1: unknown type `gauges` for up");
        assert_eq!(check_exposition("# just a comment\n").unwrap_err(), "no samples");
    }
}
