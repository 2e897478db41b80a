//! `checklist-exporter baseline`: records which items pass now, the go-live baseline that
//! regressions are measured against.

use std::path::Path;

use super::check::evaluate_once;
use super::{EXIT_NOT_READY, EXIT_READY};

/// `checklist-exporter baseline`: evaluates every item once and records which pass. An
/// existing baseline file that cannot be read is only replaced with `--force`.
pub async fn record_baseline(config_file: &Path, baseline_file: &Path, force: bool) -> i32 {
    if let Err(err) = crate::persist::baseline::load(baseline_file) {
        if !force {
            eprintln!("{err}\nrefusing to replace it; look at it, then run again with --force");
            return EXIT_NOT_READY;
        }
        eprintln!("{err}\nreplacing it (--force)");
    }
    let store = match evaluate_once(config_file).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let baseline = match store.read().take_baseline(std::time::SystemTime::now()) {
        Ok(baseline) => baseline,
        Err(reason) => {
            eprintln!("{reason}");
            return EXIT_NOT_READY;
        }
    };
    if let Err(err) = crate::persist::baseline::save(baseline_file, &baseline) {
        eprintln!("{err}");
        return EXIT_NOT_READY;
    }
    println!(
        "baseline recorded in {}: {} of {} items pass",
        baseline_file.display(),
        baseline.passing_count(),
        baseline.items.len()
    );
    EXIT_READY
}
