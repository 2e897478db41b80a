//! `checklist-exporter check`: evaluate every item once and print a table or JSON, for CI
//! go-live gates. Exit 0 when every critical item passes, 1 otherwise, 2 for a bad config.

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;

use crate::api::{state_name, summarize};
use crate::checks::CheckContext;
use crate::cli::OutputFormat;
use crate::config;
use crate::report::ReportFormat;
use crate::scheduler::evaluate;
use crate::state::Store;

pub const EXIT_READY: i32 = 0;
pub const EXIT_NOT_READY: i32 = 1;
pub const EXIT_BAD_CONFIG: i32 = 2;

pub async fn run(config_file: &Path, format: OutputFormat, out: &mut impl Write) -> i32 {
    let store = match evaluate_once(config_file).await {
        Ok(store) => store,
        Err(code) => return code,
    };
    let inner = store.read();
    let report_format = match format {
        OutputFormat::Json => Some(ReportFormat::Json),
        OutputFormat::Junit => Some(ReportFormat::Junit),
        OutputFormat::Markdown => Some(ReportFormat::Markdown),
        OutputFormat::Text => None,
    };
    let written = match report_format {
        Some(report_format) => {
            out.write_all(crate::report::render(&inner, report_format, std::time::SystemTime::now()).as_bytes())
        }
        None => write_table(&inner.items, out),
    };
    if let Err(err) = written {
        eprintln!("cannot write the results: {err}");
    }
    if summarize(&inner.items).critical_all_pass() {
        EXIT_READY
    } else {
        EXIT_NOT_READY
    }
}

/// Loads the config and evaluates every check once; a bad config is reported and gives its
/// exit code.
async fn evaluate_once(config_file: &Path) -> Result<Arc<Store>, i32> {
    let config = match config::load(config_file) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return Err(EXIT_BAD_CONFIG);
        }
    };
    let store = Store::new();
    store.install(&config);
    let limiter = Semaphore::new(config.settings.max_concurrent_checks);
    let evaluations = config.checks.iter().filter(|spec| spec.runs()).map(|spec| {
        let limiter = &limiter;
        let store = &store;
        async move {
            let evaluation = evaluate(spec, limiter, &CheckContext::default()).await;
            store.record(
                spec,
                spec.fingerprint(),
                evaluation.outcomes,
                evaluation.samples,
                evaluation.at,
                evaluation.duration,
            );
        }
    });
    futures_util::future::join_all(evaluations).await;

    Ok(store)
}

/// `checklist-exporter baseline`: evaluates every item once and records which pass. An
/// existing baseline file that cannot be read is only replaced with `--force`.
pub async fn record_baseline(config_file: &Path, baseline_file: &Path, force: bool) -> i32 {
    if let Err(err) = crate::baseline::load(baseline_file) {
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
    if let Err(err) = crate::baseline::save(baseline_file, &baseline) {
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

fn write_table(items: &[crate::state::ItemRecord], out: &mut impl Write) -> std::io::Result<()> {
    let id_width = items.iter().map(|r| r.item().id.len()).max().unwrap_or(2).max(2);
    writeln!(out, "{:<7}  {:<8}  {:<id_width$}  REASON", "VERDICT", "SEVERITY", "ID")?;
    for record in items {
        let reason = crate::api::reason_of(record).unwrap_or("");
        writeln!(
            out,
            "{:<7}  {:<8}  {:<id_width$}  {}",
            state_name(record),
            record.item().severity.as_str(),
            record.item().id,
            reason
        )?;
    }
    let summary = summarize(items);
    writeln!(out)?;
    writeln!(
        out,
        "{} items: {} pass, {} fail, {} error{}. Critical items passing: {} of {}. Ready: {}.",
        summary.items,
        summary.pass,
        summary.fail,
        summary.error,
        if summary.not_applicable > 0 { format!(", {} not applicable", summary.not_applicable) } else { String::new() },
        summary.critical_pass,
        summary.critical_items,
        if summary.critical_all_pass() { "yes" } else { "no" }
    )
}
