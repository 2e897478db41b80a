//! What every view of an item shares: the state a person sees, the reason to show, the
//! totals, and times as text. The exposition, the JSON API, the page, the reports and the `check`
//! command all read the store through these, so they cannot disagree.

use std::time::SystemTime;

use serde::Serialize;

use crate::config::Severity;
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

#[cfg(test)]
mod tests {
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
