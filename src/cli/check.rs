//! `checklist-exporter check`: evaluate every item once and print a table or JSON, for CI
//! go-live gates. Exit 0 when every critical item passes, 1 otherwise, 2 for a bad config.
//! `--only attention` lists only the items that need a person (failing, undecidable, stale).

use std::io::Write;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::checks::CheckContext;
use crate::cli::args::{OnlyItems, OutputFormat};
use crate::config::{self, Shard};
use crate::scheduler::evaluate;
use crate::state::Store;
use crate::web::causes::RootCausesSection;
use crate::web::report::ReportFormat;
use crate::web::view::{reason_of, state_name, summarize, DisplayState, NOT_APPLICABLE};

use super::{EXIT_BAD_CONFIG, EXIT_NOT_READY, EXIT_READY};

/// Which items a one-shot run evaluates: those of a shard, of one environment or of all.
pub struct Scope {
    pub shard: Shard,
    /// `--environment NAME`: that environment's items only.
    pub environment: Option<String>,
}

pub async fn run(
    config_file: &Path,
    scope: &Scope,
    format: OutputFormat,
    only: Option<OnlyItems>,
    out: &mut impl Write,
) -> i32 {
    if only.is_some() && format != OutputFormat::Text {
        // The reports are whole documents (a certification sheet, a CI test list): never partial.
        eprintln!("--only applies to --format text; the other formats always list every item");
        return EXIT_BAD_CONFIG;
    }
    let store = match evaluate_once(config_file, scope).await {
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
            out.write_all(crate::web::report::render(&inner, report_format, std::time::SystemTime::now()).as_bytes())
        }
        None => write_root_causes(&RootCausesSection::from_store(&inner), out)
            .and_then(|()| write_table(&inner.items, only, out)),
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

/// Loads the config and evaluates every check of `shard` once; a bad config is reported and gives its
/// exit code.
pub(crate) async fn evaluate_once(config_file: &Path, scope: &Scope) -> Result<Arc<Store>, i32> {
    // Reading and decoding the file blocks: off the async workers, as the daemon's reload does.
    let path = config_file.to_path_buf();
    let shard = scope.shard;
    let loaded = tokio::task::spawn_blocking(move || config::load(&path).map(|c| c.restricted_to(shard))).await;
    let loaded = match loaded {
        Ok(loaded) => loaded,
        Err(err) if err.is_panic() => std::panic::resume_unwind(err.into_panic()),
        Err(err) => {
            eprintln!("{}: the config was not read: {err}", config_file.display());
            return Err(EXIT_BAD_CONFIG);
        }
    };
    let config = match loaded {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return Err(EXIT_BAD_CONFIG);
        }
    };
    let config = match &scope.environment {
        None => config,
        Some(environment) => match config.restricted_to_environment(environment) {
            Ok(config) => config,
            Err(reason) => {
                eprintln!("{}: {reason}", config_file.display());
                return Err(EXIT_BAD_CONFIG);
            }
        },
    };
    let store = Store::new();
    store.install(&config);
    // Every check starts at once, each in a task of its own; the semaphore bounds how many run.
    let limiter = Arc::new(Semaphore::new(config.settings.max_concurrent_checks));
    let mut evaluations = JoinSet::new();
    for spec in config.checks.iter().filter(|spec| spec.runs()) {
        let (spec, limiter, store) = (spec.clone(), limiter.clone(), store.clone());
        evaluations.spawn(async move {
            let evaluation = evaluate(&spec, &limiter, &CheckContext::default()).await;
            store.record(
                &spec,
                spec.fingerprint(),
                evaluation.outcomes,
                evaluation.samples,
                evaluation.at,
                evaluation.duration,
            );
        });
    }
    while let Some(finished) = evaluations.join_next().await {
        // `evaluate` catches a check's panic; one outside it is a bug and goes on up, as it did
        // when the evaluations ran inside this task.
        if let Err(err) = finished {
            if let Ok(payload) = err.try_into_panic() {
                std::panic::resume_unwind(payload);
            }
        }
    }

    Ok(store)
}

/// How many blocked item ids a cause's line names before it says "and N more".
const IDS_PER_CAUSE: usize = 3;

/// "Fix these first": the leading root causes, each with how many items fixing it clears,
/// before the item list; nothing when no failing item names what it is about.
fn write_root_causes(section: &RootCausesSection, out: &mut impl Write) -> std::io::Result<()> {
    if section.causes.is_empty() {
        return Ok(());
    }
    let of_total = if section.shown == section.total {
        String::new()
    } else {
        format!(" ({} of {} causes)", section.shown, section.total)
    };
    writeln!(
        out,
        "Fix these first{of_total}: they block {} of {} failing or undecidable items.",
        section.covered, section.failing
    )?;
    let width = section.causes.len().to_string().len();
    for (rank, cause) in section.causes.iter().enumerate() {
        let noun = if cause.count == 1 { "item" } else { "items" };
        let mut ids = cause.items.iter().take(IDS_PER_CAUSE).cloned().collect::<Vec<_>>().join(", ");
        // `items` names only the first few of the `count` items the cause blocks.
        if cause.count > IDS_PER_CAUSE {
            ids.push_str(&format!(" and {} more", cause.count - IDS_PER_CAUSE));
        }
        writeln!(out, "{:>width$}. {} — clears {} {noun}: {ids}", rank + 1, cause.summary, cause.count)?;
    }
    writeln!(out)
}

fn write_table(
    items: &[crate::state::ItemRecord],
    only: Option<OnlyItems>,
    out: &mut impl Write,
) -> std::io::Result<()> {
    let now = std::time::SystemTime::now();
    let shown: Vec<&crate::state::ItemRecord> = items
        .iter()
        .filter(|record| match only {
            None => true,
            Some(OnlyItems::Attention) => DisplayState::of(record, now).needs_attention(),
        })
        .collect();
    // Wide enough for every state name, `not_applicable` included, so the columns stay straight.
    let state_width = NOT_APPLICABLE.len();
    let id_width = shown.iter().map(|r| r.item().id.len()).max().unwrap_or(2).max(2);
    // With environments, items come grouped by environment (the config's order) and a column
    // names it; without, the table is as it always was.
    let environments = environments_of(items);
    let env_width = environments.iter().map(|name| name.len()).max().map_or(0, |width| width.max(11));
    let env_cell = |name: &str| if env_width == 0 { String::new() } else { format!("{name:<env_width$}  ") };
    if !shown.is_empty() {
        let heading = env_cell("ENVIRONMENT");
        writeln!(out, "{heading}{:<state_width$}  {:<8}  {:<id_width$}  REASON", "VERDICT", "SEVERITY", "ID")?;
    }
    for record in &shown {
        let reason = reason_of(record).unwrap_or("");
        writeln!(
            out,
            "{}{:<state_width$}  {:<8}  {:<id_width$}  {}",
            env_cell(record.item().environment_name()),
            state_name(record),
            record.item().severity.as_str(),
            record.item().id,
            reason
        )?;
    }
    if environments.len() > 1 {
        writeln!(out)?;
        for environment in &environments {
            let of_environment: Vec<_> =
                items.iter().filter(|r| r.item().environment_name() == *environment).cloned().collect();
            let summary = summarize(&of_environment);
            writeln!(
                out,
                "{environment}: {} items, {} pass, {} fail, {} error. Critical items passing: {} of {}. Ready: {}.",
                summary.items,
                summary.pass,
                summary.fail,
                summary.error,
                summary.critical_pass,
                summary.critical_items,
                if summary.critical_all_pass() { "yes" } else { "no" }
            )?;
        }
    }
    let summary = summarize(items);
    if only == Some(OnlyItems::Attention) {
        if shown.is_empty() {
            writeln!(out, "No item needs attention.")?;
        } else {
            writeln!(
                out,
                "\n{} of {} items need attention (failing, undecidable or stale).",
                shown.len(),
                summary.items
            )?;
        }
    }
    writeln!(out)?;
    let applicable = summary.items - summary.not_applicable;
    writeln!(
        out,
        "{} items, {} applicable: {} pass, {} fail, {} error{}{}. Critical items passing: {} of {} applicable. Ready: {}.",
        summary.items,
        applicable,
        summary.pass,
        summary.fail,
        summary.error,
        if summary.pending > 0 { format!(", {} not evaluated", summary.pending) } else { String::new() },
        if summary.not_applicable > 0 { format!(", {} not applicable", summary.not_applicable) } else { String::new() },
        summary.critical_pass,
        summary.critical_items,
        if summary.critical_all_pass() { "yes" } else { "no" }
    )
}

/// The environments of `items` in the order they come; empty when the config declares none.
fn environments_of(items: &[crate::state::ItemRecord]) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    for name in items.iter().filter_map(|record| record.item().environment.as_deref()) {
        if names.last() != Some(&name) && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}
