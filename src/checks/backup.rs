//! Database backups: a set of files matching a glob in one directory.
//!
//! Two kinds share the family. `backup` lists the set (cheap: one `readdir` and a `stat` per
//! file, plus the first bytes of the newest file) and decides freshness, size, encryption and
//! retention. `backup_integrity` reads the newest file end to end, decompressing gzip and zstd
//! with their checksums verified, and recognises a PostgreSQL dump in what comes out; it is
//! expensive, so it has its own (longer) interval and a family-wide concurrency limit. An
//! encrypted file (gpg, age) is decrypted by the real tool with the configured key, its output
//! streamed through the same path: memory stays constant, and the key never passes through
//! this process (the tool reads the passphrase or identity file itself).

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Deserialize;
use tokio::sync::Semaphore;

use super::{subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::units::{format_age, format_ages_apart, format_bytes, ByteSize, HumanDuration};

pub static BACKUP_NEWEST_AGE: MetricFamily = MetricFamily {
    name: "checklist_backup_newest_age_seconds",
    help: "Age of the newest file of the backup set (now minus its modification time), in seconds.",
    kind: MetricKind::Gauge,
};
pub static BACKUP_NEWEST_SIZE: MetricFamily = MetricFamily {
    name: "checklist_backup_newest_size_bytes",
    help: "Size of the newest file of the backup set in bytes.",
    kind: MetricKind::Gauge,
};
pub static BACKUP_FILES: MetricFamily = MetricFamily {
    name: "checklist_backup_files",
    help: "Number of files in the backup set.",
    kind: MetricKind::Gauge,
};
pub static BACKUP_OLDEST_TIMESTAMP: MetricFamily = MetricFamily {
    name: "checklist_backup_oldest_timestamp_seconds",
    help: "Modification time of the oldest file of the backup set (Unix time).",
    kind: MetricKind::Gauge,
};
pub static BACKUP_VERIFIED_BYTES: MetricFamily = MetricFamily {
    name: "checklist_backup_verified_uncompressed_bytes",
    help: "Uncompressed bytes the last integrity check read from the newest backup.",
    kind: MetricKind::Gauge,
};
pub static BACKUP_VERIFIED_TIMESTAMP: MetricFamily = MetricFamily {
    name: "checklist_backup_verified_file_timestamp_seconds",
    help: "Modification time of the backup file the last integrity check read (Unix time).",
    kind: MetricKind::Gauge,
};

/// At most this many integrity reads run at once across all backup sets: each keeps a core and
/// a disk busy for minutes on a big dump, and other items must keep being evaluated meanwhile.
static INTEGRITY_READS: Semaphore = Semaphore::const_new(1);

/// Read size for integrity checks: big enough that syscalls and decoder calls are cheap,
/// small enough that memory stays constant.
const CHUNK: usize = 256 * 1024;
/// Bytes kept from the start and end of the decompressed stream to recognise the dump.
const EDGE: usize = 4096;

fn default_pattern() -> String {
    "*".to_string()
}
fn default_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(26 * 3600))
}
fn default_min_size() -> ByteSize {
    ByteSize(1, false)
}
fn default_retention() -> HumanDuration {
    HumanDuration(Duration::from_secs(30 * 86400))
}
fn default_slack() -> HumanDuration {
    HumanDuration(Duration::from_secs(2 * 86400))
}
fn default_min_count() -> usize {
    1
}

/// `kind = "backup"`: freshness, size, encryption and retention of a backup set.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupCheck {
    /// The name of the set, the `set` label of its series.
    pub set: String,
    pub directory: PathBuf,
    /// Glob on file names (`*.sql.gz`); files not matching are someone else's.
    #[serde(default = "default_pattern")]
    pub pattern: String,
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    #[serde(default = "default_min_size")]
    pub min_size: ByteSize,
    /// How long backups are kept; older ones mean the pruning job does not run.
    #[serde(default = "default_retention")]
    pub retention: HumanDuration,
    /// Grace beyond `retention`, since pruning runs on its own schedule.
    #[serde(default = "default_slack")]
    pub retention_slack: HumanDuration,
    #[serde(default = "default_min_count")]
    pub min_count: usize,
}

/// `kind = "backup_integrity"`: the newest file of the set, read end to end.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupIntegrityCheck {
    pub set: String,
    pub directory: PathBuf,
    #[serde(default = "default_pattern")]
    pub pattern: String,
    /// For OpenPGP-encrypted backups (`gpg --symmetric`): a file holding the passphrase.
    pub gpg_passphrase_file: Option<PathBuf>,
    /// For OpenPGP-encrypted backups: a GnuPG home directory whose keyring holds the secret key
    /// (`gpg --encrypt -r ...`).
    pub gpg_homedir: Option<PathBuf>,
    /// For age-encrypted backups: an identity file (`age-keygen -o`).
    pub age_identity_file: Option<PathBuf>,
}

/// The keys an integrity check may decrypt with.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DecryptionKeys {
    pub gpg_passphrase_file: Option<PathBuf>,
    pub gpg_homedir: Option<PathBuf>,
    pub age_identity_file: Option<PathBuf>,
}

impl DecryptionKeys {
    fn has_gpg(&self) -> bool {
        self.gpg_passphrase_file.is_some() || self.gpg_homedir.is_some()
    }
}

/// Which encrypted containers a file-name pattern names, by its extension.
fn named_encryption(pattern: &str) -> Option<Container> {
    let lower = pattern.to_ascii_lowercase();
    if [".gpg", ".pgp", ".asc"].iter().any(|e| lower.ends_with(e)) {
        Some(Container::OpenPgp)
    } else if lower.ends_with(".age") {
        Some(Container::Age)
    } else {
        None
    }
}

/// One file of a backup set.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupFile {
    pub path: PathBuf,
    pub size: u64,
    pub modified: SystemTime,
}

/// What listing a set found: its files, newest first, and the first bytes of the newest.
#[derive(Clone, Debug, PartialEq)]
pub struct BackupListing {
    pub files: Vec<BackupFile>,
    pub newest_head: Vec<u8>,
}

/// What a file is, by its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Container {
    Gzip,
    Zstd,
    Age,
    OpenPgp,
    /// PostgreSQL custom format (`pg_dump -Fc`), readable as it is.
    PgCustom,
    /// Anything else: a plain SQL dump, or something unknown.
    Raw,
}

impl Container {
    pub fn sniff(head: &[u8]) -> Container {
        if head.starts_with(&[0x1f, 0x8b]) {
            Container::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Container::Zstd
        } else if head.starts_with(b"age-encryption.org/") || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----") {
            Container::Age
        } else if head.starts_with(b"-----BEGIN PGP MESSAGE-----") || is_openpgp_encrypted_packet(head) {
            Container::OpenPgp
        } else if head.starts_with(b"PGDMP") {
            Container::PgCustom
        } else {
            Container::Raw
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Container::Gzip => "a gzip stream",
            Container::Zstd => "a zstd stream",
            Container::Age => "an age-encrypted file",
            Container::OpenPgp => "an OpenPGP-encrypted message",
            Container::PgCustom => "an unencrypted PostgreSQL custom-format dump",
            Container::Raw => "unencrypted data",
        }
    }
}

/// An OpenPGP encrypted message starts with a public-key (tag 1) or symmetric-key (tag 3)
/// encrypted session key packet (RFC 4880 4.2), in the old or the new packet format.
fn is_openpgp_encrypted_packet(head: &[u8]) -> bool {
    let Some(&first) = head.first() else { return false };
    if first & 0x80 == 0 {
        return false;
    }
    let tag = if first & 0x40 != 0 { first & 0x3f } else { (first >> 2) & 0x0f };
    // The version byte follows the length; 3 (PKESK v3, SKESK) to 6 are defined.
    let length_bytes = if first & 0x40 != 0 {
        match head.get(1) {
            Some(&l) if l < 192 => 1,
            Some(&l) if l < 224 => 2,
            Some(&255) => 5,
            _ => return false,
        }
    } else {
        match first & 0x03 {
            0 => 1,
            1 => 2,
            2 => 4,
            _ => return false,
        }
    };
    let version = head.get(1 + length_bytes).copied();
    matches!(tag, 1 | 3) && matches!(version, Some(3..=6))
}

impl Check for BackupCheck {
    const KIND: &'static str = "backup";
    const ASPECTS: &'static [&'static str] = &["age", "size", "encryption", "retention"];
    const FAMILIES: &'static [&'static MetricFamily] =
        &[&BACKUP_NEWEST_AGE, &BACKUP_NEWEST_SIZE, &BACKUP_FILES, &BACKUP_OLDEST_TIMESTAMP];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_set(&self.set, &self.directory, &self.pattern)?;
        if self.min_count == 0 {
            return Err(KeyError::new("min_count", "must be at least 1"));
        }
        if self.max_age.0.is_zero() {
            return Err(KeyError::new("max_age", "must be longer than 0s"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        // Series carry the set name, so two sets may share a directory.
        self.set.clone()
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.directory.join(&self.pattern)))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let (directory, pattern) = (self.directory.clone(), self.pattern.clone());
        let listing = ctx.blocking().run(move || list_set(&directory, &pattern, 64)).await??;
        Ok(self.decide(&listing, SystemTime::now()))
    }
}

impl BackupCheck {
    pub fn decide(&self, listing: &BackupListing, now: SystemTime) -> Report {
        let set = &self.set;
        let mut report =
            Report::default().sample(Sample::new(&BACKUP_FILES, listing.files.len() as f64).label("set", set.as_str()));
        let Some(newest) = listing.files.first() else {
            let reason = format!(
                "no file matches `{}` in {}; the backup set {set} is empty",
                self.pattern,
                self.directory.display()
            );
            for aspect in Self::ASPECTS {
                report = report.with(aspect, Outcome::fail(Cause::Missing, reason.clone()));
            }
            return report;
        };
        let name = file_name(&newest.path);
        let age = now.duration_since(newest.modified).unwrap_or(Duration::ZERO);
        report = report
            .sample(Sample::new(&BACKUP_NEWEST_AGE, age.as_secs_f64()).label("set", set.as_str()))
            .sample(Sample::new(&BACKUP_NEWEST_SIZE, newest.size as f64).label("set", set.as_str()));
        let (seen, wanted) = format_ages_apart(age, self.max_age.0);
        let age_reason = format!("newest backup {name} is {seen} old; want at most {wanted}");
        report = report.with("age", Outcome::decide(age <= self.max_age.0, Cause::Expired, age_reason));
        let size_reason =
            format!("newest backup {name} has {}; want at least {}", self.min_size.format(newest.size), self.min_size);
        report = report.with("size", Outcome::decide(newest.size >= self.min_size.0, Cause::BelowMinimum, size_reason));

        let container = Container::sniff(&listing.newest_head);
        let encrypted = matches!(container, Container::Age | Container::OpenPgp);
        let encryption_reason = if encrypted {
            format!("newest backup {name} is {}", container.describe())
        } else {
            format!("newest backup {name} is {}; want an age or OpenPGP container", container.describe())
        };
        report = report.with("encryption", Outcome::decide(encrypted, Cause::Insecure, encryption_reason));

        let oldest = listing.files.last().unwrap_or(newest);
        if let Ok(since_epoch) = oldest.modified.duration_since(SystemTime::UNIX_EPOCH) {
            report = report
                .sample(Sample::new(&BACKUP_OLDEST_TIMESTAMP, since_epoch.as_secs_f64()).label("set", set.as_str()));
        }
        let oldest_age = now.duration_since(oldest.modified).unwrap_or(Duration::ZERO);
        let limit = self.retention.0 + self.retention_slack.0;
        let count = listing.files.len();
        let retention = if oldest_age > limit {
            Outcome::fail(
                Cause::AboveMaximum,
                format!(
                    "oldest backup {} is {} old; the policy keeps {} (+{} slack), so pruning does not run",
                    file_name(&oldest.path),
                    format_age(oldest_age),
                    format_age(self.retention.0),
                    format_age(self.retention_slack.0)
                ),
            )
        } else {
            Outcome::decide(
                count >= self.min_count,
                Cause::BelowMinimum,
                format!(
                    "{count} backups, the oldest {} old; want at least {} and none older than {} (+{} slack)",
                    format_age(oldest_age),
                    self.min_count,
                    format_age(self.retention.0),
                    format_age(self.retention_slack.0)
                ),
            )
        };
        report.with("retention", retention)
    }
}

pub(super) fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| path.display().to_string())
}

pub(super) fn validate_set(set: &str, directory: &Path, pattern: &str) -> Result<(), KeyError> {
    let valid_set = !set.is_empty()
        && set.len() <= 64
        && set.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if !valid_set {
        return Err(KeyError::new(
            "set",
            format!("`{set}` is not a set name (letters, digits, `_`, `-`, `.`; at most 64)"),
        ));
    }
    if !directory.is_absolute() {
        return Err(KeyError::new("directory", format!("`{}` is not an absolute path", directory.display())));
    }
    if pattern.contains('/') {
        return Err(KeyError::new(
            "pattern",
            format!("`{pattern}` contains `/`; it matches file names in `directory`"),
        ));
    }
    glob::Pattern::new(pattern).map_err(|err| KeyError::new("pattern", format!("`{pattern}` is not a glob: {err}")))?;
    Ok(())
}

/// Describes an I/O error on `path` as a probe failure a person can act on.
pub(super) fn io_failure(what: &str, path: &Path, err: &std::io::Error) -> ProbeFailure {
    let why = match err.raw_os_error() {
        Some(libc::ELOOP) => "a symbolic link loop".to_string(),
        Some(libc::ENOTDIR) => "a path component is not a directory".to_string(),
        _ => match err.kind() {
            std::io::ErrorKind::NotFound => "it does not exist".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        },
    };
    ProbeFailure::new(Cause::from_io(err), format!("cannot read {what} {}: {why}", path.display()))
        .about(subject::path(path))
}

/// The newest file of the set `set` (`directory`, `pattern`), listed off the async workers; the
/// inner `Err` is the reason an empty set fails with.
pub(super) async fn newest_of_set(
    ctx: &CheckContext,
    directory: &Path,
    pattern: &str,
    set: &str,
) -> Result<Result<BackupFile, String>, ProbeFailure> {
    let (listed_directory, listed_pattern) = (directory.to_path_buf(), pattern.to_string());
    let listing = ctx.blocking().run(move || list_set(&listed_directory, &listed_pattern, 0)).await??;
    Ok(listing.files.into_iter().next().ok_or_else(|| {
        format!("no file matches `{pattern}` in {}; the backup set {set} is empty", directory.display())
    }))
}

/// Lists the regular files of `directory` whose names match `pattern`, newest first, and reads
/// the first `head_bytes` of the newest.
pub(super) fn list_set(directory: &Path, pattern: &str, head_bytes: usize) -> Result<BackupListing, ProbeFailure> {
    let glob = glob::Pattern::new(pattern)
        .map_err(|err| ProbeFailure::new(Cause::Invalid, format!("`{pattern}` is not a glob: {err}")))?;
    let metadata = std::fs::metadata(directory).map_err(|err| io_failure("backup directory", directory, &err))?;
    if !metadata.is_dir() {
        return Err(ProbeFailure::new(
            Cause::Invalid,
            format!("backup directory {} is not a directory", directory.display()),
        ));
    }
    let entries = std::fs::read_dir(directory).map_err(|err| io_failure("backup directory", directory, &err))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|err| io_failure("backup directory", directory, &err))?;
        let name = entry.file_name();
        if !glob.matches(&name.to_string_lossy()) {
            continue;
        }
        let path = entry.path();
        // Follows symbolic links, as a restore would; a dangling link or a loop is named.
        let metadata = std::fs::metadata(&path).map_err(|err| io_failure("backup file", &path, &err))?;
        if !metadata.is_file() {
            continue;
        }
        let modified = metadata.modified().map_err(|err| io_failure("backup file", &path, &err))?;
        files.push(BackupFile { path, size: metadata.len(), modified });
    }
    files.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.path.cmp(&a.path)));
    let mut newest_head = Vec::new();
    if let Some(newest) = files.first() {
        let file = File::open(&newest.path).map_err(|err| io_failure("backup file", &newest.path, &err))?;
        file.take(head_bytes as u64)
            .read_to_end(&mut newest_head)
            .map_err(|err| io_failure("backup file", &newest.path, &err))?;
    }
    Ok(BackupListing { files, newest_head })
}

/// What reading a backup end to end found.
#[derive(Clone, Debug, PartialEq)]
pub struct Verified {
    pub container: Container,
    pub compressed_bytes: u64,
    pub uncompressed_bytes: u64,
    pub dump: DumpKind,
    /// Whether the data carried checksums that were verified: always for gzip; for zstd only
    /// when the first frame has its content-checksum flag (`zstd` writes one by default).
    pub checksummed: bool,
    /// The tool that decrypted the file first (`gpg`, `age`), when it was encrypted.
    pub decrypted_with: Option<&'static str>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DumpKind {
    /// `pg_dump` plain SQL that ends with its completion marker.
    PlainComplete,
    /// Plain SQL without the marker pg_dump writes last: cut short while dumping.
    PlainIncomplete,
    /// `pg_dump -Fc`.
    Custom,
    Unknown,
}

/// Why a backup failed its integrity check.
#[derive(Clone, Debug, thiserror::Error, PartialEq)]
pub enum IntegrityError {
    #[error("truncated: the {format} stream ends at byte {offset} before its end")]
    Truncated { format: &'static str, offset: u64 },
    #[error("corrupt at byte {offset}: {detail}")]
    Corrupt { offset: u64, detail: String },
    #[error("cannot read the file at byte {offset}: {detail}")]
    Read { offset: u64, detail: String },
    #[error("is {0}; its content cannot be verified without the key")]
    Encrypted(&'static str),
    #[error("{tool} cannot decrypt it with the configured key: {detail}")]
    WrongKey { tool: &'static str, detail: String },
    #[error("the encrypted file is damaged or cut short ({tool}: {detail})")]
    DecryptionFailed { tool: &'static str, detail: String },
    #[error("cannot run {tool} to decrypt it: {detail}")]
    Decryptor { tool: &'static str, detail: String },
    #[error("the check was cancelled")]
    Cancelled,
    /// The reader of the content (a restore's `psql`) stopped taking it.
    #[error("the content could not be handed on after {written} bytes: {detail}")]
    Write { written: u64, detail: String },
}

/// A `BufRead` that counts the bytes its consumer has consumed: for a decoder, the offset in
/// the compressed file where it stopped.
struct CountingReader<R> {
    inner: R,
    consumed: u64,
}

impl<R: BufRead> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.consumed += n as u64;
        Ok(n)
    }
}

impl<R: BufRead> BufRead for CountingReader<R> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        self.inner.fill_buf()
    }
    fn consume(&mut self, amount: usize) {
        self.consumed += amount as u64;
        self.inner.consume(amount);
    }
}

/// Reads `source` (a whole backup file) to its end, decompressing and verifying checksums, and
/// recognises the dump inside. Memory is constant: one input buffer, one output chunk, and the
/// first and last few KiB of the content. `cancel` stops it between chunks.
pub fn verify<R: Read>(source: R, cancel: &AtomicBool) -> Result<Verified, IntegrityError> {
    verify_into(source, cancel, &mut std::io::sink())
}

/// [`verify`], handing every decoded chunk to `sink` as it is read: a restore drill pipes the
/// content into `psql` or `pg_restore` this way, with the same truncation and checksum checks.
pub fn verify_into<R: Read>(source: R, cancel: &AtomicBool, sink: &mut dyn Write) -> Result<Verified, IntegrityError> {
    let mut input = CountingReader { inner: BufReader::with_capacity(CHUNK, source), consumed: 0 };
    let head = input.fill_buf().map_err(|err| IntegrityError::Read { offset: 0, detail: err.to_string() })?;
    let container = Container::sniff(head);
    // Frame header descriptor, bit 2: Content_Checksum_flag (RFC 8878 3.1.1.1.1).
    let checksummed = match container {
        Container::Gzip => true,
        Container::Zstd => head.get(4).is_some_and(|descriptor| descriptor & 0x04 != 0),
        _ => false,
    };
    // Each arm returns the scan and how many file bytes the decoder consumed, on success and
    // on failure alike: the offset of a truncation or corruption.
    let (format, result, consumed) = match container {
        Container::Age | Container::OpenPgp => return Err(IntegrityError::Encrypted(container.describe())),
        Container::Gzip => {
            let mut decoder = flate2::bufread::MultiGzDecoder::new(input);
            let result = scan(&mut decoder, cancel, sink);
            ("gzip", result, decoder.get_ref().consumed)
        }
        Container::Zstd => match zstd::stream::read::Decoder::with_buffer(input) {
            Ok(mut decoder) => {
                let result = scan(&mut decoder, cancel, sink);
                ("zstd", result, decoder.get_ref().consumed)
            }
            Err(err) => return Err(IntegrityError::Corrupt { offset: 0, detail: err.to_string() }),
        },
        Container::PgCustom | Container::Raw => {
            let result = scan(&mut input, cancel, sink);
            ("file", result, input.consumed)
        }
    };
    let offset = consumed;
    let scanned = result.map_err(|err| match err {
        ScanError::Cancelled => IntegrityError::Cancelled,
        ScanError::Sink { written, err } => IntegrityError::Write { written, detail: err.to_string() },
        ScanError::Io(err) if err.kind() == std::io::ErrorKind::UnexpectedEof => {
            IntegrityError::Truncated { format, offset }
        }
        ScanError::Io(err)
            if matches!(err.kind(), std::io::ErrorKind::InvalidInput | std::io::ErrorKind::InvalidData) =>
        {
            IntegrityError::Corrupt { offset, detail: decoder_message(&err) }
        }
        ScanError::Io(err) => IntegrityError::Read { offset, detail: err.to_string() },
    })?;
    Ok(Verified {
        container,
        compressed_bytes: consumed,
        uncompressed_bytes: scanned.total,
        dump: recognise(&scanned.head, &scanned.tail),
        checksummed,
        decrypted_with: None,
    })
}

/// Verifies the backup at `path`: as it is, or, when it is encrypted and a key for it is
/// configured, through the decrypting tool; the content goes to `sink` as it is read. The outer
/// error is the file itself unreadable.
pub(super) fn verify_file(
    path: &Path,
    keys: &DecryptionKeys,
    cancel: &AtomicBool,
    sink: &mut dyn Write,
) -> Result<Result<Verified, IntegrityError>, std::io::Error> {
    let mut file = File::open(path)?;
    let mut head = Vec::with_capacity(64);
    (&mut file).take(64).read_to_end(&mut head)?;
    std::io::Seek::rewind(&mut file)?;
    let container = Container::sniff(&head);
    let tool = match container {
        Container::OpenPgp if keys.has_gpg() => "gpg",
        Container::Age if keys.age_identity_file.is_some() => "age",
        _ => return Ok(verify_into(file, cancel, sink)),
    };
    Ok(decrypt_and_verify(tool, keys, file, cancel, sink))
}

/// A GnuPG home directory of our own for one decryption, when none is configured: gpg wants
/// one, and the daemon's user may have no home. Removed when dropped.
struct ScratchHome(PathBuf);

impl ScratchHome {
    fn create() -> std::io::Result<ScratchHome> {
        use std::os::unix::fs::DirBuilderExt;
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let name = format!("checklist-exporter-gnupg-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed));
        let path = std::env::temp_dir().join(name);
        std::fs::DirBuilder::new().mode(0o700).create(&path)?;
        Ok(ScratchHome(path))
    }
}

impl Drop for ScratchHome {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Runs `tool` on `file` and verifies what it writes. The key files are named to the tool,
/// never read here, so no secret passes through this process.
fn decrypt_and_verify(
    tool: &'static str,
    keys: &DecryptionKeys,
    file: File,
    cancel: &AtomicBool,
    sink: &mut dyn Write,
) -> Result<Verified, IntegrityError> {
    let failed = |detail: String| IntegrityError::Decryptor { tool, detail };
    for (key, path) in [
        ("gpg_passphrase_file", &keys.gpg_passphrase_file),
        ("gpg_homedir", &keys.gpg_homedir),
        ("age_identity_file", &keys.age_identity_file),
    ] {
        if let Some(path) = path {
            if let Err(err) = std::fs::metadata(path) {
                return Err(failed(format!("{key} {}: {err}", path.display())));
            }
        }
    }
    let mut scratch = None;
    let mut command = std::process::Command::new(tool);
    if tool == "gpg" {
        let home = match &keys.gpg_homedir {
            Some(home) => home.clone(),
            None => {
                let created = ScratchHome::create().map_err(|err| failed(format!("a GnuPG home: {err}")))?;
                let path = created.0.clone();
                scratch = Some(created);
                path
            }
        };
        command.args(["--batch", "--quiet", "--no-tty", "--pinentry-mode", "loopback", "--homedir"]).arg(home);
        if let Some(passphrase_file) = &keys.gpg_passphrase_file {
            command.arg("--passphrase-file").arg(passphrase_file);
        }
        command.arg("--decrypt");
    } else {
        command.arg("--decrypt");
        if let Some(identity) = &keys.age_identity_file {
            command.arg("-i").arg(identity);
        }
    }
    let mut child = command
        .stdin(std::process::Stdio::from(file))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|err| failed(err.to_string()))?;
    // stderr is read on its own thread, so a chatty tool cannot block on a full pipe.
    let stderr = child.stderr.take().map(|stderr| {
        std::thread::spawn(move || {
            let mut kept = Vec::new();
            let _ = stderr.take(16 * 1024).read_to_end(&mut kept);
            kept
        })
    });
    let result = match child.stdout.take() {
        // Dropping stdout when verify returns makes a tool still writing stop (EPIPE).
        Some(stdout) => verify_into(stdout, cancel, sink),
        None => Err(IntegrityError::Read { offset: 0, detail: "no output from the decryptor".into() }),
    };
    if matches!(result, Err(IntegrityError::Cancelled)) {
        let _ = child.kill();
    }
    let status = child.wait().map_err(|err| failed(err.to_string()))?;
    let stderr = stderr.and_then(|reader| reader.join().ok()).unwrap_or_default();
    drop(scratch);
    if result == Err(IntegrityError::Cancelled) {
        return result;
    }
    if !status.success() {
        let detail = decryptor_message(&stderr);
        return Err(if is_wrong_key(&detail) {
            IntegrityError::WrongKey { tool, detail }
        } else {
            IntegrityError::DecryptionFailed { tool, detail }
        });
    }
    result.map(|verified| Verified { decrypted_with: Some(tool), ..verified })
}

/// The line of the tool's stderr that says what went wrong: gpg's `decryption failed: ...` or
/// age's `age: error: ...`, else the first line.
fn decryptor_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = lines
        .iter()
        .find(|l| l.contains("decryption failed") || l.contains("error:"))
        .or(lines.first())
        .copied()
        .unwrap_or("exited with an error and said nothing");
    crate::support::text::excerpt(line, 200)
}

/// Whether the tool's complaint is about the key rather than the file.
fn is_wrong_key(message: &str) -> bool {
    ["Bad session key", "No secret key", "bad passphrase", "no identity matched", "incorrect passphrase"]
        .iter()
        .any(|needle| message.contains(needle))
}

/// flate2 and zstd word their errors for programmers; say what they mean for a backup.
fn decoder_message(err: &std::io::Error) -> String {
    let text = err.to_string();
    if text.contains("checksum") {
        "the CRC-32 checksum does not match the data (a flipped bit?)".to_string()
    } else if text.contains("invalid gzip header") {
        "data after the end of a gzip stream is not another gzip stream".to_string()
    } else {
        text
    }
}

enum ScanError {
    Io(std::io::Error),
    Cancelled,
    Sink { written: u64, err: std::io::Error },
}

struct Scanned {
    total: u64,
    head: Vec<u8>,
    tail: Vec<u8>,
}

fn scan(reader: &mut impl Read, cancel: &AtomicBool, sink: &mut dyn Write) -> Result<Scanned, ScanError> {
    let mut buffer = vec![0u8; CHUNK];
    let mut head = Vec::with_capacity(EDGE);
    let mut tail: Vec<u8> = Vec::with_capacity(2 * EDGE);
    let mut total = 0u64;
    loop {
        if cancel.load(Ordering::Relaxed) {
            return Err(ScanError::Cancelled);
        }
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(err) => return Err(ScanError::Io(err)),
        };
        let chunk = &buffer[..n];
        sink.write_all(chunk).map_err(|err| ScanError::Sink { written: total, err })?;
        if head.len() < EDGE {
            let take = (EDGE - head.len()).min(n);
            head.extend_from_slice(&chunk[..take]);
        }
        let keep = &chunk[n.saturating_sub(EDGE)..];
        tail.extend_from_slice(keep);
        if tail.len() > EDGE {
            tail.drain(..tail.len() - EDGE);
        }
        total += n as u64;
    }
    Ok(Scanned { total, head, tail })
}

/// Recognises a PostgreSQL dump from the first and last bytes of its content.
pub fn recognise(head: &[u8], tail: &[u8]) -> DumpKind {
    let contains = |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    if head.starts_with(b"PGDMP") {
        DumpKind::Custom
    } else if contains(head, b"-- PostgreSQL database dump") {
        if contains(tail, b"-- PostgreSQL database dump complete") {
            DumpKind::PlainComplete
        } else {
            DumpKind::PlainIncomplete
        }
    } else {
        DumpKind::Unknown
    }
}

/// Turns what reading the file found into the integrity verdict.
pub fn decide_integrity(name: &str, result: &Result<Verified, IntegrityError>) -> Outcome {
    match result {
        Ok(v) => {
            let what = match v.container {
                Container::Gzip => format!(
                    "gzip: {} compressed, {} uncompressed, checksums match",
                    format_bytes(v.compressed_bytes),
                    format_bytes(v.uncompressed_bytes)
                ),
                Container::Zstd => format!(
                    "zstd: {} compressed, {} uncompressed, {}",
                    format_bytes(v.compressed_bytes),
                    format_bytes(v.uncompressed_bytes),
                    if v.checksummed { "checksums match" } else { "no checksums in the frames" }
                ),
                _ => format!("{} read", format_bytes(v.uncompressed_bytes)),
            };
            let what = match v.decrypted_with {
                Some(tool) => format!("decrypted with {tool}; {what}"),
                None => what,
            };
            match v.dump {
                DumpKind::PlainComplete => Outcome::pass(format!("{name} ({what}) is a complete PostgreSQL plain SQL dump")),
                DumpKind::Custom => Outcome::pass(format!("{name} ({what}) is a PostgreSQL custom-format dump")),
                DumpKind::PlainIncomplete => Outcome::fail(
                    Cause::Corrupt,
                    format!("{name} ({what}) is a plain SQL dump without pg_dump's final `-- PostgreSQL database dump complete`: the dump was cut short"),
                ),
                DumpKind::Unknown => Outcome::fail(
                    Cause::Invalid,
                    format!("{name} ({what}) is not a PostgreSQL dump: no `-- PostgreSQL database dump` header and no PGDMP magic"),
                ),
            }
        }
        Err(IntegrityError::Encrypted(what)) => {
            Outcome::error(Cause::Invalid, format!("{name} {}", IntegrityError::Encrypted(what)))
        }
        Err(err @ IntegrityError::Read { .. }) => Outcome::error(Cause::Io, format!("{name}: {err}")),
        Err(err @ IntegrityError::WrongKey { .. }) => Outcome::fail(Cause::Invalid, format!("{name}: {err}")),
        Err(err @ IntegrityError::Decryptor { .. }) => Outcome::error(Cause::Io, format!("{name}: {err}")),
        Err(IntegrityError::Cancelled) => Outcome::error(Cause::Timeout, format!("{name}: the check was cancelled")),
        Err(err @ IntegrityError::Write { .. }) => Outcome::error(Cause::Io, format!("{name}: {err}")),
        Err(err) => Outcome::fail(Cause::Corrupt, format!("{name}: {err}")),
    }
}

/// Refuses relative key paths, and a pattern naming encrypted files without their key: said
/// once at load rather than as an error at every run, since without the key the content of an
/// encrypted backup cannot be read.
pub(super) fn validate_keys(pattern: &str, keys: &DecryptionKeys) -> Result<(), KeyError> {
    for (key, path) in [
        ("gpg_passphrase_file", &keys.gpg_passphrase_file),
        ("gpg_homedir", &keys.gpg_homedir),
        ("age_identity_file", &keys.age_identity_file),
    ] {
        if let Some(path) = path {
            if !path.is_absolute() {
                return Err(KeyError::new(key, format!("`{}` is not an absolute path", path.display())));
            }
        }
    }
    match named_encryption(pattern) {
        Some(Container::OpenPgp) if !keys.has_gpg() => Err(KeyError::new(
            "pattern",
            format!(
                "`{pattern}` names encrypted files (OpenPGP), whose content cannot be verified without the key; \
                 give `gpg_passphrase_file` (gpg --symmetric) or `gpg_homedir` (a keyring with the secret key)"
            ),
        )),
        Some(Container::Age) if keys.age_identity_file.is_none() => Err(KeyError::new(
            "pattern",
            format!(
                "`{pattern}` names encrypted files (age), whose content cannot be verified without the key; \
                 give `age_identity_file`"
            ),
        )),
        _ => Ok(()),
    }
}

impl BackupIntegrityCheck {
    pub fn keys(&self) -> DecryptionKeys {
        DecryptionKeys {
            gpg_passphrase_file: self.gpg_passphrase_file.clone(),
            gpg_homedir: self.gpg_homedir.clone(),
            age_identity_file: self.age_identity_file.clone(),
        }
    }
}

impl Check for BackupIntegrityCheck {
    const KIND: &'static str = "backup_integrity";
    const ASPECTS: &'static [&'static str] = &["integrity"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&BACKUP_VERIFIED_BYTES, &BACKUP_VERIFIED_TIMESTAMP];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        validate_set(&self.set, &self.directory, &self.pattern)?;
        validate_keys(&self.pattern, &self.keys())
    }

    fn target(&self) -> String {
        // Series carry the set name, so two sets may share a directory.
        self.set.clone()
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.directory.join(&self.pattern)))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let newest = match newest_of_set(ctx, &self.directory, &self.pattern, &self.set).await? {
            Ok(newest) => newest,
            Err(reason) => return Ok(Report::default().with("integrity", Outcome::fail(Cause::Missing, reason))),
        };
        let _permit = INTEGRITY_READS.acquire().await.ok();
        // When the scheduler gives up on this check (timeout) it drops this future; the guard
        // then tells the blocking read to stop at its next chunk instead of reading on.
        let cancel = Arc::new(AtomicBool::new(false));
        struct CancelOnDrop(Arc<AtomicBool>);
        impl Drop for CancelOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _guard = CancelOnDrop(cancel.clone());
        let path = newest.path.clone();
        let keys = self.keys();
        let result = ctx
            .blocking()
            .run(move || -> Result<Result<Verified, IntegrityError>, std::io::Error> {
                verify_file(&path, &keys, &cancel, &mut std::io::sink())
            })
            .await?
            .map_err(|err| io_failure("backup file", &newest.path, &err))?;
        let set = self.set.as_str();
        let mut report = Report::default();
        if let Ok(verified) = &result {
            report = report
                .sample(Sample::new(&BACKUP_VERIFIED_BYTES, verified.uncompressed_bytes as f64).label("set", set));
        }
        if let Ok(since_epoch) = newest.modified.duration_since(SystemTime::UNIX_EPOCH) {
            report =
                report.sample(Sample::new(&BACKUP_VERIFIED_TIMESTAMP, since_epoch.as_secs_f64()).label("set", set));
        }
        Ok(report.with("integrity", decide_integrity(&file_name(&newest.path), &result)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;
    use std::io::Write;

    const PLAIN: &[u8] = b"--\n-- PostgreSQL database dump\n--\n\nCREATE TABLE t (x int);\n\n--\n-- PostgreSQL database dump complete\n--\n\n";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(data).unwrap();
        encoder.finish().unwrap()
    }

    fn no_cancel() -> AtomicBool {
        AtomicBool::new(false)
    }

    #[test]
    fn containers_are_told_apart_by_magic_bytes() {
        assert_eq!(Container::sniff(&[0x1f, 0x8b, 8]), Container::Gzip);
        assert_eq!(Container::sniff(&[0x28, 0xb5, 0x2f, 0xfd, 0]), Container::Zstd);
        assert_eq!(Container::sniff(b"age-encryption.org/v1\n-> X25519"), Container::Age);
        assert_eq!(Container::sniff(b"-----BEGIN AGE ENCRYPTED FILE-----\n"), Container::Age);
        assert_eq!(Container::sniff(b"-----BEGIN PGP MESSAGE-----\n"), Container::OpenPgp);
        // gpg --symmetric: old-format SKESK packet, length 13, version 4.
        assert_eq!(Container::sniff(&[0x8c, 0x0d, 0x04, 0x09]), Container::OpenPgp);
        // gpg --encrypt: new-format PKESK packet, version 3.
        assert_eq!(Container::sniff(&[0xc1, 0x4c, 0x03, 0x11]), Container::OpenPgp);
        // A literal data packet (tag 11) is signed-or-plain, not encrypted.
        assert_eq!(Container::sniff(&[0xcb, 0x10, 0x62]), Container::Raw);
        assert_eq!(Container::sniff(b"PGDMP\x01\x0e"), Container::PgCustom);
        assert_eq!(Container::sniff(PLAIN), Container::Raw);
        assert_eq!(Container::sniff(b""), Container::Raw);
    }

    #[test]
    fn a_gzipped_plain_dump_verifies_and_is_recognised() {
        let verified = verify(&gzip(PLAIN)[..], &no_cancel()).unwrap();
        assert_eq!(verified.uncompressed_bytes, PLAIN.len() as u64);
        assert_eq!(verified.dump, DumpKind::PlainComplete);
        assert_eq!(decide_integrity("a.sql.gz", &Ok(verified)).verdict, Verdict::Pass);
    }

    #[test]
    fn zstd_says_whether_its_frames_carry_checksums() {
        let mut with = zstd::stream::Encoder::new(Vec::new(), 3).unwrap();
        with.include_checksum(true).unwrap();
        with.write_all(PLAIN).unwrap();
        let with = with.finish().unwrap();
        let without = zstd::stream::encode_all(PLAIN, 3).unwrap();
        assert!(verify(&with[..], &no_cancel()).unwrap().checksummed);
        let unchecked = verify(&without[..], &no_cancel()).unwrap();
        assert!(!unchecked.checksummed);
        let outcome = decide_integrity("db.sql.zst", &Ok(unchecked));
        assert!(outcome.reason.contains("no checksums in the frames"), "{}", outcome.reason);
    }

    #[test]
    fn concatenated_gzip_members_are_all_read() {
        let mut data = gzip(&PLAIN[..40]);
        data.extend(gzip(&PLAIN[40..]));
        let verified = verify(&data[..], &no_cancel()).unwrap();
        assert_eq!(verified.uncompressed_bytes, PLAIN.len() as u64);
        assert_eq!(verified.dump, DumpKind::PlainComplete);
    }

    #[test]
    fn a_truncated_gzip_names_the_offset() {
        let data = gzip(PLAIN);
        let cut = &data[..data.len() - 10];
        let err = verify(cut, &no_cancel()).unwrap_err();
        match err {
            IntegrityError::Truncated { format: "gzip", offset } => assert_eq!(offset, cut.len() as u64),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_flipped_bit_in_the_crc_is_corruption() {
        let mut data = gzip(PLAIN);
        let crc_at = data.len() - 8;
        data[crc_at] ^= 0x01;
        let err = verify(&data[..], &no_cancel()).unwrap_err();
        assert!(matches!(&err, IntegrityError::Corrupt { detail, .. } if detail.contains("CRC-32")), "{err:?}");
        let outcome = decide_integrity("a.sql.gz", &Err(err));
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.cause, Some(Cause::Corrupt));
    }

    #[test]
    fn plain_sql_without_the_completion_marker_is_incomplete() {
        let cut = &PLAIN[..PLAIN.len() - 45];
        assert_eq!(recognise(cut, cut), DumpKind::PlainIncomplete);
        let outcome = decide_integrity("a.sql", &Ok(verify(cut, &no_cancel()).unwrap()));
        assert_eq!(outcome.cause, Some(Cause::Corrupt));
        assert!(outcome.reason.contains("cut short"), "{}", outcome.reason);
    }

    #[test]
    fn unknown_content_and_encrypted_files_are_not_passed() {
        let outcome = decide_integrity("x.gz", &Ok(verify(&gzip(b"hello")[..], &no_cancel()).unwrap()));
        assert_eq!(outcome.cause, Some(Cause::Invalid));
        let err = verify(&b"age-encryption.org/v1\n"[..], &no_cancel()).unwrap_err();
        assert_eq!(decide_integrity("x.age", &Err(err)).verdict, Verdict::Error);
    }

    #[test]
    fn the_decryptors_telling_line_and_a_wrong_key_are_recognised() {
        let gpg = b"gpg: AES256.CFB encrypted data\ngpg: encrypted with 1 passphrase\ngpg: decryption failed: Bad session key\n";
        assert_eq!(decryptor_message(gpg), "gpg: decryption failed: Bad session key");
        assert!(is_wrong_key(&decryptor_message(gpg)));
        let age = b"age: error: failed to decrypt and authenticate payload chunk\nage: report unexpected or unhelpful errors at https://filippo.io/age/report\n";
        assert_eq!(decryptor_message(age), "age: error: failed to decrypt and authenticate payload chunk");
        assert!(!is_wrong_key(&decryptor_message(age)));
        assert_eq!(named_encryption("db-*.sql.gz.GPG"), Some(Container::OpenPgp));
        assert_eq!(named_encryption("*.age"), Some(Container::Age));
        assert_eq!(named_encryption("*.sql.gz"), None);
    }

    #[test]
    fn a_cancelled_read_stops() {
        let cancel = AtomicBool::new(true);
        assert_eq!(verify(&gzip(PLAIN)[..], &cancel).unwrap_err(), IntegrityError::Cancelled);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn an_integrity_read_leaves_the_async_worker_free() {
        let dir = tempfile::tempdir().unwrap();
        let mut dump = PLAIN[..PLAIN.len() - 45].to_vec();
        while dump.len() < 16 << 20 {
            dump.extend_from_slice(b"1\tstory\t2026-11-27\ta dragon guards the hoard\n");
        }
        dump.extend_from_slice(&PLAIN[PLAIN.len() - 45..]);
        std::fs::write(dir.path().join("db.sql.gz"), gzip(&dump)).unwrap();
        let check = BackupIntegrityCheck {
            set: "db".into(),
            directory: dir.path().to_path_buf(),
            pattern: "*.sql.gz".into(),
            gpg_passphrase_file: None,
            gpg_homedir: None,
            age_identity_file: None,
        };
        let ctx = CheckContext::default();
        let mut state = ();
        let run = check.run(&ctx, &mut state);
        tokio::pin!(run);
        // The runtime has one worker. Were the read done inside the check's poll, this loop
        // would never get to run while it is in flight.
        let mut ran_meanwhile = 0;
        let report = loop {
            tokio::select! {
                biased;
                report = &mut run => break report.unwrap(),
                _ = tokio::task::yield_now() => {
                    // The permit is held only around the read itself, not the listing.
                    if ctx.blocking().in_flight() > 0 && INTEGRITY_READS.available_permits() == 0 {
                        ran_meanwhile += 1;
                    }
                }
            }
        };
        assert_eq!(report.outcome("integrity").unwrap().verdict, Verdict::Pass, "{report:?}");
        assert!(ran_meanwhile > 0);
    }

    fn check() -> BackupCheck {
        BackupCheck {
            set: "db".into(),
            directory: PathBuf::from("/backups"),
            pattern: "*.sql.gz".into(),
            max_age: default_max_age(),
            min_size: ByteSize(1024, false),
            retention: default_retention(),
            retention_slack: HumanDuration(Duration::from_secs(86400)),
            min_count: 3,
        }
    }

    fn file(name: &str, size: u64, age_hours: u64, now: SystemTime) -> BackupFile {
        BackupFile {
            path: PathBuf::from("/backups").join(name),
            size,
            modified: now - Duration::from_secs(age_hours * 3600),
        }
    }

    #[test]
    fn age_size_and_retention_of_a_healthy_set() {
        let now = SystemTime::now();
        let listing = BackupListing {
            files: vec![
                file("c.sql.gz", 4096, 2, now),
                file("b.sql.gz", 4096, 26, now),
                file("a.sql.gz", 4096, 50, now),
            ],
            newest_head: gzip(PLAIN),
        };
        let report = check().decide(&listing, now);
        let age = report.outcome("age").unwrap();
        assert_eq!(age.verdict, Verdict::Pass);
        assert_eq!(age.reason, "newest backup c.sql.gz is 2h old; want at most 1d 2h");
        assert_eq!(report.outcome("size").unwrap().verdict, Verdict::Pass);
        assert_eq!(report.outcome("retention").unwrap().verdict, Verdict::Pass);
        let encryption = report.outcome("encryption").unwrap();
        assert_eq!(encryption.cause, Some(Cause::Insecure));
        assert_eq!(encryption.reason, "newest backup c.sql.gz is a gzip stream; want an age or OpenPGP container");
    }

    #[test]
    fn stale_small_and_overkept_sets_fail() {
        let now = SystemTime::now();
        let listing = BackupListing {
            files: vec![file("b.sql.gz", 10, 30, now), file("a.sql.gz", 4096, 24 * 40, now)],
            newest_head: b"age-encryption.org/v1\n".to_vec(),
        };
        let report = check().decide(&listing, now);
        assert_eq!(report.outcome("age").unwrap().cause, Some(Cause::Expired));
        assert_eq!(report.outcome("size").unwrap().reason, "newest backup b.sql.gz has 10 B; want at least 1 KiB");
        let retention = report.outcome("retention").unwrap();
        assert_eq!(retention.cause, Some(Cause::AboveMaximum));
        assert!(retention.reason.starts_with("oldest backup a.sql.gz is 40d old"), "{}", retention.reason);
        assert_eq!(report.outcome("encryption").unwrap().verdict, Verdict::Pass);
    }

    #[test]
    fn too_few_backups_fail_retention_and_an_empty_set_fails_everything() {
        let now = SystemTime::now();
        let listing = BackupListing { files: vec![file("a.sql.gz", 4096, 1, now)], newest_head: vec![] };
        assert_eq!(check().decide(&listing, now).outcome("retention").unwrap().cause, Some(Cause::BelowMinimum));
        let empty = check().decide(&BackupListing { files: vec![], newest_head: vec![] }, now);
        for aspect in BackupCheck::ASPECTS {
            let outcome = empty.outcome(aspect).unwrap();
            assert_eq!(outcome.cause, Some(Cause::Missing));
            assert_eq!(outcome.reason, "no file matches `*.sql.gz` in /backups; the backup set db is empty");
        }
    }

    #[test]
    fn bad_set_names_and_globs_are_refused() {
        let mut bad = check();
        bad.pattern = "[".into();
        assert_eq!(bad.validate("age").unwrap_err().key, "pattern");
        let mut bad = check();
        bad.set = "a b".into();
        assert_eq!(bad.validate("age").unwrap_err().key, "set");
    }
}
