//! TLS endpoints and certificate files: the two kinds and where each part of them lives.
//!
//! `kind = "tls"` (this file) makes one TLS handshake with rustls (TLS 1.2/1.3) and decides
//! several aspects from what the server sent: whether the chain is trusted and valid now, whether
//! the server sends its intermediates itself, whether the leaf covers every wanted name, whether
//! expiry is far enough, and key and signature strength. Two more connections send hand-built
//! TLS 1.0 and 1.1 ClientHellos ([`hello`]) to see whether the server still accepts them.
//!
//! The handshake accepts any certificate so that an expired or untrusted one still yields its
//! dates (exported as gauges); trust is decided afterwards with webpki over the captured chain
//! alone (path to a trust anchor, dates), while the name is `covers_names`'s and the key size
//! `strength`'s, so that one fault fails one item.
//!
//! `kind = "tls_cert_file"` ([`cert_file`]) reads a PEM bundle (and optionally its key) from disk
//! and decides validity, expiry, names, key match, key file permissions and readability by a
//! service user.
//!
//! - [`cert`]: what is read from one certificate ([`CertFacts`]), date math, and the decisions
//!   both kinds make on a certificate alone (names, expiry, key strength).
//! - [`trust`]: trust material: the crypto provider, roots, CA files and their cache.
//! - [`probe`]: the handshake and the legacy probes, and what they observe.
//! - [`hello`]: the hand-built legacy ClientHello and the classification of its answer.
//! - [`grade`]: the `grade` aspect's rating by the SSL Labs guide, and the suite classes its
//!   extra hellos offer (made only when an item decides `grade`).
//! - [`cert_file`]: `kind = "tls_cert_file"`.
//!
//! Every decision is a pure function of parsed facts ([`CertFacts`]), tested beside it.

pub mod cert;
pub mod cert_file;
pub mod grade;
pub mod hello;
pub mod probe;
pub mod trust;

use std::collections::HashSet;
use std::time::Duration;

use rustls::pki_types::ServerName;
use serde::Deserialize;

use self::cert::{
    decide_covers_names, decide_expiry, decide_strength, default_min_ec_bits, default_min_rsa_bits, format_days,
    format_timestamp, now_unix, validate_expiry, CertFacts, ExpiryRule, KeyFacts,
};
// The registry names both kinds as `tls::…`.
pub use self::cert_file::TlsCertFileCheck;
use self::grade::{rate, Grade, GradeFacts, SuiteClass};
use self::hello::{HelloAnswer, LegacyVersion};
use self::probe::{GradeProbes, LegacyResult, TlsObservation, Unobserved, Verification};
// The HTTP checks build their clients from the same provider and trust material.
pub(crate) use self::trust::{trust_for, Trust};
use super::{Check, CheckContext, KeyError};
use crate::model::{
    Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject, Verdict,
};
use crate::support::shared::SharedPaths;
use crate::support::units::HumanDuration;

pub static TLS_VERSION_INFO: MetricFamily = MetricFamily {
    name: "checklist_tls_version_info",
    help: "The TLS version the last handshake negotiated (1 for the version in the label).",
    kind: MetricKind::Gauge,
};

pub static TLS_GRADE: MetricFamily = MetricFamily {
    name: "checklist_tls_grade",
    help: "The SSL Labs-style grade of the last run: F=1, E=2, D=3, C=4, B=5, A-=6, A=7, A+=8 (only for checks with an item deciding grade).",
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

// ------------------------------------------------------------------------------------------
// The check

/// `kind = "tls"`: one handshake with `address`, SNI `server_name`, judged on seven aspects.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCheck {
    /// `host:port` to connect to (a load balancer address, say).
    pub address: String,
    /// The name sent as SNI and verified; defaults to the host of `address`.
    pub server_name: Option<String>,
    /// Extra PEM files: self-signed certificates become roots, others extra intermediates.
    #[serde(default)]
    pub ca_files: SharedPaths,
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
    /// For `grade`: the least grade that passes.
    #[serde(default = "default_min_grade")]
    pub min_grade: Grade,
    /// Set at load when an item decides `grade`: only then are its extra connections made.
    #[serde(skip)]
    pub grade_wanted: GradeWanted,
}

fn default_min_grade() -> Grade {
    Grade::A
}

/// Whether an item decides `grade`. `validate` (which sees each item's aspect but not `&mut
/// self`) sets it on the decoded check before the check is shared; a clone takes the value it
/// has then. Inline: an `Arc` shared by clones took 32 bytes of heap a check
/// (docs/benchmarks.md, "Scale", round 7).
#[derive(Debug, Default)]
pub struct GradeWanted(std::sync::atomic::AtomicBool);

impl GradeWanted {
    pub fn get(&self) -> bool {
        self.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Clone for GradeWanted {
    fn clone(&self) -> Self {
        GradeWanted(std::sync::atomic::AtomicBool::new(self.get()))
    }
}

impl PartialEq for GradeWanted {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

fn default_io_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
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

impl Check for TlsCheck {
    const KIND: &'static str = "tls";
    const ASPECTS: &'static [&'static str] =
        &["trusted", "chain_complete", "covers_names", "expiry", "legacy_refused", "strength", "grade"];
    const FAMILIES: &'static [&'static MetricFamily] =
        &[&TLS_VERSION_INFO, &TLS_CERT_NOT_BEFORE, &TLS_CERT_NOT_AFTER, &TLS_CHAIN_EARLIEST_NOT_AFTER, &TLS_GRADE];
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
        if aspect == "grade" {
            self.grade_wanted.set();
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

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Endpoint(self.address.clone()))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let (system, files) = (self.system_roots, self.ca_files.clone());
        let trust = ctx.blocking().run(move || trust_for(system, &files)).await??;
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
        let chain_complete = decide_chain_complete(&seen.chain, &seen.root_subjects);
        if let Some(probes) = &seen.grade {
            let outcome = match grade_facts(seen, probes, chain_complete.verdict == Verdict::Pass) {
                Ok(facts) => {
                    let rating = rate(&facts);
                    report = report.sample(Sample::new(&TLS_GRADE, rating.grade.gauge()).label("target", &target));
                    decide_grade(&rating, self.min_grade)
                }
                Err(why) => Outcome::error(Cause::Io, why),
            };
            report = report.with("grade", outcome);
        }
        report
            .with("trusted", decide_trusted(&seen.verification, seen.handshake_signature.as_deref(), leaf, now))
            .with("chain_complete", chain_complete)
            .with("covers_names", decide_covers_names(leaf, &self.wanted_names()))
            .with("expiry", decide_expiry(leaf, rule, now))
            .with("legacy_refused", decide_legacy(&seen.version, &seen.legacy))
            .with("strength", decide_strength(&seen.chain, self.min_rsa_bits, self.min_ec_bits))
    }
}

// ------------------------------------------------------------------------------------------
// Decisions of the tls kind (the certificate-only ones are in `cert`)

/// Decides `trusted` on the chain alone: it verifies to a trusted root, and every certificate
/// is within its dates. A name the certificate does not cover is `covers_names`'s fault, and a
/// key too weak to check the handshake signature with is `strength`'s: each fault fails one item.
pub fn decide_trusted(
    verification: &Verification,
    handshake_signature: Option<&str>,
    leaf: &CertFacts,
    now: i64,
) -> Outcome {
    let dates = format!("valid {} to {}", format_timestamp(leaf.not_before), format_timestamp(leaf.not_after));
    let subject = &leaf.subject;
    match verification {
        Verification::Trusted => match (handshake_signature, &leaf.key) {
            (None, _) => Outcome::pass(format!("the chain of {subject} verifies to a trusted root; {dates}")),
            (Some(_), KeyFacts::Rsa(bits)) if *bits < MIN_VERIFIABLE_RSA_BITS => Outcome::pass(format!(
                "the chain of {subject} verifies to a trusted root; {dates}; the handshake signature was not \
                 checked: the server's RSA key of {bits} bits is too weak to verify (`strength` judges the key)"
            )),
            (Some(why), _) => Outcome::fail(
                Cause::Untrusted,
                format!("the chain of {subject} verifies, but the server's handshake signature does not: {why}"),
            ),
        },
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
        Verification::UnknownIssuer if leaf.self_signed() => Outcome::fail(
            Cause::Untrusted,
            format!("the certificate of {subject} is self-signed, and not a trusted root"),
        ),
        Verification::UnknownIssuer => Outcome::fail(
            Cause::Untrusted,
            format!("the chain of {subject} is not trusted: no path to a trusted root (unknown issuer)"),
        ),
        Verification::Untrusted(why) => Outcome::fail(Cause::Untrusted, format!("the chain is not trusted: {why}")),
    }
}

/// The facts a grade is computed from: what the rustls handshake saw (TLS 1.2/1.3, which
/// rustls offers only with forward-secret AEAD suites), the legacy probes and the grade's own.
fn grade_facts(seen: &TlsObservation, probes: &GradeProbes, chain_complete: bool) -> Result<GradeFacts, String> {
    let accepted = |what: &str, result: &LegacyResult| match result {
        Ok(HelloAnswer::Accepted) => Ok(true),
        Ok(HelloAnswer::Refused(_)) => Ok(false),
        Ok(HelloAnswer::NotTls(why)) => Err(format!("the {what} probe got no TLS answer: {why}")),
        Ok(HelloAnswer::Incomplete) => Err(format!("the {what} probe got a truncated answer")),
        Err(why) => Err(format!("the {what} probe failed: {why}")),
    };
    let version = |wanted: LegacyVersion| -> Result<bool, String> {
        match seen.legacy.iter().find(|(version, _)| *version == wanted) {
            Some((version, result)) => accepted(version.name(), result),
            None => Ok(false),
        }
    };
    let class = |wanted: SuiteClass| -> Result<bool, String> {
        match probes.classes.iter().find(|(class, _)| *class == wanted) {
            Some((class, result)) => accepted(class.name(), result),
            None => Ok(false),
        }
    };
    let leaf = seen.chain.first().ok_or("the server sent no certificate")?;
    let weak_signature =
        seen.chain.iter().find(|cert| cert.weak_signature && !cert.self_signed()).map(|cert| cert.signature.clone());
    let tls13 = seen.version == "TLS 1.3";
    Ok(GradeFacts {
        ssl3: accepted("SSL 3.0", &probes.ssl3)?,
        tls10: version(LegacyVersion::Tls10)?,
        tls11: version(LegacyVersion::Tls11)?,
        tls12: seen.version == "TLS 1.2" || accepted("TLS 1.2", &probes.tls12)?,
        tls13,
        key: leaf.key.clone(),
        weak_signature,
        chain_complete,
        forward_secret: true,
        aead: true,
        bits256: tls13 || class(SuiteClass::Bits256)?,
        bits128: class(SuiteClass::Bits128)?,
        triple_des: class(SuiteClass::TripleDes)?,
        rc4: class(SuiteClass::Rc4)?,
        insecure: class(SuiteClass::Insecure)?,
        hsts: probes.hsts.clone(),
    })
}

/// Decides `grade`: at least `min_grade`, with the score and every cap in the reason.
pub fn decide_grade(rating: &grade::Rating, min_grade: Grade) -> Outcome {
    let described = rating.describe();
    if rating.grade >= min_grade {
        Outcome::pass(format!("grade {described}; want at least {min_grade}"))
    } else {
        Outcome::fail(Cause::Insecure, format!("grade {described}; want at least {min_grade}"))
    }
}

/// The smallest RSA key the crypto provider verifies a signature with.
const MIN_VERIFIABLE_RSA_BITS: u32 = 2048;

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

#[cfg(test)]
mod tests {
    use super::cert::tests::{cert, DAY, NOW};
    use super::*;
    use crate::model::Verdict;

    #[test]
    fn trust_failures_name_the_dates() {
        let mut leaf = cert("leaf", "ca");
        leaf.not_after = NOW - 2 * DAY;
        let outcome = decide_trusted(&Verification::Expired, None, &leaf, NOW);
        assert_eq!(outcome.cause, Some(Cause::Expired));
        assert_eq!(
            outcome.reason,
            "the certificate expired 2.0 days ago; valid 2026-12-16 08:00:00 UTC to 2027-01-13 08:00:00 UTC"
        );
        let mut future = cert("leaf", "ca");
        future.not_before = NOW + 3 * DAY;
        let outcome = decide_trusted(&Verification::NotYetValid, None, &future, NOW);
        assert_eq!(outcome.cause, Some(Cause::NotYetValid));
        assert!(outcome.reason.starts_with("the certificate is not valid for another 3.0 days"), "{}", outcome.reason);
        assert_eq!(decide_trusted(&Verification::Trusted, None, &cert("l", "c"), NOW).verdict, Verdict::Pass);
    }

    #[test]
    fn an_untrusted_self_signed_certificate_says_so_and_a_weak_key_is_not_a_trust_fault() {
        let outcome = decide_trusted(&Verification::UnknownIssuer, None, &cert("app", "app"), NOW);
        assert_eq!(outcome.reason, "the certificate of app is self-signed, and not a trusted root");
        let outcome = decide_trusted(&Verification::UnknownIssuer, None, &cert("app", "ca"), NOW);
        assert_eq!(outcome.reason, "the chain of app is not trusted: no path to a trusted root (unknown issuer)");
        let mut weak = cert("weak", "ca");
        weak.key = KeyFacts::Rsa(1024);
        let outcome = decide_trusted(&Verification::Trusted, Some("BadSignature"), &weak, NOW);
        assert_eq!(outcome.verdict, Verdict::Pass);
        assert!(
            outcome.reason.contains("the server's RSA key of 1024 bits is too weak to verify"),
            "{}",
            outcome.reason
        );
        let mut sound = cert("sound", "ca");
        sound.key = KeyFacts::Rsa(2048);
        let outcome = decide_trusted(&Verification::Trusted, Some("BadSignature"), &sound, NOW);
        assert_eq!(outcome.cause, Some(Cause::Untrusted));
        assert_eq!(
            outcome.reason,
            "the chain of sound verifies, but the server's handshake signature does not: BadSignature"
        );
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
