//! `checklist-exporter baseline`: records which items pass now, the go-live baseline that
//! regressions are measured against.

use std::path::Path;

use super::check::{evaluate_once, Scope};
use super::{EXIT_NOT_READY, EXIT_READY};
use crate::web::view::rfc3339;

/// `checklist-exporter baseline`: evaluates every item once and records which pass. An
/// existing baseline file, readable or not, is only replaced with `--force`: regressions are
/// measured against it, and a second run after go-live would silently move the goalposts.
/// With `--environment NAME` only that environment's items are recorded, into the existing
/// file beside the other environments' (refused without `--force` if it already has some).
pub async fn record_baseline(config_file: &Path, scope: &Scope, baseline_file: &Path, force: bool) -> i32 {
    let mut kept = None;
    match crate::persist::baseline::load(baseline_file) {
        Ok(None) => {}
        Ok(Some(existing)) if scope.environment.as_deref().is_some_and(|environment| !existing.covers(environment)) => {
            kept = Some(existing)
        }
        Ok(Some(existing)) if force && scope.environment.is_some() => {
            eprintln!(
                "replacing the {} items of the baseline taken {} in {} (--force)",
                scope.environment.as_deref().unwrap_or_default(),
                rfc3339(existing.taken_at()),
                baseline_file.display()
            );
            kept = Some(existing)
        }
        Ok(Some(existing)) if !force => {
            eprintln!(
                "{} already holds the go-live baseline taken {} ({} of {} items passing); refusing to \
                 replace it. Run again with --force to record a new one.",
                baseline_file.display(),
                rfc3339(existing.taken_at()),
                existing.passing_count(),
                existing.items.len()
            );
            return EXIT_NOT_READY;
        }
        Ok(Some(existing)) => eprintln!(
            "replacing the baseline taken {} in {} (--force)",
            rfc3339(existing.taken_at()),
            baseline_file.display()
        ),
        Err(err) if !force => {
            eprintln!("{err}\nrefusing to replace it; look at it, then run again with --force");
            return EXIT_NOT_READY;
        }
        Err(err) => eprintln!("{err}\nreplacing it (--force)"),
    }
    let store = match evaluate_once(config_file, scope).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let (baseline, applicable) = {
        let store = store.read();
        match store.take_baseline(std::time::SystemTime::now()) {
            Ok(baseline) => (baseline, store.applicable()),
            Err(reason) => {
                eprintln!("{reason}");
                return EXIT_NOT_READY;
            }
        }
    };
    let baseline = match (kept, scope.environment.as_deref()) {
        (Some(existing), Some(environment)) => existing.with_environment_from(environment, baseline),
        _ => baseline,
    };
    if let Err(err) = crate::persist::baseline::save(baseline_file, &baseline) {
        eprintln!("{err}");
        return EXIT_NOT_READY;
    }
    println!(
        "baseline recorded in {}: {} of {applicable} applicable items pass",
        baseline_file.display(),
        baseline.passing_count()
    );
    EXIT_READY
}
