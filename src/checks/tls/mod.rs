//! TLS endpoints and certificate files.
//!
//! `kind = "tls"` makes one TLS handshake with rustls (TLS 1.2/1.3) and decides several aspects
//! from what the server sent: whether the chain is trusted and valid now, whether the server sends
//! its intermediates itself, whether the leaf covers every wanted name, whether expiry is far
//! enough, and key and signature strength. Two more connections send hand-built TLS 1.0 and 1.1
//! ClientHellos ([`hello`]) to see whether the server still accepts them.
//!
//! The handshake accepts any certificate so that an expired or untrusted one still yields its
//! dates (exported as gauges); trust is decided afterwards with webpki over the captured chain.
//!
//! `kind = "tls_cert_file"` reads a PEM bundle (and optionally its key) from disk and decides
//! validity, expiry, names, key match, key file permissions and readability by a service user.
//!
//! Every decision is a pure function of parsed facts ([`CertFacts`]), tested below.

pub mod hello;

use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, RootCertStore};
use serde::Deserialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use self::hello::{HelloAnswer, LegacyVersion};
use super::{check_ratio, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample};
use crate::support::tls::{ServerPolicy, Verifier};
use crate::support::units::{format_duration, format_percent, HumanDuration};

pub static TLS_VERSION_INFO: MetricFamily = MetricFamily {
    name: "checklist_tls_version_info",
    help: "The TLS version the last handshake negotiated (1 for the version in the label).",
    kind: MetricKind::Gauge,
};
pub static TLS_CERT_NOT_BEFORE: MetricFamily = MetricFamily {
    name: "checklist_tls_cert_not_before_timestamp_seconds",
    help: "NotBefore of the leaf certificate, as a Unix timestamp; exported even when verification fails.",
    kind: MetricKind::Gauge,
};
pub static TLS_CERT_NOT_AFTER: MetricFamily = MetricFamily {
    name: "checklist_tls_cert_not_after_timestamp_seconds",
    help: "NotAfter of the leaf certificate, as a Unix timestamp; exported even when verification fails.",
    kind: MetricKind::Gauge,
};
pub static TLS_CHAIN_EARLIEST_NOT_AFTER: MetricFamily = MetricFamily {
    name: "checklist_tls_chain_earliest_not_after_timestamp_seconds",
    help: "The earliest NotAfter of every certificate in the chain, as a Unix timestamp.",
    kind: MetricKind::Gauge,
};

const DEFAULT_MIN_RSA_BITS: u32 = 2048;
const DEFAULT_MIN_EC_BITS: u32 = 256;
/// A legacy-probe answer is decided within the first record header; never read more than this.
const MAX_HELLO_ANSWER_BYTES: usize = 64;

/// The one crypto provider of the process (aws-lc-rs, as reqwest's rustls feature brings).
pub(crate) fn provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(rustls::crypto::aws_lc_rs::default_provider())).clone()
}

// ------------------------------------------------------------------------------------------
// Parsed certificate facts

/// Public key algorithm and size of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFacts {
    Rsa(u32),
    Ec(u32),
    Ed25519,
    Other(String),
}

impl KeyFacts {
    fn describe(&self) -> String {
        match self {
            KeyFacts::Rsa(bits) => format!("RSA {bits} bits"),
            KeyFacts::Ec(bits) => format!("EC {bits} bits"),
            KeyFacts::Ed25519 => "Ed25519".into(),
            KeyFacts::Other(oid) => format!("key algorithm {oid}"),
        }
    }
}

/// What the decisions need from one certificate.
#[derive(Clone, Debug, PartialEq)]
pub struct CertFacts {
    pub subject: String,
    pub subject_raw: Vec<u8>,
    pub issuer_raw: Vec<u8>,
    pub not_before: i64,
    pub not_after: i64,
    pub dns_names: Vec<String>,
    pub ip_addresses: Vec<IpAddr>,
    /// Whether the certificate carries a subjectAltName extension at all.
    pub has_san: bool,
    pub key: KeyFacts,
    /// The signature algorithm by name (`sha256WithRSAEncryption`) or dotted OID.
    pub signature: String,
    pub weak_signature: bool,
    /// The raw SubjectPublicKeyInfo, to match a private key against.
    pub spki: Vec<u8>,
}

impl CertFacts {
    pub fn self_signed(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }
}

/// Parses one DER certificate.
pub fn parse_cert(der: &[u8]) -> Result<CertFacts, String> {
    use x509_parser::extensions::GeneralName;
    use x509_parser::public_key::PublicKey;
    let (_, cert) =
        x509_parser::parse_x509_certificate(der).map_err(|err| format!("not an X.509 certificate: {err}"))?;
    let mut dns_names = Vec::new();
    let mut ip_addresses = Vec::new();
    let san = cert.subject_alternative_name().map_err(|err| format!("malformed subjectAltName: {err}"))?;
    let has_san = san.is_some();
    if let Some(san) = san {
        for name in &san.value.general_names {
            match name {
                GeneralName::DNSName(dns) => dns_names.push(dns.to_string()),
                GeneralName::IPAddress(bytes) => {
                    if let Ok(octets) = <[u8; 4]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(octets));
                    } else if let Ok(octets) = <[u8; 16]>::try_from(*bytes) {
                        ip_addresses.push(IpAddr::from(octets));
                    }
                }
                _ => {}
            }
        }
    }
    let spki = cert.public_key();
    let algorithm = spki.algorithm.algorithm.to_id_string();
    let key = match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => KeyFacts::Rsa(rsa.key_size() as u32),
        Ok(PublicKey::EC(point)) => KeyFacts::Ec(point.key_size() as u32),
        _ if algorithm == "1.3.101.112" => KeyFacts::Ed25519,
        _ => KeyFacts::Other(algorithm),
    };
    let signature_oid = cert.signature_algorithm.algorithm.to_id_string();
    let (signature, weak_signature) = signature_name(&signature_oid);
    let subject = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|cn| cn.as_str().ok())
        .map(str::to_string)
        .unwrap_or_else(|| cert.subject().to_string());
    Ok(CertFacts {
        subject,
        subject_raw: cert.subject().as_raw().to_vec(),
        issuer_raw: cert.issuer().as_raw().to_vec(),
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
        dns_names,
        ip_addresses,
        has_san,
        key,
        signature,
        weak_signature,
        spki: spki.raw.to_vec(),
    })
}

/// A readable name for a signature algorithm OID, and whether it uses SHA-1 or MD5.
fn signature_name(oid: &str) -> (String, bool) {
    let (name, weak) = match oid {
        "1.2.840.113549.1.1.4" => ("md5WithRSAEncryption", true),
        "1.2.840.113549.1.1.5" | "1.3.14.3.2.29" => ("sha1WithRSAEncryption", true),
        "1.2.840.10045.4.1" => ("ecdsa-with-SHA1", true),
        "1.2.840.10040.4.3" => ("dsa-with-sha1", true),
        "1.2.840.113549.1.1.11" => ("sha256WithRSAEncryption", false),
        "1.2.840.113549.1.1.12" => ("sha384WithRSAEncryption", false),
        "1.2.840.113549.1.1.13" => ("sha512WithRSAEncryption", false),
        "1.2.840.113549.1.1.10" => ("RSASSA-PSS", false),
        "1.2.840.10045.4.3.2" => ("ecdsa-with-SHA256", false),
        "1.2.840.10045.4.3.3" => ("ecdsa-with-SHA384", false),
        "1.2.840.10045.4.3.4" => ("ecdsa-with-SHA512", false),
        "1.3.101.112" => ("Ed25519", false),
        other => return (other.to_string(), false),
    };
    (name.to_string(), weak)
}

// ------------------------------------------------------------------------------------------
// Pure decisions

/// A Unix timestamp as `2026-11-27 01:29:29 UTC`.
pub fn format_timestamp(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let rest = seconds.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02} UTC", rest / 3600, rest % 3600 / 60, rest % 60)
}

fn format_days(seconds: i64) -> String {
    let days = seconds as f64 / 86_400.0;
    if days.abs() >= 10.0 {
        format!("{days:.0} days")
    } else {
        format!("{days:.1} days")
    }
}

/// The result of verifying the chain with webpki.
#[derive(Clone, Debug, PartialEq)]
pub enum Verification {
    Trusted,
    Expired,
    NotYetValid,
    NameMismatch,
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
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    Verification::NameMismatch
                }
                CertificateError::UnknownIssuer => {
                    Verification::Untrusted("no chain to a trusted root (unknown issuer)".into())
                }
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

/// Decides `trusted`: the chain verifies to a trusted root for the server name, and every
/// certificate is within its dates.
pub fn decide_trusted(verification: &Verification, leaf: &CertFacts, server_name: &str, now: i64) -> Outcome {
    let dates = format!("valid {} to {}", format_timestamp(leaf.not_before), format_timestamp(leaf.not_after));
    match verification {
        Verification::Trusted => {
            Outcome::pass(format!("the chain for {server_name} verifies to a trusted root; {dates}"))
        }
        Verification::Expired if now > leaf.not_after => Outcome::fail(
            Cause::Expired,
            format!("the certificate expired {} ago; {dates}", format_days(now - leaf.not_after)),
        ),
        Verification::Expired => {
            Outcome::fail(Cause::Expired, format!("a certificate of the chain has expired; the leaf is {dates}"))
        }
        Verification::NotYetValid if now < leaf.not_before => Outcome::fail(
            Cause::NotYetValid,
            format!("the certificate is not valid for another {}; {dates}", format_days(leaf.not_before - now)),
        ),
        Verification::NotYetValid => Outcome::fail(
            Cause::NotYetValid,
            format!("a certificate of the chain is not valid yet; the leaf is {dates}"),
        ),
        Verification::NameMismatch => Outcome::fail(
            Cause::Mismatch,
            format!("the certificate is not valid for {server_name}; it names {}", list_names(leaf)),
        ),
        Verification::Untrusted(why) => Outcome::fail(Cause::Untrusted, format!("the chain is not trusted: {why}")),
    }
}

fn list_names(leaf: &CertFacts) -> String {
    let names: Vec<String> =
        leaf.dns_names.iter().cloned().chain(leaf.ip_addresses.iter().map(ToString::to_string)).collect();
    if names.is_empty() {
        "no DNS name or IP address".into()
    } else {
        names.join(", ")
    }
}

/// Decides `chain_complete`: following issuers through the certificates the server sent reaches
/// a root (a self-signed certificate, or the subject of a trust anchor). Intermediates a client
/// could fetch elsewhere do not count: many clients cannot.
pub fn decide_chain_complete(chain: &[CertFacts], root_subjects: &HashSet<Vec<u8>>) -> Outcome {
    let Some(leaf) = chain.first() else {
        return Outcome::error(Cause::Missing, "the server sent no certificate");
    };
    let mut current = leaf;
    let mut used = vec![false; chain.len()];
    used[0] = true;
    let sent = chain.len();
    loop {
        if current.self_signed() {
            return Outcome::pass(format!(
                "the server sends {sent} certificate(s), up to self-signed {}",
                current.subject
            ));
        }
        if root_subjects.contains(&current.issuer_raw) {
            return Outcome::pass(format!(
                "the server sends {sent} certificate(s); {} is issued by a trusted root",
                current.subject
            ));
        }
        let next =
            chain.iter().enumerate().find(|(index, cert)| !used[*index] && cert.subject_raw == current.issuer_raw);
        match next {
            Some((index, cert)) => {
                used[index] = true;
                current = cert;
            }
            None => {
                return Outcome::fail(
                    Cause::IncompleteChain,
                    format!(
                        "the server sends {sent} certificate(s); the issuer of {} is neither sent nor a trusted root: an intermediate is missing",
                        current.subject
                    ),
                )
            }
        }
    }
}

/// Browser matching of one reference name against one certificate name: case-insensitive, a
/// wildcard only as the whole left-most label, matching exactly one label, and never for a
/// name with fewer than three labels (`*.com`).
pub fn name_matches(pattern: &str, name: &str) -> bool {
    let pattern = pattern.trim_end_matches('.').to_ascii_lowercase();
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    match pattern.strip_prefix("*.") {
        Some(base) => {
            if base.split('.').count() < 2 || base.contains('*') {
                return false;
            }
            match name.split_once('.') {
                Some((first, rest)) => !first.is_empty() && rest == base,
                None => false,
            }
        }
        None => !pattern.contains('*') && pattern == name,
    }
}

/// Decides `covers_names`: every wanted name is in the leaf's subjectAltName.
pub fn decide_covers_names(leaf: &CertFacts, wanted: &[String]) -> Outcome {
    if !leaf.has_san {
        return Outcome::fail(
            Cause::Missing,
            "the certificate has no subjectAltName; browsers ignore the common name".to_string(),
        );
    }
    let missing: Vec<&str> = wanted
        .iter()
        .filter(|name| match name.parse::<IpAddr>() {
            Ok(ip) => !leaf.ip_addresses.contains(&ip),
            Err(_) => !leaf.dns_names.iter().any(|pattern| name_matches(pattern, name)),
        })
        .map(String::as_str)
        .collect();
    let reason = if missing.is_empty() {
        format!("the certificate covers {} (it names {})", wanted.join(", "), list_names(leaf))
    } else {
        format!("the certificate does not cover {}; it names {}", missing.join(", "), list_names(leaf))
    };
    Outcome::decide(missing.is_empty(), Cause::Mismatch, reason)
}

/// Thresholds for `expiry`: either or both.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpiryRule {
    pub min_remaining: Option<Duration>,
    pub min_remaining_ratio: Option<f64>,
}

/// Decides `expiry`: time left at least `min_remaining`, and at least `min_remaining_ratio` of
/// the certificate's own lifetime (a 90-day certificate renewed at 60 days has a third left).
pub fn decide_expiry(leaf: &CertFacts, rule: ExpiryRule, now: i64) -> Outcome {
    let remaining = leaf.not_after - now;
    let lifetime = (leaf.not_after - leaf.not_before).max(1);
    let ratio = remaining as f64 / lifetime as f64;
    let expires = format_timestamp(leaf.not_after);
    if remaining <= 0 {
        return Outcome::fail(Cause::Expired, format!("the certificate expired on {expires}"));
    }
    let mut wants = Vec::new();
    let mut ok = true;
    if let Some(min) = rule.min_remaining {
        wants.push(format!("at least {}", format_days(min.as_secs() as i64)));
        ok &= remaining as u64 >= min.as_secs();
    }
    if let Some(min_ratio) = rule.min_remaining_ratio {
        wants.push(format!("at least {} of its lifetime", format_percent(min_ratio)));
        ok &= ratio >= min_ratio;
    }
    let reason = format!(
        "the certificate expires on {expires}, in {} ({} of its {} lifetime); want {}",
        format_days(remaining),
        format_percent(ratio.clamp(0.0, 1.0)),
        format_days(lifetime),
        wants.join(" and ")
    );
    Outcome::decide(ok, Cause::BelowMinimum, reason)
}

/// Decides `strength`: RSA and EC keys at least a size, and no SHA-1 or MD5 signature on any
/// certificate below a root (a root's own signature is never checked by clients).
pub fn decide_strength(chain: &[CertFacts], min_rsa_bits: u32, min_ec_bits: u32) -> Outcome {
    let mut problems = Vec::new();
    for cert in chain {
        match cert.key {
            KeyFacts::Rsa(bits) if bits < min_rsa_bits => {
                problems.push(format!("{} has an RSA key of {bits} bits; want at least {min_rsa_bits}", cert.subject))
            }
            KeyFacts::Ec(bits) if bits < min_ec_bits => {
                problems.push(format!("{} has an EC key of {bits} bits; want at least {min_ec_bits}", cert.subject))
            }
            _ => {}
        }
        if cert.weak_signature && !cert.self_signed() {
            problems.push(format!("{} is signed with {}", cert.subject, cert.signature))
        }
    }
    match chain.first() {
        None => Outcome::error(Cause::Missing, "no certificate to judge"),
        Some(leaf) if problems.is_empty() => Outcome::pass(format!(
            "leaf key {}, signed with {}; no weak key or SHA-1 signature in the chain",
            leaf.key.describe(),
            leaf.signature
        )),
        Some(_) => Outcome::fail(Cause::Weak, problems.join("; ")),
    }
}

/// One legacy-version probe: the classified answer, or why it could not be made.
pub type LegacyResult = Result<HelloAnswer, String>;

/// Decides `legacy_refused`: TLS 1.0 and 1.1 refused, and the main handshake on 1.2 or 1.3.
pub fn decide_legacy(modern: &str, legacy: &[(LegacyVersion, LegacyResult)]) -> Outcome {
    let mut accepted = Vec::new();
    let mut refused = Vec::new();
    for (version, result) in legacy {
        match result {
            Ok(HelloAnswer::Accepted) => accepted.push(version.name()),
            Ok(HelloAnswer::Refused(why)) => refused.push(format!("{} ({why})", version.name())),
            Ok(HelloAnswer::NotTls(why)) => {
                return Outcome::error(Cause::Invalid, format!("the {} probe got no TLS answer: {why}", version.name()))
            }
            Ok(HelloAnswer::Incomplete) => {
                return Outcome::error(Cause::Io, format!("the {} probe got a truncated answer", version.name()))
            }
            Err(why) => return Outcome::error(Cause::Io, format!("the {} probe failed: {why}", version.name())),
        }
    }
    if accepted.is_empty() {
        Outcome::pass(format!("the server refuses {}; it negotiated {modern}", refused.join(", ")))
    } else {
        Outcome::fail(
            Cause::Insecure,
            format!(
                "the server accepts {}; want only TLS 1.2 and 1.3 (it negotiated {modern})",
                accepted.join(" and ")
            ),
        )
    }
}

// ------------------------------------------------------------------------------------------
// Trust material

/// Roots and extra intermediates for one set of CA files, shared by every check that names the
/// same files (the system roots alone are some 150 certificates: parse them once).
pub(crate) struct Trust {
    pub roots: Arc<RootCertStore>,
    pub verifier: Arc<WebPkiServerVerifier>,
    pub root_subjects: HashSet<Vec<u8>>,
    /// Non-self-signed certificates from CA files: they help a client build a path, but a server
    /// that relies on them still has an incomplete chain.
    pub extra_intermediates: Vec<CertificateDer<'static>>,
}

type TrustKey = (bool, Vec<PathBuf>);

fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Reads every certificate of a PEM file; the error names the file.
pub(crate) fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    let text = std::fs::read(path).map_err(|err| {
        ProbeFailure::new(Cause::from_io(&err), format!("cannot read CA file {}: {err}", path.display()))
    })?;
    let certs = pem_certs(&text)
        .map_err(|err| ProbeFailure::new(Cause::Invalid, format!("CA file {} is not PEM: {err}", path.display())))?;
    if certs.is_empty() {
        return Err(ProbeFailure::new(Cause::Invalid, format!("CA file {} holds no certificate", path.display())));
    }
    Ok(certs)
}

/// Every certificate in PEM text, in order; other PEM sections (keys) are skipped.
pub fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error> {
    CertificateDer::pem_slice_iter(pem).collect()
}

/// Builds (or reuses) the trust material for `system` roots plus `ca_files`. Blocking: reads files.
pub(crate) fn trust_for(system: bool, ca_files: &[PathBuf]) -> Result<Arc<Trust>, ProbeFailure> {
    static CACHE: OnceLock<Mutex<HashMap<TrustKey, Arc<Trust>>>> = OnceLock::new();
    let key = (system, ca_files.to_vec());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|map| map.get(&key).cloned()) {
        return Ok(found);
    }
    let mut roots = RootCertStore::empty();
    let mut root_subjects = HashSet::new();
    let mut extra_intermediates = Vec::new();
    let mut add_root = |der: &CertificateDer<'static>, roots: &mut RootCertStore| {
        if roots.add(der.clone()).is_ok() {
            if let Ok(facts) = parse_cert(der) {
                root_subjects.insert(facts.subject_raw);
            }
        }
    };
    if system {
        for der in system_roots() {
            add_root(der, &mut roots);
        }
    }
    for path in ca_files {
        for der in read_pem_certs(path)? {
            let facts = parse_cert(&der).map_err(|why| {
                ProbeFailure::new(Cause::Invalid, format!("CA file {} holds a bad certificate: {why}", path.display()))
            })?;
            if facts.self_signed() {
                add_root(&der, &mut roots);
            } else {
                extra_intermediates.push(der);
            }
        }
    }
    if roots.is_empty() {
        return Err(ProbeFailure::new(
            Cause::Missing,
            "no trusted root: the system store is empty or off, and the CA files hold no self-signed root",
        ));
    }
    let roots = Arc::new(roots);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), provider())
        .build()
        .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot build a certificate verifier: {err}")))?;
    let trust = Arc::new(Trust { roots, verifier, root_subjects, extra_intermediates });
    if let Ok(mut map) = cache.lock() {
        map.insert(key, trust.clone());
    }
    Ok(trust)
}

/// Accepts any certificate during the handshake so that its facts can be judged afterwards, but
/// still checks the handshake signature (recording a failure rather than aborting, so that a
/// weak key gets its `strength` verdict).
#[derive(Debug)]
struct CapturingVerifier {
    signature_error: Mutex<Option<String>>,
}

impl ServerPolicy for CapturingVerifier {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
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

// ------------------------------------------------------------------------------------------
// kind = "tls"

/// `kind = "tls"`: one handshake with `address`, SNI `server_name`, judged on six aspects.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCheck {
    /// `host:port` to connect to (a load balancer address, say).
    pub address: String,
    /// The name sent as SNI and verified; defaults to the host of `address`.
    pub server_name: Option<String>,
    /// Extra PEM files: self-signed certificates become roots, others extra intermediates.
    #[serde(default)]
    pub ca_files: Vec<PathBuf>,
    #[serde(default = "super::yes")]
    pub system_roots: bool,
    /// Names the certificate must cover; defaults to the server name.
    #[serde(default)]
    pub names: Vec<String>,
    pub min_remaining: Option<HumanDuration>,
    pub min_remaining_ratio: Option<f64>,
    #[serde(default = "default_min_rsa_bits")]
    pub min_rsa_bits: u32,
    #[serde(default = "default_min_ec_bits")]
    pub min_ec_bits: u32,
    /// Bound on each network step (connect, handshake, one read).
    #[serde(default = "default_io_timeout")]
    pub io_timeout: HumanDuration,
}

fn default_min_rsa_bits() -> u32 {
    DEFAULT_MIN_RSA_BITS
}
fn default_min_ec_bits() -> u32 {
    DEFAULT_MIN_EC_BITS
}
fn default_io_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}

/// What one run of a TLS check saw.
#[derive(Clone, Debug)]
pub struct TlsObservation {
    pub version: String,
    pub chain: Vec<CertFacts>,
    pub verification: Verification,
    pub root_subjects: HashSet<Vec<u8>>,
    pub legacy: Vec<(LegacyVersion, LegacyResult)>,
}

fn split_host(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.rsplit_once(':')?;
    let port = port.parse::<u16>().ok().filter(|p| *p != 0)?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        None
    } else {
        Some((host, port))
    }
}

pub(crate) fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

impl Check for TlsCheck {
    const KIND: &'static str = "tls";
    const ASPECTS: &'static [&'static str] =
        &["trusted", "chain_complete", "covers_names", "expiry", "legacy_refused", "strength"];
    const FAMILIES: &'static [&'static MetricFamily] =
        &[&TLS_VERSION_INFO, &TLS_CERT_NOT_BEFORE, &TLS_CERT_NOT_AFTER, &TLS_CHAIN_EARLIEST_NOT_AFTER];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        if split_host(&self.address).is_none() {
            return Err(KeyError::new(
                "address",
                format!("`{}` is not host:port (like `127.0.0.1:443` or `[::1]:8443`)", self.address),
            ));
        }
        if ServerName::try_from(self.server_name()).is_err() {
            return Err(KeyError::new(
                "server_name",
                format!("`{}` is not a DNS name or IP address", self.server_name()),
            ));
        }
        if !self.system_roots && self.ca_files.is_empty() {
            return Err(KeyError::new("system_roots", "`system_roots = false` needs `ca_files`"));
        }
        if let Some(relative) = self.ca_files.iter().find(|p| !p.is_absolute()) {
            return Err(KeyError::new("ca_files", format!("`{}` must be an absolute path", relative.display())));
        }
        validate_expiry(aspect, self.min_remaining, self.min_remaining_ratio)?;
        if self.io_timeout.0.is_zero() {
            return Err(KeyError::new("io_timeout", "must be longer than 0s"));
        }
        Ok(())
    }

    /// `address`, or `server_name@address` when the SNI name differs from the host, so that one
    /// load balancer address serving several names gives distinct series.
    fn target(&self) -> String {
        match (&self.server_name, split_host(&self.address)) {
            (Some(name), Some((host, _))) if name != host => format!("{name}@{}", self.address),
            _ => self.address.clone(),
        }
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let (system, files) = (self.system_roots, self.ca_files.clone());
        let trust = ctx.blocking.run(move || trust_for(system, &files)).await??;
        match self.observe(&trust).await {
            Ok(observation) => Ok(self.decide(&observation, now_unix())),
            Err(Unobserved::Handshake(failure)) => {
                // A server that speaks only TLS 1.0/1.1 fails the modern handshake: that is a
                // `legacy_refused` fail, not only an error.
                let name = self.server_name();
                let mut legacy = Vec::with_capacity(2);
                for version in LegacyVersion::ALL {
                    legacy.push((version, self.probe_legacy(version, &name).await));
                }
                decide_handshake_failure(&failure, &legacy).ok_or(failure)
            }
            Err(Unobserved::Other(failure)) => Err(failure),
        }
    }
}

impl TlsCheck {
    pub fn server_name(&self) -> String {
        self.server_name
            .clone()
            .unwrap_or_else(|| split_host(&self.address).map(|(h, _)| h.to_string()).unwrap_or_default())
    }

    fn wanted_names(&self) -> Vec<String> {
        if self.names.is_empty() {
            vec![self.server_name()]
        } else {
            self.names.clone()
        }
    }

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

    async fn observe(&self, trust: &Trust) -> Result<TlsObservation, Unobserved> {
        let name = self.server_name();
        let server_name = ServerName::try_from(name.clone())
            .map_err(|_| ProbeFailure::new(Cause::Invalid, format!("`{name}` is not a server name")))?;
        let verifier = Verifier::new(CapturingVerifier { signature_error: Mutex::new(None) }, &provider());
        let config = rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot configure TLS: {err}")))?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone())
            .with_no_client_auth();
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
        let signature_error = verifier.policy().signature_error.lock().ok().and_then(|slot| slot.clone());
        let verification =
            match trust.verifier.verify_server_cert(leaf_der, &intermediates, &server_name, &[], UnixTime::now()) {
                Ok(_) => match signature_error {
                    None => Verification::Trusted,
                    Some(why) => Verification::Untrusted(format!("the handshake signature does not verify: {why}")),
                },
                Err(err) => Verification::from_error(&err),
            };
        let mut legacy = Vec::with_capacity(2);
        for version in LegacyVersion::ALL {
            legacy.push((version, self.probe_legacy(version, &name).await));
        }
        Ok(TlsObservation { version, chain, verification, root_subjects: trust.root_subjects.clone(), legacy })
    }

    /// Sends a ClientHello for an old version and reads just enough of the answer to classify it.
    async fn probe_legacy(&self, version: LegacyVersion, name: &str) -> LegacyResult {
        let mut stream = self.connect().await.map_err(|failure| failure.reason)?;
        let sni = if name.parse::<IpAddr>().is_ok() { None } else { Some(name) };
        let hello = hello::client_hello(version, sni, rand::random());
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

    pub fn decide(&self, seen: &TlsObservation, now: i64) -> Report {
        let target = self.target();
        let mut report = Report::default()
            .sample(Sample::new(&TLS_VERSION_INFO, 1.0).label("target", &target).label("version", &seen.version));
        let Some(leaf) = seen.chain.first() else {
            let missing = || Outcome::error(Cause::Missing, "the server sent no certificate");
            for aspect in Self::ASPECTS {
                report = report.with(aspect, missing());
            }
            return report;
        };
        let earliest = seen.chain.iter().map(|c| c.not_after).min().unwrap_or(leaf.not_after);
        report = report
            .sample(Sample::new(&TLS_CERT_NOT_BEFORE, leaf.not_before as f64).label("target", &target))
            .sample(Sample::new(&TLS_CERT_NOT_AFTER, leaf.not_after as f64).label("target", &target))
            .sample(Sample::new(&TLS_CHAIN_EARLIEST_NOT_AFTER, earliest as f64).label("target", &target));
        let rule = ExpiryRule {
            min_remaining: self.min_remaining.map(|d| d.0),
            min_remaining_ratio: self.min_remaining_ratio,
        };
        report
            .with("trusted", decide_trusted(&seen.verification, leaf, &self.server_name(), now))
            .with("chain_complete", decide_chain_complete(&seen.chain, &seen.root_subjects))
            .with("covers_names", decide_covers_names(leaf, &self.wanted_names()))
            .with("expiry", decide_expiry(leaf, rule, now))
            .with("legacy_refused", decide_legacy(&seen.version, &seen.legacy))
            .with("strength", decide_strength(&seen.chain, self.min_rsa_bits, self.min_ec_bits))
    }
}

/// Why a TLS check saw no certificate: the handshake itself failed (the server answered, but
/// not with TLS 1.2/1.3), or anything else.
enum Unobserved {
    Handshake(ProbeFailure),
    Other(ProbeFailure),
}

impl From<ProbeFailure> for Unobserved {
    fn from(failure: ProbeFailure) -> Self {
        Unobserved::Other(failure)
    }
}

/// After a failed TLS 1.2/1.3 handshake: if the server accepts TLS 1.0 or 1.1, `legacy_refused`
/// fails and every other aspect is an error with the handshake's reason; otherwise `None` (the
/// whole probe failed).
pub fn decide_handshake_failure(failure: &ProbeFailure, legacy: &[(LegacyVersion, LegacyResult)]) -> Option<Report> {
    let accepted: Vec<&str> = legacy
        .iter()
        .filter(|(_, result)| matches!(result, Ok(HelloAnswer::Accepted)))
        .map(|(version, _)| version.name())
        .collect();
    if accepted.is_empty() {
        return None;
    }
    let mut report = Report::default();
    for aspect in TlsCheck::ASPECTS {
        let outcome = if *aspect == "legacy_refused" {
            Outcome::fail(
                Cause::Insecure,
                format!("the server accepts {} but not TLS 1.2 or 1.3 ({})", accepted.join(" and "), failure.reason),
            )
        } else {
            Outcome::error(failure.cause, failure.reason.clone())
        };
        report = report.with(aspect, outcome);
    }
    Some(report)
}

fn validate_expiry(aspect: &str, min_remaining: Option<HumanDuration>, ratio: Option<f64>) -> Result<(), KeyError> {
    if aspect == "expiry" && min_remaining.is_none() && ratio.is_none() {
        return Err(KeyError::new(
            "min_remaining",
            "an item decides `expiry`, which needs `min_remaining` (like \"30d\") or `min_remaining_ratio` (like 0.33)",
        ));
    }
    check_ratio(ratio, "min_remaining_ratio")
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

// ------------------------------------------------------------------------------------------
// kind = "tls_cert_file"

/// `kind = "tls_cert_file"`: a PEM certificate bundle on disk, optionally with its key.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCertFileCheck {
    pub cert_file: PathBuf,
    pub key_file: Option<PathBuf>,
    #[serde(default)]
    pub names: Vec<String>,
    pub min_remaining: Option<HumanDuration>,
    pub min_remaining_ratio: Option<f64>,
    /// A user (like `www-data`) that must be able to read the certificate file.
    pub readable_by: Option<String>,
    #[serde(default = "default_min_rsa_bits")]
    pub min_rsa_bits: u32,
    #[serde(default = "default_min_ec_bits")]
    pub min_ec_bits: u32,
}

/// File ownership and mode, as `stat` gives them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileMode {
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// A user as the account database knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gids: Vec<u32>,
}

/// What one run of a certificate-file check read.
#[derive(Debug)]
pub struct CertFileObservation {
    pub chain: Vec<CertFacts>,
    /// Whether the key's public half equals the leaf's, or why that could not be told.
    pub key_matches: Option<Result<bool, (Cause, String)>>,
    pub key_mode: Option<Result<FileMode, (Cause, String)>>,
    /// The certificate file and each parent directory, file first.
    pub access_path: Vec<(PathBuf, FileMode)>,
    pub account: Option<Result<Account, String>>,
}

impl Check for TlsCertFileCheck {
    const KIND: &'static str = "tls_cert_file";
    const ASPECTS: &'static [&'static str] =
        &["valid", "expiry", "covers_names", "key_matches", "key_private", "readable_by", "strength"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&TLS_CERT_NOT_BEFORE, &TLS_CERT_NOT_AFTER];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        if !self.cert_file.is_absolute() {
            return Err(KeyError::new("cert_file", format!("`{}` must be an absolute path", self.cert_file.display())));
        }
        if let Some(key) = &self.key_file {
            if !key.is_absolute() {
                return Err(KeyError::new("key_file", format!("`{}` must be an absolute path", key.display())));
            }
        }
        match aspect {
            "covers_names" if self.names.is_empty() => {
                return Err(KeyError::new("names", "an item decides `covers_names`, which needs `names`"))
            }
            "key_matches" | "key_private" if self.key_file.is_none() => {
                return Err(KeyError::new("key_file", format!("an item decides `{aspect}`, which needs `key_file`")))
            }
            "readable_by" if self.readable_by.is_none() => {
                return Err(KeyError::new("readable_by", "an item decides `readable_by`, which needs `readable_by`"))
            }
            _ => {}
        }
        validate_expiry(aspect, self.min_remaining, self.min_remaining_ratio)
    }

    fn target(&self) -> String {
        self.cert_file.display().to_string()
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let check = self.clone();
        let observation = ctx.blocking.run(move || check.observe()).await??;
        Ok(self.decide(&observation, now_unix()))
    }
}

impl TlsCertFileCheck {
    fn observe(&self) -> Result<CertFileObservation, ProbeFailure> {
        let path = &self.cert_file;
        let ders = read_pem_certs(path).map_err(|failure| {
            ProbeFailure::new(failure.cause, failure.reason.replacen("CA file", "certificate file", 1))
        })?;
        let mut chain = Vec::with_capacity(ders.len());
        for (position, der) in ders.iter().enumerate() {
            chain.push(parse_cert(der).map_err(|why| {
                ProbeFailure::new(Cause::Invalid, format!("certificate {position} in {}: {why}", path.display()))
            })?);
        }
        let (key_matches, key_mode) = match &self.key_file {
            None => (None, None),
            Some(key_path) => {
                let mode = stat(key_path);
                let matches = read_key_matches(key_path, &chain[0]);
                (Some(matches), Some(mode))
            }
        };
        let mut access_path = Vec::new();
        let mut account = None;
        if let Some(user) = &self.readable_by {
            for ancestor in path.ancestors() {
                if ancestor.as_os_str().is_empty() {
                    continue;
                }
                let mode = stat(ancestor).map_err(|(cause, why)| ProbeFailure::new(cause, why))?;
                access_path.push((ancestor.to_path_buf(), mode));
            }
            account = Some(lookup_account(user));
        }
        Ok(CertFileObservation { chain, key_matches, key_mode, access_path, account })
    }

    pub fn decide(&self, seen: &CertFileObservation, now: i64) -> Report {
        let target = self.target();
        let mut report = Report::default();
        let Some(leaf) = seen.chain.first() else {
            return report;
        };
        report = report
            .sample(Sample::new(&TLS_CERT_NOT_BEFORE, leaf.not_before as f64).label("target", &target))
            .sample(Sample::new(&TLS_CERT_NOT_AFTER, leaf.not_after as f64).label("target", &target));
        let dates = format!("valid {} to {}", format_timestamp(leaf.not_before), format_timestamp(leaf.not_after));
        let valid = if now < leaf.not_before {
            Outcome::fail(Cause::NotYetValid, format!("{} is not valid yet; {dates}", leaf.subject))
        } else if now > leaf.not_after {
            Outcome::fail(Cause::Expired, format!("{} has expired; {dates}", leaf.subject))
        } else {
            Outcome::pass(format!("{} parses ({} certificate(s)) and is {dates}", leaf.subject, seen.chain.len()))
        };
        let rule = ExpiryRule {
            min_remaining: self.min_remaining.map(|d| d.0),
            min_remaining_ratio: self.min_remaining_ratio,
        };
        report = report
            .with("valid", valid)
            .with("expiry", decide_expiry(leaf, rule, now))
            .with("covers_names", decide_covers_names(leaf, &self.names))
            .with("strength", decide_strength(&seen.chain, self.min_rsa_bits, self.min_ec_bits));
        if let Some(matches) = &seen.key_matches {
            let outcome = match matches {
                Ok(true) => Outcome::pass("the private key belongs to the certificate"),
                Ok(false) => Outcome::fail(Cause::Mismatch, "the private key does not belong to the certificate"),
                Err((cause, why)) => Outcome::error(*cause, why.clone()),
            };
            report = report.with("key_matches", outcome);
        }
        if let Some(mode) = &seen.key_mode {
            let outcome = match mode {
                Ok(mode) => decide_key_private(*mode),
                Err((cause, why)) => Outcome::error(*cause, why.clone()),
            };
            report = report.with("key_private", outcome);
        }
        if let (Some(account), Some(user)) = (&seen.account, &self.readable_by) {
            let outcome = match account {
                Ok(account) => decide_readable_by(account, &seen.access_path),
                Err(why) => Outcome::error(Cause::NotFound, format!("user {user}: {why}")),
            };
            report = report.with("readable_by", outcome);
        }
        report
    }
}

/// Decides `key_private`: no permission bits for group or others.
pub fn decide_key_private(mode: FileMode) -> Outcome {
    let bits = mode.mode & 0o777;
    Outcome::decide(
        bits & 0o077 == 0,
        Cause::Insecure,
        format!("the key file has mode {bits:04o}; want no access for group or others (like 0600)"),
    )
}

/// Whether `account` may use `mode` for `want` (4 read, 1 search), by the classic Unix rules.
fn permits(account: &Account, mode: FileMode, want: u32) -> bool {
    if account.uid == 0 {
        // root reads anything; searching a directory needs no x bit either.
        return true;
    }
    let bits = if account.uid == mode.uid {
        mode.mode >> 6
    } else if account.gids.contains(&mode.gid) {
        mode.mode >> 3
    } else {
        mode.mode
    };
    bits & want == want
}

/// Decides `readable_by`: the user can search every parent directory and read the file.
/// `path` lists the file first, then its parents up to `/`.
pub fn decide_readable_by(account: &Account, path: &[(PathBuf, FileMode)]) -> Outcome {
    let Some(((file, file_mode), parents)) = path.split_first() else {
        return Outcome::error(Cause::Io, "no path to judge");
    };
    for (dir, mode) in parents.iter().rev() {
        if !permits(account, *mode, 1) {
            return Outcome::fail(
                Cause::Permission,
                format!(
                    "{} cannot enter {} (mode {:04o}, owner {}, group {})",
                    account.name,
                    dir.display(),
                    mode.mode & 0o7777,
                    mode.uid,
                    mode.gid
                ),
            );
        }
    }
    let detail = format!("mode {:04o}, owner {}, group {}", file_mode.mode & 0o7777, file_mode.uid, file_mode.gid);
    Outcome::decide(
        permits(account, *file_mode, 4),
        Cause::Permission,
        if permits(account, *file_mode, 4) {
            format!("{} can read {} ({detail})", account.name, file.display())
        } else {
            format!("{} cannot read {} ({detail})", account.name, file.display())
        },
    )
}

fn stat(path: &Path) -> Result<FileMode, (Cause, String)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| FileMode { mode: m.mode(), uid: m.uid(), gid: m.gid() })
        .map_err(|err| (Cause::from_io(&err), format!("cannot stat {}: {err}", path.display())))
}

/// Compares the public half of the private key in `key_path` with the leaf's. The key's bytes
/// never leave this function, and errors speak only of the file.
fn read_key_matches(key_path: &Path, leaf: &CertFacts) -> Result<bool, (Cause, String)> {
    let bytes = std::fs::read(key_path).map_err(|err| {
        (Cause::from_io(&err), format!("cannot read key file {}: {}", key_path.display(), err.kind()))
    })?;
    let key = PrivateKeyDer::from_pem_slice(&bytes)
        .map_err(|_| (Cause::Invalid, format!("key file {} holds no PEM private key", key_path.display())))?;
    let signing = provider()
        .key_provider
        .load_private_key(key)
        .map_err(|_| (Cause::Invalid, format!("key file {} holds a key of an unsupported kind", key_path.display())))?;
    let public = signing
        .public_key()
        .ok_or_else(|| (Cause::Invalid, format!("cannot derive the public key of {}", key_path.display())))?;
    Ok(public.as_ref() == leaf.spki.as_slice())
}

/// Looks a user up in the account database (getpwnam_r / getgrouplist).
fn lookup_account(user: &str) -> Result<Account, String> {
    let name = std::ffi::CString::new(user).map_err(|_| "the name holds a NUL byte".to_string())?;
    let mut passwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live, correctly sized buffer owned by this frame.
    let rc = unsafe { libc::getpwnam_r(name.as_ptr(), &mut passwd, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if rc != 0 || found.is_null() {
        return Err("no such user".to_string());
    }
    let (uid, gid) = (passwd.pw_uid, passwd.pw_gid);
    let mut groups = vec![0 as libc::gid_t; 256];
    let mut count = groups.len() as libc::c_int;
    // SAFETY: `groups` has room for `count` entries; getgrouplist writes at most that many.
    let rc = unsafe { libc::getgrouplist(name.as_ptr(), gid, groups.as_mut_ptr(), &mut count) };
    let gids = if rc < 0 { vec![gid] } else { groups[..count.max(0) as usize].to_vec() };
    Ok(Account { name: user.to_string(), uid, gids })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const DAY: i64 = 86_400;
    const NOW: i64 = 1_800_000_000;

    fn cert(subject: &str, issuer: &str) -> CertFacts {
        CertFacts {
            subject: subject.into(),
            subject_raw: subject.as_bytes().to_vec(),
            issuer_raw: issuer.as_bytes().to_vec(),
            not_before: NOW - 30 * DAY,
            not_after: NOW + 60 * DAY,
            dns_names: vec!["app.example.test".into(), "*.api.example.test".into()],
            ip_addresses: vec!["127.0.0.1".parse().unwrap()],
            has_san: true,
            key: KeyFacts::Ec(256),
            signature: "ecdsa-with-SHA256".into(),
            weak_signature: false,
            spki: vec![],
        }
    }

    #[test]
    fn timestamps_read_as_utc_dates() {
        assert_eq!(format_timestamp(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_timestamp(1_800_000_000), "2027-01-15 08:00:00 UTC");
        assert_eq!(format_timestamp(951_782_400), "2000-02-29 00:00:00 UTC");
    }

    #[test]
    fn wildcards_match_as_browsers_do() {
        assert!(name_matches("*.example.com", "www.example.com"));
        assert!(name_matches("*.Example.com", "WWW.example.com."));
        assert!(!name_matches("*.example.com", "example.com"));
        assert!(!name_matches("*.example.com", "a.b.example.com"));
        assert!(!name_matches("*.com", "example.com"));
        assert!(!name_matches("w*.example.com", "www.example.com"));
        assert!(name_matches("app.example.com", "APP.example.com"));
    }

    #[test]
    fn covers_names_lists_what_is_missing() {
        let leaf = cert("leaf", "ca");
        let wanted = vec!["app.example.test".to_string(), "v1.api.example.test".into(), "127.0.0.1".into()];
        assert_eq!(decide_covers_names(&leaf, &wanted).verdict, Verdict::Pass);
        let outcome = decide_covers_names(&leaf, &["www.example.test".to_string(), "api.example.test".into()]);
        assert_eq!(outcome.cause, Some(Cause::Mismatch));
        assert_eq!(
            outcome.reason,
            "the certificate does not cover www.example.test, api.example.test; it names app.example.test, *.api.example.test, 127.0.0.1"
        );
        let mut no_san = leaf;
        no_san.has_san = false;
        assert_eq!(decide_covers_names(&no_san, &wanted).cause, Some(Cause::Missing));
    }

    #[test]
    fn expiry_is_lifetime_aware() {
        let mut leaf = cert("leaf", "ca");
        leaf.not_before = NOW - 70 * DAY;
        leaf.not_after = NOW + 20 * DAY; // a 90-day certificate with 20 days left
        let ratio = ExpiryRule { min_remaining: None, min_remaining_ratio: Some(0.33) };
        let outcome = decide_expiry(&leaf, ratio, NOW);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(
            outcome.reason,
            "the certificate expires on 2027-02-04 08:00:00 UTC, in 20 days (22.2% of its 90 days lifetime); want at least 33% of its lifetime"
        );
        // A 6-day certificate with 3 days left is fine by the ratio, not by a fixed 14 days.
        leaf.not_before = NOW - 3 * DAY;
        leaf.not_after = NOW + 3 * DAY;
        assert_eq!(decide_expiry(&leaf, ratio, NOW).verdict, Verdict::Pass);
        let days = ExpiryRule { min_remaining: Some(Duration::from_secs(14 * 86_400)), min_remaining_ratio: None };
        assert_eq!(decide_expiry(&leaf, days, NOW).cause, Some(Cause::BelowMinimum));
        leaf.not_after = NOW - 1;
        assert_eq!(decide_expiry(&leaf, days, NOW).cause, Some(Cause::Expired));
    }

    #[test]
    fn trust_failures_name_the_dates() {
        let mut leaf = cert("leaf", "ca");
        leaf.not_after = NOW - 2 * DAY;
        let outcome = decide_trusted(&Verification::Expired, &leaf, "app.example.test", NOW);
        assert_eq!(outcome.cause, Some(Cause::Expired));
        assert_eq!(
            outcome.reason,
            "the certificate expired 2.0 days ago; valid 2026-12-16 08:00:00 UTC to 2027-01-13 08:00:00 UTC"
        );
        let mut future = cert("leaf", "ca");
        future.not_before = NOW + 3 * DAY;
        let outcome = decide_trusted(&Verification::NotYetValid, &future, "x", NOW);
        assert_eq!(outcome.cause, Some(Cause::NotYetValid));
        assert!(outcome.reason.starts_with("the certificate is not valid for another 3.0 days"), "{}", outcome.reason);
        let outcome = decide_trusted(&Verification::NameMismatch, &cert("l", "c"), "other.test", NOW);
        assert_eq!(outcome.cause, Some(Cause::Mismatch));
        assert_eq!(decide_trusted(&Verification::Trusted, &cert("l", "c"), "x", NOW).verdict, Verdict::Pass);
    }

    #[test]
    fn a_chain_is_complete_only_when_the_server_sends_every_intermediate() {
        let roots: HashSet<Vec<u8>> = [b"root".to_vec()].into_iter().collect();
        let leaf = cert("leaf", "intermediate");
        let intermediate = cert("intermediate", "root");
        assert_eq!(decide_chain_complete(&[leaf.clone(), intermediate.clone()], &roots).verdict, Verdict::Pass);
        let outcome = decide_chain_complete(std::slice::from_ref(&leaf), &roots);
        assert_eq!(outcome.cause, Some(Cause::IncompleteChain));
        assert!(outcome.reason.contains("the issuer of leaf is neither sent nor a trusted root"), "{}", outcome.reason);
        // Order does not matter, and a sent root is fine.
        let root = cert("root", "root");
        assert_eq!(decide_chain_complete(&[leaf, root, intermediate], &HashSet::new()).verdict, Verdict::Pass);
        assert_eq!(decide_chain_complete(&[cert("self", "self")], &HashSet::new()).verdict, Verdict::Pass);
    }

    #[test]
    fn weak_keys_and_sha1_below_the_root_fail_strength() {
        let mut leaf = cert("leaf", "ca");
        assert_eq!(decide_strength(std::slice::from_ref(&leaf), 2048, 256).verdict, Verdict::Pass);
        leaf.key = KeyFacts::Rsa(1024);
        leaf.signature = "sha1WithRSAEncryption".into();
        leaf.weak_signature = true;
        let outcome = decide_strength(&[leaf], 2048, 256);
        assert_eq!(outcome.cause, Some(Cause::Weak));
        assert_eq!(
            outcome.reason,
            "leaf has an RSA key of 1024 bits; want at least 2048; leaf is signed with sha1WithRSAEncryption"
        );
        let mut root = cert("root", "root");
        root.weak_signature = true;
        assert_eq!(decide_strength(&[cert("leaf", "root"), root], 2048, 256).verdict, Verdict::Pass);
        let mut small_ec = cert("leaf", "ca");
        small_ec.key = KeyFacts::Ec(224);
        assert_eq!(decide_strength(&[small_ec], 2048, 256).verdict, Verdict::Fail);
    }

    #[test]
    fn legacy_versions_must_be_refused() {
        let refused = |why: &str| Ok(HelloAnswer::Refused(why.into()));
        let outcome = decide_legacy(
            "TLS 1.3",
            &[(LegacyVersion::Tls10, refused("alert protocol_version")), (LegacyVersion::Tls11, refused("closed"))],
        );
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert_eq!(
            outcome.reason,
            "the server refuses TLS 1.0 (alert protocol_version), TLS 1.1 (closed); it negotiated TLS 1.3"
        );
        let outcome = decide_legacy(
            "TLS 1.2",
            &[(LegacyVersion::Tls10, Ok(HelloAnswer::Accepted)), (LegacyVersion::Tls11, Ok(HelloAnswer::Accepted))],
        );
        assert_eq!(outcome.cause, Some(Cause::Insecure));
        assert_eq!(
            outcome.reason,
            "the server accepts TLS 1.0 and TLS 1.1; want only TLS 1.2 and 1.3 (it negotiated TLS 1.2)"
        );
        let outcome = decide_legacy("TLS 1.3", &[(LegacyVersion::Tls10, Err("no answer within 5s".into()))]);
        assert_eq!(outcome.verdict, Verdict::Error);
    }

    #[test]
    fn a_server_speaking_only_legacy_tls_fails_legacy_refused() {
        let failure = ProbeFailure::new(
            Cause::Io,
            "TLS handshake with h:443 failed: the server refused with alert ProtocolVersion",
        );
        let legacy = [
            (LegacyVersion::Tls10, Ok(HelloAnswer::Accepted)),
            (LegacyVersion::Tls11, Ok(HelloAnswer::Refused("x".into()))),
        ];
        let report = decide_handshake_failure(&failure, &legacy).unwrap();
        let outcome = report.outcome("legacy_refused").unwrap();
        assert_eq!(outcome.cause, Some(Cause::Insecure));
        assert_eq!(
            outcome.reason,
            "the server accepts TLS 1.0 but not TLS 1.2 or 1.3 (TLS handshake with h:443 failed: the server refused with alert ProtocolVersion)"
        );
        assert_eq!(report.outcome("trusted").unwrap().verdict, Verdict::Error);
        let refused = [(LegacyVersion::Tls10, Ok(HelloAnswer::Refused("x".into())))];
        assert!(decide_handshake_failure(&failure, &refused).is_none());
    }

    #[test]
    fn key_files_must_be_private() {
        assert_eq!(decide_key_private(FileMode { mode: 0o100600, uid: 0, gid: 0 }).verdict, Verdict::Pass);
        let open = decide_key_private(FileMode { mode: 0o100640, uid: 0, gid: 0 });
        assert_eq!(open.cause, Some(Cause::Insecure));
        assert_eq!(open.reason, "the key file has mode 0640; want no access for group or others (like 0600)");
    }

    #[test]
    fn readability_follows_owner_group_other_and_parent_directories() {
        let nginx = Account { name: "www-data".into(), uid: 33, gids: vec![33] };
        let dir = |mode| (PathBuf::from("/etc/ssl"), FileMode { mode, uid: 0, gid: 0 });
        let root = (PathBuf::from("/"), FileMode { mode: 0o40755, uid: 0, gid: 0 });
        let file = |mode, gid| (PathBuf::from("/etc/ssl/app.pem"), FileMode { mode, uid: 0, gid });
        assert_eq!(decide_readable_by(&nginx, &[file(0o100644, 0), dir(0o40755), root.clone()]).verdict, Verdict::Pass);
        assert_eq!(
            decide_readable_by(&nginx, &[file(0o100640, 33), dir(0o40755), root.clone()]).verdict,
            Verdict::Pass
        );
        let outcome = decide_readable_by(&nginx, &[file(0o100640, 0), dir(0o40755), root.clone()]);
        assert_eq!(outcome.reason, "www-data cannot read /etc/ssl/app.pem (mode 0640, owner 0, group 0)");
        let outcome = decide_readable_by(&nginx, &[file(0o100644, 0), dir(0o40700), root]);
        assert_eq!(outcome.reason, "www-data cannot enter /etc/ssl (mode 0700, owner 0, group 0)");
    }

    #[test]
    fn targets_distinguish_names_served_by_one_address() {
        let check: TlsCheck = serde_json::from_str(r#"{"address":"10.0.0.1:443","server_name":"app.example.com"}"#)
            .unwrap_or_else(|err| panic!("{err}"));
        assert_eq!(check.target(), "app.example.com@10.0.0.1:443");
        let plain: TlsCheck = serde_json::from_str(r#"{"address":"localhost:443"}"#).unwrap();
        assert_eq!(plain.target(), "localhost:443");
        assert_eq!(plain.server_name(), "localhost");
        assert!(plain.validate("trusted").is_ok());
        assert_eq!(plain.validate("expiry").unwrap_err().key, "min_remaining");
    }
}
