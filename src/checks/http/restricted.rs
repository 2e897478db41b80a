//! `kind = "http_restricted"`: a path that must not be open from here (`/admin`) answers 401
//! or 403.

use super::request::{default_max_body, http_kind};
use super::{status_sample, ClientSlot, HTTP_STATUS_CODE};
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, Report};

http_kind! {
    /// `kind = "http_restricted"`: a path such as `/admin` answers 401 or 403 from here.
    #[request(max_body_bytes = "default_max_body", redirects)]
    pub struct HttpRestrictedCheck {}
}

impl Check for HttpRestrictedCheck {
    const KIND: &'static str = "http_restricted";
    const ASPECTS: &'static [&'static str] = &["restricted"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])
    }

    fn target(&self) -> String {
        crate::support::url::mask_url(&self.url)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let answer = slot.fetch(ctx, &self.spec()).await?;
        let status = answer.status;
        let reason = format!("{} answered {status}; want 401 or 403 from here", self.url);
        let outcome = if matches!(status, 401 | 403) {
            Outcome::pass(reason)
        } else if (200..300).contains(&status) {
            Outcome::fail(Cause::Open, reason)
        } else {
            Outcome::fail(Cause::UnexpectedStatus, reason)
        };
        Ok(Report::default().sample(status_sample("http_restricted", &self.url, status)).with("restricted", outcome))
    }
}
