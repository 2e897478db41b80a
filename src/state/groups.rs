//! The verdict of a group item, derived from its members' last verdicts. The store calls
//! [`derive()`] whenever a member's verdict changes, in member-first order
//! (`config::groups` resolves the members and the order).

use crate::model::{Cause, Outcome, Verdict};

/// How many member ids a reason names before it says "and N more".
const NAMED_IN_REASON: usize = 3;

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
            first.cause.unwrap_or(Cause::Io),
            format!("{} of {total} fail: {}", failing.len(), name_some(&failing)),
        ));
    }
    let undecidable = with(Verdict::Error);
    if let Some((_, first)) = undecidable.first() {
        return Some(Outcome::error(
            first.cause.unwrap_or(Cause::Io),
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
}
