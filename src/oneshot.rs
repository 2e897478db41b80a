//! `checklist-exporter check`: evaluate every item once and print a table or JSON, for CI
//! go-live gates. Exit 0 when every critical item passes, 1 otherwise, 2 for a bad config.

use std::io::Write;
use std::path::Path;

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
    let config = match config::load(config_file) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return EXIT_BAD_CONFIG;
        }
    };
    let store = Store::new();
    store.install(&config);
    let limiter = Semaphore::new(config.settings.max_concurrent_checks);
    let evaluations = config.checks.iter().map(|spec| {
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

fn write_table(items: &[crate::state::ItemRecord], out: &mut impl Write) -> std::io::Result<()> {
    let id_width = items.iter().map(|r| r.item().id.len()).max().unwrap_or(2).max(2);
    writeln!(out, "{:<7}  {:<8}  {:<id_width$}  REASON", "VERDICT", "SEVERITY", "ID")?;
    for record in items {
        let reason = record.last.as_ref().map_or("", |e| e.outcome.reason.as_str());
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
        "{} items: {} pass, {} fail, {} error. Critical items passing: {} of {}. Ready: {}.",
        summary.items,
        summary.pass,
        summary.fail,
        summary.error,
        summary.critical_pass,
        summary.critical_items,
        if summary.critical_all_pass() { "yes" } else { "no" }
    )
}
