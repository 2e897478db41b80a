//! Files and directories of the deployment: the directory layout, permissions as the kernel
//! would decide them, temp cleanup and log rotation (ages and sizes under a directory), and
//! structured logs (the last lines of a log file parse as JSON objects).
//!
//! Permission decisions are pure functions of owner, group, mode bits and the user's groups
//! (the arithmetic and the account lookup are in [`crate::support::accounts`]), so "writable by
//! uid 1000" is decided without switching to uid 1000 or touching the file.

use std::collections::BTreeSet;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{require, subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::accounts::{self, Access, AccountError, Credentials, Ownership};
use crate::support::units::{format_ages_apart, ByteSize, HumanDuration};

pub static DIR_FILES: MetricFamily = MetricFamily {
    name: "checklist_dir_files",
    help: "Regular files under the directory (recursively, symbolic links not followed); 1 for a single file.",
    kind: MetricKind::Gauge,
};
pub static FILES_TOTAL_BYTES: MetricFamily = MetricFamily {
    name: "checklist_files_total_bytes",
    help: "Total size of the regular files under the directory, in bytes.",
    kind: MetricKind::Gauge,
};
pub static FILES_LARGEST_BYTES: MetricFamily = MetricFamily {
    name: "checklist_files_largest_file_bytes",
    help: "Size of the largest regular file under the directory, in bytes.",
    kind: MetricKind::Gauge,
};
pub static FILES_OLDEST_TIMESTAMP: MetricFamily = MetricFamily {
    name: "checklist_files_oldest_file_timestamp_seconds",
    help: "Modification time of the oldest regular file under the directory (Unix time).",
    kind: MetricKind::Gauge,
};

/// A directory walk stops after this many entries: a runaway temp directory must not turn a
/// check into a minutes-long crawl.
const MAX_WALK_ENTRIES: usize = 200_000;
/// At most this much of a log's end is read to find its last lines.
const MAX_TAIL_BYTES: u64 = 4 << 20;

/// `kind = "directories"`: every directory of a layout exists under `root`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirectoriesCheck {
    pub root: PathBuf,
    /// Relative paths under `root` (`uploads`, `logs`, ...).
    pub required: Vec<String>,
}

impl Check for DirectoriesCheck {
    const KIND: &'static str = "directories";
    const ASPECTS: &'static [&'static str] = &["present"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        absolute("root", &self.root)?;
        if self.required.is_empty() {
            return Err(KeyError::new("required", "lists no directories"));
        }
        for name in &self.required {
            let relative = Path::new(name);
            if name.is_empty() || relative.is_absolute() || relative.components().any(|c| c.as_os_str() == "..") {
                return Err(KeyError::new("required", format!("`{name}` is not a relative path inside root")));
            }
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.root.display().to_string()
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.root))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let root = self.root.clone();
        let required = self.required.clone();
        let (root_found, found) = ctx
            .blocking()
            .run(move || {
                let root_found = std::fs::metadata(&root).map(|m| m.is_dir());
                let found = required
                    .iter()
                    .map(|name| (name.clone(), std::fs::metadata(root.join(name)).map(|m| m.is_dir())))
                    .collect::<Vec<_>>();
                (root_found, found)
            })
            .await?;
        let outcome = match decide_root(&self.root, &self.required, &root_found) {
            Some(outcome) => outcome,
            None => decide_directories(&self.root, &found),
        };
        Ok(Report::default().with("present", outcome))
    }
}

/// A root that is missing or not a directory decides the item by itself: listing every required
/// name as missing would hide that the whole tree is absent.
pub fn decide_root(root: &Path, required: &[String], found: &std::io::Result<bool>) -> Option<Outcome> {
    let wanted = format!("want directories {} under it", required.join(", "));
    let root = root.display();
    match found {
        Ok(true) => None,
        Ok(false) => Some(Outcome::fail(Cause::Invalid, format!("root {root} is not a directory; {wanted}"))),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            Some(Outcome::fail(Cause::Missing, format!("root {root} does not exist; {wanted}")))
        }
        // Unreadable ancestors: the per-name results say more.
        Err(_) => None,
    }
}

/// Pass when every required path is a directory; the reason lists what is wrong with the others.
pub fn decide_directories(root: &Path, found: &[(String, std::io::Result<bool>)]) -> Outcome {
    let mut missing = Vec::new();
    let mut not_dirs = Vec::new();
    let mut unreadable = Vec::new();
    for (name, result) in found {
        match result {
            Ok(true) => {}
            Ok(false) => not_dirs.push(name.as_str()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => missing.push(name.as_str()),
            Err(err) => unreadable.push(format!("{name} ({})", describe_io(err))),
        }
    }
    let root = root.display();
    if missing.is_empty() && not_dirs.is_empty() && unreadable.is_empty() {
        return Outcome::pass(format!("all {} directories exist under {root}", found.len()));
    }
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!("missing: {}", missing.join(", ")));
    }
    if !not_dirs.is_empty() {
        problems.push(format!("not directories: {}", not_dirs.join(", ")));
    }
    if !unreadable.is_empty() {
        problems.push(format!("cannot examine: {}", unreadable.join(", ")));
    }
    let cause = if !missing.is_empty() {
        Cause::Missing
    } else if !not_dirs.is_empty() {
        Cause::Invalid
    } else {
        Cause::Permission
    };
    Outcome::fail(cause, format!("under {root}, {}", problems.join("; ")))
}

fn describe_io(err: &std::io::Error) -> String {
    match err.raw_os_error() {
        Some(libc::ELOOP) => "a symbolic link loop".to_string(),
        Some(libc::ENOTDIR) => "a path component is not a directory".to_string(),
        _ => match err.kind() {
            std::io::ErrorKind::NotFound => "does not exist".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        },
    }
}

fn absolute(key: &'static str, path: &Path) -> Result<(), KeyError> {
    if !path.is_absolute() {
        return Err(KeyError::new(key, format!("`{}` is not an absolute path", path.display())));
    }
    Ok(())
}

fn io_failure(path: &Path, err: &std::io::Error) -> ProbeFailure {
    ProbeFailure::new(Cause::from_io(err), format!("cannot examine {}: {}", path.display(), describe_io(err)))
        .about(subject::path(path))
}

/// `kind = "permissions"`: who may read or write a path, and whether key files are private.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PermissionsCheck {
    pub path: PathBuf,
    /// The uid for `writable` and `readable` (1000 for the app's Docker user, nginx's uid).
    pub uid: Option<u32>,
    /// The uid's groups, when the uid is not in this host's account database (a container
    /// user); otherwise they are looked up there (through NSS: /etc/passwd and /etc/group, LDAP).
    pub gids: Option<Vec<u32>>,
    /// For `private` on a directory: which files in it must be private (`*.key`).
    #[serde(default = "default_private_pattern")]
    pub private_pattern: String,
}

fn default_private_pattern() -> String {
    "*.key".to_string()
}

/// One path and its ancestors, root first, with their ownership.
pub type PathChain = Vec<(PathBuf, Ownership)>;

/// Decides whether `who` can reach the last path of `chain` (search on every ancestor
/// directory) and then `access` it.
pub fn decide_access(who: &Credentials, chain: &PathChain, access: Access) -> Outcome {
    let verb = match access {
        Access::Read => "read",
        Access::Write => "write",
        Access::Search => "enter",
    };
    let Some(((target, ownership), ancestors)) = chain.split_last() else {
        return Outcome::error(Cause::Io, "no path to decide on");
    };
    let ok = match accounts::reach(who, ancestors, *ownership, access) {
        Ok(ok) => ok,
        Err((dir, dir_ownership)) => {
            return Outcome::fail(
                Cause::Permission,
                format!(
                    "uid {} cannot {verb} {}: it cannot enter {} (owner {}:{} mode {:04o})",
                    who.uid,
                    target.display(),
                    dir.display(),
                    dir_ownership.uid,
                    dir_ownership.gid,
                    dir_ownership.mode
                ),
            )
        }
    };
    let can = if ok { "can" } else { "cannot" };
    let reason = format!(
        "uid {} {can} {verb} {} (owner {}:{} mode {:04o})",
        who.uid,
        target.display(),
        ownership.uid,
        ownership.gid,
        ownership.mode
    );
    Outcome::decide(ok, Cause::Permission, reason)
}

/// Decides whether key files grant nothing to group and others.
pub fn decide_private(files: &[(PathBuf, Ownership)], described: &str) -> Outcome {
    if files.is_empty() {
        return Outcome::fail(Cause::Missing, format!("no key file {described}"));
    }
    let exposed: Vec<String> = files
        .iter()
        .filter(|(_, o)| o.mode & 0o077 != 0)
        .map(|(path, o)| format!("{} is {:04o}", path.display(), o.mode))
        .collect();
    if exposed.is_empty() {
        Outcome::pass(format!("{} key file(s) {described} grant nothing to group and others", files.len()))
    } else {
        Outcome::fail(
            Cause::Insecure,
            format!("{}; want no group or other permissions (0600 or 0400)", exposed.join(", ")),
        )
    }
}

impl Check for PermissionsCheck {
    const KIND: &'static str = "permissions";
    const ASPECTS: &'static [&'static str] = &["writable", "readable", "private"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        absolute("path", &self.path)?;
        if aspect != "private" {
            require(&self.uid, aspect, "uid")?;
        }
        glob::Pattern::new(&self.private_pattern).map_err(|err| {
            KeyError::new("private_pattern", format!("`{}` is not a glob: {err}", self.private_pattern))
        })?;
        Ok(())
    }

    fn target(&self) -> String {
        match self.uid {
            Some(uid) => format!("{} for uid {uid}", self.path.display()),
            None => self.path.display().to_string(),
        }
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.path))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let check = self.clone();
        ctx.blocking().run(move || check.measure()).await?
    }
}

impl PermissionsCheck {
    fn measure(&self) -> CheckResult {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(self.decide_absent()),
            Err(err) => return Err(io_failure(&self.path, &err)),
        };
        let mut chain = Vec::new();
        for ancestor in self.path.ancestors().collect::<Vec<_>>().into_iter().rev() {
            let m = std::fs::metadata(ancestor).map_err(|err| io_failure(ancestor, &err))?;
            chain.push((ancestor.to_path_buf(), Ownership::of(&m)));
        }
        let mut report = Report::default();
        if let Some(uid) = self.uid {
            let gids = match &self.gids {
                Some(gids) => gids.iter().copied().collect(),
                None => groups_of(uid)?,
            };
            let who = Credentials { uid, gids };
            report = report
                .with("writable", decide_access(&who, &chain, Access::Write))
                .with("readable", decide_access(&who, &chain, Access::Read));
        }
        let private = if metadata.is_dir() {
            let pattern = glob::Pattern::new(&self.private_pattern)
                .map_err(|err| ProbeFailure::new(Cause::Invalid, format!("private_pattern: {err}")))?;
            let mut files = Vec::new();
            for entry in std::fs::read_dir(&self.path).map_err(|err| io_failure(&self.path, &err))? {
                let entry = entry.map_err(|err| io_failure(&self.path, &err))?;
                if !pattern.matches(&entry.file_name().to_string_lossy()) {
                    continue;
                }
                let path = entry.path();
                let m = std::fs::metadata(&path).map_err(|err| io_failure(&path, &err))?;
                if m.is_file() {
                    files.push((path, Ownership::of(&m)));
                }
            }
            files.sort_by(|a, b| a.0.cmp(&b.0));
            decide_private(&files, &format!("matching `{}` in {}", self.private_pattern, self.path.display()))
        } else {
            decide_private(&[(self.path.clone(), Ownership::of(&metadata))], &format!("at {}", self.path.display()))
        };
        Ok(report.with("private", private))
    }
}

impl PermissionsCheck {
    /// A path that does not exist is neither writable nor readable, and holds no private key:
    /// every aspect fails, naming the path and what was wanted of it.
    pub fn decide_absent(&self) -> Report {
        let path = self.path.display();
        let who = self.uid.map_or_else(String::new, |uid| format!(" by uid {uid}"));
        Report::default()
            .with("writable", Outcome::fail(Cause::Missing, format!("{path} does not exist; want it writable{who}")))
            .with("readable", Outcome::fail(Cause::Missing, format!("{path} does not exist; want it readable{who}")))
            .with(
                "private",
                Outcome::fail(Cause::Missing, format!("{path} does not exist; want a private key file there")),
            )
    }
}

/// The groups of `uid` as login would set them (the primary group and the supplementary groups
/// that list the user), from the account database; a uid unknown there has no groups.
fn groups_of(uid: u32) -> Result<BTreeSet<u32>, ProbeFailure> {
    match accounts::by_uid(uid) {
        Ok(account) => Ok(account.gids.into_iter().collect()),
        Err(AccountError::NotFound) => Ok(BTreeSet::new()),
        Err(err) => Err(ProbeFailure::new(Cause::Io, format!("cannot look up the groups of uid {uid}: {err}"))),
    }
}

/// `kind = "dir_usage"`: ages and sizes of the files under a directory (temp cleanup, log
/// rotation).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DirUsageCheck {
    pub path: PathBuf,
    /// `max_file_age`: no file older than this (a temp cleaner that works).
    pub max_file_age: Option<HumanDuration>,
    /// `max_file_size`: no file larger than this (logs rotated).
    pub max_file_size: Option<ByteSize>,
    /// `max_total_size`: everything together at most this.
    pub max_total_size: Option<ByteSize>,
}

/// What a walk under a directory found.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Usage {
    pub files: u64,
    pub total_bytes: u64,
    pub largest: Option<(PathBuf, u64)>,
    pub oldest: Option<(PathBuf, SystemTime)>,
    /// Entries that could not be examined (permission denied below the top).
    pub unreadable: Vec<PathBuf>,
    /// The walk stopped at its entry limit.
    pub truncated: bool,
    /// `path` is one regular file, not a directory.
    pub single_file: bool,
}

impl Check for DirUsageCheck {
    const KIND: &'static str = "dir_usage";
    const ASPECTS: &'static [&'static str] = &["max_file_age", "max_file_size", "max_total_size"];
    const FAMILIES: &'static [&'static MetricFamily] =
        &[&DIR_FILES, &FILES_TOTAL_BYTES, &FILES_LARGEST_BYTES, &FILES_OLDEST_TIMESTAMP];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        absolute("path", &self.path)?;
        match aspect {
            "max_file_age" => require(&self.max_file_age, aspect, "max_file_age"),
            "max_file_size" => require(&self.max_file_size, aspect, "max_file_size"),
            _ => require(&self.max_total_size, aspect, "max_total_size"),
        }
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.path))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let path = self.path.clone();
        let usage = ctx.blocking().run(move || walk(&path)).await??;
        Ok(self.decide(&usage, SystemTime::now()))
    }
}

impl DirUsageCheck {
    pub fn decide(&self, usage: &Usage, now: SystemTime) -> Report {
        let label = self.path.display().to_string();
        let mut report = Report::default()
            .sample(Sample::new(&DIR_FILES, usage.files as f64).label("path", &label))
            .sample(Sample::new(&FILES_TOTAL_BYTES, usage.total_bytes as f64).label("path", &label))
            .sample(
                Sample::new(&FILES_LARGEST_BYTES, usage.largest.as_ref().map_or(0, |l| l.1) as f64)
                    .label("path", &label),
            );
        if let Some(since_epoch) =
            usage.oldest.as_ref().and_then(|(_, t)| t.duration_since(SystemTime::UNIX_EPOCH).ok())
        {
            report =
                report.sample(Sample::new(&FILES_OLDEST_TIMESTAMP, since_epoch.as_secs_f64()).label("path", &label));
        }
        // A partial walk cannot prove "no file is too old"; it can prove the opposite.
        let caveat = if usage.truncated {
            format!(" (only the first {MAX_WALK_ENTRIES} entries were examined)")
        } else if !usage.unreadable.is_empty() {
            format!(
                " ({} entries could not be examined, e.g. {})",
                usage.unreadable.len(),
                usage.unreadable[0].display()
            )
        } else {
            String::new()
        };
        let complete = caveat.is_empty();
        let undecided_cause = if usage.truncated { Cause::Io } else { Cause::Permission };
        let pass_or_undecided = |ok: bool, cause: Cause, reason: String| {
            if ok && !complete {
                Outcome::error(undecided_cause, reason)
            } else {
                Outcome::decide(ok, cause, reason)
            }
        };
        let dir = self.path.display();
        if let Some(max) = self.max_file_age {
            let outcome = match &usage.oldest {
                None => pass_or_undecided(true, Cause::AboveMaximum, format!("{dir} holds no files{caveat}")),
                Some((path, modified)) => {
                    let age = now.duration_since(*modified).unwrap_or(Duration::ZERO);
                    let (seen, wanted) = format_ages_apart(age, max.0);
                    pass_or_undecided(
                        age <= max.0,
                        Cause::AboveMaximum,
                        format!(
                            "{} {} is {seen} old; want at most {wanted}{caveat}",
                            if usage.single_file { "file" } else { "oldest file" },
                            path.display()
                        ),
                    )
                }
            };
            report = report.with("max_file_age", outcome);
        }
        if let Some(max) = self.max_file_size {
            let outcome = match &usage.largest {
                None => pass_or_undecided(true, Cause::AboveMaximum, format!("{dir} holds no files{caveat}")),
                Some((path, size)) => pass_or_undecided(
                    *size <= max.0,
                    Cause::AboveMaximum,
                    format!(
                        "{} {} has {}; want at most {max}{caveat}",
                        if usage.single_file { "file" } else { "largest file" },
                        path.display(),
                        max.format(*size)
                    ),
                ),
            };
            report = report.with("max_file_size", outcome);
        }
        if let Some(max) = self.max_total_size {
            let reason = if usage.single_file {
                format!("file {dir} has {}; want at most {max}", max.format(usage.total_bytes))
            } else {
                format!(
                    "{} files under {dir} hold {}; want at most {max}{caveat}",
                    usage.files,
                    max.format(usage.total_bytes)
                )
            };
            report = report
                .with("max_total_size", pass_or_undecided(usage.total_bytes <= max.0, Cause::AboveMaximum, reason));
        }
        report
    }
}

/// Walks `root` without following symbolic links (so a link loop cannot trap it), counting
/// regular files.
fn walk(root: &Path) -> Result<Usage, ProbeFailure> {
    let metadata = std::fs::metadata(root).map_err(|err| io_failure(root, &err))?;
    if metadata.is_file() {
        // One file (a log that is not rotated): the set of one.
        let modified = metadata.modified().ok().map(|t| (root.to_path_buf(), t));
        return Ok(Usage {
            files: 1,
            total_bytes: metadata.len(),
            largest: Some((root.to_path_buf(), metadata.len())),
            oldest: modified,
            single_file: true,
            ..Usage::default()
        });
    }
    if !metadata.is_dir() {
        return Err(ProbeFailure::new(
            Cause::Invalid,
            format!("{} is neither a directory nor a regular file", root.display()),
        ));
    }
    // The top directory unreadable is a probe failure; unreadable subdirectories only make
    // the walk partial (see `Usage::unreadable`).
    std::fs::read_dir(root).map_err(|err| io_failure(root, &err))?;
    let mut usage = Usage::default();
    let mut pending = vec![root.to_path_buf()];
    let mut seen = 0usize;
    while let Some(dir) = pending.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(entries) => entries,
            Err(_) => {
                usage.unreadable.push(dir);
                continue;
            }
        };
        for entry in entries {
            seen += 1;
            if seen > MAX_WALK_ENTRIES {
                usage.truncated = true;
                return Ok(usage);
            }
            let Ok(entry) = entry else { continue };
            let path = entry.path();
            let Ok(metadata) = std::fs::symlink_metadata(&path) else {
                usage.unreadable.push(path);
                continue;
            };
            if metadata.is_dir() {
                pending.push(path);
            } else if metadata.is_file() {
                usage.files += 1;
                usage.total_bytes += metadata.len();
                if usage.largest.as_ref().is_none_or(|(_, size)| metadata.len() > *size) {
                    usage.largest = Some((path.clone(), metadata.len()));
                }
                if let Ok(modified) = metadata.modified() {
                    if usage.oldest.as_ref().is_none_or(|(_, t)| modified < *t) {
                        usage.oldest = Some((path, modified));
                    }
                }
            }
        }
    }
    Ok(usage)
}

fn default_lines() -> usize {
    20
}

/// `kind = "json_log"`: the last `lines` lines of a log file are JSON objects.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JsonLogCheck {
    pub path: PathBuf,
    #[serde(default = "default_lines")]
    pub lines: usize,
}

impl Check for JsonLogCheck {
    const KIND: &'static str = "json_log";
    const ASPECTS: &'static [&'static str] = &["structured"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        absolute("path", &self.path)?;
        if !(1..=10_000).contains(&self.lines) {
            return Err(KeyError::new("lines", format!("{} is not between 1 and 10000", self.lines)));
        }
        Ok(())
    }

    fn target(&self) -> String {
        // Kinds without value series may check one path several ways.
        format!("{} (last {} lines)", self.path.display(), self.lines)
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.path))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let path = self.path.clone();
        let tail = ctx.blocking().run(move || read_tail(&path)).await??;
        Ok(Report::default().with("structured", decide_json_lines(&self.path, &tail, self.lines)))
    }
}

fn read_tail(path: &Path) -> Result<Vec<u8>, ProbeFailure> {
    let mut file = std::fs::File::open(path).map_err(|err| io_failure(path, &err))?;
    let metadata = file.metadata().map_err(|err| io_failure(path, &err))?;
    if metadata.is_dir() {
        return Err(ProbeFailure::new(Cause::Invalid, format!("{} is a directory, not a log file", path.display())));
    }
    let start = metadata.len().saturating_sub(MAX_TAIL_BYTES);
    file.seek(SeekFrom::Start(start)).map_err(|err| io_failure(path, &err))?;
    let mut tail = Vec::new();
    file.take(MAX_TAIL_BYTES).read_to_end(&mut tail).map_err(|err| io_failure(path, &err))?;
    if start > 0 {
        // The first line is probably cut; drop it.
        let first_newline = tail.iter().position(|b| *b == b'\n').map_or(tail.len(), |i| i + 1);
        tail.drain(..first_newline);
    }
    Ok(tail)
}

/// Pass when each of the last `want` non-empty lines of `tail` is a JSON object. Reasons name
/// the line by its position from the end and the parser's complaint, never the line's text
/// (log lines carry user data).
pub fn decide_json_lines(path: &Path, tail: &[u8], want: usize) -> Outcome {
    let lines: Vec<&[u8]> =
        tail.split(|b| *b == b'\n').filter(|line| !line.iter().all(u8::is_ascii_whitespace)).collect();
    let last = &lines[lines.len().saturating_sub(want)..];
    if last.is_empty() {
        return Outcome::fail(Cause::Missing, format!("{} has no lines yet", path.display()));
    }
    for (index, line) in last.iter().enumerate() {
        let from_end = last.len() - index;
        let problem = match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(serde_json::Value::Object(_)) => continue,
            Ok(other) => format!("is JSON but not an object ({})", json_type(&other)),
            Err(err) => format!("is not JSON ({})", err.to_string().split(" at line").next().unwrap_or_default()),
        };
        return Outcome::fail(
            Cause::Invalid,
            format!(
                "{}: line {from_end} from the end {problem}; want the last {} lines to be JSON objects",
                path.display(),
                last.len()
            ),
        );
    }
    Outcome::pass(format!("the last {} lines of {} are JSON objects", last.len(), path.display()))
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;
    use crate::support::accounts::tests::{own, user};

    #[test]
    fn access_needs_search_on_every_ancestor() {
        let chain = vec![
            (PathBuf::from("/"), own(0, 0, 0o755)),
            (PathBuf::from("/opt"), own(0, 0, 0o700)),
            (PathBuf::from("/opt/app"), own(1000, 1000, 0o755)),
        ];
        let outcome = decide_access(&user(1000, &[1000]), &chain, Access::Write);
        assert_eq!(outcome.verdict, Verdict::Fail);
        assert_eq!(outcome.reason, "uid 1000 cannot write /opt/app: it cannot enter /opt (owner 0:0 mode 0700)");
        let mut open = chain.clone();
        open[1].1.mode = 0o711;
        let outcome = decide_access(&user(1000, &[1000]), &open, Access::Write);
        assert_eq!(outcome, Outcome::pass("uid 1000 can write /opt/app (owner 1000:1000 mode 0755)"));
    }

    #[test]
    fn private_keys_grant_nothing_to_group_and_others() {
        let files =
            vec![(PathBuf::from("/ssl/a.key"), own(0, 0, 0o600)), (PathBuf::from("/ssl/b.key"), own(0, 0, 0o640))];
        let outcome = decide_private(&files, "in /ssl");
        assert_eq!(outcome.cause, Some(Cause::Insecure));
        assert_eq!(outcome.reason, "/ssl/b.key is 0640; want no group or other permissions (0600 or 0400)");
        assert_eq!(decide_private(&files[..1], "in /ssl").verdict, Verdict::Pass);
        assert_eq!(decide_private(&[], "in /ssl").cause, Some(Cause::Missing));
    }

    #[test]
    fn directories_report_what_is_missing() {
        let found = vec![
            ("uploads".to_string(), Ok(true)),
            ("logs".to_string(), Err(std::io::Error::from(std::io::ErrorKind::NotFound))),
            ("ssl".to_string(), Ok(false)),
        ];
        let outcome = decide_directories(Path::new("/opt/app"), &found);
        assert_eq!(outcome, Outcome::fail(Cause::Missing, "under /opt/app, missing: logs; not directories: ssl"));
    }

    #[test]
    fn usage_limits_name_the_offending_file() {
        let now = SystemTime::now();
        let check = DirUsageCheck {
            path: PathBuf::from("/opt/app/temp"),
            max_file_age: Some(HumanDuration(Duration::from_secs(86400))),
            max_file_size: Some(ByteSize(100 << 20, false)),
            max_total_size: Some(ByteSize(1 << 30, false)),
        };
        let usage = Usage {
            files: 2,
            total_bytes: 200 << 20,
            largest: Some((PathBuf::from("/opt/app/temp/big"), 150 << 20)),
            oldest: Some((PathBuf::from("/opt/app/temp/old"), now - Duration::from_secs(3 * 86400))),
            ..Usage::default()
        };
        let report = check.decide(&usage, now);
        assert_eq!(
            report.outcome("max_file_age").unwrap().reason,
            "oldest file /opt/app/temp/old is 3d old; want at most 1d"
        );
        assert_eq!(
            report.outcome("max_file_size").unwrap().reason,
            "largest file /opt/app/temp/big has 150 MiB; want at most 100 MiB"
        );
        assert_eq!(report.outcome("max_total_size").unwrap().verdict, Verdict::Pass);
        let partial = Usage { unreadable: vec![PathBuf::from("/opt/app/temp/private")], ..Usage::default() };
        assert_eq!(check.decide(&partial, now).outcome("max_file_age").unwrap().verdict, Verdict::Error);
    }

    #[test]
    fn json_lines_are_objects_or_named_by_position() {
        let path = Path::new("/var/log/app.log");
        let good = b"plain text from before\n{\"level\":\"info\"}\n{\"level\":\"warn\"}\n\n";
        assert_eq!(decide_json_lines(path, good, 2).verdict, Verdict::Pass);
        let outcome = decide_json_lines(path, good, 3);
        assert_eq!(outcome.cause, Some(Cause::Invalid));
        assert!(outcome.reason.starts_with("/var/log/app.log: line 3 from the end is not JSON"), "{}", outcome.reason);
        assert!(!outcome.reason.contains("plain text"));
        let array = decide_json_lines(path, b"[1,2]\n", 5);
        assert!(array.reason.contains("not an object (an array)"), "{}", array.reason);
        assert_eq!(decide_json_lines(path, b"", 5).cause, Some(Cause::Missing));
    }
}
