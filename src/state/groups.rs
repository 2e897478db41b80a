//! The verdict of a group item, derived from its members' last verdicts. The store calls
//! [`derive()`] whenever a member's verdict changes, in member-first order
//! (`config::groups` resolves the members and the order).

use crate::model::{Cause, Outcome, Verdict};
use crate::support::text::excerpt;

/// How many member ids a reason names before it says "and N more".
const NAMED_IN_REASON: usize = 5;

/// The longest group reason, in characters: members are named by id and verdict, never by their
/// own reasons (a group of groups would nest them into kilobyte-long lines); a member's reason
/// is on its own row.
pub const MAX_REASON_CHARS: usize = 300;

/// The verdict of a group from the last outcomes of its applicable members, in config order:
/// any failing member fails the group; otherwise any undecidable member makes it undecidable;
/// otherwise it passes once every member has passed. `None` while a member has not been
/// evaluated yet and nothing has failed.
pub fn derive(members: &[(&str, Option<&Outcome>)]) -> Option<Outcome> {
    let total = members.len();
    let not_passing: Vec<(&str, &Outcome)> = members
        .iter()
        .filter_map(|(id, outcome)| outcome.filter(|o| o.verdict != Verdict::Pass).map(|o| (*id, o)))
        .collect();
    let first_with = |verdict: Verdict| not_passing.iter().find(|(_, o)| o.verdict == verdict).map(|(_, o)| *o);
    let reason = || {
        excerpt(
            &format!("{} of {total} members do not pass: {}", not_passing.len(), name_some(&not_passing)),
            MAX_REASON_CHARS,
        )
    };
    if let Some(first) = first_with(Verdict::Fail) {
        return Some(Outcome::fail(first.cause.unwrap_or(Cause::Io), reason()));
    }
    if let Some(first) = first_with(Verdict::Error) {
        return Some(Outcome::error(first.cause.unwrap_or(Cause::Io), reason()));
    }
    if members.iter().any(|(_, outcome)| outcome.is_none()) {
        return None;
    }
    Some(Outcome::pass(if total == 1 { "its 1 item passes".to_string() } else { format!("all {total} items pass") }))
}

/// `disk.free (fail: below_minimum), cpu.cores (error: timeout) and 3 more`.
fn name_some(members: &[(&str, &Outcome)]) -> String {
    let mut named: Vec<String> = members
        .iter()
        .take(NAMED_IN_REASON)
        .map(|(id, outcome)| match outcome.cause {
            Some(cause) => format!("{id} ({}: {cause})", outcome.verdict.as_str()),
            None => format!("{id} ({})", outcome.verdict.as_str()),
        })
        .collect();
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
        assert_eq!(
            outcome,
            Outcome::fail(
                Cause::BelowMinimum,
                "2 of 4 members do not pass: cpu (fail: below_minimum) and disk (error: not_found)"
            )
        );
    }

    #[test]
    fn undecidable_members_make_the_group_undecidable_when_none_fails() {
        let pass = Outcome::pass("ok");
        let gone = Outcome::error(Cause::Timeout, "no answer in 5s");
        let outcome = derive(&[("a", Some(&pass)), ("b", Some(&gone))]).unwrap();
        assert_eq!(outcome, Outcome::error(Cause::Timeout, "1 of 2 members do not pass: b (error: timeout)"));
    }

    #[test]
    fn long_lists_are_shortened() {
        let bad = Outcome::fail(Cause::Missing, "x");
        let members: Vec<(&str, Option<&Outcome>)> =
            ["a", "b", "c", "d", "e", "f", "g"].iter().map(|id| (*id, Some(&bad))).collect();
        assert_eq!(
            derive(&members).unwrap().reason,
            "7 of 7 members do not pass: a (fail: missing), b (fail: missing), c (fail: missing), d (fail: missing), \
             e (fail: missing) and 2 more"
        );
        let long_id = "x".repeat(400);
        let long: Vec<(&str, Option<&Outcome>)> = vec![(long_id.as_str(), Some(&bad))];
        assert!(derive(&long).unwrap().reason.chars().count() <= MAX_REASON_CHARS + 1, "bounded, the cut marked");
    }
}
