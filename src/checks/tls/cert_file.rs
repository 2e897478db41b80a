//! `kind = "tls_cert_file"`: a PEM certificate bundle on disk, optionally with its key. Decides
//! validity, expiry, names and strength from the certificate facts ([`super::cert`]), whether the
//! key belongs to the certificate, whether the key file is private, and whether a service user can
//! read the certificate file through every parent directory.

use std::path::{Path, PathBuf};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::PrivateKeyDer;
use serde::Deserialize;

use super::cert::{
    decide_covers_names, decide_expiry, decide_strength, default_min_ec_bits, default_min_rsa_bits, format_timestamp,
    now_unix, parse_cert, validate_expiry, CertFacts, ExpiryRule,
};
use super::trust::read_pem_certs;
use super::{TLS_CERT_NOT_AFTER, TLS_CERT_NOT_BEFORE};
use crate::checks::{subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::accounts::{self, Access, Account, AccountError, Credentials, Ownership};
use crate::support::tls::client_provider;
use crate::support::units::HumanDuration;

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

/// What one run of a certificate-file check read.
#[derive(Debug)]
pub struct CertFileObservation {
    pub chain: Vec<CertFacts>,
    /// Whether the key's public half equals the leaf's, or why that could not be told.
    pub key_matches: Option<Result<bool, ProbeFailure>>,
    pub key_mode: Option<Result<Ownership, ProbeFailure>>,
    /// The certificate file and each parent directory, file first.
    pub access_path: Vec<(PathBuf, Ownership)>,
    pub account: Option<Result<Account, AccountError>>,
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

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.cert_file))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let check = self.clone();
        let observation = ctx.blocking().run(move || check.observe()).await??;
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
                let mode = stat(ancestor)?;
                access_path.push((ancestor.to_path_buf(), mode));
            }
            account = Some(accounts::by_name(user));
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
                Err(failure) => Outcome::error(failure.cause, failure.reason.clone()),
            };
            report = report.with("key_matches", outcome);
        }
        if let Some(mode) = &seen.key_mode {
            let outcome = match mode {
                Ok(mode) => decide_key_private(*mode),
                Err(failure) => Outcome::error(failure.cause, failure.reason.clone()),
            };
            report = report.with("key_private", outcome);
        }
        if let (Some(account), Some(user)) = (&seen.account, &self.readable_by) {
            let outcome = match account {
                Ok(account) => decide_readable_by(account, &seen.access_path),
                Err(why @ (AccountError::NotFound | AccountError::NulInName)) => {
                    Outcome::error(Cause::NotFound, format!("user {user}: {why}"))
                }
                Err(why) => Outcome::error(Cause::Io, format!("user {user}: {why}")),
            };
            report = report.with("readable_by", outcome);
        }
        report
    }
}

/// Decides `key_private`: no permission bits for group or others.
pub fn decide_key_private(mode: Ownership) -> Outcome {
    let bits = mode.mode & 0o777;
    Outcome::decide(
        bits & 0o077 == 0,
        Cause::Insecure,
        format!("the key file has mode {bits:04o}; want no access for group or others (like 0600)"),
    )
}

/// Decides `readable_by`: the user can search every parent directory and read the file.
/// `path` lists the file first, then its parents up to `/`.
pub fn decide_readable_by(account: &Account, path: &[(PathBuf, Ownership)]) -> Outcome {
    let Some(((file, file_mode), parents)) = path.split_first() else {
        return Outcome::error(Cause::Io, "no path to judge");
    };
    let readable = match accounts::reach(&Credentials::from(account), parents.iter().rev(), *file_mode, Access::Read) {
        Ok(readable) => readable,
        Err((dir, mode)) => {
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
            )
        }
    };
    let detail = format!("mode {:04o}, owner {}, group {}", file_mode.mode & 0o7777, file_mode.uid, file_mode.gid);
    Outcome::decide(
        readable,
        Cause::Permission,
        if readable {
            format!("{} can read {} ({detail})", account.name, file.display())
        } else {
            format!("{} cannot read {} ({detail})", account.name, file.display())
        },
    )
}

fn stat(path: &Path) -> Result<Ownership, ProbeFailure> {
    std::fs::metadata(path)
        .map(|m| Ownership::of(&m))
        .map_err(|err| ProbeFailure::new(Cause::from_io(&err), format!("cannot stat {}: {err}", path.display())))
}

/// Compares the public half of the private key in `key_path` with the leaf's. The key's bytes
/// never leave this function, and errors speak only of the file.
fn read_key_matches(key_path: &Path, leaf: &CertFacts) -> Result<bool, ProbeFailure> {
    let bytes = std::fs::read(key_path).map_err(|err| {
        ProbeFailure::new(Cause::from_io(&err), format!("cannot read key file {}: {}", key_path.display(), err.kind()))
            .about(subject::path(key_path))
    })?;
    let key = PrivateKeyDer::from_pem_slice(&bytes).map_err(|_| {
        ProbeFailure::new(Cause::Invalid, format!("key file {} holds no PEM private key", key_path.display()))
    })?;
    let signing = client_provider().key_provider.load_private_key(key).map_err(|_| {
        ProbeFailure::new(Cause::Invalid, format!("key file {} holds a key of an unsupported kind", key_path.display()))
    })?;
    let public = signing.public_key().ok_or_else(|| {
        ProbeFailure::new(Cause::Invalid, format!("cannot derive the public key of {}", key_path.display()))
    })?;
    Ok(public.as_ref() == leaf.spki.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    #[test]
    fn key_files_must_be_private() {
        assert_eq!(decide_key_private(Ownership { mode: 0o100600, uid: 0, gid: 0 }).verdict, Verdict::Pass);
        let open = decide_key_private(Ownership { mode: 0o100640, uid: 0, gid: 0 });
        assert_eq!(open.cause, Some(Cause::Insecure));
        assert_eq!(open.reason, "the key file has mode 0640; want no access for group or others (like 0600)");
    }

    #[test]
    fn readability_follows_owner_group_other_and_parent_directories() {
        let nginx = Account { name: "www-data".into(), uid: 33, gids: vec![33] };
        let dir = |mode| (PathBuf::from("/etc/ssl"), Ownership { mode, uid: 0, gid: 0 });
        let root = (PathBuf::from("/"), Ownership { mode: 0o40755, uid: 0, gid: 0 });
        let file = |mode, gid| (PathBuf::from("/etc/ssl/app.pem"), Ownership { mode, uid: 0, gid });
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
}
