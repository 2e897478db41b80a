//! `POST /api/v1/attestations`: a CI pipeline that did the work (a k6 run, a pip-audit job)
//! records the attestation of an item instead of a person typing `attest`.
//!
//! This layer reads and checks the request (every field, with an error naming it) and decides
//! who may ask; recording needs the checks registry, which the web side may not use, so the
//! request is handed over a channel to the commands layer (the daemon), which records it as the
//! `attest` command does, appends it to the audit log and runs the item's check at once.
//!
//! Off unless `--web.enable-attestation-api`. Basic auth and the rate limit of
//! `--web.config.file` apply as to every endpoint; without basic auth only clients on loopback
//! (a CI runner on the same host, or a local reverse proxy that authenticates) may attest.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use hyper::StatusCode;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

/// The longest `by`, `note` and `evidence_url` accepted: enough for a name, a sentence and a
/// CI run's address, and a bound on what the attestation file and the audit log grow by.
const MAX_BY_CHARS: usize = 128;
const MAX_NOTE_CHARS: usize = 1024;
const MAX_URL_CHARS: usize = 2048;
/// The largest body read; the fields above fit well within it.
const MAX_BODY_BYTES: usize = 16 * 1024;

/// A checked request to attest an item.
#[derive(Clone, Debug, PartialEq)]
pub struct AttestationRequest {
    pub item: String,
    /// The environment whose instance of the item is attested (`[environments.NAME]`).
    pub environment: Option<String>,
    pub by: String,
    pub note: Option<String>,
    /// As written (`7d`), and parsed.
    pub valid_for: Option<(String, Duration)>,
    pub evidence_url: Option<String>,
}

/// The answer to a recorded attestation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recorded {
    pub item: String,
    /// The environments the attestation serves: the one named, or every environment whose
    /// instance of the item reads the same attestation file. Absent without environments.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub environments: Vec<String>,
    pub by: String,
    pub at: String,
    pub valid_until: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub evidence_url: Option<String>,
}

/// Why a request was refused: the status, the field at fault (when one is), and the message.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Refusal {
    #[serde(skip)]
    pub status: StatusCode,
    pub error: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'static str>,
}

impl Refusal {
    pub fn new(status: StatusCode, field: Option<&'static str>, error: impl Into<String>) -> Self {
        Refusal { status, error: error.into(), field }
    }

    fn bad(field: &'static str, error: impl Into<String>) -> Self {
        Refusal::new(StatusCode::BAD_REQUEST, Some(field), error)
    }
}

/// A request handed to the daemon, with where its answer goes.
#[derive(Debug)]
pub struct AttestationCall {
    pub request: AttestationRequest,
    pub answer: oneshot::Sender<Result<Recorded, Refusal>>,
}

pub type AttestationSender = mpsc::Sender<AttestationCall>;

/// Answers one `POST /api/v1/attestations`: the status and a JSON body. `recorder` is `None`
/// while the API is off; `auth_configured` says whether basic auth already let the request in.
pub async fn handle(
    recorder: Option<&AttestationSender>,
    auth_configured: bool,
    peer: SocketAddr,
    body: Incoming,
) -> (StatusCode, Vec<u8>) {
    match attest(recorder, auth_configured, peer, body).await {
        Ok(recorded) => (StatusCode::CREATED, to_json(&recorded)),
        Err(refusal) => (refusal.status, to_json(&refusal)),
    }
}

async fn attest(
    recorder: Option<&AttestationSender>,
    auth_configured: bool,
    peer: SocketAddr,
    body: Incoming,
) -> Result<Recorded, Refusal> {
    let Some(recorder) = recorder else {
        return Err(Refusal::new(
            StatusCode::FORBIDDEN,
            None,
            "the attestation API is disabled; start the daemon with --web.enable-attestation-api to use it",
        ));
    };
    may_attest(auth_configured, peer)?;
    let bytes = read_body(body).await?;
    let request = parse_request(&bytes)?;
    let (answer, answered) = oneshot::channel();
    let shutting_down = || Refusal::new(StatusCode::SERVICE_UNAVAILABLE, None, "shutting down");
    recorder.send(AttestationCall { request, answer }).await.map_err(|_| shutting_down())?;
    answered.await.map_err(|_| shutting_down())?
}

/// Without basic auth anyone who reaches the port could make an item pass, so only a client on
/// this host may attest then.
fn may_attest(auth_configured: bool, peer: SocketAddr) -> Result<(), Refusal> {
    if auth_configured || peer.ip().to_canonical().is_loopback() {
        return Ok(());
    }
    Err(Refusal::new(
        StatusCode::FORBIDDEN,
        None,
        "attestations from other hosts need basic auth: set basic_auth_users in --web.config.file",
    ))
}

async fn read_body(body: Incoming) -> Result<Bytes, Refusal> {
    match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => Err(Refusal::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            None,
            format!("the body is larger than {MAX_BODY_BYTES} bytes"),
        )),
        Err(err) => Err(Refusal::new(StatusCode::BAD_REQUEST, None, format!("cannot read the body: {err}"))),
    }
}

/// Reads `{item, environment, by, note, valid_for, evidence_url}`; the error names the first bad field.
pub fn parse_request(bytes: &[u8]) -> Result<AttestationRequest, Refusal> {
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|err| Refusal::new(StatusCode::BAD_REQUEST, None, format!("the body is not JSON: {err}")))?;
    let serde_json::Value::Object(fields) = value else {
        return Err(Refusal::new(StatusCode::BAD_REQUEST, None, "the body must be a JSON object"));
    };
    const KNOWN: [&str; 6] = ["item", "environment", "by", "note", "valid_for", "evidence_url"];
    if let Some(unknown) = fields.keys().find(|key| !KNOWN.contains(&key.as_str())) {
        return Err(Refusal::new(
            StatusCode::BAD_REQUEST,
            None,
            format!("unknown field `{unknown}`; the fields are {}", KNOWN.join(", ")),
        ));
    }
    let text = |field: &'static str, limit: usize| -> Result<Option<String>, Refusal> {
        match fields.get(field) {
            None | Some(serde_json::Value::Null) => Ok(None),
            Some(serde_json::Value::String(text)) if text.trim().is_empty() => Err(Refusal::bad(field, "is empty")),
            Some(serde_json::Value::String(text)) if text.chars().count() > limit => {
                Err(Refusal::bad(field, format!("is longer than {limit} characters")))
            }
            Some(serde_json::Value::String(text)) if text.chars().any(char::is_control) => {
                Err(Refusal::bad(field, "holds control characters"))
            }
            Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
            Some(_) => Err(Refusal::bad(field, "must be a string")),
        }
    };
    let required = |field: &'static str, limit: usize| -> Result<String, Refusal> {
        text(field, limit)?.ok_or_else(|| Refusal::bad(field, "is missing"))
    };
    let item = required("item", 128)?;
    let environment = text("environment", 128)?;
    let by = required("by", MAX_BY_CHARS)?;
    let note = text("note", MAX_NOTE_CHARS)?;
    let valid_for = match text("valid_for", 32)? {
        None => None,
        Some(written) => {
            let parsed = crate::support::units::parse_duration(&written)
                .map_err(|err| Refusal::bad("valid_for", format!("`{written}` is not a duration: {err}")))?;
            if parsed.is_zero() {
                return Err(Refusal::bad("valid_for", "must be longer than 0s"));
            }
            Some((written, parsed))
        }
    };
    let evidence_url = text("evidence_url", MAX_URL_CHARS)?;
    if let Some(url) = &evidence_url {
        check_evidence_url(url).map_err(|why| Refusal::bad("evidence_url", why))?;
    }
    Ok(AttestationRequest { item, environment, by, note, valid_for, evidence_url })
}

/// An `http(s)` address without user-info: it is shown on the page and in reports, so it must
/// not carry a password (a CI token in `https://user:token@…`).
fn check_evidence_url(url: &str) -> Result<(), String> {
    let Some(rest) = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://")) else {
        return Err("must be an http:// or https:// address".to_string());
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.is_empty() {
        return Err("has no host".to_string());
    }
    if authority.contains('@') {
        return Err("must not carry a user name or password; it is shown on the page and in reports".to_string());
    }
    if url.chars().any(char::is_whitespace) {
        return Err("holds white space".to_string());
    }
    // Pre-signed links and CI job tokens ride in the query (`X-Amz-Signature=`, `job_token=`),
    // and the link is shown on the page, in reports and in a metric label.
    if url.contains('?') {
        return Err("must not carry a query string (signed links and job tokens live there); it is shown on the page and in reports".to_string());
    }
    Ok(())
}

fn to_json(value: &impl Serialize) -> Vec<u8> {
    let mut json = serde_json::to_vec_pretty(value).unwrap_or_else(|_| b"{}".to_vec());
    json.push(b'\n');
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_evidence_url_with_a_query_string_is_refused() {
        assert!(check_evidence_url("https://ci.example.org/runs/1").is_ok());
        let refused = check_evidence_url("https://bucket.example.org/report?X-Amz-Signature=abc").unwrap_err();
        assert!(refused.contains("query string"), "{refused}");
    }

    fn refused(body: &str) -> (Option<&'static str>, String) {
        let refusal = parse_request(body.as_bytes()).unwrap_err();
        assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
        (refusal.field, refusal.error)
    }

    #[test]
    fn a_full_request_is_read() {
        let request = parse_request(
            br#"{"item": "ops.load_test", "by": "ci", "note": "k6 p95 180ms", "valid_for": "7d",
                 "evidence_url": "https://github.com/o/r/actions/runs/1"}"#,
        )
        .unwrap();
        assert_eq!(request.item, "ops.load_test");
        assert_eq!(request.environment, None);
        assert_eq!(request.valid_for, Some(("7d".to_string(), Duration::from_secs(7 * 86400))));
        assert_eq!(request.evidence_url.as_deref(), Some("https://github.com/o/r/actions/runs/1"));
    }

    #[test]
    fn without_basic_auth_only_loopback_clients_may_attest() {
        let peer = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert!(may_attest(false, peer("127.0.0.1:5000")).is_ok());
        assert!(may_attest(false, peer("[::ffff:127.0.0.1]:5000")).is_ok());
        assert!(may_attest(false, peer("[::1]:5000")).is_ok());
        assert_eq!(may_attest(false, peer("192.0.2.7:5000")).unwrap_err().status, StatusCode::FORBIDDEN);
        assert!(may_attest(true, peer("192.0.2.7:5000")).is_ok());
    }

    #[test]
    fn each_bad_field_is_named() {
        assert_eq!(refused(r#"{"by": "ci"}"#), (Some("item"), "is missing".into()));
        assert_eq!(refused(r#"{"item": "a", "by": " "}"#), (Some("by"), "is empty".into()));
        assert_eq!(refused(r#"{"item": "a", "by": 3}"#), (Some("by"), "must be a string".into()));
        assert_eq!(
            refused(r#"{"item": "a", "environment": "", "by": "ci"}"#),
            (Some("environment"), "is empty".into())
        );
        let (field, error) = refused(r#"{"item": "a", "by": "ci", "valid_for": "a week"}"#);
        assert_eq!(field, Some("valid_for"));
        assert!(error.starts_with("`a week` is not a duration"), "{error}");
        let (field, error) = refused(r#"{"item": "a", "by": "ci", "evidence_url": "https://ci:tok@ci.example/1"}"#);
        assert_eq!((field, error.starts_with("must not carry a user name")), (Some("evidence_url"), true));
        assert_eq!(
            refused(r#"{"item": "a", "by": "ci", "evidence_url": "ftp://x"}"#).1,
            "must be an http:// or https:// address"
        );
        assert_eq!(
            refused(r#"{"item": "a", "by": "ci", "validity": "7d"}"#),
            (
                None,
                "unknown field `validity`; the fields are item, environment, by, note, valid_for, evidence_url".into()
            )
        );
        assert!(refused(r#"{"item": "a""#).1.starts_with("the body is not JSON"));
    }
}
