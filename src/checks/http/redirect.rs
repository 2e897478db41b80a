//! `kind = "https_redirect"`: plain `http://` is not served but sent on, permanently, to
//! `https://` on the same host. The redirect itself is the answer judged, never followed.

use super::headers::single;
use super::request::{default_max_body, http_kind};
use super::{status_sample, Answer, ClientSlot, HTTP_STATUS_CODE};
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, Report};

http_kind! {
    /// `kind = "https_redirect"`: `http://host/` answers a permanent redirect to `https://host`.
    #[request(max_body_bytes = "default_max_body")]
    pub struct HttpsRedirectCheck {}
}

impl Check for HttpsRedirectCheck {
    const KIND: &'static str = "https_redirect";
    const ASPECTS: &'static [&'static str] = &["enforced"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http"])
    }

    fn target(&self) -> String {
        self.request_target()
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let answer = slot.fetch(ctx, &self.spec()).await?;
        Ok(Report::default()
            .sample(status_sample("https_redirect", &self.request_target(), answer.status))
            .with("enforced", decide_redirect(&self.url, &answer)))
    }
}

/// Decides `enforced`: a 301 or 308 whose Location is `https://` on the same host.
pub fn decide_redirect(url: &str, answer: &Answer) -> Outcome {
    let Ok(from) = reqwest::Url::parse(url) else {
        return Outcome::error(Cause::Invalid, format!("`{url}` is not a URL"));
    };
    let host = from.host_str().unwrap_or_default().to_ascii_lowercase();
    let status = answer.status;
    if !(300..400).contains(&status) {
        return Outcome::fail(
            Cause::UnexpectedStatus,
            format!("{url} answered {status}; want a 301 or 308 redirect to https://{host}/"),
        );
    }
    let location = match single("Location", &answer.all("location")) {
        Ok(location) => location,
        Err(outcome) => return outcome,
    };
    let Ok(target) = from.join(location) else {
        return Outcome::fail(Cause::Invalid, format!("{url} redirects to `{location}`, which is not a URL"));
    };
    let target_host = target.host_str().unwrap_or_default().to_ascii_lowercase();
    if target.scheme() != "https" {
        return Outcome::fail(Cause::Insecure, format!("{url} redirects ({status}) to {target}, not to https"));
    }
    if target_host != host {
        return Outcome::fail(Cause::Mismatch, format!("{url} redirects ({status}) to another host: {target}"));
    }
    Outcome::decide(
        matches!(status, 301 | 308),
        Cause::UnexpectedStatus,
        format!("{url} answers {status} to {target}; want a permanent redirect (301 or 308)"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::http::client::answer;
    use crate::model::Verdict;

    #[test]
    fn https_is_enforced_by_a_permanent_redirect_to_the_same_host() {
        let url = "http://app.example.test/";
        let moved = |status, location| answer(status, &[("location", location)], "");
        assert_eq!(decide_redirect(url, &moved(301, "https://app.example.test/")).verdict, Verdict::Pass);
        assert_eq!(decide_redirect(url, &moved(308, "https://APP.example.test:8443/x")).verdict, Verdict::Pass);
        let temporary = decide_redirect(url, &moved(302, "https://app.example.test/"));
        assert_eq!(temporary.cause, Some(Cause::UnexpectedStatus));
        assert_eq!(decide_redirect(url, &moved(301, "http://app.example.test/")).cause, Some(Cause::Insecure));
        assert_eq!(decide_redirect(url, &moved(301, "/login")).cause, Some(Cause::Insecure));
        assert_eq!(decide_redirect(url, &moved(301, "https://evil.test/")).cause, Some(Cause::Mismatch));
        assert_eq!(decide_redirect(url, &answer(200, &[], "")).cause, Some(Cause::UnexpectedStatus));
        assert_eq!(decide_redirect(url, &answer(301, &[], "")).cause, Some(Cause::Missing));
    }
}
