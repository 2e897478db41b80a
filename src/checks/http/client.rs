//! The one request a check makes: a reqwest client over rustls (the process's one crypto
//! provider, the system roots plus optional CA files), built from the check's [`RequestSpec`] on
//! first use and kept in its [`ClientSlot`] while its trust material stays the same (a replaced
//! CA file or system store builds a new one); `resolve` as `curl --resolve`; redirects followed
//! only up to the spec's limit; a request timeout; and the body read up to its byte cap. A
//! failure becomes a [`ProbeFailure`] whose cause comes from the error's type (a timeout, a name
//! that does not resolve, a refused connection, a TLS error) and whose reason says which step
//! failed.

use std::error::Error as StdError;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::request::{parse_resolve, RequestSpec};
use crate::checks::tls::{trust_for, Trust};
use crate::checks::{subject, CheckContext};
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

/// A client per check, kept between evaluations with the trust material it was built from
/// (building one sets up TLS); a change of that material builds a new one.
#[derive(Default)]
pub struct ClientSlot(Option<(Arc<Trust>, reqwest::Client)>);

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

    /// The check's client for `spec`'s trust and limits, for a kind that builds its own
    /// requests (a journey's steps with bodies) and sends them with [`exchange`].
    pub(in crate::checks) async fn client(
        &mut self,
        ctx: &CheckContext,
        spec: &RequestSpec,
    ) -> Result<reqwest::Client, ProbeFailure> {
        client(ctx, self, spec).await
    }
}

/// The check's client: the one kept in the slot while the trust material is the one it was built
/// from, or a new one built from `spec` (trust, `resolve`, redirect limit, timeouts) and kept.
async fn client(
    ctx: &CheckContext,
    slot: &mut ClientSlot,
    spec: &RequestSpec,
) -> Result<reqwest::Client, ProbeFailure> {
    let (system, files) = (spec.system_roots, spec.ca_files.clone());
    // Cheap while nothing changed: a small read of the CA files and a few stats (0.2 ms).
    let trust = ctx.blocking().run(move || trust_for(system, &files)).await??;
    if let Some((built_from, client)) = &slot.0 {
        if Arc::ptr_eq(built_from, &trust) {
            return Ok(client.clone());
        }
    }
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
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .dns_resolver(Arc::new(SystemResolver))
        .redirect(redirect)
        .timeout(spec.request_timeout)
        .connect_timeout(spec.request_timeout)
        // Every probe measures a fresh connection, as a new visitor would get.
        .pool_max_idle_per_host(0)
        .no_proxy()
        .user_agent(concat!("checklist-exporter/", env!("CARGO_PKG_VERSION")));
    if let Some(resolve) = &spec.resolve {
        // Validated at load; the host keeps SNI and `Host`, only the address is replaced.
        let address =
            parse_resolve(resolve).map_err(|why| ProbeFailure::new(Cause::Invalid, format!("resolve: {why}")))?;
        let url =
            reqwest::Url::parse(&spec.url).map_err(|err| ProbeFailure::new(Cause::Invalid, format!("url: {err}")))?;
        if let Some(host) = url.host_str() {
            builder = builder.resolve(host, address);
        }
    }
    let client =
        builder.build().map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot build an HTTP client: {err}")))?;
    slot.0 = Some((trust, client.clone()));
    Ok(client)
}

/// The system's resolver (getaddrinfo, as reqwest's default), with its failure as a type of
/// ours so that a name that does not resolve is told apart without reading messages.
struct SystemResolver;

/// A host name the system's resolver has no address for.
#[derive(Debug, thiserror::Error)]
#[error("{name} does not resolve: {source}")]
struct NameNotResolved {
    name: String,
    source: std::io::Error,
}

impl reqwest::dns::Resolve for SystemResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let name = name.as_str().to_string();
        Box::pin(async move {
            match tokio::net::lookup_host((name.clone(), 0)).await {
                Ok(addresses) => Ok(Box::new(addresses.collect::<Vec<_>>().into_iter()) as reqwest::dns::Addrs),
                Err(source) => Err(Box::new(NameNotResolved { name, source }) as Box<dyn StdError + Send + Sync>),
            }
        })
    }
}

/// What went wrong before the first byte of HTTP, from the error types in the chain: a TLS error
/// of rustls, a name that does not resolve, or the socket error of the connection.
#[derive(Debug, PartialEq)]
enum ConnectFault {
    /// The answer was not TLS at all (plain HTTP on an https port, say).
    NotTls,
    /// The certificate was refused.
    Certificate,
    /// Another TLS failure (an alert, a protocol mismatch).
    Tls,
    NameNotResolved,
    Refused,
    TimedOut,
    Other,
}

/// Every error of `err`'s source chain, looking inside `std::io::Error`s (whose `source()` skips
/// the error they wrap).
fn error_chain<'a>(err: &'a (dyn StdError + 'static)) -> Vec<&'a (dyn StdError + 'static)> {
    let mut chain = Vec::new();
    let mut next = Some(err);
    while let Some(current) = next {
        chain.push(current);
        next = match current.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn StdError + 'static)),
            None => current.source(),
        };
    }
    chain
}

fn connect_fault(err: &(dyn StdError + 'static)) -> ConnectFault {
    let chain = error_chain(err);
    if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return match tls {
            rustls::Error::InvalidMessage(_) => ConnectFault::NotTls,
            rustls::Error::InvalidCertificate(_) => ConnectFault::Certificate,
            _ => ConnectFault::Tls,
        };
    }
    if chain.iter().any(|e| e.is::<NameNotResolved>()) {
        return ConnectFault::NameNotResolved;
    }
    match chain.iter().find_map(|e| e.downcast_ref::<std::io::Error>()).map(std::io::Error::kind) {
        Some(std::io::ErrorKind::ConnectionRefused) => ConnectFault::Refused,
        Some(std::io::ErrorKind::TimedOut) => ConnectFault::TimedOut,
        _ => ConnectFault::Other,
    }
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
    let mut request = client.request(spec.method.clone(), &spec.url);
    for (name, value) in &spec.headers {
        request = request.header(*name, value);
    }
    exchange(request, spec).await
}

/// Sends a built request and reads the answer up to `spec`'s body cap; a failure's reason names
/// `spec.url` (which a journey sets to the step's URL as written, without captured values).
pub(in crate::checks) async fn exchange(
    request: reqwest::RequestBuilder,
    spec: &RequestSpec,
) -> Result<Answer, ProbeFailure> {
    let url = &spec.url;
    let started = Instant::now();
    let describe = |err: reqwest::Error| {
        let waited = format_duration(spec.request_timeout);
        if err.is_timeout() {
            ProbeFailure::new(Cause::Timeout, format!("{url} gave no complete answer within {waited}"))
        } else if err.is_redirect() {
            ProbeFailure::new(
                Cause::Invalid,
                format!("{url} redirects more than {} times (a loop?)", spec.max_redirects.unwrap_or(0)),
            )
        } else if err.is_connect() {
            // reqwest reports everything before the first byte of HTTP (DNS, TCP and TLS) as a
            // connect error; tell them apart, they mean different things to a person.
            let text = error_text(&err);
            match connect_fault(&err as &(dyn StdError + 'static)) {
                ConnectFault::NotTls => {
                    ProbeFailure::new(Cause::Io, format!("{url}: the server does not speak TLS on this port ({text})"))
                }
                ConnectFault::Certificate => {
                    ProbeFailure::new(Cause::Untrusted, format!("{url}: the TLS certificate is not accepted: {text}"))
                }
                ConnectFault::Tls => ProbeFailure::new(Cause::Io, format!("{url}: the TLS handshake failed: {text}")),
                ConnectFault::NameNotResolved => {
                    ProbeFailure::new(Cause::NotFound, format!("cannot connect to {url}: {text}"))
                }
                ConnectFault::Refused => ProbeFailure::new(Cause::Refused, format!("cannot connect to {url}: {text}")),
                ConnectFault::TimedOut => ProbeFailure::new(Cause::Timeout, format!("cannot connect to {url}: {text}")),
                ConnectFault::Other => {
                    ProbeFailure::new(Cause::Unreachable, format!("cannot connect to {url}: {text}"))
                }
            }
        } else {
            ProbeFailure::new(Cause::Io, format!("{url} did not give a valid HTTP answer: {}", error_text(&err)))
        }
    };
    let failure = |err: reqwest::Error| {
        // A connection that cannot be made is about the endpoint, whatever path is asked for;
        // a bad answer is about the URL.
        let subject = match err.is_connect().then(|| subject::endpoint_of_url(url)).flatten() {
            Some(endpoint) => endpoint,
            None => subject::url(url),
        };
        describe(err).about(subject)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An error as a connector reports one: a message wrapping `cause`.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Wrapped(#[source] Box<dyn StdError + Send + Sync>);

    fn io(kind: std::io::ErrorKind, inner: impl Into<Box<dyn StdError + Send + Sync>>) -> std::io::Error {
        std::io::Error::new(kind, inner)
    }

    #[test]
    fn connect_faults_come_from_the_error_types_in_the_chain() {
        let fault = |err: Wrapped| connect_fault(&err);
        let not_tls = rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType);
        assert_eq!(fault(Wrapped(Box::new(io(std::io::ErrorKind::InvalidData, not_tls)))), ConnectFault::NotTls);
        let certificate = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        assert_eq!(
            fault(Wrapped(Box::new(io(std::io::ErrorKind::InvalidData, certificate)))),
            ConnectFault::Certificate
        );
        let alert = rustls::Error::AlertReceived(rustls::AlertDescription::HandshakeFailure);
        assert_eq!(fault(Wrapped(Box::new(io(std::io::ErrorKind::InvalidData, alert)))), ConnectFault::Tls);
        let unresolved = NameNotResolved {
            name: "app.test.invalid".into(),
            source: io(std::io::ErrorKind::Other, "failed to lookup address information"),
        };
        assert_eq!(fault(Wrapped(Box::new(unresolved))), ConnectFault::NameNotResolved);
        let refused = io(std::io::ErrorKind::ConnectionRefused, "tcp connect error");
        assert_eq!(fault(Wrapped(Box::new(refused))), ConnectFault::Refused);
        assert_eq!(fault(Wrapped(Box::new(io(std::io::ErrorKind::TimedOut, "slow")))), ConnectFault::TimedOut);
        // The words of a message do not decide: a "refused" in the text of another error is not a refusal.
        assert_eq!(fault(Wrapped("connection refused, they said".into())), ConnectFault::Other);
    }
}
