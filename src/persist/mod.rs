//! What the daemon keeps on disk between runs: the go-live [`baseline`] that regressions are
//! measured against, the [`attestations`] people record for items no program can decide, and
//! the last [`verdicts`] (the state file), so a restart does not blank the checklist. All are
//! written atomically and never replaced when they cannot be read.

use std::io::Write;
use std::path::{Path, PathBuf};

pub mod attestations;
pub mod baseline;
pub mod verdicts;

/// Writes `bytes` to `path` so that a reader sees the old file or the new one, whole, even
/// across a crash: a temporary file beside it, fsync, rename, fsync of the directory. Creates
/// the directory when missing. The error says which step failed.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomically_with_mode(path, bytes, 0o644)
}

/// [`write_atomically`] for a file only the daemon's user may read (`mode` 0600): the state
/// file, whose check fingerprints are hashes over definitions that may hold passwords.
pub fn write_privately(path: &Path, bytes: &[u8]) -> Result<(), String> {
    write_atomically_with_mode(path, bytes, 0o600)
}

fn write_atomically_with_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    use std::os::unix::fs::OpenOptionsExt;
    use std::sync::atomic::{AtomicU64, Ordering};
    // One temporary name per write, created new: two writers at once (the periodic and the
    // final save, two baseline requests) each write their own whole file, and the last rename
    // wins, instead of one emptying the file the other is writing.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&directory).map_err(|err| format!("cannot create {}: {err}", directory.display()))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let write = WRITES.fetch_add(1, Ordering::Relaxed);
    let temporary = directory.join(format!(".{name}.tmp.{}.{write}", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&temporary, path)?;
        // The rename is only durable once the directory entry is on disk too.
        std::fs::File::open(&directory)?.sync_all()
    })();
    if let Err(err) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(err.to_string());
    }
    Ok(())
}
