//! The state file: the last verdict of every item, kept across restarts so that a restart does
//! not blank the exposition (an absent series would resolve every firing alert, and the first
//! evaluation after start would page again). The daemon writes it when verdicts change and when
//! it stops, atomically (temp file, fsync, rename, fsync of the directory), and reads it once at
//! start. This module knows the file, not what a verdict is: the store says what a record holds.
//! A file that cannot be read is reported and the daemon starts empty; it never touches the
//! baseline.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile<Items> {
    version: u32,
    /// Seconds since the epoch.
    saved_at: f64,
    items: Items,
}

#[derive(Debug, thiserror::Error)]
pub enum StateFileError {
    #[error("state file {path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    #[error("state file {path}: not a state file this version understands: {reason}")]
    Corrupt { path: String, reason: String },
    #[error("state file {path}: cannot write: {reason}")]
    Write { path: String, reason: String },
}

/// Reads the records saved at `path`; `Ok(None)` when there is no file yet.
pub fn load<T: DeserializeOwned>(path: &Path) -> Result<Option<Vec<T>>, StateFileError> {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(StateFileError::Read { path: shown, reason: err.to_string() }),
    };
    // The version first, so that a newer file says so instead of failing on a field it adds.
    #[derive(Deserialize)]
    struct Version {
        version: u32,
    }
    let version: Version = serde_json::from_slice(&bytes)
        .map_err(|err| StateFileError::Corrupt { path: shown.clone(), reason: err.to_string() })?;
    if version.version != FORMAT_VERSION {
        return Err(StateFileError::Corrupt {
            path: shown,
            reason: format!("format version {} (this build reads {FORMAT_VERSION})", version.version),
        });
    }
    let file: StateFile<Vec<T>> = serde_json::from_slice(&bytes)
        .map_err(|err| StateFileError::Corrupt { path: shown, reason: err.to_string() })?;
    Ok(Some(file.items))
}

/// Writes `items` to `path` atomically: a reader sees the old file or the new one, whole.
/// Returns the file's size in bytes.
pub fn save<T: Serialize>(path: &Path, items: &[T], now: SystemTime) -> Result<usize, StateFileError> {
    let write_error = |reason: String| StateFileError::Write { path: path.display().to_string(), reason };
    let saved_at = now.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
    let file = StateFile { version: FORMAT_VERSION, saved_at, items };
    let mut json = serde_json::to_vec(&file).map_err(|err| write_error(err.to_string()))?;
    json.push(b'\n');
    super::write_privately(path, &json).map_err(write_error)?;
    Ok(json.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Record {
        id: String,
        value: u32,
    }

    #[test]
    fn saved_records_load_back_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/state.json");
        assert!(load::<Record>(&path).unwrap().is_none());
        let records = vec![Record { id: "a".into(), value: 1 }, Record { id: "b".into(), value: 2 }];
        save(&path, &records, SystemTime::now()).unwrap();
        assert_eq!(load::<Record>(&path).unwrap().unwrap(), records);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn a_corrupt_file_or_another_version_is_an_error_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, b"{\"version\":1,\"saved_at\":0,\"items\":[{\"id\":").unwrap();
        let err = load::<Record>(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("state file {}: not a state file", path.display())), "{err}");
        std::fs::write(&path, b"{\"version\":7,\"saved_at\":0,\"items\":[]}").unwrap();
        let err = load::<Record>(&path).unwrap_err().to_string();
        assert!(err.contains("format version 7 (this build reads 1)"), "{err}");
    }
}
