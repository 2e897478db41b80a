//! The results store: the last verdict of every item and the last value samples of every check.
//! Checks write here when they finish; scrapes, the API and readiness only read. A generation
//! counter bumps on every write so that readers can cache what they render.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::config::{CheckSpec, Config, Decider, Item};
use crate::model::{Cause, Outcome, Sample, Subject, Verdict};
use crate::persist::baseline::{Baseline, BaselineItem};
use crate::support::text::excerpt;
use index::ItemIndex;
use samples::StoredSamples;

pub mod causes;
pub mod groups;
pub mod history;
mod index;
pub mod samples;

pub use history::{VerdictHistory, HISTORY_LEN};

/// One finished evaluation of one item.
#[derive(Clone, Debug)]
pub struct Evaluation {
    pub outcome: Outcome,
    pub at: SystemTime,
    pub duration: Duration,
    /// The fingerprint of the check definition that produced it (`None` for a group): a reload
    /// may keep the verdict while the check changes, and the state file must not then pass the
    /// old definition's verdict off as the new one's.
    pub check: Option<u64>,
}

/// The samples slot of a group's item: groups have none.
const NO_SAMPLES: u32 = u32::MAX;

/// A position in the store's vectors: a config holds at most [`crate::config::MAX_ITEMS`] items.
fn slot(position: usize) -> u32 {
    u32::try_from(position).expect("over 4 billion items")
}

/// Everything known about one configured item.
#[derive(Clone, Debug)]
pub struct ItemRecord {
    /// What decides the item; the item is `decider.items()[position]` (shared with the config
    /// rather than copied: a big checklist holds tens of thousands of strings).
    pub decider: Decider,
    position: u32,
    /// Where its check's samples are in [`StoreInner::samples`] (a group's: [`NO_SAMPLES`]).
    samples_slot: u32,
    pub last: Option<Evaluation>,
    /// Evaluations since start, by verdict in [`Verdict::ALL`] order.
    pub counts: [u64; 3],
    /// The most recent verdicts, oldest first, at most [`HISTORY_LEN`]: the page's strip.
    pub history: VerdictHistory,
    /// `last` came from the state file at start and the item has not been evaluated since.
    pub restored: bool,
    /// The reason as it read when the verdict or the cause last changed: see
    /// [`ItemRecord::reason_at_change`].
    reason_at_change: ReasonAtChange,
}

/// Where an item's reason at its last change is kept. Usually the last evaluation still reads
/// so (a backup ages, a port stays closed), and every item keeping a copy of it cost 80 bytes
/// an item; the copy is made only once the reason moves on while verdict and cause stay.
#[derive(Clone, Debug, Default, PartialEq)]
enum ReasonAtChange {
    /// No verdict yet.
    #[default]
    Unknown,
    /// The last evaluation's reason, which is no longer than [`REASON_LABEL_CHARS`].
    AsLast,
    /// Cut to [`REASON_LABEL_CHARS`], or what it read before the last evaluation's.
    Kept(Box<str>),
}

impl ReasonAtChange {
    /// The reason of an evaluation that changed verdict or cause.
    fn of(reason: &str) -> Self {
        let cut = excerpt(reason, REASON_LABEL_CHARS);
        if cut == reason {
            ReasonAtChange::AsLast
        } else {
            ReasonAtChange::Kept(cut.into_boxed_str())
        }
    }

    /// What the state file kept, next to the restored evaluation's `reason`.
    fn restored(kept: Option<String>, reason: &str) -> Self {
        match kept {
            None => ReasonAtChange::Unknown,
            Some(kept) if kept == reason => ReasonAtChange::AsLast,
            Some(kept) => ReasonAtChange::Kept(kept.into_boxed_str()),
        }
    }
}

/// How long the reason kept at a change may be, in characters: it becomes a label value
/// (`checklist_item_reason_info`), so it is bounded.
pub const REASON_LABEL_CHARS: usize = 200;

impl ItemRecord {
    pub fn item(&self) -> &Item {
        &self.decider.items()[self.position as usize]
    }

    pub fn kind(&self) -> &'static str {
        self.decider.kind_name()
    }

    pub fn interval(&self) -> Duration {
        self.decider.interval()
    }

    pub fn timeout(&self) -> Duration {
        self.decider.timeout()
    }

    /// Whether the item is a group, whose verdict derives from its members.
    pub fn is_group(&self) -> bool {
        matches!(self.decider, Decider::Group(_))
    }

    pub fn verdict(&self) -> Option<Verdict> {
        self.last.as_ref().map(|e| e.outcome.verdict)
    }

    /// Why the item does not apply to this site, when a switch in the config turned it off.
    pub fn not_applicable(&self) -> Option<&str> {
        self.decider.not_applicable()
    }

    /// The reason as it read when the verdict or the cause last changed, cut to
    /// [`REASON_LABEL_CHARS`]: a label value that does not churn while a backup ages.
    pub fn reason_at_change(&self) -> Option<&str> {
        match &self.reason_at_change {
            ReasonAtChange::Unknown => None,
            ReasonAtChange::AsLast => self.last.as_ref().map(|e| e.outcome.reason.as_str()),
            ReasonAtChange::Kept(reason) => Some(reason),
        }
    }

    /// When the item is due again, from the last evaluation and its interval.
    pub fn next_due(&self) -> Option<SystemTime> {
        self.last.as_ref().map(|e| e.at + self.decider.interval())
    }
}

/// How the last config load or reload went.
#[derive(Clone, Debug)]
pub struct ReloadStatus {
    pub last_success: SystemTime,
    /// Why the last reload was refused, while the previous config keeps running; `None` after a
    /// successful load. Config errors name keys and masked targets, never a secret.
    pub refusal: Option<String>,
}

impl ReloadStatus {
    /// Whether the last load or reload succeeded.
    pub fn successful(&self) -> bool {
        self.refusal.is_none()
    }
}

#[derive(Clone, Debug)]
pub struct StoreInner {
    /// In config order, which is the order metrics, the API and reports list items in.
    pub items: Vec<ItemRecord>,
    /// Item key ([`crate::config::Item::key`]: the id, or `environment;id`) to index in `items`.
    index: ItemIndex,
    /// Value samples of each check, keyed by its fingerprint, in config order.
    /// An item record knows its check's slot, so that 10,000 checks need no map from
    /// fingerprint to slot (280 kB).
    pub samples: Vec<(u64, StoredSamples)>,
    /// Group items (index into `items`) with their applicable members, members before groups.
    groups: Vec<(usize, Vec<usize>)>,
    pub reload: ReloadStatus,
    /// The go-live baseline, when one was taken and could be read.
    pub baseline: Option<Baseline>,
    /// False when the baseline file exists but could not be read (it is left untouched).
    pub baseline_readable: bool,
}

impl StoreInner {
    /// Whether the item regressed: it passed at the baseline and its last verdict is not a pass.
    /// `None` without a baseline, or for an item the baseline does not know.
    pub fn regressed(&self, record: &ItemRecord) -> Option<bool> {
        let item = record.item();
        let passed_then = self.baseline.as_ref()?.passed_in(item.environment.as_deref(), &item.id)?;
        Some(passed_then && record.verdict().is_some_and(|verdict| verdict != Verdict::Pass))
    }

    /// A baseline of the current verdicts; refused while any item has not been evaluated yet.
    pub fn take_baseline(&self, now: SystemTime) -> Result<Baseline, String> {
        let pending = self.pending();
        if pending > 0 {
            return Err(format!(
                "{pending} items have not been evaluated yet; take the baseline once every item has a verdict"
            ));
        }
        let items = self
            .items
            .iter()
            .map(|r| BaselineItem {
                id: r.item().id.clone(),
                environment: r.item().environment.as_deref().map(str::to_string),
                passing: r.verdict() == Some(Verdict::Pass),
            })
            .collect();
        Ok(Baseline::new(now, items))
    }

    /// The environments of the items in config order; empty when the config declares none.
    pub fn environments(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for name in self.items.iter().filter_map(|record| record.item().environment.as_deref()) {
            if !names.iter().any(|known| known == name) {
                names.push(name.to_string());
            }
        }
        names
    }

    /// Narrows a snapshot to the items of `environment`, for a page, an API answer or a report
    /// of one environment. The view derives nothing afterwards, so its groups are dropped.
    pub fn keep_environment(&mut self, environment: &str) {
        self.items.retain(|record| record.item().environment.as_deref() == Some(environment));
        self.index = ItemIndex::new(&self.items);
        self.groups.clear();
    }

    /// The record of the item with `key` ([`Item::key`]).
    pub fn item_record(&self, key: &str) -> Option<&ItemRecord> {
        self.index.get(&self.items, key).map(|position| &self.items[position])
    }

    /// Items the config did not switch off: what "N of M applicable" counts everywhere.
    pub fn applicable(&self) -> usize {
        self.items.iter().filter(|r| r.not_applicable().is_none()).count()
    }

    /// Applicable items not evaluated yet since they were configured. A verdict restored from
    /// the state file counts as not evaluated: it may be days old, so it neither makes the
    /// daemon ready nor goes into a go-live baseline.
    pub fn pending(&self) -> usize {
        self.items.iter().filter(|r| (r.last.is_none() || r.restored) && r.not_applicable().is_none()).count()
    }

    /// Derives the verdicts of the groups that contain a changed item (all groups when `changed`
    /// is `None`), in member-first order so that nested groups see their members' new verdicts.
    fn derive_groups(&mut self, mut changed: Option<HashSet<usize>>, at: SystemTime) {
        for (group, members) in &self.groups {
            if let Some(changed) = &changed {
                if !members.iter().any(|m| changed.contains(m)) {
                    continue;
                }
            }
            let outcomes: Vec<(&str, Option<&Outcome>)> = members
                .iter()
                .map(|&m| (self.items[m].item().id.as_str(), self.items[m].last.as_ref().map(|e| &e.outcome)))
                .collect();
            let derived = groups::derive(&outcomes);
            let record = &mut self.items[*group];
            match derived {
                Some(outcome) => record.push(outcome, at, Duration::ZERO, None),
                None => record.last = None,
            }
            if let Some(changed) = &mut changed {
                changed.insert(*group);
            }
        }
    }
}

impl ItemRecord {
    fn push(&mut self, outcome: Outcome, at: SystemTime, duration: Duration, check: Option<u64>) {
        let position = Verdict::ALL.iter().position(|v| *v == outcome.verdict).unwrap_or(2);
        self.counts[position] += 1;
        self.history.push(at, outcome.verdict);
        let changed =
            self.last.as_ref().is_none_or(|e| (e.outcome.verdict, e.outcome.cause) != (outcome.verdict, outcome.cause));
        self.reason_at_change = match (changed, std::mem::take(&mut self.reason_at_change), &self.last) {
            (true, _, _) => ReasonAtChange::of(&outcome.reason),
            // The reason moves on while verdict and cause stay: keep what it read at the change.
            (false, ReasonAtChange::AsLast, Some(last)) if last.outcome.reason != outcome.reason => {
                ReasonAtChange::Kept(last.outcome.reason.as_str().into())
            }
            (false, kept, _) => kept,
        };
        self.restored = false;
        self.last = Some(Evaluation { outcome, at, duration, check });
    }

    /// The fingerprint of the check that decides the item; `None` for a group item, whose
    /// verdict is derived from its members rather than kept.
    fn check_fingerprint(&self) -> Option<u64> {
        match &self.decider {
            Decider::Check(check) => Some(check.fingerprint()),
            Decider::Group(_) => None,
        }
    }

    fn saved(&self) -> Option<SavedVerdict> {
        let last = self.last.as_ref()?;
        Some(SavedVerdict {
            id: self.item().id.clone(),
            environment: self.item().environment.as_deref().map(str::to_string),
            kind: self.kind().to_string(),
            check: last.check?,
            verdict: last.outcome.verdict,
            cause: last.outcome.cause,
            reason: last.outcome.reason.clone(),
            subject: last.outcome.subject().cloned(),
            reason_at_change: self.reason_at_change().map(str::to_string),
            at: last.at.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0),
            duration_seconds: last.duration.as_secs_f64(),
        })
    }
}

/// One item's last verdict as the state file keeps it (`persist::verdicts`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SavedVerdict {
    pub id: String,
    /// The item's environment, when the config declares environments (absent otherwise, so a
    /// state file without environments is the file it always was).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The kind that decided it, for a person reading the file.
    pub kind: String,
    /// The fingerprint of the check's whole definition: a verdict is restored only onto the
    /// same check (a changed address or threshold may change the verdict).
    pub check: u64,
    pub verdict: Verdict,
    pub cause: Option<Cause>,
    pub reason: String,
    /// The thing the verdict is about, so that root causes survive a restart.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    pub reason_at_change: Option<String>,
    /// When it was evaluated, in seconds since the epoch.
    pub at: f64,
    pub duration_seconds: f64,
}

#[derive(Debug)]
pub struct Store {
    inner: RwLock<StoreInner>,
    generation: AtomicU64,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            inner: RwLock::new(StoreInner {
                items: Vec::new(),
                index: ItemIndex::default(),
                samples: Vec::new(),
                groups: Vec::new(),
                reload: ReloadStatus { last_success: SystemTime::now(), refusal: None },
                baseline: None,
                baseline_readable: true,
            }),
            generation: AtomicU64::new(0),
        }
    }
}

impl Store {
    pub fn new() -> Arc<Self> {
        Arc::new(Store::default())
    }

    /// Changes every time anything readers can see changes.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A copy of what readers see, taken under the read lock, which is released before the copy
    /// is returned: rendering a scrape, the page or a report from it never holds writers back.
    pub fn snapshot(&self) -> StoreInner {
        self.read().clone()
    }

    pub fn read(&self) -> RwLockReadGuard<'_, StoreInner> {
        // A poisoned lock means a panic while writing plain data; the data is still usable.
        self.inner.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, StoreInner> {
        self.inner.write().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Makes the store describe `config`: items that stay keep their last result (a reload does
    /// not blank the checklist), items that went leave no trace, new items start unevaluated.
    pub fn install(&self, config: &Config) {
        let mut inner = self.write();
        let mut previous: HashMap<String, ItemRecord> =
            inner.items.drain(..).map(|record| (record.item().key(), record)).collect();
        let mut previous_samples: HashMap<u64, StoredSamples> = inner.samples.drain(..).collect();
        let mut items = Vec::with_capacity(config.item_count());
        let mut samples = Vec::with_capacity(config.checks.len());
        for decider in &config.deciders {
            let samples_slot = match decider {
                Decider::Check(check) => {
                    let fingerprint = check.fingerprint();
                    samples.push((fingerprint, previous_samples.remove(&fingerprint).unwrap_or_default()));
                    slot(samples.len() - 1)
                }
                Decider::Group(_) => NO_SAMPLES,
            };
            for (position, item) in decider.items().iter().enumerate() {
                let kept = previous.remove(&item.key());
                items.push(ItemRecord {
                    decider: decider.clone(),
                    position: slot(position),
                    samples_slot,
                    last: kept.as_ref().and_then(|r| r.last.clone()),
                    counts: kept.as_ref().map(|r| r.counts).unwrap_or_default(),
                    restored: kept.as_ref().is_some_and(|r| r.restored),
                    reason_at_change: kept.as_ref().map(|r| r.reason_at_change.clone()).unwrap_or_default(),
                    history: kept.map(|r| r.history).unwrap_or_default(),
                });
            }
        }
        inner.index = ItemIndex::new(&items);
        inner.items = items;
        inner.samples = samples;
        inner.groups = config
            .groups
            .iter()
            .filter(|group| group.not_applicable.is_none())
            .filter_map(|group| {
                let item = inner.index.get(&inner.items, &group.item.key())?;
                let members = group
                    .members
                    .iter()
                    .filter_map(|id| inner.index.get(&inner.items, &group.item.key_of(id)))
                    .filter(|&m| inner.items[m].not_applicable().is_none())
                    .collect();
                Some((item, members))
            })
            .collect();
        inner.derive_groups(None, SystemTime::now());
        drop(inner);
        self.bump();
    }

    /// Records one evaluation of `check`. Results of a check that a reload removed meanwhile
    /// are dropped, so they cannot bring back series of removed items.
    pub fn record(
        &self,
        check: &CheckSpec,
        fingerprint: u64,
        outcomes: Vec<Outcome>,
        samples: Vec<Sample>,
        at: SystemTime,
        duration: Duration,
    ) {
        // The same check in two environments gives the same series but for this label.
        let environment = check.items.first().and_then(|item| item.environment.as_deref());
        let samples = StoredSamples::new(samples, environment.map(|name| ("environment", name)).as_slice());
        let mut inner = self.write();
        // A result of a check the config no longer holds as it was (a reload changed or removed
        // it while it ran) is dropped.
        let first = check.items.first().and_then(|item| inner.index.get(&inner.items, &item.key()));
        let Some(slot) = first.map(|index| inner.items[index].samples_slot as usize) else { return };
        match inner.samples.get_mut(slot) {
            Some((kept, stored)) if *kept == fingerprint => *stored = samples,
            _ => return,
        }
        let mut changed = HashSet::new();
        for (item, outcome) in check.items.iter().zip(outcomes) {
            let Some(index) = inner.index.get(&inner.items, &item.key()) else { continue };
            inner.items[index].push(outcome, at, duration, Some(fingerprint));
            changed.insert(index);
        }
        if !inner.groups.is_empty() {
            inner.derive_groups(Some(changed), at);
        }
        drop(inner);
        self.bump();
    }

    /// A load or reload succeeded: the refusal, if any, is over.
    pub fn set_reload_succeeded(&self) {
        let mut inner = self.write();
        inner.reload.last_success = SystemTime::now();
        inner.reload.refusal = None;
        drop(inner);
        self.bump();
    }

    /// A reload was refused for `reason`: the page shows it until a load succeeds.
    pub fn set_reload_refused(&self, reason: String) {
        let mut inner = self.write();
        inner.reload.refusal = Some(reason);
        drop(inner);
        self.bump();
    }

    /// Sets the baseline in force (`None` when there is none), and whether its file was readable.
    pub fn set_baseline(&self, baseline: Option<Baseline>, readable: bool) {
        let mut inner = self.write();
        inner.baseline = baseline;
        inner.baseline_readable = readable;
        drop(inner);
        self.bump();
    }

    /// Applicable items not evaluated yet since they were configured.
    pub fn pending(&self) -> usize {
        self.read().pending()
    }

    /// The last verdict of every evaluated item, for the state file.
    pub fn saved_verdicts(&self) -> Vec<SavedVerdict> {
        self.read().items.iter().filter_map(ItemRecord::saved).collect()
    }

    /// Puts verdicts from the state file back, with their original evaluation times, on items
    /// not evaluated yet whose id matches and whose check is defined exactly as when it was
    /// saved; they are marked restored until evaluated again. Groups are derived from their
    /// restored members. Returns how many were restored.
    pub fn restore(&self, saved: Vec<SavedVerdict>) -> usize {
        let mut inner = self.write();
        let mut restored = 0;
        for verdict in saved {
            let key = crate::config::shard::placement_value(verdict.environment.as_deref(), &verdict.id);
            let Some(index) = inner.index.get(&inner.items, &key) else { continue };
            let record = &mut inner.items[index];
            if record.last.is_some() || record.check_fingerprint() != Some(verdict.check) {
                continue;
            }
            // A time that does not fit a SystemTime (a hand-edited or corrupt file) is skipped,
            // never a panic at start.
            let Some(at) = Duration::try_from_secs_f64(verdict.at).ok().and_then(|d| UNIX_EPOCH.checked_add(d)) else {
                continue;
            };
            let outcome = Outcome {
                verdict: verdict.verdict,
                cause: verdict.cause,
                reason: verdict.reason,
                subject: verdict.subject.map(Box::new),
            };
            record.history.push(at, outcome.verdict);
            record.last = Some(Evaluation {
                outcome,
                at,
                duration: Duration::try_from_secs_f64(verdict.duration_seconds).unwrap_or_default(),
                check: Some(verdict.check),
            });
            record.reason_at_change =
                ReasonAtChange::restored(verdict.reason_at_change, &record.last.as_ref().unwrap().outcome.reason);
            record.restored = true;
            restored += 1;
        }
        if restored > 0 && !inner.groups.is_empty() {
            inner.derive_groups(None, SystemTime::now());
        }
        drop(inner);
        self.bump();
        restored
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Cause;

    const TWO_CHECKS: &str = r#"
[[checks]]
kind = "cpu"
min_cores = 1
  [[checks.items]]
  id = "cpu"
  decides = "minimum"
  section = "S"
  title = "cpu"
  severity = "critical"
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:1"
expect = "closed"
  [[checks.items]]
  id = "port"
  section = "S"
  title = "port"
  severity = "info"
"#;

    fn config(text: &str) -> Config {
        crate::config::parse("t.toml", text, Vec::new()).unwrap()
    }

    #[test]
    fn records_count_by_verdict_and_bump_the_generation() {
        let store = Store::default();
        let config = config(TWO_CHECKS);
        store.install(&config);
        assert_eq!(store.pending(), 2);
        let check = &config.checks[0];
        let before = store.generation();
        store.record(
            check,
            check.fingerprint(),
            vec![Outcome::fail(Cause::BelowMinimum, "x")],
            vec![],
            SystemTime::now(),
            Duration::ZERO,
        );
        store.record(check, check.fingerprint(), vec![Outcome::pass("y")], vec![], SystemTime::now(), Duration::ZERO);
        assert!(store.generation() > before);
        let inner = store.read();
        assert_eq!(inner.items[0].counts, [1, 1, 0]);
        let strip: Vec<Verdict> = inner.items[0].history.iter().map(|(_, v)| v).collect();
        assert_eq!(strip, vec![Verdict::Fail, Verdict::Pass]);
        assert_eq!(inner.items[0].verdict(), Some(Verdict::Pass));
        drop(inner);
        assert_eq!(store.pending(), 1);
    }

    /// Two checks, a switched-off one, a group of all three and a group of that group.
    fn grouped() -> String {
        format!(
            "{TWO_CHECKS}{}",
            r#"
[[checks]]
kind = "disk"
path = "/"
min_free_bytes = 1
enabled = false
  [[checks.items]]
  id = "cloud"
  section = "S"
  title = "cloud"
  severity = "critical"
  decides = "minimum"
[[checks]]
kind = "group"
members = ["inner"]
  [[checks.items]]
  id = "outer"
  section = "S"
  title = "outer"
  severity = "critical"
[[checks]]
kind = "group"
members = ["cpu", "port", "cloud"]
  [[checks.items]]
  id = "inner"
  section = "S"
  title = "inner"
  severity = "critical"
"#
        )
    }

    fn states(store: &Store) -> Vec<(String, Option<Verdict>)> {
        store.read().items.iter().map(|r| (r.item().id.clone(), r.verdict())).collect()
    }

    #[test]
    fn groups_follow_their_members_through_nested_groups_and_skip_items_that_do_not_apply() {
        let store = Store::default();
        let config = config(&grouped());
        store.install(&config);
        assert_eq!(store.pending(), 4, "cpu, port, inner and outer; `cloud` does not apply");
        let (cpu, port) = (&config.checks[0], &config.checks[1]);
        let now = SystemTime::now();
        store.record(cpu, cpu.fingerprint(), vec![Outcome::pass("ok")], vec![], now, Duration::ZERO);
        assert_eq!(store.read().items[4].verdict(), None, "inner waits for port");
        store.record(port, port.fingerprint(), vec![Outcome::fail(Cause::Open, "open")], vec![], now, Duration::ZERO);
        let inner = store.read();
        assert_eq!(
            inner.items[4].last.as_ref().unwrap().outcome.reason,
            "1 of 2 members do not pass: port (fail: open)"
        );
        assert_eq!(
            inner.items[3].last.as_ref().unwrap().outcome.reason,
            "1 of 1 members do not pass: inner (fail: open)",
            "a group of groups names its members, not their reasons"
        );
        assert_eq!(inner.items[3].last.as_ref().unwrap().outcome.cause, Some(Cause::Open));
        drop(inner);
        store.record(port, port.fingerprint(), vec![Outcome::pass("closed")], vec![], now, Duration::ZERO);
        assert_eq!(
            states(&store),
            vec![
                ("cpu".into(), Some(Verdict::Pass)),
                ("port".into(), Some(Verdict::Pass)),
                ("cloud".into(), None),
                ("outer".into(), Some(Verdict::Pass)),
                ("inner".into(), Some(Verdict::Pass)),
            ]
        );
        let inner = store.read();
        assert_eq!(inner.items[3].counts, [1, 1, 0], "one derivation per member evaluation that reached it");
        assert_eq!(inner.items[2].not_applicable().map(|r| r.starts_with("not applicable")), Some(true));
        let baseline = inner.take_baseline(SystemTime::now()).unwrap();
        assert_eq!(baseline.passed("cloud"), Some(false), "an item that does not apply is never a regression");
        assert_eq!(baseline.passed("outer"), Some(true));
    }

    #[test]
    fn a_reload_keeps_surviving_items_and_forgets_removed_ones() {
        let store = Store::default();
        let old = config(TWO_CHECKS);
        store.install(&old);
        for check in &old.checks {
            store.record(
                check,
                check.fingerprint(),
                vec![Outcome::pass("ok")],
                vec![],
                SystemTime::now(),
                Duration::ZERO,
            );
        }
        let new_text = TWO_CHECKS.split("[[checks]]").take(2).collect::<Vec<_>>().join("[[checks]]");
        let new = config(&new_text);
        store.install(&new);
        let inner = store.read();
        assert_eq!(inner.items.len(), 1);
        assert_eq!(inner.items[0].item().id, "cpu");
        assert!(inner.items[0].last.is_some());
        assert_eq!(inner.samples.len(), 1);
    }

    #[test]
    fn regressions_are_items_that_passed_at_the_baseline_and_do_not_pass_now() {
        let store = Store::default();
        let config = config(TWO_CHECKS);
        store.install(&config);
        assert!(store
            .read()
            .take_baseline(SystemTime::now())
            .unwrap_err()
            .contains("2 items have not been evaluated yet"));
        let (cpu, port) = (&config.checks[0], &config.checks[1]);
        store.record(cpu, cpu.fingerprint(), vec![Outcome::pass("ok")], vec![], SystemTime::now(), Duration::ZERO);
        store.record(
            port,
            port.fingerprint(),
            vec![Outcome::fail(Cause::Open, "open")],
            vec![],
            SystemTime::now(),
            Duration::ZERO,
        );
        let baseline = store.read().take_baseline(SystemTime::now()).unwrap();
        assert_eq!(baseline.passed("cpu"), Some(true));
        assert_eq!(baseline.passed("port"), Some(false));
        store.set_baseline(Some(baseline), true);
        let regressed =
            |store: &Store| store.read().items.iter().map(|r| store.read().regressed(r)).collect::<Vec<_>>();
        assert_eq!(regressed(&store), vec![Some(false), Some(false)]);
        store.record(
            cpu,
            cpu.fingerprint(),
            vec![Outcome::error(Cause::Timeout, "t")],
            vec![],
            SystemTime::now(),
            Duration::ZERO,
        );
        assert_eq!(regressed(&store), vec![Some(true), Some(false)], "an item that never passed never regresses");
        store.set_baseline(None, true);
        assert_eq!(regressed(&store), vec![None, None]);
    }

    #[test]
    fn the_reason_label_is_the_one_recorded_when_the_verdict_or_cause_changed() {
        let store = Store::default();
        let config = config(TWO_CHECKS);
        store.install(&config);
        let check = &config.checks[0];
        let record = |outcome: Outcome| {
            store.record(check, check.fingerprint(), vec![outcome], vec![], SystemTime::now(), Duration::ZERO)
        };
        let reason = |store: &Store| store.read().items[0].reason_at_change().map(str::to_string);
        record(Outcome::fail(Cause::BelowMinimum, "is 3d old; want at most 1d"));
        record(Outcome::fail(Cause::BelowMinimum, "is 4d old; want at most 1d"));
        assert_eq!(reason(&store).as_deref(), Some("is 3d old; want at most 1d"), "same verdict and cause: kept");
        record(Outcome::fail(Cause::BelowMinimum, "is 5d old; want at most 1d"));
        assert_eq!(reason(&store).as_deref(), Some("is 3d old; want at most 1d"), "still the one at the change");
        record(Outcome::error(Cause::Timeout, "timed out"));
        assert_eq!(reason(&store).as_deref(), Some("timed out"), "another verdict: replaced");
        record(Outcome::error(Cause::Timeout, "timed out"));
        assert_eq!(reason(&store).as_deref(), Some("timed out"), "the same reason again");
        record(Outcome::fail(Cause::Open, "open\non 0.0.0.0"));
        assert_eq!(reason(&store).as_deref(), Some("openon 0.0.0.0"), "control characters dropped");
        record(Outcome::error(Cause::Refused, "x".repeat(REASON_LABEL_CHARS + 50)));
        let long = reason(&store).unwrap();
        assert_eq!(long.chars().count(), REASON_LABEL_CHARS + 1, "cut, with the cut marked: {long}");
    }

    #[test]
    fn environments_keep_their_own_records_samples_and_saved_verdicts() {
        let text = format!("[vars]\nx = 1\n[environments.production.vars]\n[environments.staging.vars]\n{TWO_CHECKS}");
        let config = config(&text);
        let store = Store::default();
        store.install(&config);
        assert_eq!(store.read().environments(), ["production", "staging"]);
        let staging_cpu = config.checks.iter().find(|c| c.items[0].key() == "staging;cpu").unwrap();
        static CORES: crate::model::MetricFamily = crate::model::MetricFamily {
            name: "checklist_host_cpu_cores",
            help: "cores",
            kind: crate::model::MetricKind::Gauge,
        };
        let sample = crate::model::Sample::new(&CORES, 4.0);
        let then = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        store.record(
            staging_cpu,
            staging_cpu.fingerprint(),
            vec![Outcome::pass("4 cores")],
            vec![sample],
            then,
            Duration::ZERO,
        );
        let inner = store.read();
        let verdicts: Vec<(String, Option<Verdict>)> =
            inner.items.iter().map(|r| (r.item().key(), r.verdict())).collect();
        assert_eq!(
            verdicts[0],
            ("production;cpu".to_string(), None),
            "the same id in another environment is untouched"
        );
        assert_eq!(verdicts[2], ("staging;cpu".to_string(), Some(Verdict::Pass)));
        let stored = &inner.samples.iter().find(|(f, _)| *f == staging_cpu.fingerprint()).unwrap().1;
        let labels: Vec<(&str, &str)> = stored.iter().next().unwrap().labels().collect();
        assert!(labels.contains(&("environment", "staging")), "{labels:?}");
        let mut view = inner.clone();
        drop(inner);
        view.keep_environment("staging");
        assert_eq!(view.items.len(), 2);

        let saved = store.saved_verdicts();
        assert_eq!(saved.len(), 1);
        assert_eq!((saved[0].id.as_str(), saved[0].environment.as_deref()), ("cpu", Some("staging")));
        let restarted = Store::default();
        restarted.install(&config);
        assert_eq!(restarted.restore(saved), 1);
        let restored: Vec<bool> = restarted.read().items.iter().map(|r| r.restored).collect();
        assert_eq!(restored, [false, false, true, false], "back on staging's item only");
    }

    /// The state file's content after the port check of [`TWO_CHECKS`] decided `outcome` at `then`.
    fn saved_port_verdict(outcome: Outcome, then: SystemTime) -> (Config, Vec<SavedVerdict>) {
        let old = Store::default();
        let config = config(TWO_CHECKS);
        old.install(&config);
        let port = &config.checks[1];
        old.record(port, port.fingerprint(), vec![outcome], vec![], then, Duration::ZERO);
        let saved = old.saved_verdicts();
        (config, saved)
    }

    #[test]
    fn saved_verdicts_come_back_with_their_times_marked_restored_until_evaluated() {
        let then = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let (config, saved) = saved_port_verdict(Outcome::fail(Cause::Open, "accepts"), then);
        let port = &config.checks[1];
        assert_eq!(saved.len(), 1, "only evaluated items are saved");

        let new = Store::default();
        new.install(&config);
        let mut foreign = saved[0].clone();
        foreign.id = "cpu".into();
        assert_eq!(new.restore(vec![saved[0].clone(), foreign]), 1, "a verdict of another check is not restored");
        let inner = new.read();
        let port_record = &inner.items[1];
        assert!(port_record.restored);
        assert_eq!(port_record.last.as_ref().unwrap().at, then);
        assert_eq!(port_record.last.as_ref().unwrap().outcome, Outcome::fail(Cause::Open, "accepts"));
        assert_eq!(port_record.reason_at_change(), Some("accepts"));
        assert!(inner.items[0].last.is_none());
        drop(inner);
        new.record(port, port.fingerprint(), vec![Outcome::pass("closed")], vec![], SystemTime::now(), Duration::ZERO);
        assert!(!new.read().items[1].restored, "evaluated again");
    }

    #[test]
    fn a_restored_verdict_is_pending_for_readiness_and_a_time_out_of_range_is_skipped() {
        let (config, saved) =
            saved_port_verdict(Outcome::pass("closed"), UNIX_EPOCH + Duration::from_secs(1_700_000_000));
        let mut far = saved[0].clone();
        far.at = 1e19; // fits a Duration, overflows a SystemTime
        let new = Store::default();
        new.install(&config);
        assert_eq!(new.restore(vec![far]), 0, "skipped, not a panic");
        assert_eq!(new.restore(saved), 1);
        assert_eq!(new.pending(), 2, "a restored verdict may be days old: not ready, not for a baseline");
        assert!(new.read().take_baseline(SystemTime::now()).is_err());
    }

    #[test]
    fn a_verdict_kept_across_a_changed_check_is_not_saved_as_the_new_checks() {
        let store = Store::default();
        let before = config(TWO_CHECKS);
        store.install(&before);
        let port = &before.checks[1];
        store.record(
            port,
            port.fingerprint(),
            vec![Outcome::pass("closed")],
            vec![],
            SystemTime::now(),
            Duration::ZERO,
        );
        // The same item, its check changed: the reload keeps the verdict until the new one runs.
        let after = config(
            &TWO_CHECKS
                .replace("[[checks]]\nkind = \"tcp_port\"", "[[checks]]\nkind = \"tcp_port\"\ninterval = \"7m\""),
        );
        assert_ne!(after.checks[1].fingerprint(), port.fingerprint());
        store.install(&after);
        let saved = store.saved_verdicts();
        assert!(
            saved.iter().all(|v| v.check != after.checks[1].fingerprint()),
            "the old definition's verdict must not be restored onto the new one"
        );
    }

    #[test]
    fn history_is_bounded_per_item() {
        let store = Store::default();
        let config = config(TWO_CHECKS);
        store.install(&config);
        let check = &config.checks[0];
        for _ in 0..(HISTORY_LEN + 5) {
            store.record(
                check,
                check.fingerprint(),
                vec![Outcome::pass("ok")],
                vec![],
                SystemTime::now(),
                Duration::ZERO,
            );
        }
        assert_eq!(store.read().items[0].history.len(), HISTORY_LEN);
        assert_eq!(store.read().items[0].counts[0], HISTORY_LEN as u64 + 5);
        // Room for the bound and no more: a doubled deque would hold 32 slots per item for good.
        assert_eq!(store.read().items[0].history.capacity(), HISTORY_LEN);
    }

    #[test]
    fn results_from_a_removed_check_are_ignored() {
        let store = Store::default();
        let old = config(TWO_CHECKS);
        store.install(&old);
        // The port check removed (a config needs at least one item, so the cpu check stays).
        let cpu_only = &TWO_CHECKS[..TWO_CHECKS.find("[[checks]]\nkind = \"tcp_port\"").unwrap()];
        store.install(&config(cpu_only));
        let check = &old.checks[1];
        store.record(
            check,
            check.fingerprint(),
            vec![Outcome::pass("late")],
            vec![],
            SystemTime::now(),
            Duration::ZERO,
        );
        let inner = store.read();
        assert_eq!(inner.items.len(), 1);
        assert!(inner.items.iter().all(|record| record.item().id == "cpu" && record.verdict().is_none()));
    }
}
