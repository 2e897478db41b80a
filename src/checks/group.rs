//! Group items: a bold parent line of the checklist ("Server Resources Verified") that passes
//! when all of its member items pass.
//!
//! A group is never run by the scheduler. The results store derives its verdict whenever a
//! member's verdict changes, so the parent line is exactly as fresh as its children and needs no
//! interval of its own.

use serde::Deserialize;

use super::{CheckContext, CheckResult, KeyError, MetricFamily, Outcome, ProbeFailure, Verdict};

/// `kind = "group"`: one item, decided by the items named in `members` (which may be groups).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupCheck {
    pub members: Vec<String>,
}

/// How many member ids a reason names before it says "and N more".
const NAMED_IN_REASON: usize = 3;

impl GroupCheck {
    pub const ASPECTS: &'static [&'static str] = &["all_pass"];
    pub const FAMILIES: &'static [&'static MetricFamily] = &[];

    pub fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        if self.members.is_empty() {
            return Err(KeyError::new("members", "must name at least one item"));
        }
        let mut seen = std::collections::HashSet::new();
        if let Some(twice) = self.members.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(KeyError::new("members", format!("`{twice}` is named twice")));
        }
        Ok(())
    }

    /// Never called: the scheduler skips groups and the store derives them. Kept total so that a
    /// mistake shows up as an undecidable item with a reason rather than a crash.
    pub async fn run(&self, _ctx: &CheckContext) -> CheckResult {
        Err(ProbeFailure::new(super::Cause::Io, "a group is derived from its members and is never run on its own"))
    }
}

/// The verdict of a group from the last outcomes of its applicable members, in config order:
/// any failing member fails the group; otherwise any undecidable member makes it undecidable;
/// otherwise it passes once every member has passed. `None` while a member has not been
/// evaluated yet and nothing has failed.
pub fn derive(members: &[(&str, Option<&Outcome>)]) -> Option<Outcome> {
    let with = |verdict: Verdict| -> Vec<(&str, &Outcome)> {
        members.iter().filter_map(|(id, outcome)| outcome.filter(|o| o.verdict == verdict).map(|o| (*id, o))).collect()
    };
    let total = members.len();
    let failing = with(Verdict::Fail);
    if let Some((_, first)) = failing.first() {
        return Some(Outcome::fail(
            first.cause.unwrap_or(super::Cause::Io),
            format!("{} of {total} fail: {}", failing.len(), name_some(&failing)),
        ));
    }
    let undecidable = with(Verdict::Error);
    if let Some((_, first)) = undecidable.first() {
        return Some(Outcome::error(
            first.cause.unwrap_or(super::Cause::Io),
            format!("{} of {total} cannot be decided: {}", undecidable.len(), name_some(&undecidable)),
        ));
    }
    if members.iter().any(|(_, outcome)| outcome.is_none()) {
        return None;
    }
    Some(Outcome::pass(if total == 1 { "its 1 item passes".to_string() } else { format!("all {total} items pass") }))
}

/// `disk.free (free space on / is 2 GiB ...), cpu.cores (...) and 3 more`.
fn name_some(members: &[(&str, &Outcome)]) -> String {
    let mut named: Vec<String> =
        members.iter().take(NAMED_IN_REASON).map(|(id, outcome)| format!("{id} ({})", outcome.reason)).collect();
    if members.len() > NAMED_IN_REASON {
        named.push(format!("{} more", members.len() - NAMED_IN_REASON));
    }
    match named.len() {
        1 => named.remove(0),
        _ => {
            let last = named.pop().unwrap_or_default();
            format!("{} and {last}", named.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::Cause;

    #[test]
    fn passes_only_when_every_member_passes() {
        let pass = Outcome::pass("ok");
        assert_eq!(derive(&[("a", Some(&pass)), ("b", Some(&pass))]), Some(Outcome::pass("all 2 items pass")));
        assert_eq!(derive(&[("a", Some(&pass)), ("b", None)]), None);
    }

    #[test]
    fn a_failure_decides_even_while_others_are_pending_and_names_the_failing_members() {
        let pass = Outcome::pass("ok");
        let low = Outcome::fail(Cause::BelowMinimum, "2 cores; want at least 4");
        let gone = Outcome::error(Cause::NotFound, "no /opt");
        let outcome =
            derive(&[("cpu", Some(&low)), ("disk", Some(&gone)), ("net", None), ("mem", Some(&pass))]).unwrap();
        assert_eq!(outcome, Outcome::fail(Cause::BelowMinimum, "1 of 4 fail: cpu (2 cores; want at least 4)"));
    }

    #[test]
    fn undecidable_members_make_the_group_undecidable_when_none_fails() {
        let pass = Outcome::pass("ok");
        let gone = Outcome::error(Cause::Timeout, "no answer in 5s");
        let outcome = derive(&[("a", Some(&pass)), ("b", Some(&gone))]).unwrap();
        assert_eq!(outcome, Outcome::error(Cause::Timeout, "1 of 2 cannot be decided: b (no answer in 5s)"));
    }

    #[test]
    fn long_lists_are_shortened() {
        let bad = Outcome::fail(Cause::Missing, "x");
        let members: Vec<(&str, Option<&Outcome>)> =
            ["a", "b", "c", "d", "e"].iter().map(|id| (*id, Some(&bad))).collect();
        assert_eq!(derive(&members).unwrap().reason, "5 of 5 fail: a (x), b (x), c (x) and 2 more");
    }

    #[test]
    fn members_must_be_named_once() {
        let group = GroupCheck { members: vec!["a".into(), "a".into()] };
        assert_eq!(group.validate("all_pass").unwrap_err().message, "`a` is named twice");
        assert_eq!(GroupCheck { members: vec![] }.validate("all_pass").unwrap_err().key, "members");
    }
}
