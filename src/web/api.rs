//! The JSON view of the checklist: `/api/v1/items` and `check --format json` print the same
//! document, built from the [`crate::state::Store`].

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use crate::config::Severity;
use crate::model::Subject;
use crate::state::causes::{root_causes, RootCause};
use crate::state::{ItemRecord, StoreInner};
use crate::web::view::{reason_of, rfc3339, state_name, summarize, DisplayState, Summary};

/// One item as the API shows it.
#[derive(Debug, Serialize)]
pub struct ItemView<'a> {
    pub id: &'a str,
    /// Absent when the config declares no environments.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment: Option<&'a str>,
    pub section: &'a str,
    pub title: &'a str,
    pub severity: Severity,
    pub kind: &'static str,
    /// `pass`, `fail`, `error`, `pending` before the first evaluation, or `not_applicable` for
    /// an item a switch in the config turned off for this site.
    pub state: &'static str,
    /// The last evaluation is older than three intervals: the verdict may no longer hold.
    pub stale: bool,
    /// Passed at the go-live baseline and does not pass now; absent without a baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressed: Option<bool>,
    pub cause: Option<&'static str>,
    pub reason: Option<&'a str>,
    /// What a failing or undecidable verdict is about (`{"kind": "path", "name": "/opt/app/.env"}`),
    /// when its check names it: the key root causes are gathered by.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<&'a Subject>,
    pub last_evaluation: Option<String>,
    pub last_evaluation_timestamp_seconds: Option<f64>,
    /// The verdict was restored from the state file at start and not evaluated since.
    pub restored: bool,
    pub duration_seconds: Option<f64>,
    pub next_evaluation: Option<String>,
    pub interval_seconds: f64,
    pub timeout_seconds: f64,
    pub evaluations: Counts,
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub pass: u64,
    pub fail: u64,
    pub error: u64,
}

#[derive(Debug, Serialize)]
pub struct ItemsDocument<'a> {
    pub generated_at: String,
    pub baseline_taken_at: Option<String>,
    pub summary: Summary,
    pub items: Vec<ItemView<'a>>,
    /// Failing and undecidable items gathered by the thing they are about, ranked by the weight
    /// of what fixing each would clear (see `state::causes`).
    pub root_causes: Vec<RootCause>,
}

pub fn item_view<'a>(record: &'a ItemRecord, inner: &StoreInner) -> ItemView<'a> {
    let last = record.last.as_ref();
    ItemView {
        id: &record.item().id,
        environment: record.item().environment.as_deref(),
        section: &record.item().section,
        title: &record.item().title,
        severity: record.item().severity,
        kind: record.kind(),
        state: state_name(record),
        stale: DisplayState::of(record, SystemTime::now()) == DisplayState::Stale,
        regressed: inner.regressed(record),
        cause: last.and_then(|e| e.outcome.cause).map(|c| c.as_str()),
        reason: reason_of(record),
        subject: last.and_then(|e| e.outcome.subject()).filter(|_| record.not_applicable().is_none()),
        last_evaluation: last.map(|e| rfc3339(e.at)),
        last_evaluation_timestamp_seconds: last
            .map(|e| e.at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)),
        restored: record.restored,
        duration_seconds: last.map(|e| e.duration.as_secs_f64()),
        next_evaluation: record.next_due().map(rfc3339),
        interval_seconds: record.interval().as_secs_f64(),
        timeout_seconds: record.timeout().as_secs_f64(),
        evaluations: Counts { pass: record.counts[0], fail: record.counts[1], error: record.counts[2] },
    }
}

pub fn items_document(inner: &StoreInner) -> ItemsDocument<'_> {
    ItemsDocument {
        generated_at: rfc3339(SystemTime::now()),
        summary: summarize(&inner.items),
        items: inner.items.iter().map(|record| item_view(record, inner)).collect(),
        root_causes: root_causes(inner),
        baseline_taken_at: inner.baseline.as_ref().map(|b| rfc3339(b.taken_at())),
    }
}
