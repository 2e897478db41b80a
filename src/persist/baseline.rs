//! The go-live baseline: which items passed when the deployment was signed off. From then on an
//! item that passed at the baseline and does not pass now is *regressed*, which is what pages
//! someone after go-live (`checklist_item_regressed`). The baseline lives in a small versioned
//! JSON file, written atomically (temp file, fsync, rename, fsync of the directory) so a crash
//! never leaves half a file; a file that cannot be read is reported and left as it is.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// The file format version this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaselineItem {
    pub id: String,
    /// The environment of this instance of the item, when the config declares environments;
    /// absent otherwise, so a config without environments writes the file it always wrote.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    pub passing: bool,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Baseline {
    pub version: u32,
    /// Seconds since the epoch.
    pub taken_at: f64,
    pub items: Vec<BaselineItem>,
}

impl Baseline {
    pub fn new(taken_at: SystemTime, items: Vec<BaselineItem>) -> Baseline {
        let taken_at = taken_at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0);
        Baseline { version: FORMAT_VERSION, taken_at, items }
    }

    pub fn taken_at(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs_f64(self.taken_at.max(0.0))
    }

    /// Whether `id` (of a config without environments) passed at the baseline; `None` when the
    /// item did not exist then.
    pub fn passed(&self, id: &str) -> Option<bool> {
        self.passed_in(None, id)
    }

    /// Whether item `id` of `environment` passed at the baseline; `None` when the item did not
    /// exist then. Items are compared within their environment only.
    pub fn passed_in(&self, environment: Option<&str>, id: &str) -> Option<bool> {
        self.items
            .iter()
            .find(|item| item.id == id && item.environment.as_deref() == environment)
            .map(|item| item.passing)
    }

    /// Whether it holds items of `environment`.
    pub fn covers(&self, environment: &str) -> bool {
        self.items.iter().any(|item| item.environment.as_deref() == Some(environment))
    }

    /// This baseline with the items of `environment` replaced by those of `taken` (a baseline of
    /// that environment alone), taken at `taken`'s time: one environment signed off after another.
    pub fn with_environment_from(mut self, environment: &str, taken: Baseline) -> Baseline {
        self.items.retain(|item| item.environment.as_deref() != Some(environment));
        self.items.extend(taken.items);
        Baseline { taken_at: taken.taken_at, ..self }
    }

    pub fn passing_count(&self) -> usize {
        self.items.iter().filter(|item| item.passing).count()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum BaselineError {
    #[error("baseline file {path}: cannot read: {reason}")]
    Read { path: String, reason: String },
    #[error("baseline file {path}: not a baseline this version understands: {reason}; it was left as it is")]
    Corrupt { path: String, reason: String },
    #[error("baseline file {path}: cannot write: {reason}")]
    Write { path: String, reason: String },
}

/// Reads the baseline at `path`; `Ok(None)` when there is none yet.
pub fn load(path: &Path) -> Result<Option<Baseline>, BaselineError> {
    let shown = path.display().to_string();
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(BaselineError::Read { path: shown, reason: err.to_string() }),
    };
    let baseline: Baseline = serde_json::from_slice(&bytes)
        .map_err(|err| BaselineError::Corrupt { path: shown.clone(), reason: err.to_string() })?;
    if baseline.version != FORMAT_VERSION {
        return Err(BaselineError::Corrupt {
            path: shown,
            reason: format!("format version {} (this build reads {FORMAT_VERSION})", baseline.version),
        });
    }
    Ok(Some(baseline))
}

/// Writes `baseline` to `path` atomically: a reader sees the old file or the new one, whole.
pub fn save(path: &Path, baseline: &Baseline) -> Result<(), BaselineError> {
    let write_error = |reason: String| BaselineError::Write { path: path.display().to_string(), reason };
    let mut json = serde_json::to_vec_pretty(baseline).map_err(|err| write_error(err.to_string()))?;
    json.push(b'\n');
    super::write_atomically(path, &json).map_err(write_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Baseline {
        Baseline::new(
            UNIX_EPOCH + Duration::from_secs(1_800_000_000),
            vec![
                BaselineItem { id: "a".into(), environment: None, passing: true },
                BaselineItem { id: "b".into(), environment: None, passing: false },
            ],
        )
    }

    #[test]
    fn a_saved_baseline_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state/baseline.json");
        assert_eq!(load(&path).unwrap(), None, "no file yet is no baseline");
        save(&path, &sample()).unwrap();
        let loaded = load(&path).unwrap().unwrap();
        assert_eq!(loaded, sample());
        assert_eq!(loaded.passed("a"), Some(true));
        assert_eq!(loaded.passed("b"), Some(false));
        assert_eq!(loaded.passed("new"), None);
        assert_eq!(loaded.passed_in(Some("staging"), "a"), None, "an item of an environment is another item");
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("environment"), "no environments, the file as before: {text}");
        assert_eq!(loaded.passing_count(), 1);
        let leftovers: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "no temporary file is left behind");
    }

    #[test]
    fn an_environment_signed_off_later_replaces_only_its_own_items() {
        let item = |id: &str, environment: &str, passing| BaselineItem {
            id: id.into(),
            environment: Some(environment.into()),
            passing,
        };
        let staging = Baseline::new(UNIX_EPOCH, vec![item("a", "staging", true), item("a", "production", false)]);
        assert!(staging.covers("production") && !staging.covers("qa"));
        let later = Baseline::new(UNIX_EPOCH + Duration::from_secs(60), vec![item("a", "production", true)]);
        let merged = staging.with_environment_from("production", later);
        assert_eq!(merged.passed_in(Some("staging"), "a"), Some(true));
        assert_eq!(merged.passed_in(Some("production"), "a"), Some(true));
        assert_eq!(merged.items.len(), 2);
        assert_eq!(merged.taken_at, 60.0);
        let text = serde_json::to_string(&merged).unwrap();
        assert!(text.contains(r#""environment":"production""#), "{text}");
    }

    #[test]
    fn a_corrupt_file_is_reported_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("baseline.json");
        std::fs::write(&path, b"{\"version\": 1, \"taken_at\": 5, \"items\": [trunc").unwrap();
        let err = load(&path).unwrap_err().to_string();
        assert!(err.starts_with(&format!("baseline file {}: not a baseline", path.display())), "{err}");
        assert!(err.ends_with("it was left as it is"), "{err}");
        assert_eq!(std::fs::read(&path).unwrap(), b"{\"version\": 1, \"taken_at\": 5, \"items\": [trunc");
        std::fs::write(&path, b"{\"version\": 9, \"taken_at\": 5, \"items\": []}").unwrap();
        assert!(load(&path).unwrap_err().to_string().contains("format version 9 (this build reads 1)"));
    }

    #[test]
    fn a_write_into_an_unwritable_place_names_the_file() {
        let err = save(Path::new("/proc/checklist-baseline.json"), &sample()).unwrap_err().to_string();
        assert!(err.starts_with("baseline file /proc/checklist-baseline.json: cannot write"), "{err}");
    }
}
