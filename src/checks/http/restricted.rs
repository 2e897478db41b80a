//! `kind = "http_restricted"`: a path that must not be open from here (`/admin`) does not serve
//! its content. Only a 2xx answer serves it; the statuses that count as protected (refused,
//! missing, gone, a redirect to a login page) are configurable, with a default that lets a site
//! without that route pass.

use std::fmt;

use serde::Deserialize;

use super::request::{default_max_body, http_kind};
use super::{status_sample, Answer, ClientSlot, HTTP_STATUS_CODE};
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, Report};

/// One entry of `protected_statuses`: a status (`404`) or a whole class (`"3xx"`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(try_from = "StatusText")]
pub enum StatusPattern {
    Exact(u16),
    /// The hundreds digit: `3` for `"3xx"`.
    Class(u16),
}

/// How `protected_statuses` entries are written: a number or a `"3xx"`-style string.
#[derive(Deserialize)]
#[serde(untagged)]
enum StatusText {
    Number(u16),
    Text(String),
}

impl TryFrom<StatusText> for StatusPattern {
    type Error = String;

    fn try_from(text: StatusText) -> Result<Self, String> {
        let pattern = match text {
            StatusText::Number(status) => StatusPattern::Exact(status),
            StatusText::Text(text) => match text.to_ascii_lowercase().as_bytes() {
                [digit @ b'1'..=b'5', b'x', b'x'] => StatusPattern::Class(u16::from(digit - b'0')),
                _ => match text.parse::<u16>() {
                    Ok(status) => StatusPattern::Exact(status),
                    Err(_) => return Err(format!("`{text}` is neither a status like 404 nor a class like \"3xx\"")),
                },
            },
        };
        match pattern {
            StatusPattern::Exact(status) if !(100..=599).contains(&status) => {
                Err(format!("{status} is not an HTTP status (100 to 599)"))
            }
            _ => Ok(pattern),
        }
    }
}

impl StatusPattern {
    fn matches(self, status: u16) -> bool {
        match self {
            StatusPattern::Exact(wanted) => status == wanted,
            StatusPattern::Class(hundreds) => status / 100 == hundreds,
        }
    }

    /// A 2xx answer serves the content: it can never count as protected.
    fn admits_success(self) -> bool {
        matches!(self, StatusPattern::Class(2) | StatusPattern::Exact(200..=299))
    }
}

impl fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StatusPattern::Exact(status) => write!(f, "{status}"),
            StatusPattern::Class(hundreds) => write!(f, "{hundreds}xx"),
        }
    }
}

/// Refused (401, 403), not there (404, 410) or sent elsewhere, such as to a login page (3xx).
fn default_protected_statuses() -> Vec<StatusPattern> {
    vec![
        StatusPattern::Exact(401),
        StatusPattern::Exact(403),
        StatusPattern::Exact(404),
        StatusPattern::Exact(410),
        StatusPattern::Class(3),
    ]
}

http_kind! {
    /// `kind = "http_restricted"`: a path such as `/admin` does not serve its content from here.
    #[request(max_body_bytes = "default_max_body", redirects)]
    pub struct HttpRestrictedCheck {
        /// The answers that show the path is protected; a 2xx never is.
        #[serde(default = "default_protected_statuses")]
        pub protected_statuses: Vec<StatusPattern>,
    }
}

impl Check for HttpRestrictedCheck {
    const KIND: &'static str = "http_restricted";
    const ASPECTS: &'static [&'static str] = &["restricted"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])?;
        if self.protected_statuses.is_empty() {
            return Err(KeyError::new("protected_statuses", "must name at least one status"));
        }
        if let Some(success) = self.protected_statuses.iter().find(|p| p.admits_success()) {
            return Err(KeyError::new(
                "protected_statuses",
                format!("{success} is a success: an answer that serves the content cannot count as protected"),
            ));
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.request_target()
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let answer = slot.fetch(ctx, &self.spec()).await?;
        Ok(Report::default()
            .sample(status_sample("http_restricted", &self.request_target(), answer.status))
            .with("restricted", decide_restricted(&self.url, &answer, &self.protected_statuses)))
    }
}

/// Decides `restricted`: a 2xx serves the content (`open`); a protected status passes; anything
/// else (a 500, say) shows neither and fails as an unexpected status.
pub fn decide_restricted(url: &str, answer: &Answer, protected: &[StatusPattern]) -> Outcome {
    let status = answer.status;
    let wanted: Vec<String> = protected.iter().map(ToString::to_string).collect();
    let want = format!("want one of {} from here", wanted.join(", "));
    let seen = match answer.all("location").first() {
        Some(location) if (300..400).contains(&status) => format!("{status} to {location}"),
        _ => status.to_string(),
    };
    if (200..300).contains(&status) {
        Outcome::fail(Cause::Open, format!("{url} answered {seen}: it serves the content; {want}"))
    } else if protected.iter().any(|p| p.matches(status)) {
        Outcome::pass(format!("{url} answered {seen}; {want}"))
    } else {
        Outcome::fail(Cause::UnexpectedStatus, format!("{url} answered {seen}; {want}"))
    }
}

#[cfg(test)]
mod tests {
    use super::super::client::answer;
    use super::*;
    use crate::model::Verdict;

    #[test]
    fn only_an_answer_that_serves_the_content_is_open() {
        let defaults = default_protected_statuses();
        let decide = |status, headers: &[(&str, &str)]| decide_restricted("u", &answer(status, headers, ""), &defaults);
        for status in [401, 403, 404, 410, 301, 302, 307] {
            assert_eq!(decide(status, &[]).verdict, Verdict::Pass, "{status}");
        }
        assert_eq!(
            decide(302, &[("Location", "/login")]).reason,
            "u answered 302 to /login; want one of 401, 403, 404, 410, 3xx from here"
        );
        assert_eq!(decide(200, &[]).cause, Some(Cause::Open));
        assert_eq!(decide(204, &[]).cause, Some(Cause::Open));
        assert_eq!(decide(500, &[]).cause, Some(Cause::UnexpectedStatus));
        let strict = [StatusPattern::Exact(401), StatusPattern::Exact(403)];
        assert_eq!(decide_restricted("u", &answer(404, &[], ""), &strict).cause, Some(Cause::UnexpectedStatus));
    }

    #[test]
    fn protected_statuses_are_numbers_or_classes_and_never_a_success() {
        let parse = |text: &str| serde_json::from_str::<StatusPattern>(text).map_err(|err| err.to_string());
        assert_eq!(parse("404"), Ok(StatusPattern::Exact(404)));
        assert_eq!(parse("\"3xx\""), Ok(StatusPattern::Class(3)));
        assert_eq!(parse("\"3XX\""), Ok(StatusPattern::Class(3)));
        assert!(parse("\"4x\"").unwrap_err().contains("neither a status like 404"), "{:?}", parse("\"4x\""));
        assert!(parse("700").unwrap_err().contains("700 is not an HTTP status"));
        let check = |statuses: &str| {
            serde_json::from_str::<HttpRestrictedCheck>(&format!(
                r#"{{"url":"https://app.example/admin","protected_statuses":{statuses}}}"#
            ))
            .unwrap()
        };
        assert!(check("[401, 404, \"3xx\"]").validate("restricted").is_ok());
        let refused = check("[401, \"2xx\"]").validate("restricted").unwrap_err();
        assert_eq!(refused.key, "protected_statuses");
        assert!(refused.message.contains("2xx is a success"), "{}", refused.message);
        assert_eq!(check("[204]").validate("restricted").unwrap_err().key, "protected_statuses");
        assert_eq!(check("[]").validate("restricted").unwrap_err().key, "protected_statuses");
    }
}
