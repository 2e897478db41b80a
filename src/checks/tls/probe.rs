//! The network side of `kind = "tls"`: one rustls handshake that accepts any certificate (the
//! capturing verifier policy) so that an expired or untrusted chain is still seen, webpki
//! verification of the captured chain afterwards, and the legacy TLS 1.0/1.1 probes that send a
//! [`super::hello`] ClientHello. What they see is a [`TlsObservation`], judged by
//! [`TlsCheck::decide`].

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified};
use rustls::client::verify_server_cert_signed_by_trust_anchor;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::ParsedCertificate;
use rustls::CertificateError;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::cert::{parse_cert, CertFacts};
use super::grade::{hsts_max_age, SuiteClass};
use super::hello::{self, HelloAnswer, LegacyVersion};
use super::trust::Trust;
use super::TlsCheck;
use crate::model::{Cause, ProbeFailure};
use crate::support::tls::{client_provider, ServerCert, ServerPolicy, Verifier};
use crate::support::units::format_duration;

/// A legacy-probe answer is decided within the first record header; never read more than this.
const MAX_HELLO_ANSWER_BYTES: usize = 64;

/// What one run of a TLS check saw.
#[derive(Clone, Debug)]
pub struct TlsObservation {
    pub version: String,
    pub chain: Vec<CertFacts>,
    /// The chain alone: a signature path to a trust anchor within every certificate's dates.
    /// The name is `covers_names`'s business.
    pub verification: Verification,
    /// Why the server's handshake signature did not verify, if it did not (a key this client
    /// cannot check, such as 1024-bit RSA, or a key that does not match the certificate).
    pub handshake_signature: Option<String>,
    pub root_subjects: HashSet<Vec<u8>>,
    pub legacy: Vec<(LegacyVersion, LegacyResult)>,
    /// The `grade` aspect's extra probes, made only when an item decides `grade`.
    pub grade: Option<GradeProbes>,
}

/// What the `grade` aspect's extra connections saw.
#[derive(Clone, Debug)]
pub struct GradeProbes {
    pub ssl3: LegacyResult,
    pub tls12: LegacyResult,
    /// The version the suite classes were offered at: the newest of TLS 1.2, 1.1, 1.0 the
    /// server accepts; `None` for a server that speaks only TLS 1.3.
    pub classes_at: Option<LegacyVersion>,
    pub classes: Vec<(SuiteClass, LegacyResult)>,
    /// The HSTS max-age on `GET /`, or why there is none.
    pub hsts: Result<u64, String>,
    /// Connections made for the grade, HSTS request included.
    pub connections: u32,
}

/// Cap on the response head read for HSTS.
const MAX_HEAD_BYTES: usize = 16 * 1024;

/// The result of verifying the chain (not the name) with webpki.
#[derive(Clone, Debug, PartialEq)]
pub enum Verification {
    Trusted,
    Expired,
    NotYetValid,
    /// No path to a trust anchor: the issuer is unknown (or the certificate is self-signed).
    UnknownIssuer,
    Untrusted(String),
}

impl Verification {
    pub fn from_error(err: &rustls::Error) -> Verification {
        match err {
            rustls::Error::InvalidCertificate(cert_err) => match cert_err {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => Verification::Expired,
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    Verification::NotYetValid
                }
                CertificateError::UnknownIssuer => Verification::UnknownIssuer,
                CertificateError::UnsupportedSignatureAlgorithmContext { .. }
                | CertificateError::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => {
                    Verification::Untrusted("a signature in the chain uses an algorithm that is not accepted".into())
                }
                CertificateError::BadSignature => Verification::Untrusted("a signature in the chain is invalid".into()),
                other => Verification::Untrusted(format!("{other:?}")),
            },
            other => Verification::Untrusted(other.to_string()),
        }
    }
}

/// Verifies the chain alone: a signature path from the leaf through the sent and configured
/// intermediates to a trusted root, every certificate within its dates now.
fn verify_chain(leaf: &CertificateDer<'_>, intermediates: &[CertificateDer<'_>], trust: &Trust) -> Verification {
    let parsed = match ParsedCertificate::try_from(leaf) {
        Ok(parsed) => parsed,
        Err(err) => return Verification::from_error(&err),
    };
    let algorithms = client_provider().signature_verification_algorithms.all;
    match verify_server_cert_signed_by_trust_anchor(&parsed, &trust.roots, intermediates, UnixTime::now(), algorithms) {
        Ok(()) => Verification::Trusted,
        Err(err) => Verification::from_error(&err),
    }
}

/// One legacy-version probe: the classified answer, or why it could not be made.
pub type LegacyResult = Result<HelloAnswer, String>;

/// Why a TLS check saw no certificate: the handshake itself failed (the server answered, but
/// not with TLS 1.2/1.3), or anything else.
pub(super) enum Unobserved {
    Handshake(ProbeFailure),
    Other(ProbeFailure),
}

impl From<ProbeFailure> for Unobserved {
    fn from(failure: ProbeFailure) -> Self {
        Unobserved::Other(failure)
    }
}

impl TlsCheck {
    async fn connect(&self) -> Result<TcpStream, ProbeFailure> {
        let address = &self.address;
        match tokio::time::timeout(self.io_timeout.0, TcpStream::connect(address)).await {
            Ok(Ok(stream)) => Ok(stream),
            Ok(Err(err)) => Err(ProbeFailure::new(Cause::from_io(&err), format!("cannot connect to {address}: {err}"))),
            Err(_) => Err(ProbeFailure::new(
                Cause::Timeout,
                format!("no TCP connection to {address} within {}", format_duration(self.io_timeout.0)),
            )),
        }
    }

    pub(super) async fn observe(&self, trust: &Trust) -> Result<TlsObservation, Unobserved> {
        let name = self.server_name();
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| ProbeFailure::new(Cause::Invalid, format!("`{name}` is not a server name")))?;
        let verifier = Verifier::new(CapturingVerifier { signature_error: Mutex::new(None) }, &client_provider());
        let mut config = rustls::ClientConfig::builder_with_provider(client_provider())
            .with_safe_default_protocol_versions()
            .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot configure TLS: {err}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
        // Every probe is a full handshake with a config of its own, which could never resume a
        // session: no session cache (rustls' default reserves room for 256 servers per config).
        config.resumption = rustls::client::Resumption::disabled();
        let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
        let stream = self.connect().await?;
        let address = &self.address;
        let mut tls =
            match tokio::time::timeout(self.io_timeout.0, connector.connect(server_name.clone(), stream)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(err)) => {
                    return Err(Unobserved::Handshake(ProbeFailure::new(
                        Cause::Io,
                        format!("TLS handshake with {address} failed: {}", describe_handshake_error(&err)),
                    )))
                }
                Err(_) => {
                    return Err(ProbeFailure::new(
                        Cause::Timeout,
                        format!("no TLS handshake with {address} within {}", format_duration(self.io_timeout.0)),
                    )
                    .into())
                }
            };
        let (_, connection) = tls.get_ref();
        let version = match connection.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLS 1.3".to_string(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLS 1.2".to_string(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_string(),
        };
        let ders: Vec<CertificateDer<'static>> = connection.peer_certificates().map(<[_]>::to_vec).unwrap_or_default();
        // Closing politely is a courtesy; the verdicts do not depend on it.
        let _ = tokio::time::timeout(Duration::from_millis(200), tls.shutdown()).await;
        drop(tls);
        let Some((leaf_der, sent_intermediates)) = ders.split_first() else {
            return Err(ProbeFailure::new(Cause::Missing, format!("{address} sent no certificate")).into());
        };
        let mut chain = Vec::with_capacity(ders.len());
        for (position, der) in ders.iter().enumerate() {
            let facts = parse_cert(der).map_err(|why| {
                ProbeFailure::new(Cause::Invalid, format!("certificate {position} sent by {address}: {why}"))
            })?;
            chain.push(facts);
        }
        let mut intermediates = sent_intermediates.to_vec();
        intermediates.extend(trust.extra_intermediates.iter().cloned());
        let handshake_signature = verifier.policy().signature_error.lock().ok().and_then(|slot| slot.clone());
        let verification = verify_chain(leaf_der, &intermediates, trust);
        let mut legacy = Vec::with_capacity(2);
        for version in LegacyVersion::ALL {
            legacy.push((version, self.probe_legacy(version, &name).await));
        }
        let grade = if self.grade_wanted.get() {
            Some(self.probe_grade(&name, &version, &legacy, &connector, server_name).await)
        } else {
            None
        };
        Ok(TlsObservation {
            version,
            chain,
            verification,
            handshake_signature,
            root_subjects: trust.root_subjects.clone(),
            legacy,
            grade,
        })
    }

    /// The grade's extra connections: SSL 3.0 and TLS 1.2 hellos, one hello per suite class at
    /// the newest pre-1.3 version the server accepts, and one `GET /` for HSTS.
    async fn probe_grade(
        &self,
        name: &str,
        negotiated: &str,
        legacy: &[(LegacyVersion, LegacyResult)],
        connector: &tokio_rustls::TlsConnector,
        server_name: ServerName<'static>,
    ) -> GradeProbes {
        let mut connections = 0;
        let ssl3 = self.probe_legacy(LegacyVersion::Ssl30, name).await;
        let tls12 = self.probe_hello(LegacyVersion::Tls12, &SuiteClass::sound_tls12_suites(), name).await;
        connections += 2;
        let accepted = |result: &LegacyResult| matches!(result, Ok(HelloAnswer::Accepted));
        let classes_at = if accepted(&tls12) {
            Some(LegacyVersion::Tls12)
        } else {
            legacy.iter().rev().find(|(_, result)| accepted(result)).map(|(version, _)| *version)
        };
        let mut classes = Vec::new();
        if let Some(version) = classes_at {
            let mut wanted = vec![SuiteClass::Insecure, SuiteClass::Rc4, SuiteClass::TripleDes, SuiteClass::Bits128];
            // TLS 1.3 always has 256-bit AEAD suites; the rustls handshake itself was forward
            // secret and AEAD, so only a server without it needs those classes probed.
            if negotiated != "TLS 1.3" {
                wanted.push(SuiteClass::Bits256);
            }
            for class in wanted {
                let result = self.probe_hello(version, class.suites(), name).await;
                connections += 1;
                classes.push((class, result));
            }
        }
        let hsts = self.fetch_hsts(name, connector, server_name).await;
        connections += 1;
        GradeProbes { ssl3, tls12, classes_at, classes, hsts, connections }
    }

    /// One `GET /` over TLS, for the `Strict-Transport-Security` header of the answer.
    async fn fetch_hsts(
        &self,
        name: &str,
        connector: &tokio_rustls::TlsConnector,
        server_name: ServerName<'static>,
    ) -> Result<u64, String> {
        let limit = self.io_timeout.0;
        let within = format!("within {}", format_duration(limit));
        let stream = self.connect().await.map_err(|failure| failure.reason)?;
        let mut tls = tokio::time::timeout(limit, connector.connect(server_name, stream))
            .await
            .map_err(|_| format!("no TLS handshake for the HSTS request {within}"))?
            .map_err(|err| format!("the HSTS request's handshake failed: {err}"))?;
        let request =
            format!("GET / HTTP/1.1\r\nHost: {name}\r\nUser-Agent: checklist-exporter\r\nConnection: close\r\n\r\n");
        tokio::time::timeout(limit, tls.write_all(request.as_bytes()))
            .await
            .map_err(|_| format!("could not send GET / {within}"))?
            .map_err(|err| format!("could not send GET /: {err}"))?;
        let mut head = Vec::new();
        let mut buffer = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < MAX_HEAD_BYTES {
            match tokio::time::timeout(limit, tls.read(&mut buffer)).await {
                Err(_) => return Err(format!("no answer to GET / {within}")),
                Ok(Ok(0)) => break,
                Ok(Ok(n)) => head.extend_from_slice(&buffer[..n]),
                Ok(Err(err)) if head.is_empty() => return Err(format!("no answer to GET /: {err}")),
                Ok(Err(_)) => break,
            }
        }
        let head = String::from_utf8_lossy(&head);
        let mut lines = head.split("\r\n");
        let status = lines.next().unwrap_or_default();
        if !status.starts_with("HTTP/") {
            return Err("the answer to GET / is not HTTP".into());
        }
        let value = lines
            .take_while(|line| !line.is_empty())
            .filter_map(|line| line.split_once(':'))
            .find(|(header, _)| header.trim().eq_ignore_ascii_case("strict-transport-security"))
            .map(|(_, value)| value.trim().to_string());
        match value {
            Some(value) => hsts_max_age(&value),
            None => Err(format!("no Strict-Transport-Security header on GET / (`{}`)", status.trim())),
        }
    }

    /// Sends a ClientHello for an old version and reads just enough of the answer to classify it.
    pub(super) async fn probe_legacy(&self, version: LegacyVersion, name: &str) -> LegacyResult {
        let sni = if name.parse::<IpAddr>().is_ok() { None } else { Some(name) };
        self.send_hello(version, hello::client_hello(version, sni, rand::random())).await
    }

    /// A hello for `version` offering only `suites`: accepted when the server picks one of them.
    async fn probe_hello(&self, version: LegacyVersion, suites: &[u16], name: &str) -> LegacyResult {
        let sni = if name.parse::<IpAddr>().is_ok() { None } else { Some(name) };
        self.send_hello(version, hello::client_hello_offering(version, suites, sni, rand::random())).await
    }

    async fn send_hello(&self, version: LegacyVersion, hello: Vec<u8>) -> LegacyResult {
        let mut stream = self.connect().await.map_err(|failure| failure.reason)?;
        let limit = self.io_timeout.0;
        tokio::time::timeout(limit, stream.write_all(&hello))
            .await
            .map_err(|_| format!("could not send the hello within {}", format_duration(limit)))?
            .map_err(|err| format!("could not send the hello: {err}"))?;
        let mut answer = Vec::with_capacity(MAX_HELLO_ANSWER_BYTES);
        let mut buffer = [0u8; MAX_HELLO_ANSWER_BYTES];
        loop {
            let room = MAX_HELLO_ANSWER_BYTES - answer.len();
            let read = tokio::time::timeout(limit, stream.read(&mut buffer[..room])).await;
            let closed = match read {
                Err(_) => return Err(format!("no answer within {}", format_duration(limit))),
                Ok(Ok(0)) => true,
                Ok(Ok(n)) => {
                    answer.extend_from_slice(&buffer[..n]);
                    false
                }
                // A reset right after the hello is how some servers refuse.
                Ok(Err(err)) if err.kind() == std::io::ErrorKind::ConnectionReset => true,
                Ok(Err(err)) => return Err(err.to_string()),
            };
            match hello::classify(version, &answer, closed || answer.len() >= MAX_HELLO_ANSWER_BYTES) {
                HelloAnswer::Incomplete if !closed && answer.len() < MAX_HELLO_ANSWER_BYTES => continue,
                decided => return Ok(decided),
            }
        }
    }
}

/// Accepts any certificate during the handshake so that its facts can be judged afterwards, but
/// still checks the handshake signature (recording a failure rather than aborting, so that a
/// weak key gets its `strength` verdict).
#[derive(Debug)]
struct CapturingVerifier {
    signature_error: Mutex<Option<String>>,
}

impl ServerPolicy for CapturingVerifier {
    fn verify(&self, _presented: &ServerCert<'_>) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn signature_checked(
        &self,
        result: Result<HandshakeSignatureValid, rustls::Error>,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if let Err(err) = result {
            if let Ok(mut slot) = self.signature_error.lock() {
                *slot = Some(err.to_string());
            }
        }
        Ok(HandshakeSignatureValid::assertion())
    }
}

/// A handshake error in words: the common ones say what the server probably is.
fn describe_handshake_error(err: &std::io::Error) -> String {
    let inner = err.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>());
    match inner {
        Some(rustls::Error::InvalidMessage(_)) => {
            format!("the server does not speak TLS on this port ({err})")
        }
        Some(rustls::Error::AlertReceived(alert)) => format!("the server refused with alert {alert:?}"),
        _ if err.kind() == std::io::ErrorKind::UnexpectedEof => "the server closed the connection".to_string(),
        _ => err.to_string(),
    }
}
