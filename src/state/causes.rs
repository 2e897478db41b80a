//! Root causes: failing and undecidable items gathered by the thing their verdicts are about
//! ([`Subject`]: a path, a variable, an endpoint, ...), so that a person fixes one unset variable
//! instead of reading eighteen reasons that name it. Grouping is by the structured subject a
//! check sets, never by comparing reason strings.
//!
//! Each cause is weighted by the severities of the items fixing it would clear (critical 3,
//! warning 2, info 1) and ranked by weight, then by how many items, then by kind and name.
//! Items that name no subject are not grouped; they stay in the item list. Group items (bold
//! parents) are not weighted: they clear through their members, and a cause lists the groups
//! every non-passing member of which it blocks.
//!
//! Attestations are the exception: each awaits its own person, so they are not one cause each
//! (dozens of one-item causes would bury the rest) but one gathered cause, "items await a
//! person's attestation", ranked after every cause a fix on the host clears.

use std::collections::HashMap;

use serde::Serialize;

use crate::config::Severity;
use crate::model::{Cause, Subject, Verdict};

use super::StoreInner;

/// How many root causes the page and `check` lead with.
pub const LEADING: usize = 12;

/// The `kind` of the gathered cause of items awaiting a person's attestation.
pub const ATTESTATIONS: &str = "attestations";

/// One thing that, fixed, clears every item it lists.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RootCause {
    /// The subject's kind (`path`, `variable`, `endpoint`, `url`, `database`, `tool`), or
    /// [`ATTESTATIONS`] for the items awaiting a person's attestation.
    pub kind: &'static str,
    /// The subject's name (a path, a variable, `host:port`); empty for [`ATTESTATIONS`].
    pub name: String,
    /// What is wrong with the thing, one line a person reads.
    pub summary: String,
    /// The severities of the blocked items summed (critical 3, warning 2, info 1).
    pub weight: u32,
    /// The ids of the (non-group) items it blocks, in config order.
    pub items: Vec<String>,
    /// The ids of group items that clear with them: every non-passing member is blocked here.
    pub groups: Vec<String>,
}

impl RootCause {
    /// `path /opt/app/.env`, or `attestations`: the thing as a word pair, for attributes.
    pub fn subject_text(&self) -> String {
        if self.name.is_empty() {
            self.kind.to_string()
        } else {
            format!("{} {}", self.kind, self.name)
        }
    }
}

/// What weighs an item in a cause.
pub fn severity_weight(severity: Severity) -> u32 {
    match severity {
        Severity::Critical => 3,
        Severity::Warning => 2,
        Severity::Info => 1,
    }
}

/// What the grouping needs to know of one item.
#[derive(Clone, Debug)]
pub struct ItemFact<'a> {
    pub id: &'a str,
    pub severity: Severity,
    /// A group item, whose verdict derives from its members.
    pub group: bool,
    /// `None` before the first evaluation or for an item that does not apply.
    pub verdict: Option<Verdict>,
    pub cause: Option<Cause>,
    pub subject: Option<&'a Subject>,
}

/// The root causes of the store's last verdicts, ranked.
/// Items are named by id; when the store holds more than one environment (a view of one
/// environment holds one) an id repeats, so it is named `id (environment)`.
pub fn root_causes(inner: &StoreInner) -> Vec<RootCause> {
    let qualify = inner.environments().len() > 1;
    let names: Vec<String> = inner
        .items
        .iter()
        .map(|record| match (&record.item().environment, qualify) {
            (Some(environment), true) => format!("{} ({environment})", record.item().id),
            _ => record.item().id.clone(),
        })
        .collect();
    let facts: Vec<ItemFact<'_>> = inner
        .items
        .iter()
        .zip(&names)
        .map(|(record, name)| {
            let outcome = record.last.as_ref().filter(|_| record.not_applicable().is_none()).map(|e| &e.outcome);
            ItemFact {
                id: name,
                severity: record.item().severity,
                group: record.is_group(),
                verdict: outcome.map(|o| o.verdict),
                cause: outcome.and_then(|o| o.cause),
                subject: outcome.and_then(crate::model::Outcome::subject),
            }
        })
        .collect();
    gather(&facts, &inner.groups)
}

/// How many items a cause must block to lead: a cause of one item says nothing its own row in
/// the item list does not.
pub const LEADING_MIN_ITEMS: usize = 2;

/// The leading causes, those blocking at least [`LEADING_MIN_ITEMS`]: the first [`LEADING`] - 1
/// that a fix on the host clears, then the attestations when some await, so that a long tail of
/// small causes never hides them.
pub fn leading(causes: &[RootCause]) -> Vec<&RootCause> {
    let big = || causes.iter().filter(|c| c.items.len() >= LEADING_MIN_ITEMS);
    let mut shown: Vec<&RootCause> = big().filter(|c| c.kind != ATTESTATIONS).take(LEADING - 1).collect();
    match big().find(|c| c.kind == ATTESTATIONS) {
        Some(attestations) => shown.push(attestations),
        None => shown.extend(big().filter(|c| c.kind != ATTESTATIONS).nth(LEADING - 1)),
    }
    shown
}

/// The key a cause is gathered under.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Key<'a> {
    Thing(&'a Subject),
    Attestations,
}

struct Gathering<'a> {
    key: Key<'a>,
    weight: u32,
    items: Vec<&'a str>,
    /// Weight by cause, in first-seen order: the summary names the heaviest.
    causes: Vec<(Option<Cause>, u32)>,
    groups: Vec<&'a str>,
}

/// Gathers `facts` (in config order) into ranked root causes; `groups` are the group items
/// (index into `facts`) with their applicable members, members before the groups containing them.
pub fn gather(facts: &[ItemFact<'_>], groups: &[(usize, Vec<usize>)]) -> Vec<RootCause> {
    let mut gatherings: Vec<Gathering<'_>> = Vec::new();
    let mut by_key: HashMap<Key<'_>, usize> = HashMap::new();
    // Which gathering clears an item, by index into `facts`.
    let mut cleared_by: HashMap<usize, usize> = HashMap::new();
    for (index, fact) in facts.iter().enumerate() {
        let failing = matches!(fact.verdict, Some(Verdict::Fail | Verdict::Error));
        let Some(subject) = fact.subject.filter(|_| failing && !fact.group) else { continue };
        let key = match subject {
            Subject::Attestation(_) => Key::Attestations,
            thing => Key::Thing(thing),
        };
        let slot = *by_key.entry(key.clone()).or_insert_with(|| {
            gatherings.push(Gathering { key, weight: 0, items: Vec::new(), causes: Vec::new(), groups: Vec::new() });
            gatherings.len() - 1
        });
        let gathering = &mut gatherings[slot];
        let weight = severity_weight(fact.severity);
        gathering.weight += weight;
        gathering.items.push(fact.id);
        match gathering.causes.iter_mut().find(|(cause, _)| *cause == fact.cause) {
            Some((_, total)) => *total += weight,
            None => gathering.causes.push((fact.cause, weight)),
        }
        cleared_by.insert(index, slot);
    }
    for (group, members) in groups {
        let group = *group;
        if !matches!(facts[group].verdict, Some(Verdict::Fail | Verdict::Error)) {
            continue;
        }
        let mut blocking = members.iter().filter(|&&m| facts[m].verdict != Some(Verdict::Pass));
        let Some(first) = blocking.next() else { continue };
        let Some(&slot) = cleared_by.get(first) else { continue };
        if blocking.all(|m| cleared_by.get(m) == Some(&slot)) {
            cleared_by.insert(group, slot);
            gatherings[slot].groups.push(facts[group].id);
        }
    }
    let mut causes: Vec<RootCause> = gatherings.iter().map(describe).collect();
    causes.sort_by(|a, b| {
        (a.kind == ATTESTATIONS)
            .cmp(&(b.kind == ATTESTATIONS))
            .then(b.weight.cmp(&a.weight))
            .then(b.items.len().cmp(&a.items.len()))
            .then(a.kind.cmp(b.kind))
            .then(a.name.cmp(&b.name))
    });
    causes
}

fn describe(gathering: &Gathering<'_>) -> RootCause {
    let heaviest = gathering.causes.iter().fold(None, |best: Option<&(Option<Cause>, u32)>, candidate| match best {
        Some(best) if best.1 >= candidate.1 => Some(best),
        _ => Some(candidate),
    });
    let cause = heaviest.and_then(|(cause, _)| *cause);
    let (kind, name, summary) = match gathering.key {
        Key::Thing(subject) => (subject.kind(), subject.name().to_string(), summary(subject, cause)),
        Key::Attestations => {
            let count = gathering.items.len();
            let noun = if count == 1 { "item awaits" } else { "items await" };
            (
                ATTESTATIONS,
                String::new(),
                format!("{count} {noun} a person's attestation (`checklist-exporter attest ID --by NAME`)"),
            )
        }
    };
    RootCause {
        kind,
        name,
        summary,
        weight: gathering.weight,
        items: gathering.items.iter().map(|id| id.to_string()).collect(),
        groups: gathering.groups.iter().map(|id| id.to_string()).collect(),
    }
}

/// What is wrong with `subject`, from the cause most of its items give.
pub fn summary(subject: &Subject, cause: Option<Cause>) -> String {
    use Cause::*;
    let name = subject.name();
    let specific = match (subject, cause) {
        (Subject::Path(_), Some(NotFound | Missing)) => Some(format!("{name} does not exist")),
        (Subject::Path(_), Some(Permission)) => Some(format!("{name} cannot be accessed: permission denied")),
        (Subject::Variable(_), Some(NotFound | Missing)) => Some(format!("environment variable {name} is not set")),
        (Subject::Variable(_), Some(Weak)) => Some(format!("{name} holds a weak secret")),
        (Subject::Endpoint(_) | Subject::Database(_), Some(Refused)) => Some(format!("{name} refuses connections")),
        (Subject::Endpoint(_) | Subject::Database(_) | Subject::Url(_), Some(Timeout)) => {
            Some(format!("{name} does not answer in time"))
        }
        (Subject::Endpoint(_) | Subject::Database(_), Some(Unreachable)) => Some(format!("{name} is unreachable")),
        (Subject::Endpoint(_), Some(NotFound)) => Some(format!("{name}: the host name does not resolve")),
        (Subject::Endpoint(_), Some(Open)) => Some(format!("{name} accepts connections; want it closed")),
        (Subject::Endpoint(_), Some(Untrusted)) => Some(format!("{name}: its TLS certificate is not trusted")),
        (Subject::Endpoint(_) | Subject::Path(_), Some(Expired)) => {
            Some(format!("{name}: the certificate has expired"))
        }
        (Subject::Path(_), Some(Corrupt)) => Some(format!("{name} is corrupt")),
        (Subject::Database(_), Some(Auth)) => Some(format!("cannot log in to {name}")),
        (Subject::Url(_), Some(UnexpectedStatus)) => Some(format!("{name} answers an unexpected status")),
        (Subject::Tool(_), Some(NotFound)) => Some(format!("program `{name}` is not installed (or not on PATH)")),
        (Subject::Tool(_), Some(Permission)) => Some(format!("program `{name}` cannot be executed")),
        _ => None,
    };
    specific.unwrap_or_else(|| match cause {
        Some(cause) => format!("{subject}: {}", cause.as_str().replace('_', " ")),
        None => format!("{subject} does not pass"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fact<'a>(id: &'a str, severity: Severity, verdict: Verdict, cause: Cause, subject: &'a Subject) -> ItemFact<'a> {
        ItemFact { id, severity, group: false, verdict: Some(verdict), cause: Some(cause), subject: Some(subject) }
    }

    fn group(id: &str, verdict: Option<Verdict>) -> ItemFact<'_> {
        ItemFact { id, severity: Severity::Critical, group: true, verdict, cause: None, subject: None }
    }

    #[test]
    fn items_about_one_thing_become_one_cause_weighted_by_severity_and_ranked() {
        let password = Subject::Variable("DB_PASSWORD".into());
        let env = Subject::Path("/opt/app/.env".into());
        let port = Subject::Endpoint("127.0.0.1:9".into());
        let facts = vec![
            fact("db.a", Severity::Info, Verdict::Error, Cause::Missing, &password),
            fact("env.a", Severity::Critical, Verdict::Error, Cause::NotFound, &env),
            fact("db.b", Severity::Info, Verdict::Error, Cause::Missing, &password),
            fact("db.c", Severity::Info, Verdict::Error, Cause::Missing, &password),
            fact("port", Severity::Critical, Verdict::Fail, Cause::Refused, &port),
            ItemFact { subject: None, ..fact("lonely", Severity::Critical, Verdict::Fail, Cause::Mismatch, &port) },
            ItemFact {
                verdict: Some(Verdict::Pass),
                ..fact("fine", Severity::Critical, Verdict::Pass, Cause::Io, &env)
            },
        ];
        let causes = gather(&facts, &[]);
        let summaries: Vec<(&str, u32, usize)> =
            causes.iter().map(|c| (c.summary.as_str(), c.weight, c.items.len())).collect();
        assert_eq!(
            summaries,
            vec![
                // 3 each; the tie goes to more items, then to the kind and name.
                ("environment variable DB_PASSWORD is not set", 3, 3),
                ("127.0.0.1:9 refuses connections", 3, 1),
                ("/opt/app/.env does not exist", 3, 1),
            ]
        );
        assert_eq!(causes[0].items, vec!["db.a", "db.b", "db.c"]);
        assert_eq!(causes[0].subject_text(), "variable DB_PASSWORD");
    }

    #[test]
    fn attestations_are_gathered_into_one_cause_after_the_others() {
        let (a, b) = (Subject::Attestation("ops.a".into()), Subject::Attestation("ops.b".into()));
        let tool = Subject::Tool("ufw".into());
        let facts = vec![
            fact("ops.a", Severity::Critical, Verdict::Fail, Cause::Missing, &a),
            fact("ops.b", Severity::Critical, Verdict::Fail, Cause::Expired, &b),
            fact("fw", Severity::Info, Verdict::Error, Cause::NotFound, &tool),
        ];
        let causes = gather(&facts, &[]);
        assert_eq!(causes.len(), 2);
        assert_eq!(causes[0].summary, "program `ufw` is not installed (or not on PATH)");
        assert_eq!(causes[1].kind, ATTESTATIONS);
        assert_eq!(causes[1].weight, 6);
        assert!(causes[1].summary.starts_with("2 items await a person's attestation"), "{}", causes[1].summary);
        assert_eq!(causes[1].subject_text(), "attestations");
    }

    #[test]
    fn a_group_clears_with_the_cause_that_blocks_all_its_non_passing_members_and_adds_no_weight() {
        let env = Subject::Path("/opt/app/.env".into());
        let port = Subject::Endpoint("127.0.0.1:9".into());
        let facts = vec![
            fact("a", Severity::Warning, Verdict::Error, Cause::NotFound, &env),
            fact("b", Severity::Warning, Verdict::Error, Cause::NotFound, &env),
            ItemFact { verdict: Some(Verdict::Pass), ..fact("c", Severity::Warning, Verdict::Pass, Cause::Io, &env) },
            fact("d", Severity::Warning, Verdict::Error, Cause::Refused, &port),
            group("only_env", Some(Verdict::Error)),
            group("mixed", Some(Verdict::Error)),
            group("outer", Some(Verdict::Error)),
        ];
        // `only_env` = a, b, c; `mixed` = a, d; `outer` = only_env (nested).
        let groups = vec![(4, vec![0, 1, 2]), (5, vec![0, 3]), (6, vec![4])];
        let causes = gather(&facts, &groups);
        let env_cause = causes.iter().find(|c| c.kind == "path").unwrap();
        assert_eq!(env_cause.items, vec!["a", "b"]);
        assert_eq!(env_cause.groups, vec!["only_env", "outer"]);
        assert_eq!(env_cause.weight, 4, "groups clear through their members, not on top of them");
        let port_cause = causes.iter().find(|c| c.kind == "endpoint").unwrap();
        assert!(port_cause.groups.is_empty(), "`mixed` needs both causes fixed");
    }

    #[test]
    fn the_leading_list_is_bounded_and_keeps_the_attestations() {
        let subjects: Vec<Subject> = (0..20).map(|i| Subject::Path(format!("/p{i:02}"))).collect();
        let ids: Vec<String> = (0..40).map(|i| format!("item{i:02}")).collect();
        let (x, y) = (Subject::Attestation("x".into()), Subject::Attestation("y".into()));
        let lonely = Subject::Tool("ufw".into());
        // Two items about each path, so that each path leads.
        let mut facts: Vec<ItemFact<'_>> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| fact(id, Severity::Info, Verdict::Fail, Cause::NotFound, &subjects[i / 2]))
            .collect();
        facts.push(fact("x", Severity::Info, Verdict::Fail, Cause::Missing, &x));
        facts.push(fact("y", Severity::Info, Verdict::Fail, Cause::Missing, &y));
        facts.push(fact("fw", Severity::Critical, Verdict::Error, Cause::NotFound, &lonely));
        let causes = gather(&facts, &[]);
        assert_eq!(causes.len(), 22, "every subject is a cause in the whole list");
        let shown = leading(&causes);
        assert_eq!(shown.len(), LEADING);
        assert_eq!(shown.last().unwrap().kind, ATTESTATIONS);
        assert_eq!(shown[0].name, "/p00");
        assert!(shown.iter().all(|c| c.items.len() >= LEADING_MIN_ITEMS), "a one-item cause does not lead");
        let without: Vec<RootCause> = causes.into_iter().filter(|c| c.kind != ATTESTATIONS).collect();
        assert_eq!(leading(&without).len(), LEADING);
    }

    #[test]
    fn summaries_fall_back_to_the_subject_and_the_cause() {
        assert_eq!(
            summary(&Subject::Url("https://x/health".into()), Some(Cause::BelowMinimum)),
            "url https://x/health: below minimum"
        );
        assert_eq!(summary(&Subject::Database("db:5432/app".into()), None), "database db:5432/app does not pass");
        assert_eq!(
            summary(&Subject::Endpoint("app.example:443".into()), Some(Cause::Expired)),
            "app.example:443: the certificate has expired"
        );
    }
}
