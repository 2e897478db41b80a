//! The one request a check makes: a reqwest client over rustls (the process's one crypto
//! provider, the system roots plus optional CA files), built from the check's [`RequestSpec`] on
//! first use and kept in its [`ClientSlot`]; redirects followed only up to the spec's limit; a
//! request timeout; and the body read up to its byte cap. A failure becomes a [`ProbeFailure`]
//! whose reason says which step failed (connect, TLS, timeout, redirects, HTTP).

use std::time::{Duration, Instant};

use super::request::RequestSpec;
use crate::checks::tls::trust_for;
use crate::checks::CheckContext;
use crate::model::{Cause, ProbeFailure};
use crate::support::tls::client_provider;
use crate::support::units::format_duration;

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

/// A client per check, kept between evaluations (building one parses the trust store).
#[derive(Default)]
pub struct ClientSlot(Option<reqwest::Client>);

/// Keeps the shared memory type names distinct in debug output.
impl std::fmt::Debug for ClientSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "ClientSlot(ready)" } else { "ClientSlot(empty)" })
    }
}

impl ClientSlot {
    /// Makes `spec`'s request with this check's client, built on first use: what every
    /// HTTP-based kind does to get its answer.
    pub(in crate::checks) async fn fetch(
        &mut self,
        ctx: &CheckContext,
        spec: &RequestSpec,
    ) -> Result<Answer, ProbeFailure> {
        let client = client(ctx, self, spec).await?;
        send(&client, spec).await
    }
}

/// The check's client: the one kept in the slot, or a new one built from `spec` (trust,
/// redirect limit, timeouts) and kept there.
async fn client(
    ctx: &CheckContext,
    slot: &mut ClientSlot,
    spec: &RequestSpec,
) -> Result<reqwest::Client, ProbeFailure> {
    if let Some(client) = &slot.0 {
        return Ok(client.clone());
    }
    let (system, files) = (spec.system_roots, spec.ca_files.clone());
    let trust = ctx.blocking.run(move || trust_for(system, &files)).await??;
    let mut tls = rustls::ClientConfig::builder_with_provider(client_provider())
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
async fn send(client: &reqwest::Client, spec: &RequestSpec) -> Result<Answer, ProbeFailure> {
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

/// An answer as the decision tests write one: header names in any case.
#[cfg(test)]
pub(super) fn answer(status: u16, headers: &[(&str, &str)], body: &str) -> Answer {
    Answer {
        status,
        headers: headers.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect(),
        body: body.as_bytes().to_vec(),
        truncated: false,
        elapsed: Duration::from_millis(3),
    }
}
