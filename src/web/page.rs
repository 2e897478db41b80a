//! The live checklist page at `/`: sections in config order, each item with its state in words
//! and colour, its reason, when it ran and runs next, and a strip of its last results. Rendered
//! on the server with askama, which escapes everything a target could have put into a reason;
//! `static/page.js` refreshes it in place from `/api/v1/items`, and it works without JavaScript.

use std::time::SystemTime;

use askama::Template;

use crate::config::Severity;
use crate::model::Verdict;
use crate::state::{ItemRecord, StoreInner};
use crate::web::view::{reason_of, relative, rfc3339, summarize, DisplayState, Summary};

/// A symbol per verdict, so the strip reads without colour.
fn symbol(verdict: Verdict) -> &'static str {
    match verdict {
        Verdict::Pass => "✓",
        Verdict::Fail => "✗",
        Verdict::Error => "?",
    }
}

pub struct HistoryDot {
    pub state: &'static str,
    pub symbol: &'static str,
    pub at: String,
}

pub struct ItemRow<'a> {
    pub id: &'a str,
    pub title: &'a str,
    pub severity: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    pub reason: &'a str,
    /// Passed at the go-live baseline and does not pass now.
    pub regressed: bool,
    pub last: String,
    /// `last` as a person reads it: "3 min ago"; empty when never evaluated.
    pub last_ago: String,
    /// The verdict came from the state file at start and was not evaluated since.
    pub restored: bool,
    pub next: String,
    /// `next` as a person reads it: "in 2 min"; empty without a due time.
    pub next_in: String,
    pub history: Vec<HistoryDot>,
}

pub struct SectionView<'a> {
    pub name: &'a str,
    pub passing: usize,
    pub total: usize,
    pub items: Vec<ItemRow<'a>>,
}

#[derive(Template)]
#[template(path = "page.html")]
pub struct Page<'a> {
    pub summary: Summary,
    pub all_percent: String,
    pub critical_percent: String,
    /// Items per display state: passing, failing, undecidable, pending, stale, not applicable.
    pub counts: [usize; 6],
    pub attention: Vec<ItemRow<'a>>,
    pub attention_only: bool,
    pub sections: Vec<SectionView<'a>>,
    pub generated_at: String,
    pub version: &'static str,
    /// When the go-live baseline was taken, if it was.
    pub baseline: Option<String>,
    /// Why the last reload was refused, while the previous config keeps running.
    pub reload_refused: Option<String>,
    pub regressed: usize,
    /// The exposition's address relative to the page (`--web.telemetry-path` without its `/`).
    /// Every link and asset is relative, so the page works below any route prefix or proxy path.
    pub metrics_link: &'a str,
    /// The environments to switch between (empty without environments), and the one shown.
    pub environments: Vec<String>,
    pub environment: Option<String>,
}

impl Page<'_> {
    /// `&environment=NAME` for links that keep the environment shown; empty without one.
    pub fn environment_query(&self) -> String {
        self.environment.as_ref().map_or_else(String::new, |name| format!("&environment={name}"))
    }

    /// `?environment=NAME` for links with no other parameter; empty without one.
    pub fn environment_only_query(&self) -> String {
        self.environment.as_ref().map_or_else(String::new, |name| format!("?environment={name}"))
    }
}

/// Narrows a snapshot to the environment `asked` (`?environment=NAME`), or to the first one
/// when `default_first` and none was asked (the page shows one environment at a time, so that
/// an item's anchor is unique). Returns the environments declared and the one kept; refuses an
/// environment the config does not declare, naming those it does.
pub fn select_environment(
    inner: &mut StoreInner,
    asked: Option<&str>,
    default_first: bool,
) -> Result<(Vec<String>, Option<String>), String> {
    let environments = inner.environments();
    let chosen = match asked {
        Some(name) if environments.iter().any(|known| known == name) => Some(name.to_string()),
        Some(name) if environments.is_empty() => {
            return Err(format!("environment={name}: the config declares no environments"))
        }
        Some(name) => {
            return Err(format!(
                "environment={name}: the config declares no such environment; declared: {}",
                environments.join(", ")
            ))
        }
        None if default_first => environments.first().cloned(),
        None => None,
    };
    if let Some(name) = &chosen {
        inner.keep_environment(name);
    }
    Ok((environments, chosen))
}

fn percent(part: usize, whole: usize) -> String {
    if whole == 0 {
        return "100".to_string();
    }
    format!("{:.0}", part as f64 * 100.0 / whole as f64)
}

fn row<'a>(record: &'a ItemRecord, inner: &StoreInner, now: SystemTime) -> ItemRow<'a> {
    let state = DisplayState::of(record, now);
    ItemRow {
        id: &record.item().id,
        title: &record.item().title,
        severity: record.item().severity.as_str(),
        state: state.key(),
        state_label: state.label(),
        reason: reason_of(record).unwrap_or(""),
        regressed: inner.regressed(record) == Some(true),
        last: record.last.as_ref().map_or_else(|| "never".to_string(), |e| rfc3339(e.at)),
        last_ago: record.last.as_ref().map_or_else(String::new, |e| relative(e.at, now)),
        restored: record.restored,
        next: match (record.not_applicable(), record.next_due()) {
            (Some(_), _) => "never".to_string(),
            (None, Some(due)) => rfc3339(due),
            (None, None) => "soon".to_string(),
        },
        next_in: match (record.not_applicable(), record.next_due()) {
            (None, Some(due)) => relative(due, now),
            _ => String::new(),
        },
        history: record
            .history
            .iter()
            .map(|(at, verdict)| HistoryDot { state: verdict.as_str(), symbol: symbol(*verdict), at: rfc3339(*at) })
            .collect(),
    }
}

/// Builds the page; with `attention_only`, sections list only items that need attention.
pub fn build(inner: &StoreInner, attention_only: bool, now: SystemTime) -> Page<'_> {
    let summary = summarize(&inner.items);
    let mut sections: Vec<SectionView> = Vec::new();
    let mut attention = Vec::new();
    let mut counts = [0usize; 6];
    for record in &inner.items {
        let state = DisplayState::of(record, now);
        counts[state as usize] += 1;
        if state.needs_attention() {
            attention.push(row(record, inner, now));
        }
        let name = record.item().section.as_str();
        let position = match sections.iter().position(|s| s.name == name) {
            Some(position) => position,
            None => {
                sections.push(SectionView { name, passing: 0, total: 0, items: Vec::new() });
                sections.len() - 1
            }
        };
        let section = &mut sections[position];
        section.total += usize::from(state != DisplayState::NotApplicable);
        section.passing += usize::from(state == DisplayState::Passing);
        if !attention_only || state.needs_attention() {
            section.items.push(row(record, inner, now));
        }
    }
    if attention_only {
        sections.retain(|s| !s.items.is_empty());
    }
    // Regressions first, then critical items, then in checklist order.
    attention.sort_by_key(|r| (!r.regressed, r.severity != Severity::Critical.as_str()));
    let regressed = attention.iter().filter(|r| r.regressed).count();
    Page {
        all_percent: percent(summary.pass, summary.items - summary.not_applicable),
        critical_percent: percent(summary.critical_pass, summary.critical_items),
        summary,
        counts,
        attention,
        attention_only,
        sections,
        generated_at: rfc3339(now),
        version: crate::web::metrics::VERSION,
        baseline: inner.baseline.as_ref().map(|b| rfc3339(b.taken_at())),
        reload_refused: inner.reload.refusal.clone(),
        regressed,
        metrics_link: "metrics",
        environments: Vec::new(),
        environment: None,
    }
}

/// The stylesheet and script the page loads; served from the binary, no build step.
pub const STYLESHEET: &str = include_str!("../../static/page.css");
pub const SCRIPT: &str = include_str!("../../static/page.js");

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{Cause, Outcome};
    use crate::state::Store;

    fn store_with(outcomes: &[Option<Outcome>]) -> (std::sync::Arc<Store>, SystemTime) {
        let mut text = String::new();
        for (i, _) in outcomes.iter().enumerate() {
            text.push_str(&format!(
                "[[checks]]\nkind = \"disk\"\npath = \"/p{i}\"\nmin_free_bytes = 1\ninterval = \"1m\"\n  [[checks.items]]\n  id = \"i{i}\"\n  section = \"S{}\"\n  title = \"T{i}\"\n  severity = \"{}\"\n  decides = \"minimum\"\n",
                i % 2,
                if i == 0 { "warning" } else { "critical" }
            ));
        }
        let config = crate::config::parse("t.toml", &text, Vec::new()).unwrap();
        let store = Store::new();
        store.install(&config);
        let at = SystemTime::now();
        for (check, outcome) in config.checks.iter().zip(outcomes) {
            if let Some(outcome) = outcome {
                store.record(check, check.fingerprint(), vec![outcome.clone()], vec![], at, Duration::ZERO);
            }
        }
        (store, at)
    }

    #[test]
    fn states_follow_verdicts_and_age() {
        let (store, at) = store_with(&[
            Some(Outcome::pass("ok")),
            Some(Outcome::fail(Cause::BelowMinimum, "low")),
            Some(Outcome::error(Cause::NotFound, "gone")),
            None,
        ]);
        let inner = store.read();
        let states: Vec<DisplayState> = inner.items.iter().map(|r| DisplayState::of(r, at)).collect();
        use DisplayState::*;
        assert_eq!(states, vec![Passing, Failing, Undecidable, Pending]);
        let three_intervals_later = at + Duration::from_secs(3 * 60 + 1);
        assert_eq!(DisplayState::of(&inner.items[0], three_intervals_later), Stale);
        assert_eq!(DisplayState::of(&inner.items[0], at + Duration::from_secs(179)), Passing);
    }

    #[test]
    fn attention_lists_critical_items_first_and_the_filter_drops_quiet_sections() {
        let (store, at) = store_with(&[
            Some(Outcome::fail(Cause::BelowMinimum, "warning item")),
            Some(Outcome::pass("ok")),
            Some(Outcome::fail(Cause::BelowMinimum, "critical item")),
        ]);
        let inner = store.read();
        let page = build(&inner, false, at);
        let attention: Vec<&str> = page.attention.iter().map(|r| r.id).collect();
        assert_eq!(attention, vec!["i2", "i0"]);
        assert_eq!(page.counts, [1, 2, 0, 0, 0, 0]);
        assert_eq!(page.sections.iter().map(|s| s.name).collect::<Vec<_>>(), vec!["S0", "S1"]);
        let filtered = build(&inner, true, at);
        assert_eq!(filtered.sections.len(), 1, "S1 holds only a passing item");
        assert_eq!(filtered.sections[0].items.len(), 2);
        assert_eq!(page.all_percent, "33");
    }
}
