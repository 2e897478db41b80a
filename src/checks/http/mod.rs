//! HTTP endpoints as a client sees them from here: a health endpoint's status, JSON body and
//! latency; security headers; the http-to-https redirect; CORS; a restricted admin path; and a
//! Prometheus metrics endpoint.
//!
//! Every kind makes one request with reqwest over rustls (the process's one crypto provider,
//! the system roots plus optional CA files), follows redirects only when its config says so
//! (with a cap), and reads the body up to a byte cap. Header sizes are bounded by hyper (about
//! 400 KiB and 100 headers). The decisions are pure functions of the answer, tested below.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::latency::LatencyTracker;
use super::tls::{provider, trust_for};
use super::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample};
use crate::support::units::{format_bytes, format_duration, ByteSize, HumanDuration};

pub static HTTP_REQUEST_DURATION: MetricFamily = MetricFamily {
    name: "checklist_http_request_duration_seconds",
    help: "Time from sending the request to reading the whole (capped) body, in seconds.",
    kind: MetricKind::Histogram,
};
pub static HTTP_STATUS_CODE: MetricFamily = MetricFamily {
    name: "checklist_http_status_code",
    help: "HTTP status code of the last answer.",
    kind: MetricKind::Gauge,
};

const DEFAULT_MAX_BODY: u64 = 1 << 20;
const DEFAULT_MAX_REDIRECTS: usize = 5;
/// One year, the HSTS preload list's minimum and the usual recommendation.
const DEFAULT_HSTS_MAX_AGE: Duration = Duration::from_secs(365 * 86_400);

// ------------------------------------------------------------------------------------------
// The request every kind makes

/// The request parameters every HTTP kind shares (each kind's struct carries them as fields,
/// because serde cannot refuse unknown keys through `flatten`).
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub url: String,
    pub ca_files: Vec<PathBuf>,
    pub system_roots: bool,
    pub request_timeout: Duration,
    pub max_body_bytes: u64,
    /// `None`: redirects are answers, not followed.
    pub max_redirects: Option<usize>,
    pub method: reqwest::Method,
    pub headers: Vec<(&'static str, String)>,
}

/// What came back, with the body cut at the cap.
#[derive(Clone, Debug, Default)]
pub struct Answer {
    pub status: u16,
    /// Header names in lower case, every occurrence in order.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    pub truncated: bool,
    pub elapsed: Duration,
}

impl Answer {
    /// Every value of header `name` (lower case), one per header line.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers.iter().filter(|(n, _)| n == name).map(|(_, v)| v.as_str()).collect()
    }
}

fn validate_url(url: &str, schemes: &[&str]) -> Result<reqwest::Url, KeyError> {
    let shown = crate::support::secret::mask_url(url);
    let parsed =
        reqwest::Url::parse(url).map_err(|err| KeyError::new("url", format!("`{shown}` is not a URL: {err}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(KeyError::new("url", format!("`{shown}` must use {}", schemes.join(" or "))));
    }
    if parsed.password().is_some() || !parsed.username().is_empty() {
        // The URL becomes a label value and appears in reasons: no credentials in it.
        return Err(KeyError::new("url", "must not carry credentials (user:password@)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(KeyError::new("url", format!("`{shown}` has no host")));
    }
    Ok(parsed)
}

pub(super) fn validate_common(spec: &RequestSpec, schemes: &[&str]) -> Result<(), KeyError> {
    validate_url(&spec.url, schemes)?;
    if !spec.system_roots && spec.ca_files.is_empty() && spec.url.starts_with("https:") {
        return Err(KeyError::new("system_roots", "`system_roots = false` needs `ca_files`"));
    }
    if let Some(relative) = spec.ca_files.iter().find(|p| !p.is_absolute()) {
        return Err(KeyError::new("ca_files", format!("`{}` must be an absolute path", relative.display())));
    }
    if spec.request_timeout.is_zero() {
        return Err(KeyError::new("request_timeout", "must be longer than 0s"));
    }
    if spec.max_body_bytes == 0 {
        return Err(KeyError::new("max_body_bytes", "must be at least 1 byte"));
    }
    Ok(())
}

/// A client per check, kept between evaluations (building one parses the trust store).
#[derive(Default)]
pub struct ClientSlot(Option<reqwest::Client>);

pub(super) async fn client(
    ctx: &CheckContext,
    slot: &mut ClientSlot,
    spec: &RequestSpec,
) -> Result<reqwest::Client, ProbeFailure> {
    if let Some(client) = &slot.0 {
        return Ok(client.clone());
    }
    let (system, files) = (spec.system_roots, spec.ca_files.clone());
    let trust = ctx.blocking.run(move || trust_for(system, &files)).await??;
    let mut tls = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot configure TLS: {err}")))?
        .with_root_certificates(trust.roots.clone())
        .with_no_client_auth();
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    let redirect = match spec.max_redirects {
        None => reqwest::redirect::Policy::none(),
        Some(max) => reqwest::redirect::Policy::limited(max),
    };
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .redirect(redirect)
        .timeout(spec.request_timeout)
        .connect_timeout(spec.request_timeout)
        // Every probe measures a fresh connection, as a new visitor would get.
        .pool_max_idle_per_host(0)
        .no_proxy()
        .user_agent(concat!("checklist-exporter/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot build an HTTP client: {err}")))?;
    slot.0 = Some(client.clone());
    Ok(client)
}

/// The innermost useful message of an error chain, without the URL.
fn error_text(err: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(err);
    while let Some(inner) = source {
        let text = inner.to_string();
        if !parts.contains(&text) {
            parts.push(text);
        }
        source = inner.source();
    }
    if parts.is_empty() {
        parts.push(err.to_string());
    }
    parts.join(": ")
}

/// Makes the request and reads the body up to the cap. The scheduler's timeout bounds the whole
/// check; `request_timeout` bounds this request so that its reason is specific.
pub(super) async fn fetch(client: &reqwest::Client, spec: &RequestSpec) -> Result<Answer, ProbeFailure> {
    let url = &spec.url;
    let started = Instant::now();
    let mut request = client.request(spec.method.clone(), url);
    for (name, value) in &spec.headers {
        request = request.header(*name, value);
    }
    let failure = |err: reqwest::Error| {
        let waited = format_duration(spec.request_timeout);
        if err.is_timeout() {
            ProbeFailure::new(Cause::Timeout, format!("{url} gave no complete answer within {waited}"))
        } else if err.is_redirect() {
            ProbeFailure::new(
                Cause::Invalid,
                format!("{url} redirects more than {} times (a loop?)", spec.max_redirects.unwrap_or(0)),
            )
        } else if err.is_connect() {
            // reqwest reports everything before the first byte of HTTP (TCP and TLS) as a
            // connect error; tell the TLS failures apart, they mean something else to a person.
            let text = error_text(&err);
            if text.contains("corrupt message") || text.contains("InvalidContentType") {
                ProbeFailure::new(Cause::Io, format!("{url}: the server does not speak TLS on this port ({text})"))
            } else if text.contains("certificate") || text.contains("UnknownIssuer") {
                ProbeFailure::new(Cause::Untrusted, format!("{url}: the TLS certificate is not accepted: {text}"))
            } else if text.contains("refused") {
                ProbeFailure::new(Cause::Refused, format!("cannot connect to {url}: {text}"))
            } else {
                ProbeFailure::new(Cause::Unreachable, format!("cannot connect to {url}: {text}"))
            }
        } else {
            ProbeFailure::new(Cause::Io, format!("{url} did not give a valid HTTP answer: {}", error_text(&err)))
        }
    };
    let mut response = request.send().await.map_err(failure)?;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| (name.as_str().to_string(), String::from_utf8_lossy(value.as_bytes()).into_owned()))
        .collect();
    let mut body = Vec::new();
    let mut truncated = false;
    while let Some(chunk) = response.chunk().await.map_err(failure)? {
        let room = spec.max_body_bytes as usize - body.len();
        if chunk.len() > room {
            body.extend_from_slice(&chunk[..room]);
            truncated = true;
            break;
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Answer { status, headers, body, truncated, elapsed: started.elapsed() })
}

macro_rules! request_fields {
    ($check:ident) => {
        impl $check {
            fn spec_with(&self, max_redirects: Option<usize>, headers: Vec<(&'static str, String)>) -> RequestSpec {
                RequestSpec {
                    url: self.url.clone(),
                    ca_files: self.ca_files.clone(),
                    system_roots: self.system_roots,
                    request_timeout: self.request_timeout.0,
                    max_body_bytes: self.max_body_bytes.bytes(),
                    max_redirects,
                    method: reqwest::Method::GET,
                    headers,
                }
            }
        }
    };
}

/// Used by the other kinds that call HTTP APIs (`prometheus`, `alertmanager`).
pub(super) use request_fields;

pub(super) fn default_request_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
pub(super) fn default_max_body() -> ByteSize {
    ByteSize(DEFAULT_MAX_BODY, false)
}
fn default_max_redirects() -> usize {
    DEFAULT_MAX_REDIRECTS
}
fn redirects(follow: bool, max: usize) -> Option<usize> {
    follow.then_some(max)
}

fn validate_redirects(follow: bool, max: usize) -> Result<(), KeyError> {
    if follow && max == 0 {
        return Err(KeyError::new("max_redirects", "must be at least 1 when `follow_redirects = true`"));
    }
    Ok(())
}

/// The status gauge. Several kinds may ask one URL (`http` and `http_headers` on `/`), so the
/// kind is a label too: their series must not collide.
fn status_sample(kind: &'static str, url: &str, status: u16) -> Sample {
    Sample::new(&HTTP_STATUS_CODE, f64::from(status)).label("target", url).label("kind", kind)
}

// ------------------------------------------------------------------------------------------
// kind = "http": status, JSON body, latency

/// `kind = "http"`: a health endpoint answers the expected status, its JSON body holds the
/// expected value at a dotted path, and its latency stays under thresholds over a window.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpCheck {
    pub url: String,
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    #[serde(default)]
    pub follow_redirects: bool,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
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
request_fields!(HttpCheck);

fn default_status() -> u16 {
    200
}
fn default_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}

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
        validate_common(&self.spec(), &["http", "https"])?;
        validate_redirects(self.follow_redirects, self.max_redirects)?;
        if !(100..=599).contains(&self.expect_status) {
            return Err(KeyError::new("expect_status", format!("{} is not an HTTP status", self.expect_status)));
        }
        match aspect {
            "body" if self.json_path.is_none() || self.json_equals.is_none() => {
                Err(KeyError::new("json_path", "an item decides `body`, which needs `json_path` and `json_equals`"))
            }
            "latency_mean" => super::require(&self.max_mean_latency, aspect, "max_mean_latency"),
            "latency_p95" => super::require(&self.max_p95_latency, aspect, "max_p95_latency"),
            _ => Ok(()),
        }
    }

    fn target(&self) -> String {
        crate::support::secret::mask_url(&self.url)
    }

    async fn run(&self, ctx: &CheckContext, state: &mut Self::State) -> CheckResult {
        let spec = self.spec();
        let client = client(ctx, &mut state.client, &spec).await?;
        let answer = fetch(&client, &spec).await?;
        state.latency.observe(Instant::now(), answer.elapsed, self.latency_window.0);
        let figures = match (state.latency.mean(), state.latency.quantile(0.95)) {
            (Some(mean), Some(p95)) => Some(LatencyFigures { mean, p95, count: state.latency.len() }),
            _ => None,
        };
        let histogram = state.latency.histogram();
        Ok(self
            .decide(&answer, figures)
            .sample(Sample::histogram(&HTTP_REQUEST_DURATION, histogram).label("target", &self.url)))
    }
}

impl HttpCheck {
    fn spec(&self) -> RequestSpec {
        self.spec_with(redirects(self.follow_redirects, self.max_redirects), Vec::new())
    }

    pub fn decide(&self, answer: &Answer, latency: Option<LatencyFigures>) -> Report {
        let url = &self.url;
        let mut report = Report::default().sample(status_sample("http", url, answer.status));
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
            let reason = format!(
                "mean latency {} over {} request(s) in the last {window}; want at most {}",
                format_duration(figures.mean),
                figures.count,
                format_duration(max.0)
            );
            report = report.with("latency_mean", Outcome::decide(figures.mean <= max.0, Cause::AboveMaximum, reason));
        }
        if let (Some(max), Some(figures)) = (self.max_p95_latency, latency) {
            let reason = format!(
                "95th percentile latency {} over {} request(s) in the last {window}; want at most {}",
                format_duration(figures.p95),
                figures.count,
                format_duration(max.0)
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
            let shown: String = text.chars().take(80).collect();
            Outcome::decide(text == wanted, Cause::Mismatch, format!("`{path}` is {shown:?}; want {wanted:?}"))
        }
    }
}

// ------------------------------------------------------------------------------------------
// kind = "http_headers": security headers

/// `kind = "http_headers"`: the security headers of one answer, each its own aspect.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpHeadersCheck {
    pub url: String,
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    #[serde(default)]
    pub follow_redirects: bool,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
    /// The smallest acceptable HSTS `max-age`.
    #[serde(default = "default_hsts_max_age")]
    pub hsts_min_max_age: HumanDuration,
    #[serde(default)]
    pub hsts_include_subdomains: bool,
    /// The wanted `X-XSS-Protection` value. The checklist asks for `1; mode=block`; current
    /// advice (OWASP, MDN) is `0`, since the auditor it drives can be abused.
    #[serde(default = "default_xss")]
    pub xss_protection: String,
    /// Acceptable `Referrer-Policy` values.
    #[serde(default = "default_referrer_policies")]
    pub referrer_policies: Vec<String>,
}
request_fields!(HttpHeadersCheck);

fn default_hsts_max_age() -> HumanDuration {
    HumanDuration(DEFAULT_HSTS_MAX_AGE)
}
fn default_xss() -> String {
    "1; mode=block".into()
}
fn default_referrer_policies() -> Vec<String> {
    ["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"].map(String::from).to_vec()
}

/// Every policy the Referrer Policy specification defines.
pub const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

impl Check for HttpHeadersCheck {
    const KIND: &'static str = "http_headers";
    const ASPECTS: &'static [&'static str] =
        &["hsts", "csp", "frame_options", "content_type_options", "xss_protection", "referrer_policy"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_common(&self.spec(), &["http", "https"])?;
        validate_redirects(self.follow_redirects, self.max_redirects)?;
        if let Some(bad) = self.referrer_policies.iter().find(|p| !REFERRER_POLICIES.contains(&p.as_str())) {
            return Err(KeyError::new(
                "referrer_policies",
                format!("`{bad}` is not a referrer policy; one of {}", REFERRER_POLICIES.join(", ")),
            ));
        }
        if self.referrer_policies.is_empty() {
            return Err(KeyError::new("referrer_policies", "name at least one acceptable policy"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        crate::support::secret::mask_url(&self.url)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec();
        let client = client(ctx, slot, &spec).await?;
        let answer = fetch(&client, &spec).await?;
        Ok(self.decide(&answer))
    }
}

impl HttpHeadersCheck {
    fn spec(&self) -> RequestSpec {
        self.spec_with(redirects(self.follow_redirects, self.max_redirects), Vec::new())
    }

    pub fn decide(&self, answer: &Answer) -> Report {
        let csp = answer.all("content-security-policy");
        Report::default()
            .sample(status_sample("http_headers", &self.url, answer.status))
            .with(
                "hsts",
                decide_hsts(
                    &answer.all("strict-transport-security"),
                    self.hsts_min_max_age.0,
                    self.hsts_include_subdomains,
                ),
            )
            .with("csp", decide_csp(&csp))
            .with("frame_options", decide_frame_options(&answer.all("x-frame-options"), &csp))
            .with("content_type_options", decide_content_type_options(&answer.all("x-content-type-options")))
            .with("xss_protection", decide_xss(&answer.all("x-xss-protection"), &self.xss_protection))
            .with("referrer_policy", decide_referrer(&answer.all("referrer-policy"), &self.referrer_policies))
    }
}

/// Splits a `;`-separated directive list into (lower-case name, value) pairs; `separator`
/// ends the name: `=` in HSTS (RFC 6797), white space in CSP, where `frame-ancestors='none'`
/// is an unknown directive named `frame-ancestors='none'`.
fn directives(value: &str, separator: fn(char) -> bool) -> Vec<(String, String)> {
    value
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once(separator) {
            Some((name, rest)) => (name.trim().to_ascii_lowercase(), rest.trim().to_string()),
            None => (d.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

fn hsts_separator(c: char) -> bool {
    c == '='
}

fn csp_separator(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// The one value of a header that must appear once, or the outcome that says why not.
fn single<'a>(header: &str, values: &[&'a str]) -> Result<&'a str, Outcome> {
    match values {
        [] => Err(Outcome::fail(Cause::Missing, format!("no {header} header"))),
        // HTTP optional white space is space and tab only (RFC 9110, 5.6.3).
        [one] => Ok(one.trim_matches([' ', '\t'])),
        several => Err(Outcome::fail(
            Cause::Invalid,
            format!("{header} is sent {} times ({}); browsers then may ignore it", several.len(), several.join(" | ")),
        )),
    }
}

/// Decides `hsts` (RFC 6797): one header, `max-age` once and at least the minimum, and
/// `includeSubDomains` when wanted.
pub fn decide_hsts(values: &[&str], min_max_age: Duration, want_subdomains: bool) -> Outcome {
    let value = match single("Strict-Transport-Security", values) {
        Ok(value) => value,
        Err(outcome) => return outcome,
    };
    if let Some(bad) = value.split(';').map(|d| d.trim_matches([' ', '\t'])).find(|d| !hsts_directive(d)) {
        return Outcome::fail(
            Cause::Invalid,
            format!("Strict-Transport-Security `{value}` has the malformed directive `{bad}`; browsers ignore it"),
        );
    }
    let parsed = directives(value, hsts_separator);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in &parsed {
        *seen.entry(name.as_str()).or_default() += 1;
    }
    if let Some((name, _)) = seen.iter().find(|(_, count)| **count > 1) {
        return Outcome::fail(Cause::Invalid, format!("Strict-Transport-Security `{value}` repeats `{name}`"));
    }
    let Some((_, age)) = parsed.iter().find(|(name, _)| name == "max-age") else {
        return Outcome::fail(Cause::Invalid, format!("Strict-Transport-Security `{value}` has no max-age"));
    };
    // delta-seconds is digits only, optionally quoted; `parse` alone would take `+1`.
    let digits = age.strip_prefix('"').and_then(|a| a.strip_suffix('"')).unwrap_or(age);
    let age = if digits.bytes().all(|b| b.is_ascii_digit()) { digits.parse::<u64>().ok() } else { None };
    let Some(age) = age else {
        return Outcome::fail(Cause::Invalid, format!("Strict-Transport-Security `{value}`: max-age is not a number"));
    };
    let subdomains = seen.contains_key("includesubdomains");
    let wanted = format!(
        "want max-age at least {}s{}",
        min_max_age.as_secs(),
        if want_subdomains { " and includeSubDomains" } else { "" }
    );
    if age < min_max_age.as_secs() {
        return Outcome::fail(Cause::BelowMinimum, format!("Strict-Transport-Security max-age={age}; {wanted}"));
    }
    if want_subdomains && !subdomains {
        return Outcome::fail(
            Cause::Missing,
            format!("Strict-Transport-Security `{value}` lacks includeSubDomains; {wanted}"),
        );
    }
    Outcome::pass(format!(
        "Strict-Transport-Security max-age={age}{}; {wanted}",
        if subdomains { ", includeSubDomains" } else { "" }
    ))
}

/// Whether one `;`-separated part of HSTS is empty or `token [ "=" ( token / quoted-string ) ]`
/// with optional spaces around `=` (RFC 6797 section 6.1); a browser ignores a header with any
/// other part.
fn hsts_directive(part: &str) -> bool {
    let token = |text: &str| {
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    let quoted = |text: &str| {
        let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else { return false };
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return false,
                '\\' if chars.next().is_none() => return false,
                _ => {}
            }
        }
        true
    };
    match part.split_once('=') {
        _ if part.is_empty() => true,
        None => token(part),
        Some((name, value)) => {
            let value = value.trim_matches([' ', '\t']);
            token(name.trim_end_matches([' ', '\t'])) && (token(value) || quoted(value))
        }
    }
}

/// Decides `csp`: a policy is present and parses; the reason warns about `unsafe-inline`,
/// `unsafe-eval` and a missing `default-src`.
pub fn decide_csp(values: &[&str]) -> Outcome {
    if values.is_empty() {
        return Outcome::fail(Cause::Missing, "no Content-Security-Policy header");
    }
    let mut warnings = Vec::new();
    let mut has_default = false;
    let mut count = 0;
    for value in values {
        let parsed = directives(value, csp_separator);
        if parsed.is_empty() {
            return Outcome::fail(Cause::Invalid, "an empty Content-Security-Policy header");
        }
        for (name, sources) in &parsed {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Outcome::fail(
                    Cause::Invalid,
                    format!("Content-Security-Policy has a malformed directive `{name}`"),
                );
            }
            count += 1;
            has_default |= name == "default-src";
            for keyword in ["'unsafe-inline'", "'unsafe-eval'"] {
                if sources.split_ascii_whitespace().any(|s| s.eq_ignore_ascii_case(keyword)) {
                    warnings.push(format!("{name} allows {keyword}"));
                }
            }
        }
    }
    if !has_default {
        warnings.push("no default-src fallback".into());
    }
    let mut reason = format!("Content-Security-Policy with {count} directive(s)");
    if !warnings.is_empty() {
        reason.push_str(&format!("; warning: {}", warnings.join(", ")));
    }
    Outcome::pass(reason)
}

/// Whether a CSP forbids all framing (`frame-ancestors 'none'`).
fn csp_forbids_framing(csp: &[&str]) -> bool {
    csp.iter()
        .flat_map(|v| directives(v, csp_separator))
        .any(|(name, sources)| name == "frame-ancestors" && sources == "'none'")
}

/// Decides `frame_options`: `X-Frame-Options: DENY`, or a CSP `frame-ancestors 'none'`.
pub fn decide_frame_options(values: &[&str], csp: &[&str]) -> Outcome {
    if csp_forbids_framing(csp) {
        return Outcome::pass("Content-Security-Policy frame-ancestors 'none' forbids framing");
    }
    match single("X-Frame-Options", values) {
        Ok(value) if value.eq_ignore_ascii_case("deny") => Outcome::pass(format!("X-Frame-Options: {value}")),
        Ok(value) if value.eq_ignore_ascii_case("sameorigin") => {
            Outcome::fail(Cause::Insecure, format!("X-Frame-Options: {value}; want DENY"))
        }
        Ok(value) => {
            Outcome::fail(Cause::Invalid, format!("X-Frame-Options `{value}` is not DENY or SAMEORIGIN; want DENY"))
        }
        Err(outcome) => outcome,
    }
}

/// Decides `content_type_options`: exactly `nosniff`.
pub fn decide_content_type_options(values: &[&str]) -> Outcome {
    match single("X-Content-Type-Options", values) {
        Ok(value) if value.eq_ignore_ascii_case("nosniff") => Outcome::pass(format!("X-Content-Type-Options: {value}")),
        Ok(value) => Outcome::fail(Cause::Invalid, format!("X-Content-Type-Options `{value}`; want nosniff")),
        Err(outcome) => outcome,
    }
}

fn normalize_xss(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(|part| part.split_whitespace().collect::<String>().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Decides `xss_protection`: the header equals the wanted value, spacing and case aside.
pub fn decide_xss(values: &[&str], wanted: &str) -> Outcome {
    match single("X-XSS-Protection", values) {
        Ok(value) => {
            let parts = normalize_xss(value);
            if !matches!(parts.first().map(String::as_str), Some("0" | "1")) {
                return Outcome::fail(
                    Cause::Invalid,
                    format!("X-XSS-Protection `{value}` is malformed; want {wanted}"),
                );
            }
            Outcome::decide(
                parts == normalize_xss(wanted),
                Cause::Mismatch,
                format!("X-XSS-Protection: {value}; want {wanted}"),
            )
        }
        Err(outcome) => outcome,
    }
}

/// Decides `referrer_policy`: the policy a browser applies (the last recognised token of all
/// the header's values) is one of the allowed ones.
pub fn decide_referrer(values: &[&str], allowed: &[String]) -> Outcome {
    if values.is_empty() {
        return Outcome::fail(Cause::Missing, "no Referrer-Policy header");
    }
    let tokens: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(','))
        // Only HTTP white space (space, tab): a browser does not see `no-referrer` in
        // `no-referrer` followed by a no-break space, so neither may this check (found by fuzzing).
        .map(|t| t.trim_matches([' ', '\t']).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let effective = tokens.iter().rev().find(|t| REFERRER_POLICIES.contains(&t.as_str()));
    match effective {
        None => Outcome::fail(Cause::Invalid, format!("Referrer-Policy `{}` names no known policy", values.join(", "))),
        Some(policy) => Outcome::decide(
            allowed.iter().any(|a| a == policy),
            Cause::Insecure,
            format!("Referrer-Policy is {policy}; want one of {}", allowed.join(", ")),
        ),
    }
}

// ------------------------------------------------------------------------------------------
// kind = "https_redirect"

/// `kind = "https_redirect"`: `http://host/` answers a permanent redirect to `https://host`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpsRedirectCheck {
    pub url: String,
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
}
request_fields!(HttpsRedirectCheck);

impl Check for HttpsRedirectCheck {
    const KIND: &'static str = "https_redirect";
    const ASPECTS: &'static [&'static str] = &["enforced"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_common(&self.spec_with(None, Vec::new()), &["http"])
    }

    fn target(&self) -> String {
        crate::support::secret::mask_url(&self.url)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec_with(None, Vec::new());
        let client = client(ctx, slot, &spec).await?;
        let answer = fetch(&client, &spec).await?;
        Ok(Report::default()
            .sample(status_sample("https_redirect", &self.url, answer.status))
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

// ------------------------------------------------------------------------------------------
// kind = "cors"

/// `kind = "cors"`: a request from a foreign `Origin` gets neither `*` nor that origin back.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsCheck {
    pub url: String,
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    /// An origin the application must not trust.
    #[serde(default = "default_origin")]
    pub origin: String,
}
request_fields!(CorsCheck);

fn default_origin() -> String {
    "https://checklist-exporter.invalid".into()
}

impl Check for CorsCheck {
    const KIND: &'static str = "cors";
    const ASPECTS: &'static [&'static str] = &["restricted"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_common(&self.spec(), &["http", "https"])?;
        match reqwest::Url::parse(&self.origin) {
            Ok(origin) if matches!(origin.scheme(), "http" | "https") && origin.path() == "/" => Ok(()),
            _ => {
                Err(KeyError::new("origin", format!("`{}` is not an origin like `https://evil.example`", self.origin)))
            }
        }
    }

    fn target(&self) -> String {
        // One URL may be asked with several foreign origins.
        format!("{} (origin {})", crate::support::secret::mask_url(&self.url), self.origin)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec();
        let client = client(ctx, slot, &spec).await?;
        let answer = fetch(&client, &spec).await?;
        Ok(Report::default().with("restricted", decide_cors(&self.origin, &answer)))
    }
}

impl CorsCheck {
    fn spec(&self) -> RequestSpec {
        self.spec_with(None, vec![("origin", self.origin.clone())])
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

// ------------------------------------------------------------------------------------------
// kind = "http_restricted"

/// `kind = "http_restricted"`: a path such as `/admin` answers 401 or 403 from here.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpRestrictedCheck {
    pub url: String,
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    #[serde(default = "default_max_body")]
    pub max_body_bytes: ByteSize,
    #[serde(default)]
    pub follow_redirects: bool,
    #[serde(default = "default_max_redirects")]
    pub max_redirects: usize,
}
request_fields!(HttpRestrictedCheck);

impl Check for HttpRestrictedCheck {
    const KIND: &'static str = "http_restricted";
    const ASPECTS: &'static [&'static str] = &["restricted"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_common(&self.spec(), &["http", "https"])?;
        validate_redirects(self.follow_redirects, self.max_redirects)
    }

    fn target(&self) -> String {
        crate::support::secret::mask_url(&self.url)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec();
        let client = client(ctx, slot, &spec).await?;
        let answer = fetch(&client, &spec).await?;
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

impl HttpRestrictedCheck {
    fn spec(&self) -> RequestSpec {
        self.spec_with(redirects(self.follow_redirects, self.max_redirects), Vec::new())
    }
}

// ------------------------------------------------------------------------------------------
// kind = "metrics_endpoint"

/// `kind = "metrics_endpoint"`: the application's `/metrics` serves a valid exposition.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsEndpointCheck {
    pub url: String,
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    #[serde(default = "default_request_timeout")]
    pub request_timeout: HumanDuration,
    #[serde(default = "default_metrics_body")]
    pub max_body_bytes: ByteSize,
}
request_fields!(MetricsEndpointCheck);

fn default_metrics_body() -> ByteSize {
    ByteSize(16 << 20, false)
}

impl Check for MetricsEndpointCheck {
    const KIND: &'static str = "metrics_endpoint";
    const ASPECTS: &'static [&'static str] = &["valid"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_common(&self.spec(), &["http", "https"])
    }

    fn target(&self) -> String {
        crate::support::secret::mask_url(&self.url)
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let spec = self.spec();
        let client = client(ctx, slot, &spec).await?;
        let answer = fetch(&client, &spec).await?;
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
        Ok(Report::default().sample(status_sample("metrics_endpoint", &self.url, answer.status)).with("valid", outcome))
    }
}

impl MetricsEndpointCheck {
    fn spec(&self) -> RequestSpec {
        self.spec_with(None, vec![("accept", "text/plain;version=0.0.4;q=1,*/*;q=0.1".into())])
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
            return Err(at(format!("bad metric name `{}`", name.chars().take(60).collect::<String>())));
        }
        let rest = &line[name_end..];
        let rest = match rest.strip_prefix('{') {
            Some(labels) => skip_labels(labels).map_err(at)?,
            None => rest,
        };
        let mut fields = rest.split_whitespace();
        let value = fields.next().ok_or_else(|| at(format!("{name} has no value")))?;
        if !valid_value(value) {
            return Err(at(format!(
                "{name} has the value `{}`, not a number",
                value.chars().take(30).collect::<String>()
            )));
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

/// Keeps the shared memory type names distinct in debug output.
impl std::fmt::Debug for ClientSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "ClientSlot(ready)" } else { "ClientSlot(empty)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const YEAR: Duration = DEFAULT_HSTS_MAX_AGE;

    fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
        Answer {
            status,
            headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
            body: body.as_bytes().to_vec(),
            truncated: false,
            elapsed: Duration::from_millis(3),
        }
    }

    #[test]
    fn hsts_wants_a_long_max_age_once() {
        assert_eq!(decide_hsts(&["max-age=31536000; includeSubDomains"], YEAR, true).verdict, Verdict::Pass);
        assert_eq!(decide_hsts(&["MAX-AGE=\"31536000\""], YEAR, false).verdict, Verdict::Pass);
        let short = decide_hsts(&["max-age=300"], YEAR, false);
        assert_eq!(short.cause, Some(Cause::BelowMinimum));
        assert_eq!(short.reason, "Strict-Transport-Security max-age=300; want max-age at least 31536000s");
        assert_eq!(decide_hsts(&["max-age=31536000"], YEAR, true).cause, Some(Cause::Missing));
        assert_eq!(decide_hsts(&[], YEAR, false).cause, Some(Cause::Missing));
        assert_eq!(decide_hsts(&["max-age=1; max-age=31536000"], YEAR, false).cause, Some(Cause::Invalid));
        assert_eq!(decide_hsts(&["max-age=abc"], YEAR, false).cause, Some(Cause::Invalid));
        assert_eq!(decide_hsts(&["includeSubDomains"], YEAR, false).cause, Some(Cause::Invalid));
        assert_eq!(decide_hsts(&["max-age=31536000", "max-age=31536000"], YEAR, false).cause, Some(Cause::Invalid));
    }

    #[test]
    fn hsts_refuses_what_rfc_6797_refuses() {
        // Found by the http_headers fuzz target (fuzz/regressions/http_headers/): browsers ignore
        // these headers, so they must not pass.
        for value in [
            "max-age=31536000; includeSubOptions: DDomains",
            "max-age 31536000",
            "max-age=+31536000",
            "max-age=\"31536000",
            "max-age=31536000; in@valid",
            "max-age=31536000\u{a0}",
        ] {
            assert_eq!(decide_hsts(&[value], YEAR, false).cause, Some(Cause::Invalid), "{value}");
        }
        let spaced = decide_hsts(&["max-age = \"31536000\" ;; includeSubDomains ; preload;"], YEAR, true);
        assert_eq!(spaced.verdict, Verdict::Pass, "{}", spaced.reason);
    }

    #[test]
    fn csp_passes_when_present_and_warns_about_unsafe_sources() {
        let good = decide_csp(&["default-src 'self'; frame-ancestors 'none'"]);
        assert_eq!(good.verdict, Verdict::Pass);
        assert_eq!(good.reason, "Content-Security-Policy with 2 directive(s)");
        let weak = decide_csp(&["script-src 'self' 'unsafe-inline' 'UNSAFE-EVAL'"]);
        assert_eq!(weak.verdict, Verdict::Pass);
        assert_eq!(
            weak.reason,
            "Content-Security-Policy with 1 directive(s); warning: script-src allows 'unsafe-inline', script-src allows 'unsafe-eval', no default-src fallback"
        );
        assert_eq!(decide_csp(&[]).cause, Some(Cause::Missing));
        assert_eq!(decide_csp(&[" ; "]).cause, Some(Cause::Invalid));
        assert_eq!(decide_csp(&["default-src{ 'self'"]).cause, Some(Cause::Invalid));
    }

    #[test]
    fn framing_is_forbidden_by_deny_or_frame_ancestors_none() {
        assert_eq!(decide_frame_options(&["deny"], &[]).verdict, Verdict::Pass);
        assert_eq!(decide_frame_options(&[], &["frame-ancestors 'none'"]).verdict, Verdict::Pass);
        assert_eq!(decide_frame_options(&["SAMEORIGIN"], &[]).cause, Some(Cause::Insecure));
        assert_eq!(decide_frame_options(&["DENY", "SAMEORIGIN"], &[]).cause, Some(Cause::Invalid));
        assert_eq!(decide_frame_options(&["DENY, SAMEORIGIN"], &[]).cause, Some(Cause::Invalid));
        assert_eq!(decide_frame_options(&[], &["default-src 'self'"]).cause, Some(Cause::Missing));
        // Found by the http_headers fuzz target: a CSP name ends at white space, so this is an
        // unknown directive that browsers skip, and framing stays allowed.
        assert_eq!(decide_frame_options(&[], &["frame-ancestors= 'none'"]).cause, Some(Cause::Missing));
        assert_eq!(decide_frame_options(&[], &["frame-ancestors\t'none'"]).verdict, Verdict::Pass);
    }

    #[test]
    fn nosniff_xss_and_referrer_rules() {
        assert_eq!(decide_content_type_options(&["NoSniff"]).verdict, Verdict::Pass);
        assert_eq!(decide_content_type_options(&["sniff"]).cause, Some(Cause::Invalid));
        assert_eq!(decide_xss(&["1;mode=block"], "1; mode=block").verdict, Verdict::Pass);
        assert_eq!(decide_xss(&["0"], "1; mode=block").cause, Some(Cause::Mismatch));
        assert_eq!(decide_xss(&["0"], "0").verdict, Verdict::Pass);
        assert_eq!(decide_xss(&["yes please"], "0").cause, Some(Cause::Invalid));
        let allowed = default_referrer_policies();
        assert_eq!(decide_referrer(&["no-referrer"], &allowed).verdict, Verdict::Pass);
        // Browsers use the last policy they know.
        assert_eq!(decide_referrer(&["unsafe-url, strict-origin-when-cross-origin"], &allowed).verdict, Verdict::Pass);
        assert_eq!(decide_referrer(&["strict-origin, unsafe-url"], &allowed).cause, Some(Cause::Insecure));
        // A no-break space is not HTTP white space: the token is not a policy a browser knows.
        assert_eq!(decide_referrer(&["unsafe-url", "no-referrer\u{a0}"], &allowed).cause, Some(Cause::Insecure));
        assert_eq!(decide_referrer(&["no-referrer, made-up"], &allowed).verdict, Verdict::Pass);
        assert_eq!(decide_referrer(&["made-up"], &allowed).cause, Some(Cause::Invalid));
        assert_eq!(decide_referrer(&[], &allowed).cause, Some(Cause::Missing));
    }

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

    #[test]
    fn urls_with_credentials_are_refused() {
        assert!(validate_url("https://user:pw@app.example/", &["https"]).is_err());
        assert!(validate_url("ftp://app.example/", &["http", "https"]).is_err());
        assert!(validate_url("https://app.example/health", &["http", "https"]).is_ok());
    }
}
