//! The repository's own files (configs, manifests, rules) as the tests read them, and the tools
//! that check them.

use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_serde::Value;

/// `relative` to the repository root.
pub fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

pub fn read(relative: &str) -> String {
    std::fs::read_to_string(repo_path(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

pub fn yaml(relative: &str) -> Value {
    yaml_serde::from_str(&read(relative)).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

/// Runs `program` and returns whether it succeeded, with its stdout and stderr.
pub fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}; run bash tests/run.sh, which installs it"));
    (
        output.status.success(),
        format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr)),
    )
}
