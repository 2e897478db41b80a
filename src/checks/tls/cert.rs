//! What the checks read from one certificate ([`CertFacts`], parsed with x509-parser), the date
//! math of validity and expiry, and the decisions both TLS kinds make on certificate facts alone:
//! the names a leaf covers, how far its expiry is, and key and signature strength.

use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;

use crate::checks::{check_ratio, KeyError};
use crate::model::{Cause, Outcome};
use crate::support::units::{format_percent, HumanDuration};

// ------------------------------------------------------------------------------------------
// What a certificate says

/// Public key algorithm and size of a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyFacts {
    Rsa(u32),
    Ec(u32),
    Ed25519,
    Other(String),
}

impl KeyFacts {
    pub(super) fn describe(&self) -> String {
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

/// Every certificate in PEM text, in order; other PEM sections (keys) are skipped.
pub fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, rustls::pki_types::pem::Error> {
    CertificateDer::pem_slice_iter(pem).collect()
}

// ------------------------------------------------------------------------------------------
// Dates

/// Now as a Unix timestamp: the `now` of every date decision.
pub(crate) fn now_unix() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

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

pub(super) fn format_days(seconds: i64) -> String {
    let days = seconds as f64 / 86_400.0;
    if days.abs() >= 10.0 {
        format!("{days:.0} days")
    } else {
        format!("{days:.1} days")
    }
}

// ------------------------------------------------------------------------------------------
// Names

/// The names a leaf covers, for reasons.
pub(super) fn list_names(leaf: &CertFacts) -> String {
    let names: Vec<String> =
        leaf.dns_names.iter().cloned().chain(leaf.ip_addresses.iter().map(ToString::to_string)).collect();
    if names.is_empty() {
        "no DNS name or IP address".into()
    } else {
        names.join(", ")
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

// ------------------------------------------------------------------------------------------
// Expiry

/// Thresholds for `expiry`: either or both.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ExpiryRule {
    pub min_remaining: Option<Duration>,
    pub min_remaining_ratio: Option<f64>,
}

/// The config rule both kinds share: an item deciding `expiry` needs a threshold, and a ratio is
/// a fraction of the lifetime.
pub(super) fn validate_expiry(
    aspect: &str,
    min_remaining: Option<HumanDuration>,
    ratio: Option<f64>,
) -> Result<(), KeyError> {
    if aspect == "expiry" && min_remaining.is_none() && ratio.is_none() {
        return Err(KeyError::new(
            "min_remaining",
            "an item decides `expiry`, which needs `min_remaining` (like \"30d\") or `min_remaining_ratio` (like 0.33)",
        ));
    }
    check_ratio(ratio, "min_remaining_ratio")
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

// ------------------------------------------------------------------------------------------
// Key and signature strength

const DEFAULT_MIN_RSA_BITS: u32 = 2048;
const DEFAULT_MIN_EC_BITS: u32 = 256;

pub(super) fn default_min_rsa_bits() -> u32 {
    DEFAULT_MIN_RSA_BITS
}
pub(super) fn default_min_ec_bits() -> u32 {
    DEFAULT_MIN_EC_BITS
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::model::Verdict;

    pub(in crate::checks::tls) const DAY: i64 = 86_400;
    pub(in crate::checks::tls) const NOW: i64 = 1_800_000_000;

    /// A certificate with the given subject and issuer, valid from 30 days before NOW to 60 days after.
    pub(in crate::checks::tls) fn cert(subject: &str, issuer: &str) -> CertFacts {
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
}
