//! Attestations: for checklist lines only a person can decide ("Support team trained", "Rollback
//! procedures tested"), someone records who confirmed it and when, and the item passes until the
//! attestation is older than its validity.
//!
//! The store is one JSON file. Writes are atomic (a temp file in the same directory, fsync,
//! rename, fsync of the directory), so a crash leaves the old file or the new one, never half of
//! one. A file that does not parse is reported and never replaced: it holds the only record of
//! who attested what. Every attestation (from the `attest` command or the API) is also appended
//! to an audit log beside the file, one JSON line each, never rewritten.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

/// One recorded attestation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Attestation {
    pub by: String,
    /// RFC 3339, UTC, whole seconds.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// How long this attestation counts when that is shorter than the check's validity (a CI
    /// run that says "valid for 7d"), as written: `7d`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_for: Option<String>,
    /// Where the evidence is: a CI run, a report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_url: Option<String>,
}

impl Attestation {
    pub fn time(&self) -> Result<SystemTime, String> {
        humantime::parse_rfc3339(&self.at).map_err(|err| format!("`at` is not an RFC 3339 time: {err}"))
    }

    /// How long it counts: the check's `validity`, or the attestation's own `valid_for` when
    /// shorter (a longer one was refused when it was recorded).
    pub fn validity(&self, check_validity: Duration) -> Result<Duration, String> {
        match &self.valid_for {
            None => Ok(check_validity),
            Some(text) => crate::support::units::parse_duration(text)
                .map(|own| own.min(check_validity))
                .map_err(|err| format!("`valid_for` {err}")),
        }
    }
}

/// Where a recorded attestation came from, for the audit log.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// The `attest` command.
    Cli,
    /// `POST /api/v1/attestations`.
    Api,
}

/// One line of the audit log: every attestation ever recorded, in order.
#[derive(Debug, Serialize)]
struct AuditEntry<'a> {
    item: &'a str,
    /// The environments the entry serves (`[environments.NAME]`); absent without environments.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    environments: &'a [String],
    #[serde(flatten)]
    attestation: &'a Attestation,
    via: Source,
}

/// The attestation file: the latest attestation per item id.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestationFile {
    pub version: u32,
    pub attestations: BTreeMap<String, Attestation>,
}

#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error("cannot read the attestation file {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("the attestation file {path} is corrupt ({reason}); it was left as it is: repair or move it away")]
    Corrupt { path: String, reason: String },
    #[error("cannot write the attestation file {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{0}")]
    Invalid(String),
}

pub const FILE_VERSION: u32 = 1;

/// Reads the store; a missing file is an empty store (nothing attested yet).
pub fn load(path: &Path) -> Result<AttestationFile, AttestError> {
    let text = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Ok(AttestationFile { version: FILE_VERSION, attestations: BTreeMap::new() })
        }
        Err(err) => {
            let reason = match err.raw_os_error() {
                Some(libc::EISDIR) => "it is a directory".to_string(),
                _ if err.kind() == std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => err.to_string(),
            };
            return Err(AttestError::Read { path: path.display().to_string(), reason });
        }
    };
    parse(&text).map_err(|reason| AttestError::Corrupt { path: path.display().to_string(), reason })
}

/// Parses the store's bytes, checking the version and every time.
pub fn parse(bytes: &[u8]) -> Result<AttestationFile, String> {
    let file: AttestationFile = serde_json::from_slice(bytes).map_err(|err| err.to_string())?;
    if file.version != FILE_VERSION {
        return Err(format!("version {} is not the supported {FILE_VERSION}", file.version));
    }
    for (id, attestation) in &file.attestations {
        attestation.time().map_err(|err| format!("{id}: {err}"))?;
        attestation.validity(Duration::MAX).map_err(|err| format!("{id}: {err}"))?;
    }
    Ok(file)
}

/// The audit log beside the attestation file: `attestations.json` → `attestations.audit.jsonl`.
pub fn audit_log_path(path: &Path) -> PathBuf {
    path.with_extension("audit.jsonl")
}

/// Records `attestation` for `id`, replacing an earlier one, atomically, after appending it to
/// the audit log: the file keeps only the latest attestation per item, the log keeps them all.
/// The file keys entries by item id only: `environments` (those whose instance of the item
/// reads this file) goes to the audit log.
pub fn record_from(
    path: &Path,
    id: &str,
    attestation: Attestation,
    source: Source,
    environments: &[String],
) -> Result<(), AttestError> {
    if attestation.by.trim().is_empty() {
        return Err(AttestError::Invalid("--by must name who attests".to_string()));
    }
    // On a fresh machine the directory is not there yet (`baseline` creates its own too).
    if let Some(directory) = path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        std::fs::create_dir_all(directory).map_err(|err| AttestError::Write {
            path: path.display().to_string(),
            reason: format!("cannot create the directory {}: {err}", directory.display()),
        })?;
    }
    // Two people attesting at once must not lose one update between read and rename.
    let _lock = lock(path)?;
    let mut file = load(path)?;
    // Logged first: an attestation in force is always in the log, even if the write then fails.
    append_audit(path, &AuditEntry { item: id, environments, attestation: &attestation, via: source })?;
    file.attestations.insert(id.to_string(), attestation);
    write_atomically(path, &file)
}

/// Appends one JSON line to the audit log, opened append-only so that nothing written before is
/// ever rewritten, in one write, and synced.
fn append_audit(path: &Path, entry: &AuditEntry<'_>) -> Result<(), AttestError> {
    let log = audit_log_path(path);
    // Said of the attestation file, which was left as it was, with the log as the reason.
    let failed = |err: String| AttestError::Write {
        path: path.display().to_string(),
        reason: format!("cannot append to the audit log {}: {err}; nothing was recorded", log.display()),
    };
    let mut line = serde_json::to_vec(entry).map_err(|err| failed(err.to_string()))?;
    line.push(b'\n');
    let mut out =
        std::fs::OpenOptions::new().append(true).create(true).open(&log).map_err(|err| failed(err.to_string()))?;
    out.write_all(&line).and_then(|()| out.sync_all()).map_err(|err| failed(err.to_string()))
}

/// An exclusive `flock` on a lock file beside the store, held until dropped (closing the file
/// releases it).
fn lock(path: &Path) -> Result<std::fs::File, AttestError> {
    use std::os::fd::AsRawFd;
    let failed = |reason: String| AttestError::Write { path: path.display().to_string(), reason };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let lock_path = path.with_file_name(format!(".{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|err| failed(format!("cannot open the lock file {}: {err}", lock_path.display())))?;
    // SAFETY: flock on a descriptor we own; it blocks until the other writer is done.
    if unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) } != 0 {
        return Err(failed(format!("cannot lock {}: {}", lock_path.display(), std::io::Error::last_os_error())));
    }
    Ok(file)
}

fn write_atomically(path: &Path, file: &AttestationFile) -> Result<(), AttestError> {
    let failed = |reason: String| AttestError::Write { path: path.display().to_string(), reason };
    let directory = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = directory.join(format!(".{name}.tmp-{}", std::process::id()));
    let mut text = serde_json::to_vec_pretty(file).map_err(|err| failed(err.to_string()))?;
    text.push(b'\n');
    let result = (|| -> std::io::Result<()> {
        let mut out = std::fs::OpenOptions::new().write(true).create_new(true).open(&temporary)?;
        out.write_all(&text)?;
        out.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename is durable only once the directory entry is on disk.
        std::fs::File::open(&directory)?.sync_all()
    })();
    if let Err(err) = result {
        let _ = std::fs::remove_file(&temporary);
        return Err(failed(err.to_string()));
    }
    Ok(())
}

/// An RFC 3339 UTC time in whole seconds, as stored.
pub fn format_time(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// The date part of a time, for reasons: `2026-11-27`.
pub fn format_date(time: SystemTime) -> String {
    format_time(time).chars().take(10).collect()
}

/// A new attestation made now.
pub fn now(by: &str, note: Option<String>) -> Attestation {
    Attestation { by: by.to_string(), at: format_time(SystemTime::now()), note, valid_for: None, evidence_url: None }
}

/// When an attestation made at `at` stops counting.
pub fn expires(at: SystemTime, validity: Duration) -> SystemTime {
    at.checked_add(validity).unwrap_or(at)
}
