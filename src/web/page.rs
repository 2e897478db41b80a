//! The live checklist page at `/`: sections in config order, each item with its state in words
//! and colour, its reason, when it ran and runs next, and a strip of its last results. Rendered
//! on the server with askama, which escapes everything a target could have put into a reason;
//! `static/page.js` refreshes it in place from `/api/v1/items`, and it works without JavaScript.

use std::collections::HashMap;
use std::time::SystemTime;

use askama::Template;

use crate::config::{Decider, Severity};
use crate::model::Verdict;
use crate::state::{ItemRecord, StoreInner};
use crate::web::causes::RootCausesSection;
use crate::web::view::{
    outline, reason_and_evidence, relative, rfc3339, summarize, DisplayState, OutlineNode, SectionRows, Summary,
};

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
    pub kind: &'static str,
    pub severity: &'static str,
    pub state: &'static str,
    pub state_label: &'static str,
    /// The reason without its evidence link, which `evidence` holds.
    pub reason: &'a str,
    /// An attestation's evidence: an `http(s)` address, shown as a link.
    pub evidence: Option<&'a str>,
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
    /// For a group: how its members stand, "2 of 3 members pass"; empty for other items.
    pub members: String,
    /// For a group: its members' ids, space-separated, from which page.js recounts `members`.
    pub member_ids: String,
    /// A group with members shown under it: the row opens a collapsible `<details>` list.
    pub opens: bool,
    /// Whether that list starts open: a group that needs attention shows its members.
    pub open: bool,
    /// How many nested lists end after this row.
    pub closes: usize,
}

/// A section of the page: its items in outline order, depth by depth (see `ItemRow::opens` and
/// `closes`).
pub type SectionView<'a> = SectionRows<'a, ItemRow<'a>>;

/// What the "Needs attention" box lists at most; the rest is one link away.
pub const ATTENTION_SHOWN: usize = 10;

/// The page's filters, from its query string: `filter=attention`, `section=…`, `severity=…`,
/// `state=…`. A small GET form sets them, so they work without JavaScript.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Filters {
    pub attention: bool,
    pub section: Option<String>,
    pub severity: Option<String>,
    pub state: Option<String>,
}

impl Filters {
    pub fn from_query(query: Option<&str>) -> Filters {
        let mut filters = Filters::default();
        for pair in query.unwrap_or_default().split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = form_decode(value);
            let value = (!value.is_empty()).then_some(value);
            match key {
                "filter" => filters.attention = value.as_deref() == Some("attention"),
                "section" => filters.section = value,
                "severity" => filters.severity = value,
                "state" => filters.state = value,
                _ => {}
            }
        }
        filters
    }

    pub fn any(&self) -> bool {
        self.attention || self.section.is_some() || self.severity.is_some() || self.state.is_some()
    }

    fn keeps(&self, record: &ItemRecord, state: DisplayState) -> bool {
        (!self.attention || state.needs_attention())
            && self.section.as_ref().is_none_or(|s| **s == *record.item().section)
            && self.severity.as_ref().is_none_or(|s| s == record.item().severity.as_str())
            && self.state.as_ref().is_none_or(|s| s == state.key())
    }
}

/// A value of an `application/x-www-form-urlencoded` query: `+` is a space, `%XX` a byte.
/// Bytes that do not form UTF-8 become U+FFFD; a stray `%` stays as it is.
fn form_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match bytes
                .get(i + 1..i + 3)
                .and_then(|hex| u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok())
            {
                Some(byte) => {
                    out.push(byte);
                    i += 2;
                }
                None => out.push(b'%'),
            },
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One choice of a filter's `<select>`.
pub struct Choice<'a> {
    pub value: &'a str,
    pub label: &'a str,
    pub selected: bool,
}

#[derive(Template)]
#[template(path = "page.html")]
pub struct Page<'a> {
    pub summary: Summary,
    pub all_percent: String,
    pub critical_percent: String,
    /// Items per display state: passing, failing, undecidable, pending, stale, not applicable.
    pub counts: [usize; 6],
    /// The first [`ATTENTION_SHOWN`] items that need attention, most urgent first; shown only on
    /// the unfiltered page (a filtered page lists them in their sections, once).
    pub attention: Vec<ItemRow<'a>>,
    /// How many items need attention in all.
    pub attention_total: usize,
    /// "Fix these first": the leading root causes, on the whole page and the attention view.
    pub root_causes: RootCausesSection,
    pub filters: Filters,
    pub section_choices: Vec<Choice<'a>>,
    pub severity_choices: Vec<Choice<'a>>,
    pub state_choices: Vec<Choice<'a>>,
    /// Items the filters keep, over all sections.
    pub shown: usize,
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

/// What rendering rows needs besides the item: the store, the time, every item's state.
struct Context<'a> {
    inner: &'a StoreInner,
    now: SystemTime,
    states: Vec<DisplayState>,
    index_of: HashMap<&'a str, usize>,
}

/// "2 of 3 members pass" for a group; empty for any other item.
fn members_summary(record: &ItemRecord, context: &Context) -> String {
    let Decider::Group(group) = &record.decider else { return String::new() };
    let states: Vec<DisplayState> = group
        .members
        .iter()
        .filter_map(|id| context.index_of.get(id.as_str()))
        .map(|&i| context.states[i])
        .filter(|&state| state != DisplayState::NotApplicable)
        .collect();
    let passing = states.iter().filter(|&&s| s == DisplayState::Passing).count();
    match states.len() {
        1 => format!("{passing} of 1 member passes"),
        n => format!("{passing} of {n} members pass"),
    }
}

fn row<'a>(index: usize, context: &Context<'a>) -> ItemRow<'a> {
    let (inner, now) = (context.inner, context.now);
    let record = &inner.items[index];
    let state = context.states[index];
    let (reason, evidence) = reason_and_evidence(record);
    ItemRow {
        id: &record.item().id,
        title: &record.item().title,
        kind: record.kind(),
        severity: record.item().severity.as_str(),
        state: state.key(),
        state_label: state.label(),
        reason,
        evidence,
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
            .map(|(at, verdict)| HistoryDot { state: verdict.as_str(), symbol: symbol(verdict), at: rfc3339(at) })
            .collect(),
        members: members_summary(record, context),
        member_ids: match &record.decider {
            Decider::Group(group) => group.members.join(" "),
            Decider::Check(_) => String::new(),
        },
        opens: false,
        open: false,
        closes: 0,
    }
}

/// Appends `nodes` depth-first as rows: a node with children opens a list that its last
/// descendant's row closes.
fn flatten<'a>(nodes: &[OutlineNode], context: &Context<'a>, rows: &mut Vec<ItemRow<'a>>) {
    for node in nodes {
        let mut item = row(node.index, context);
        if !node.children.is_empty() {
            item.opens = true;
            item.open = context.states[node.index] != DisplayState::Passing;
            rows.push(item);
            flatten(&node.children, context, rows);
            if let Some(last) = rows.last_mut() {
                last.closes += 1;
            }
        } else {
            rows.push(item);
        }
    }
}

fn choices<'a>(values: impl IntoIterator<Item = (&'a str, &'a str)>, selected: Option<&str>) -> Vec<Choice<'a>> {
    values.into_iter().map(|(value, label)| Choice { value, label, selected: selected == Some(value) }).collect()
}

const STATES: [DisplayState; 6] = [
    DisplayState::Passing,
    DisplayState::Failing,
    DisplayState::Undecidable,
    DisplayState::Stale,
    DisplayState::Pending,
    DisplayState::NotApplicable,
];

/// Builds the page: sections in the document's order (see [`outline`]), each listing the items
/// `filters` keep, groups above their members.
pub fn build<'a>(inner: &'a StoreInner, filters: Filters, now: SystemTime) -> Page<'a> {
    let summary = summarize(&inner.items);
    let states: Vec<DisplayState> = inner.items.iter().map(|record| DisplayState::of(record, now)).collect();
    let mut counts = [0usize; 6];
    for &state in &states {
        counts[state as usize] += 1;
    }
    let outline = outline(&inner.items, |i| filters.keeps(&inner.items[i], states[i]));
    let index_of = inner.items.iter().enumerate().map(|(i, r)| (r.item().id.as_str(), i)).collect();
    let context = Context { inner, now, states, index_of };
    let states = &context.states;
    let section_choices =
        choices(outline.iter().map(|section| (section.name, section.name)), filters.section.as_deref());
    let mut shown = 0;
    let mut sections = Vec::new();
    for section in &outline {
        let mut items = Vec::new();
        flatten(&section.roots, &context, &mut items);
        shown += items.len();
        if filters.any() && items.is_empty() {
            continue;
        }
        let applicable = section.all.iter().filter(|&&i| states[i] != DisplayState::NotApplicable);
        sections.push(SectionView {
            name: section.name.into(),
            passing: section.all.iter().filter(|&&i| states[i] == DisplayState::Passing).count(),
            applicable: applicable.count(),
            rows: items,
        });
    }

    // Regressions first, then critical items, then in the document's order.
    let document_order = outline.iter().flat_map(|section| {
        let mut indices = Vec::new();
        let mut stack: Vec<&OutlineNode> = section.roots.iter().rev().collect();
        while let Some(node) = stack.pop() {
            indices.push(node.index);
            stack.extend(node.children.iter().rev());
        }
        indices
    });
    let mut attention: Vec<usize> =
        if filters.any() { Vec::new() } else { document_order.filter(|&i| states[i].needs_attention()).collect() };
    let attention_total = if filters.any() { counts[1] + counts[2] + counts[4] } else { attention.len() };
    attention.sort_by_key(|&i| {
        (inner.regressed(&inner.items[i]) != Some(true), inner.items[i].item().severity != Severity::Critical)
    });
    let regressed = inner.items.iter().filter(|r| inner.regressed(r) == Some(true)).count();
    let attention = attention.into_iter().take(ATTENTION_SHOWN).map(|i| row(i, &context)).collect();
    Page {
        all_percent: percent(summary.pass, summary.items - summary.not_applicable),
        critical_percent: percent(summary.critical_pass, summary.critical_items),
        summary,
        counts,
        attention,
        attention_total,
        root_causes: if filters.section.is_none() && filters.severity.is_none() && filters.state.is_none() {
            RootCausesSection::from_store(inner)
        } else {
            RootCausesSection::default()
        },
        section_choices,
        severity_choices: choices(
            [Severity::Critical, Severity::Warning, Severity::Info].map(|s| (s.as_str(), s.as_str())),
            filters.severity.as_deref(),
        ),
        state_choices: choices(STATES.map(|s| (s.key(), s.label())), filters.state.as_deref()),
        filters,
        shown,
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
        let page = build(&inner, Filters::default(), at);
        let attention: Vec<&str> = page.attention.iter().map(|r| r.id).collect();
        assert_eq!(attention, vec!["i2", "i0"]);
        assert_eq!(page.counts, [1, 2, 0, 0, 0, 0]);
        assert_eq!(page.sections.iter().map(|s| s.name.as_ref()).collect::<Vec<_>>(), vec!["S0", "S1"]);
        let filtered = build(&inner, Filters { attention: true, ..Filters::default() }, at);
        assert_eq!(filtered.sections.len(), 1, "S1 holds only a passing item");
        assert_eq!(filtered.sections[0].rows.len(), 2);
        assert_eq!(page.all_percent, "33");
    }

    #[test]
    fn filters_read_a_form_query_with_escapes_and_ignore_empty_and_unknown_fields() {
        let filters =
            Filters::from_query(Some("filter=attention&section=SSL%2FTLS+Configuration&severity=&state=fail&x=1"));
        assert_eq!(
            filters,
            Filters {
                attention: true,
                section: Some("SSL/TLS Configuration".into()),
                severity: None,
                state: Some("fail".into())
            }
        );
        assert!(!Filters::from_query(None).any());
        assert_eq!(form_decode("100%25+%E2%9C%93%zz%"), "100% ✓%zz%");
    }

    #[test]
    fn the_unfiltered_page_lists_a_bounded_attention_box_and_a_filtered_one_none() {
        let failing: Vec<Option<Outcome>> =
            (0..ATTENTION_SHOWN + 3).map(|i| Some(Outcome::fail(Cause::BelowMinimum, format!("low {i}")))).collect();
        let (store, at) = store_with(&failing);
        let inner = store.read();
        let page = build(&inner, Filters::default(), at);
        assert_eq!((page.attention.len(), page.attention_total), (ATTENTION_SHOWN, ATTENTION_SHOWN + 3));
        let filtered = build(&inner, Filters { attention: true, ..Filters::default() }, at);
        assert!(filtered.attention.is_empty(), "the filtered page lists each item once, in its section");
        assert_eq!(filtered.shown, ATTENTION_SHOWN + 3);
        let by_severity = build(&inner, Filters { severity: Some("warning".into()), ..Filters::default() }, at);
        assert_eq!(by_severity.shown, 1, "only i0 is a warning");
        let by_section = build(&inner, Filters { section: Some("S1".into()), ..Filters::default() }, at);
        assert!(by_section.sections.iter().all(|s| s.name == "S1"));
    }
}
