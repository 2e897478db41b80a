//! What every view of an item shares: the state a person sees, the reason to show, the
//! totals, and times as text. The exposition, the JSON API, the page, the reports and the `check`
//! command all read the store through these, so they cannot disagree.

use std::collections::HashMap;
use std::time::SystemTime;

use serde::Serialize;

use crate::config::{Decider, Severity};
use crate::model::Verdict;
use crate::state::ItemRecord;

/// An item counts as stale when its last evaluation is older than this many intervals.
pub const STALE_INTERVALS: u32 = 3;

/// The state a person sees; more than the verdict, because age matters too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DisplayState {
    Passing,
    Failing,
    Undecidable,
    Pending,
    Stale,
    /// Switched off for this site by the config.
    NotApplicable,
}

impl DisplayState {
    pub fn of(record: &ItemRecord, now: SystemTime) -> DisplayState {
        if record.not_applicable().is_some() {
            return DisplayState::NotApplicable;
        }
        let Some(last) = &record.last else { return DisplayState::Pending };
        let age = now.duration_since(last.at).unwrap_or_default();
        if age > record.interval() * STALE_INTERVALS {
            return DisplayState::Stale;
        }
        match last.outcome.verdict {
            Verdict::Pass => DisplayState::Passing,
            Verdict::Fail => DisplayState::Failing,
            Verdict::Error => DisplayState::Undecidable,
        }
    }

    /// The class and `data-state` value.
    pub fn key(self) -> &'static str {
        match self {
            DisplayState::Passing => "pass",
            DisplayState::Failing => "fail",
            DisplayState::Undecidable => "error",
            DisplayState::Pending => "pending",
            DisplayState::Stale => "stale",
            DisplayState::NotApplicable => "not_applicable",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DisplayState::Passing => "Passing",
            DisplayState::Failing => "Failing",
            DisplayState::Undecidable => "Undecidable",
            DisplayState::Pending => "Not evaluated yet",
            DisplayState::Stale => "Stale",
            DisplayState::NotApplicable => "Not applicable",
        }
    }

    pub fn needs_attention(self) -> bool {
        matches!(self, DisplayState::Failing | DisplayState::Undecidable | DisplayState::Stale)
    }
}

/// Totals over the whole checklist and over its critical items.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub items: usize,
    pub pass: usize,
    pub fail: usize,
    pub error: usize,
    pub pending: usize,
    /// Items switched off for this site; they count neither for nor against readiness.
    pub not_applicable: usize,
    /// Applicable critical items.
    pub critical_items: usize,
    pub critical_pass: usize,
}

impl Summary {
    /// True when every critical item has been evaluated and passes: the go-live gate.
    pub fn critical_all_pass(&self) -> bool {
        self.critical_pass == self.critical_items
    }
}

pub fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_seconds(time).to_string()
}

/// `time` as a person reads it beside the absolute time, seen from `now`: "just now",
/// "3 min ago", "in 2 h". Whole units, cut, never rounded up; page.js says the same.
pub fn relative(time: SystemTime, now: SystemTime) -> String {
    let (seconds, past) = match now.duration_since(time) {
        Ok(elapsed) => (elapsed.as_secs(), true),
        Err(ahead) => (ahead.duration().as_secs(), false),
    };
    if seconds < 10 {
        return if past { "just now".to_string() } else { "in a few seconds".to_string() };
    }
    let amount = match seconds {
        0..=59 => format!("{seconds} s"),
        60..=3599 => format!("{} min", seconds / 60),
        3600..=86399 => format!("{} h", seconds / 3600),
        _ => format!("{} d", seconds / 86400),
    };
    if past {
        format!("{amount} ago")
    } else {
        format!("in {amount}")
    }
}

pub fn state_name(record: &ItemRecord) -> &'static str {
    if record.not_applicable().is_some() {
        return NOT_APPLICABLE;
    }
    record.verdict().map_or("pending", Verdict::as_str)
}

/// The state of an item a switch in the config turned off.
pub const NOT_APPLICABLE: &str = "not_applicable";

/// What a person reads about the item's state: the reason of its last verdict, or why it does
/// not apply.
pub fn reason_of(record: &ItemRecord) -> Option<&str> {
    record.not_applicable().or_else(|| record.last.as_ref().map(|e| e.outcome.reason.as_str()))
}

pub fn summarize(items: &[ItemRecord]) -> Summary {
    let mut summary = Summary { items: items.len(), ..Summary::default() };
    for record in items {
        if record.not_applicable().is_some() {
            summary.not_applicable += 1;
            continue;
        }
        match record.verdict() {
            Some(Verdict::Pass) => summary.pass += 1,
            Some(Verdict::Fail) => summary.fail += 1,
            Some(Verdict::Error) => summary.error += 1,
            None => summary.pending += 1,
        }
        if record.item().severity == Severity::Critical {
            summary.critical_items += 1;
            if record.verdict() == Some(Verdict::Pass) {
                summary.critical_pass += 1;
            }
        }
    }
    summary
}

/// One item of the outline and the items nested under it.
#[derive(Debug, PartialEq, Eq)]
pub struct OutlineNode {
    /// Its index in the store's items.
    pub index: usize,
    pub children: Vec<OutlineNode>,
}

/// One section of the outline: its name and its items as a tree, groups above their members.
#[derive(Debug, PartialEq, Eq)]
pub struct OutlineSection<'a> {
    pub name: &'a str,
    /// Indices of every item of the section, whatever the filter kept: the section's tally.
    pub all: Vec<usize>,
    pub roots: Vec<OutlineNode>,
}

/// The checklist as its document has it, for the page and the reports.
///
/// A config lists its `[[checks]]` under the document's headings, but one check may decide
/// lines of several sections (the DNS check decides "A record configured" and the go-live line
/// "DNS pointing to production"), so the section of an item met first is not the section its
/// table stands under. A section therefore takes its place from the first check whose *first*
/// item is in it; a section no check leads with comes after those, where its first item stands.
///
/// Within a section, items keep the config's order, except that a group stands above its
/// members of the same section (the document's bold parent line above its indented lines), at
/// the place of its earliest member. An item in several groups is nested under the innermost.
/// Members in other sections stay in their own sections.
///
/// `keep` filters: a kept item hangs under its nearest kept ancestor, so each appears once.
pub fn outline(items: &[ItemRecord], keep: impl Fn(usize) -> bool) -> Vec<OutlineSection<'_>> {
    let section_of = |index: usize| &*items[index].item().section;
    // Section names in order, and each name's place (a config may have thousands of sections).
    let mut order: Vec<&str> = Vec::new();
    let mut place: HashMap<&str, usize> = HashMap::new();
    let leads = |record: &ItemRecord| record.decider.items().first().is_some_and(|first| first.id == record.item().id);
    for leading_only in [true, false] {
        for record in items.iter().filter(|record| !leading_only || leads(record)) {
            let name = &*record.item().section;
            place.entry(name).or_insert_with(|| {
                order.push(name);
                order.len() - 1
            });
        }
    }

    let index_of: HashMap<&str, usize> = items.iter().enumerate().map(|(i, r)| (r.item().id.as_str(), i)).collect();
    let members_of = |index: usize| -> Vec<usize> {
        match &items[index].decider {
            Decider::Group(group) => group.members.iter().filter_map(|id| index_of.get(id.as_str()).copied()).collect(),
            Decider::Check(_) => Vec::new(),
        }
    };
    // Innermost groups first: a group's height is one more than its highest member group's.
    // The config refused cycles, so the recursion ends.
    fn height(index: usize, members_of: &dyn Fn(usize) -> Vec<usize>, memo: &mut HashMap<usize, usize>) -> usize {
        if let Some(&known) = memo.get(&index) {
            return known;
        }
        let members = members_of(index);
        let value = members.iter().map(|&m| height(m, members_of, memo) + 1).max().unwrap_or(0);
        memo.insert(index, value);
        value
    }
    let mut heights = HashMap::new();
    let mut groups: Vec<usize> = (0..items.len()).filter(|&i| matches!(items[i].decider, Decider::Group(_))).collect();
    groups.sort_by_key(|&g| (height(g, &members_of, &mut heights), g));
    let mut parent: HashMap<usize, usize> = HashMap::new();
    for &group in &groups {
        for member in members_of(group) {
            if member != group && section_of(member) == section_of(group) {
                parent.entry(member).or_insert(group);
            }
        }
    }
    let mut children: HashMap<usize, Vec<usize>> = HashMap::new();
    for (&child, &group) in &parent {
        children.entry(group).or_default().push(child);
    }
    // An item's place in the document: its `line` when the config gives one (a check that
    // decides lines spread over a section lists its items together, so config order alone
    // cannot follow the document), else after the lined items, in config order.
    let rank = |index: usize| (items[index].item().line.unwrap_or(u32::MAX), index);
    // Where a subtree stands: at its earliest item.
    fn first_of(
        index: usize,
        children: &HashMap<usize, Vec<usize>>,
        rank: &dyn Fn(usize) -> (u32, usize),
    ) -> (u32, usize) {
        children
            .get(&index)
            .map_or(rank(index), |kids| kids.iter().map(|&k| first_of(k, children, rank)).fold(rank(index), Ord::min))
    }
    fn build(
        index: usize,
        children: &HashMap<usize, Vec<usize>>,
        rank: &dyn Fn(usize) -> (u32, usize),
        keep: &dyn Fn(usize) -> bool,
        out: &mut Vec<OutlineNode>,
    ) {
        let mut kids = children.get(&index).cloned().unwrap_or_default();
        kids.sort_by_key(|&k| first_of(k, children, rank));
        let mut nested = Vec::new();
        for kid in kids {
            build(kid, children, rank, keep, &mut nested);
        }
        if keep(index) {
            out.push(OutlineNode { index, children: nested });
        } else {
            out.extend(nested);
        }
    }

    let mut members: Vec<Vec<usize>> = vec![Vec::new(); order.len()];
    for index in 0..items.len() {
        members[place[section_of(index)]].push(index);
    }
    order
        .into_iter()
        .zip(members)
        .map(|(name, all)| {
            let mut tops: Vec<usize> = all.iter().copied().filter(|i| !parent.contains_key(i)).collect();
            tops.sort_by_key(|&t| first_of(t, &children, &rank));
            let mut roots = Vec::new();
            for top in tops {
                build(top, &children, &rank, &keep, &mut roots);
            }
            OutlineSection { name, all, roots }
        })
        .collect()
}

/// The link to an attestation's evidence, split off the reason of an `attested` item (the check
/// writes it last: `...; evidence: https://ci.example.org/runs/42`). Only for that kind, whose
/// reason the exporter wrote from a validated attestation, never for a reason that quotes a
/// target; and only an `http(s)` address without white space or user-info.
pub fn evidence_of(record: &ItemRecord) -> Option<(&str, &str)> {
    if record.kind() != "attested" {
        return None;
    }
    split_evidence(reason_of(record)?)
}

/// `(reason before the link, link)` when `reason` ends in `; evidence: URL` with a safe URL.
pub fn split_evidence(reason: &str) -> Option<(&str, &str)> {
    let (before, url) = reason.rsplit_once(EVIDENCE_MARK)?;
    let rest = url.strip_prefix("https://").or_else(|| url.strip_prefix("http://"))?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let safe = !authority.is_empty()
        && !authority.contains('@')
        && !url.chars().any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '<' | '>' | '`'));
    safe.then_some((before, url))
}

/// The reason to show and, apart from it, the evidence link of an attested item.
pub fn reason_and_evidence(record: &ItemRecord) -> (&str, Option<&str>) {
    match evidence_of(record) {
        Some((reason, url)) => (reason, Some(url)),
        None => (reason_of(record).unwrap_or(""), None),
    }
}

/// A section as the page and the HTML sheet show it: its tally and its rows in outline order.
pub struct SectionRows<'a, Row> {
    /// Borrowed from the config, or made (`section (environment)` in a report of every
    /// environment).
    pub name: std::borrow::Cow<'a, str>,
    pub passing: usize,
    /// Its items that apply to this site.
    pub applicable: usize,
    pub rows: Vec<Row>,
}

/// What separates the reason of an attested item from its evidence link.
pub const EVIDENCE_MARK: &str = "; evidence: ";

#[cfg(test)]
mod tests {

    use super::{outline, split_evidence, OutlineNode};

    /// A store over `text`, as the daemon installs a config.
    fn store(text: &str) -> std::sync::Arc<crate::state::Store> {
        let config = crate::config::parse("t.toml", text, Vec::new()).unwrap();
        let store = crate::state::Store::new();
        store.install(&config);
        store
    }

    fn disk(path: &str, items: &[(&str, &str)]) -> String {
        let mut text = format!("[[checks]]\nkind = \"disk\"\npath = \"{path}\"\nmin_free_bytes = 1\n");
        for (id, section) in items {
            text.push_str(&format!(
                "  [[checks.items]]\n  id = \"{id}\"\n  section = \"{section}\"\n  title = \"{id}\"\n  severity = \"warning\"\n  decides = \"minimum\"\n"
            ));
        }
        text
    }

    fn group(id: &str, section: &str, members: &[&str]) -> String {
        format!(
            "[[checks]]\nkind = \"group\"\nmembers = {members:?}\n  [[checks.items]]\n  id = \"{id}\"\n  section = \"{section}\"\n  title = \"{id}\"\n  severity = \"critical\"\n"
        )
    }

    /// `id` and its nested ids, as `id(child, child(grandchild))`.
    fn shape(node: &OutlineNode, items: &[crate::state::ItemRecord]) -> String {
        let id = items[node.index].item().id.clone();
        if node.children.is_empty() {
            return id;
        }
        let children: Vec<String> = node.children.iter().map(|c| shape(c, items)).collect();
        format!("{id}({})", children.join(", "))
    }

    /// A small checklist as configs write the reference one: a check under the first heading also
    /// decides a go-live line, and the bold parent lines (groups) follow their members.
    fn document_like() -> String {
        [
            disk("/a", &[("infra.cpu", "Infrastructure"), ("golive.dns", "Go-Live")]),
            disk("/b", &[("infra.disk", "Infrastructure")]),
            group("infra.resources", "Infrastructure", &["infra.cpu", "infra.disk"]),
            disk("/c", &[("db.up", "Database")]),
            disk("/d", &[("db.size", "Database")]),
            group("db.ready", "Database", &["db.up", "db.size"]),
            group("db.all", "Database", &["db.ready", "db.up"]),
            disk("/e", &[("golive.smoke", "Go-Live")]),
            group("signoff", "Sign-off", &["infra.resources", "db.all", "golive.smoke"]),
        ]
        .concat()
    }

    #[test]
    fn sections_follow_the_checks_that_lead_with_them_and_groups_stand_above_their_members() {
        let store = store(&document_like());
        let inner = store.read();
        let sections = outline(&inner.items, |_| true);
        let names: Vec<&str> = sections.iter().map(|s| s.name).collect();
        assert_eq!(names, ["Infrastructure", "Database", "Go-Live", "Sign-off"], "not Go-Live second");
        let shapes: Vec<Vec<String>> =
            sections.iter().map(|s| s.roots.iter().map(|n| shape(n, &inner.items)).collect()).collect();
        assert_eq!(shapes[0], ["infra.resources(infra.cpu, infra.disk)"]);
        // db.up is in both groups and nests under the innermost, once.
        assert_eq!(shapes[1], ["db.all(db.ready(db.up, db.size))"]);
        assert_eq!(shapes[2], ["golive.dns", "golive.smoke"]);
        assert_eq!(shapes[3], ["signoff"], "members in other sections stay in theirs");
        assert_eq!(sections[1].all.len(), 4);
    }

    #[test]
    fn a_filtered_outline_hangs_each_kept_item_under_its_nearest_kept_ancestor_once() {
        let store = store(&document_like());
        let inner = store.read();
        let keep = |i: usize| ["db.all", "db.size", "infra.disk"].contains(&inner.items[i].item().id.as_str());
        let sections = outline(&inner.items, keep);
        let shapes: Vec<Vec<String>> =
            sections.iter().map(|s| s.roots.iter().map(|n| shape(n, &inner.items)).collect()).collect();
        assert_eq!(shapes[0], ["infra.disk"]);
        assert_eq!(shapes[1], ["db.all(db.size)"]);
        assert!(shapes[2].is_empty() && shapes[3].is_empty());
    }

    #[test]
    fn only_a_safe_http_address_at_the_end_is_an_evidence_link() {
        let reason =
            "attested by ci on 2026-08-01 (run 4); valid until 2026-09-01; evidence: https://ci.example.org/runs/42";
        assert_eq!(
            split_evidence(reason),
            Some(("attested by ci on 2026-08-01 (run 4); valid until 2026-09-01", "https://ci.example.org/runs/42"))
        );
        for bad in [
            "x; evidence: javascript:alert(1)",
            "x; evidence: https://user:token@ci.example.org/1",
            "x; evidence: https://ci.example.org/a b",
            "x; evidence: https://ci.example.org/\"onmouseover=",
            "x; evidence: https:///path",
            "no evidence here",
        ] {
            assert_eq!(split_evidence(bad), None, "{bad}");
        }
    }
    #[test]
    fn relative_times_read_in_whole_units_both_ways() {
        use std::time::{Duration, UNIX_EPOCH};
        let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        let ago = |s| super::relative(now - Duration::from_secs(s), now);
        assert_eq!(ago(3), "just now");
        assert_eq!(ago(42), "42 s ago");
        assert_eq!(ago(179), "2 min ago");
        assert_eq!(ago(7300), "2 h ago");
        assert_eq!(ago(3 * 86400 + 5), "3 d ago");
        assert_eq!(super::relative(now + Duration::from_secs(125), now), "in 2 min");
        assert_eq!(super::relative(now + Duration::from_secs(2), now), "in a few seconds");
    }
}
