//! `kind = "cors"`: a page from a foreign origin may not read the answer. The probe sends that
//! `Origin`; neither `*` nor the origin may come back in `Access-Control-Allow-Origin`.

use super::request::{default_max_body, http_kind};
use super::{Answer, ClientSlot};
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, Report};

http_kind! {
    /// `kind = "cors"`: a request from a foreign `Origin` gets neither `*` nor that origin back.
    #[request(max_body_bytes = "default_max_body")]
    pub struct CorsCheck {
        /// An origin the application must not trust.
        #[serde(default = "default_origin")]
        pub origin: String,
    }
}

fn default_origin() -> String {
    "https://checklist-exporter.invalid".into()
}

impl Check for CorsCheck {
    const KIND: &'static str = "cors";
    const ASPECTS: &'static [&'static str] = &["restricted"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])?;
        match reqwest::Url::parse(&self.origin) {
            Ok(origin) if matches!(origin.scheme(), "http" | "https") && origin.path() == "/" => Ok(()),
            _ => {
                Err(KeyError::new("origin", format!("`{}` is not an origin like `https://evil.example`", self.origin)))
            }
        }
    }

    fn target(&self) -> String {
        // One URL may be asked with several foreign origins.
        format!("{} (origin {})", self.request_target(), self.origin)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec().header("origin", &self.origin);
        let answer = slot.fetch(ctx, &spec).await?;
        Ok(Report::default().with("restricted", decide_cors(&self.origin, &answer)))
    }
}

/// Decides `restricted` for CORS.
pub fn decide_cors(origin: &str, answer: &Answer) -> Outcome {
    let credentials =
        answer.all("access-control-allow-credentials").iter().any(|v| v.trim().eq_ignore_ascii_case("true"));
    let allowed = answer.all("access-control-allow-origin");
    match allowed.as_slice() {
        [] => Outcome::pass(format!("no Access-Control-Allow-Origin for origin {origin}")),
        [one] => {
            let one = one.trim();
            if one == "*" && credentials {
                Outcome::fail(Cause::Insecure, "Access-Control-Allow-Origin: * together with Allow-Credentials: true")
            } else if one == "*" {
                Outcome::fail(Cause::Insecure, format!("Access-Control-Allow-Origin: * lets {origin} read answers"))
            } else if one.eq_ignore_ascii_case(origin.trim_end_matches('/')) {
                Outcome::fail(
                    Cause::Insecure,
                    format!(
                        "the foreign origin {origin} is echoed in Access-Control-Allow-Origin{}",
                        if credentials { " with credentials" } else { "" }
                    ),
                )
            } else if one == "null" {
                Outcome::fail(Cause::Insecure, "Access-Control-Allow-Origin: null lets sandboxed pages read answers")
            } else {
                Outcome::pass(format!("Access-Control-Allow-Origin is {one}, not the foreign origin {origin}"))
            }
        }
        several => Outcome::fail(
            Cause::Invalid,
            format!("Access-Control-Allow-Origin is sent {} times ({})", several.len(), several.join(" | ")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::http::client::answer;
    use crate::model::Verdict;

    #[test]
    fn cors_must_not_trust_a_foreign_origin() {
        let origin = "https://evil.example";
        let with = |headers: &[(&str, &str)]| decide_cors(origin, &answer(200, headers, ""));
        assert_eq!(with(&[]).verdict, Verdict::Pass);
        assert_eq!(with(&[("access-control-allow-origin", "https://app.example")]).verdict, Verdict::Pass);
        assert_eq!(with(&[("access-control-allow-origin", "*")]).cause, Some(Cause::Insecure));
        let star_credentials =
            with(&[("access-control-allow-origin", "*"), ("access-control-allow-credentials", "true")]);
        assert_eq!(star_credentials.reason, "Access-Control-Allow-Origin: * together with Allow-Credentials: true");
        assert_eq!(with(&[("access-control-allow-origin", "https://evil.example")]).cause, Some(Cause::Insecure));
        assert_eq!(
            with(&[("access-control-allow-origin", "a"), ("access-control-allow-origin", "b")]).cause,
            Some(Cause::Invalid)
        );
    }
}
