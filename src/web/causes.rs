//! The "Fix these first" section: the leading root causes of the store (`state::causes`) as a
//! view ready to render, and `templates/root_causes.html`, which renders it standalone
//! ([`RootCausesPartial`]) or included by a page that has a `root_causes` field.

use askama::Template;

use crate::model::Verdict;
use crate::state::causes::{leading, root_causes, RootCause};
use crate::state::StoreInner;

/// How many blocked items a cause names on the page: a cause of 46 items would otherwise be a
/// wall of its own. The rest are counted, and all of them are in `/api/v1/items`.
pub const ITEMS_NAMED: usize = 8;

/// One root cause as the section shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RootCauseView {
    /// `path /opt/app/.env`: the `data-subject` attribute.
    pub subject: String,
    pub summary: String,
    /// How many items fixing it clears (group items not counted).
    pub count: usize,
    pub weight: u32,
    /// The ids of the first [`ITEMS_NAMED`] items it blocks, each linked to `#item-<id>`.
    pub items: Vec<String>,
    /// How many more it blocks than `items` names.
    pub more: usize,
    /// The group items that clear with them.
    pub groups: Vec<String>,
}

impl From<&RootCause> for RootCauseView {
    fn from(cause: &RootCause) -> Self {
        RootCauseView {
            subject: cause.subject_text(),
            summary: cause.summary.clone(),
            count: cause.items.len(),
            weight: cause.weight,
            items: cause.items.iter().take(ITEMS_NAMED).cloned().collect(),
            more: cause.items.len().saturating_sub(ITEMS_NAMED),
            groups: cause.groups.clone(),
        }
    }
}

/// The leading causes with how much of the failing checklist they account for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RootCausesSection {
    pub causes: Vec<RootCauseView>,
    /// How many causes are shown, and how many there are.
    pub shown: usize,
    pub total: usize,
    /// Applicable, failing or undecidable items that are not groups.
    pub failing: usize,
    /// How many of those the shown causes block.
    pub covered: usize,
}

impl RootCausesSection {
    pub fn from_store(inner: &StoreInner) -> Self {
        let failing = inner
            .items
            .iter()
            .filter(|record| record.not_applicable().is_none() && !record.is_group())
            .filter(|record| matches!(record.verdict(), Some(Verdict::Fail | Verdict::Error)))
            .count();
        Self::new(&root_causes(inner), failing)
    }

    /// The section for `causes` (ranked) among `failing` failing or undecidable items.
    pub fn new(causes: &[RootCause], failing: usize) -> Self {
        let shown: Vec<RootCauseView> = leading(causes).into_iter().map(RootCauseView::from).collect();
        RootCausesSection {
            shown: shown.len(),
            total: causes.len(),
            covered: shown.iter().map(|cause| cause.count).sum(),
            failing,
            causes: shown,
        }
    }
}

/// `templates/root_causes.html` on its own, for a page that inserts it rendered.
#[derive(Template)]
#[template(path = "root_causes.html")]
pub struct RootCausesPartial<'a> {
    pub root_causes: &'a RootCausesSection,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cause(kind: &'static str, name: &str, items: &[&str]) -> RootCause {
        RootCause {
            kind,
            name: name.to_string(),
            summary: format!("{name} does not exist"),
            weight: items.len() as u32 * 3,
            items: items.iter().map(|id| id.to_string()).collect(),
            groups: vec!["grp".to_string()],
        }
    }

    #[test]
    fn the_section_lists_causes_with_their_subject_count_and_linked_items() {
        let causes = vec![
            cause("path", "/opt/<app>/.env", &["env.a", "env.b"]),
            cause("tool", "ufw", &["fw.a", "fw.b", "fw.c"]),
            cause("tool", "nft", &["lonely"]),
        ];
        let section = RootCausesSection::new(&causes, 7);
        assert_eq!((section.shown, section.total, section.covered, section.failing), (2, 3, 5, 7));
        let html = RootCausesPartial { root_causes: &section }.render().unwrap();
        assert!(html.contains("<h2 id=\"root-causes-title\">Fix these first</h2>"), "{html}");
        assert!(html.contains("<ol class=\"root-causes\">"), "{html}");
        assert!(html.contains("data-subject=\"path /opt/&#60;app&#62;/.env\""), "escaped: {html}");
        assert!(html.contains("<a href=\"#item-env.a\">env.a</a>, <a href=\"#item-env.b\">env.b</a>"), "{html}");
        assert!(html.contains("clears 2 items and 1 group"), "{html}");
        assert!(html.contains("clears 3 items and 1 group"), "{html}");
        assert!(!html.contains("lonely"), "a one-item cause does not lead: {html}");
        assert!(html.contains("5 of 7 failing or undecidable items come down to these 2 of 3 causes"), "{html}");
        assert!(!html.contains("<app>"), "a name from the config is escaped: {html}");
    }

    #[test]
    fn nothing_is_rendered_without_causes() {
        let html = RootCausesPartial { root_causes: &RootCausesSection::default() }.render().unwrap();
        assert!(html.trim().is_empty(), "{html}");
    }
}
