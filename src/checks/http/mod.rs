//! HTTP endpoints as a client sees them from here: a health endpoint's status, JSON body and
//! latency; security headers; the http-to-https redirect; CORS; a restricted admin path; and a
//! Prometheus metrics endpoint.
//!
//! Every kind makes one request with reqwest over rustls (the process's one crypto provider,
//! the system roots plus optional CA files), follows redirects only when its config says so
//! (with a cap), and reads the body up to a byte cap. Header sizes are bounded by hyper (about
//! 400 KiB and 100 headers). The decisions are pure functions of the answer, tested beside them.
//!
//! One file a kind: `health` (`http`), `headers` (`http_headers`), `redirect` (`https_redirect`),
//! `cors`, `restricted` (`http_restricted`), `exposition` (`metrics_endpoint`) and `journey`
//! (`http_journey`, a scripted sequence of requests as a synthetic user). What they
//! share: `request`, the request fields that `http_kind!` declares once for every kind with
//! their defaults and validation, and `client`, which makes the request. The `prometheus` and
//! `alertmanager` kinds (`checks::prometheus`) call their HTTP APIs through the same two.

mod client;
mod cors;
mod exposition;
mod headers;
mod health;
mod journey;
mod redirect;
mod request;
mod restricted;

pub use client::{Answer, ClientSlot};
pub use cors::{decide_cors, CorsCheck};
pub use exposition::{check_exposition, ExpositionSummary, MetricsEndpointCheck};
pub use headers::{
    decide_content_type_options, decide_csp, decide_frame_options, decide_hsts, decide_referrer, decide_xss,
    HttpHeadersCheck, REFERRER_POLICIES,
};
pub use health::{decide_json, json_at, HttpCheck, HttpState, LatencyFigures, HTTP_REQUEST_DURATION};
pub use journey::{HttpJourneyCheck, JourneyState, HTTP_JOURNEY_STEP_DURATION};
pub use redirect::{decide_redirect, HttpsRedirectCheck};
pub use request::RequestSpec;
pub(super) use request::{
    default_max_body, default_max_redirects, default_request_timeout, http_kind, request_target, validate_common,
};
pub use restricted::HttpRestrictedCheck;

use crate::model::{MetricFamily, MetricKind, Sample};

pub static HTTP_STATUS_CODE: MetricFamily = MetricFamily {
    name: "checklist_http_status_code",
    help: "HTTP status code of the last answer.",
    kind: MetricKind::Gauge,
};

/// The status gauge. Several kinds may ask one URL (`http` and `http_headers` on `/`), so the
/// kind is a label too: their series must not collide.
fn status_sample(kind: &'static str, url: &str, status: u16) -> Sample {
    Sample::new(&HTTP_STATUS_CODE, f64::from(status)).label("target", url).label("kind", kind)
}
