//! Runs every check on its own interval, under its timeout, at most `max_concurrent_checks` at
//! a time. A check runs in its own task: whether it returns, hangs past its timeout or panics,
//! the scheduler turns that into verdicts and no other check notices. Scrapes never run checks;
//! they read what the last evaluations left in the [`Store`].

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::checks::CheckContext;
use crate::config::{CheckSpec, Config};
use crate::model::{Cause, CheckResult, Outcome, ProbeFailure, Sample};
use crate::state::Store;
use crate::support::units::format_duration;

/// A new check (at start, or added or changed by a reload) runs first within this long, so
/// that `/-/ready` and the page come quickly and a thousand checks do not start in the same
/// millisecond. After that first run it moves to its own place in its interval.
const STARTUP_SPREAD: Duration = Duration::from_secs(1);

/// The result of one run of one check, ready for the store.
#[derive(Debug)]
pub struct CheckEvaluation {
    /// One outcome per item of the check, in the check's item order.
    pub outcomes: Vec<Outcome>,
    pub samples: Vec<Sample>,
    pub at: SystemTime,
    pub duration: Duration,
}

/// Runs `spec` once: waits for a concurrency slot, then gives the check its timeout. Used by the
/// daemon's loops and by the one-shot `check` command alike.
pub async fn evaluate(spec: &Arc<CheckSpec>, limiter: &Semaphore, ctx: &CheckContext) -> CheckEvaluation {
    // The semaphore is never closed while checks run; if it were, run unthrottled rather than not at all.
    let _permit = limiter.acquire().await.ok();
    evaluate_now(spec, ctx).await
}

/// Runs `spec` once, now; the caller holds a concurrency slot.
async fn evaluate_now(spec: &Arc<CheckSpec>, ctx: &CheckContext) -> CheckEvaluation {
    let tracker = ctx.blocking();
    let at = SystemTime::now();
    let started = Instant::now();
    let result = if tracker.in_flight() > 0 {
        Err(ProbeFailure::new(
            Cause::Stuck,
            "an earlier evaluation is still blocked in the operating system (a hung filesystem?); not starting another",
        ))
    } else {
        run_isolated(spec, ctx).await
    };
    // A timeout, a crash or a stuck evaluation says nothing of what was looked at: the check's
    // own subject (its endpoint, its path) names it, so such items still gather under a root cause.
    let result = result.map_err(|failure| match (&failure.subject, spec.kind.subject()) {
        (None, Some(thing)) => failure.about(thing),
        _ => failure,
    });
    let duration = started.elapsed();
    let outcomes = spec
        .items
        .iter()
        .map(|item| match &result {
            Ok(report) => report.outcome(item.aspect).cloned().unwrap_or_else(|| {
                Outcome::error(
                    Cause::Io,
                    format!("the {} check gave no verdict on `{}`", spec.kind.name(), item.aspect),
                )
            }),
            Err(failure) => Outcome {
                subject: failure.subject.clone().map(Box::new),
                ..Outcome::error(failure.cause, failure.reason.clone())
            },
        })
        .collect();
    let samples = result.map(|report| report.samples).unwrap_or_default();
    CheckEvaluation { outcomes, samples, at, duration }
}

/// Runs the check in a task of its own, so that a panic stays inside it and a timeout can drop it.
async fn run_isolated(spec: &Arc<CheckSpec>, ctx: &CheckContext) -> CheckResult {
    let task_spec = spec.clone();
    let ctx = ctx.clone();
    guarded(spec.timeout, async move { task_spec.kind.run(&ctx).await }).await
}

/// Runs `work` as its own task under `timeout`, turning a panic or a timeout into a failure.
async fn guarded<F>(timeout: Duration, work: F) -> CheckResult
where
    F: std::future::Future<Output = CheckResult> + Send + 'static,
{
    let mut task = tokio::spawn(work);
    match tokio::time::timeout(timeout, &mut task).await {
        Ok(Ok(result)) => result,
        Ok(Err(join_error)) if join_error.is_panic() => {
            let payload = join_error.into_panic();
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "no message".to_string());
            Err(ProbeFailure::new(Cause::Panic, format!("the check crashed (a bug, please report it): {message}")))
        }
        Ok(Err(_cancelled)) => Err(ProbeFailure::new(Cause::Io, "the check was cancelled")),
        Err(_elapsed) => {
            task.abort();
            Err(ProbeFailure::new(
                Cause::Timeout,
                format!("no result within the timeout of {}", format_duration(timeout)),
            ))
        }
    }
}

/// Runs the checks of the current config. One driver task keeps a queue of due times and
/// spawns an evaluation task when a check is due, so an idle check costs a queue entry rather
/// than a parked task and timer (10,000 checks are idle almost all of the time).
#[derive(Debug)]
pub struct Scheduler {
    store: Arc<Store>,
    limiter: Arc<Semaphore>,
    permits: Mutex<usize>,
    commands: mpsc::UnboundedSender<Command>,
    driver: JoinHandle<()>,
}

#[derive(Debug)]
enum Command {
    Apply(Vec<Arc<CheckSpec>>),
    /// Run the check that decides this item now (an attestation came in through the API).
    RunItem(String),
}

/// A check of the running config, as the driver tracks it. Kept to 48 bytes: there is one for
/// every check, and 10,000 of them in a map by fingerprint, with `Instant`s and `Duration`s,
/// held 1.2 MB (docs/benchmarks.md, "Scale", round 6).
#[derive(Debug)]
struct Scheduled {
    fingerprint: u64,
    spec: Arc<CheckSpec>,
    ctx: CheckContext,
    /// When it runs next, on the driver's [`Clock`].
    next_due: u64,
    /// Its place in each interval in nanoseconds, from its identity ([`spread_offset`]).
    offset: u64,
    /// The evaluation in flight, if any: a check never overlaps itself, and a removed check's
    /// evaluation is cancelled.
    running: Option<JoinHandle<()>>,
}

/// The driver's times: nanoseconds since it started, 8 bytes where an `Instant` takes 16.
#[derive(Clone, Copy, Debug)]
struct Clock {
    anchor: Instant,
}

impl Clock {
    fn tick(self, at: Instant) -> u64 {
        nanos(at.saturating_duration_since(self.anchor))
    }

    fn now(self) -> u64 {
        self.tick(Instant::now())
    }

    fn instant(self, tick: u64) -> Instant {
        self.anchor + Duration::from_nanos(tick)
    }
}

/// A duration in nanoseconds, as the driver keeps times (past 584 years, the most a `u64` holds).
fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

impl Scheduler {
    /// Starts the driver; checks start with the first [`Scheduler::apply`].
    pub fn new(store: Arc<Store>) -> Self {
        let limiter = Arc::new(Semaphore::new(0));
        let (commands, receiver) = mpsc::unbounded_channel();
        let driver = tokio::spawn(drive(receiver, store.clone(), limiter.clone()));
        Scheduler { store, limiter, permits: Mutex::new(0), commands, driver }
    }

    /// Switches to `config`. Checks whose definition did not change keep running on their own
    /// rhythm; changed and new checks start now; removed checks stop.
    pub fn apply(&self, config: &Config) {
        self.store.install(config);
        let mut permits = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = config.settings.max_concurrent_checks;
        if wanted > *permits {
            self.limiter.add_permits(wanted - *permits);
        } else {
            // Permits held by running checks are forgotten as they come back.
            let excess = *permits - wanted;
            let forgotten = self.limiter.forget_permits(excess);
            if forgotten < excess {
                let limiter = self.limiter.clone();
                let rest = (excess - forgotten) as u32;
                tokio::spawn(async move {
                    if let Ok(permits) = limiter.acquire_many(rest).await {
                        permits.forget();
                    }
                });
            }
        }
        *permits = wanted;
        // The driver only stops with the scheduler; a send cannot fail before that.
        let _ = self.commands.send(Command::Apply(config.checks.clone()));
    }

    /// Runs the check deciding `item_id` at once rather than at its next turn, as a reload runs
    /// attested checks; a check still running finishes instead.
    pub fn run_item_now(&self, item_id: &str) {
        let _ = self.commands.send(Command::RunItem(item_id.to_string()));
    }

    /// Stops the driver and every evaluation in flight (at shutdown).
    pub fn stop(&self) {
        self.driver.abort();
    }
}

impl Drop for Scheduler {
    fn drop(&mut self) {
        self.driver.abort();
    }
}

/// The driver's checks, sorted by fingerprint. Dropping them (the driver task is aborted at
/// shutdown) cancels the evaluations in flight.
#[derive(Debug, Default)]
struct ScheduledChecks(Vec<Scheduled>);

impl ScheduledChecks {
    fn get(&self, fingerprint: u64) -> Option<&Scheduled> {
        self.0.binary_search_by_key(&fingerprint, |s| s.fingerprint).ok().map(|at| &self.0[at])
    }

    fn get_mut(&mut self, fingerprint: u64) -> Option<&mut Scheduled> {
        self.0.binary_search_by_key(&fingerprint, |s| s.fingerprint).ok().map(|at| &mut self.0[at])
    }
}

impl Drop for ScheduledChecks {
    fn drop(&mut self) {
        for task in self.0.iter().filter_map(|scheduled| scheduled.running.as_ref()) {
            task.abort();
        }
    }
}

/// The driver: sleeps until the earliest due check, starts it, and applies new configs.
async fn drive(mut commands: mpsc::UnboundedReceiver<Command>, store: Arc<Store>, limiter: Arc<Semaphore>) {
    // Intervals are counted from here: a check's runs fall at `anchor + offset + k × interval`.
    let clock = Clock { anchor: Instant::now() };
    let mut checks = ScheduledChecks::default();
    // Due times; an entry whose time no longer matches its check's `next_due` is stale.
    let mut queue: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
    // Evaluations say when they are done, so that their finished task is let go at once: a
    // finished task keeps its allocation while its handle is held, some 500 bytes a check.
    let (finished_sender, mut finished) = mpsc::unbounded_channel::<(u64, tokio::task::Id)>();
    loop {
        let next = queue.peek().map(|Reverse((due, _))| clock.instant(*due));
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Apply(specs)) => replace_checks(clock, &mut checks, &mut queue, specs),
                Some(Command::RunItem(id)) => {
                    let now = clock.now();
                    for scheduled in checks.0.iter_mut() {
                        if scheduled.spec.items.iter().any(|item| item.id == id) {
                            scheduled.next_due = now;
                            queue.push(Reverse((now, scheduled.fingerprint)));
                        }
                    }
                }
                None => break,
            },
            Some((fingerprint, task)) = finished.recv() => {
                // Only the task it names: a later evaluation may have started since.
                if let Some(scheduled) = checks.get_mut(fingerprint) {
                    if scheduled.running.as_ref().is_some_and(|running| running.id() == task) {
                        scheduled.running = None;
                    }
                }
            }
            () = sleep_until_or_forever(next) => {
                let now = clock.now();
                while let Some(Reverse((due, fingerprint))) = queue.peek().copied() {
                    if due > now {
                        break;
                    }
                    queue.pop();
                    let Some(scheduled) = checks.get_mut(fingerprint) else { continue };
                    if scheduled.next_due != due {
                        continue;
                    }
                    let offset = Duration::from_nanos(scheduled.offset);
                    scheduled.next_due =
                        clock.tick(after_run(clock.anchor, clock.instant(due), scheduled.spec.interval, offset));
                    queue.push(Reverse((scheduled.next_due, fingerprint)));
                    if scheduled.running.as_ref().is_some_and(|task| !task.is_finished()) {
                        // Still waiting for a slot or running: skip this round rather than queue up.
                        continue;
                    }
                    scheduled.running = Some(tokio::spawn(evaluate_and_record(
                        scheduled.spec.clone(),
                        fingerprint,
                        scheduled.ctx.clone(),
                        store.clone(),
                        limiter.clone(),
                        finished_sender.clone(),
                    )));
                }
            }
        }
    }
}

/// Installs a new set of checks: unchanged ones keep their state, due time and offset; new and
/// changed ones run within [`STARTUP_SPREAD`], then at their offset.
fn replace_checks(
    clock: Clock,
    checks: &mut ScheduledChecks,
    queue: &mut BinaryHeap<Reverse<(u64, u64)>>,
    specs: Vec<Arc<CheckSpec>>,
) {
    let previous_fingerprints: Vec<u64> = checks.0.iter().map(|s| s.fingerprint).collect();
    let mut previous: Vec<Option<Scheduled>> = std::mem::take(&mut checks.0).into_iter().map(Some).collect();
    let now = clock.now();
    let mut next = Vec::with_capacity(specs.len());
    // Groups are derived by the store and switched-off checks do not apply: neither runs.
    for spec in specs.into_iter().filter(|spec| spec.runs()) {
        let fingerprint = spec.fingerprint();
        let kept = previous_fingerprints.binary_search(&fingerprint).ok().and_then(|at| previous[at].take()).map(
            |mut scheduled| {
                // A reload is how a person says "look again" after an `attest`: an attested item
                // shows the new attestation at once, not at its next turn up to an interval later.
                if scheduled.spec.kind.reads_attestations() {
                    scheduled.next_due = now;
                    queue.push(Reverse((now, fingerprint)));
                }
                scheduled
            },
        );
        let scheduled = kept.unwrap_or_else(|| {
            let identity = spec.identity();
            let offset = spread_offset(&identity, spec.interval);
            // The first run's place in the start-up second comes from the identity too.
            let first = spread_offset(&identity, spec.interval.min(STARTUP_SPREAD));
            let next_due = now.saturating_add(nanos(first));
            queue.push(Reverse((next_due, fingerprint)));
            Scheduled {
                fingerprint,
                spec,
                ctx: CheckContext::default(),
                next_due,
                offset: nanos(offset),
                running: None,
            }
        });
        next.push(scheduled);
    }
    next.sort_by_key(|scheduled| scheduled.fingerprint);
    // Two checks of one definition are one check (a map by fingerprint kept one of them too).
    next.dedup_by_key(|scheduled| scheduled.fingerprint);
    checks.0 = next;
    for removed in previous.into_iter().flatten() {
        if let Some(task) = removed.running {
            task.abort();
        }
    }
    // Entries of removed checks are skipped when they come due; drop them now if they dominate.
    if queue.len() > 2 * checks.0.len() + 16 {
        queue.retain(|Reverse((due, fingerprint))| checks.get(*fingerprint).is_some_and(|s| s.next_due == *due));
    }
    // Each run pops its entry and pushes the next, so the queue stays this long: grown by
    // doubling while the checks were added, it would keep room for up to twice as many.
    queue.shrink_to_fit();
}

/// A check's place in its interval, from a stable hash of its identity (kind and target), as
/// Prometheus places each scrape target in its scrape interval: checks with one interval
/// spread evenly over it instead of all running in the same second, and a check keeps its
/// place across reloads and restarts. The hash is FNV-1a, finished with the SplitMix64 mixer
/// so that ids differing in one character land far apart; spelled out rather than taken from
/// the standard library, whose hasher may change between Rust releases.
fn spread_offset(identity: &str, interval: Duration) -> Duration {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in identity.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    // The hash as a fraction of 2^64, times the interval, in nanoseconds without overflow.
    let nanos = (u128::from(hash) * interval.as_nanos()) >> 64;
    Duration::from_nanos(nanos as u64)
}

/// The first time at or after `after` that falls on `offset` in an interval counted from `anchor`.
fn next_slot(anchor: Instant, after: Instant, interval: Duration, offset: Duration) -> Instant {
    let first = anchor + offset;
    if after <= first || interval.is_zero() {
        return first.max(after);
    }
    let since = (after - first).as_nanos();
    let period = interval.as_nanos();
    let rounds = since.div_ceil(period);
    first + Duration::from_nanos((rounds * period) as u64)
}

/// When a check that ran at `due` runs next: on its slot, at least half an interval later, so
/// that a prompt first run off its slot is not followed by a second one moments later.
fn after_run(anchor: Instant, due: Instant, interval: Duration, offset: Duration) -> Instant {
    next_slot(anchor, due + interval / 2, interval, offset)
}

async fn sleep_until_or_forever(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

async fn evaluate_and_record(
    spec: Arc<CheckSpec>,
    fingerprint: u64,
    ctx: CheckContext,
    store: Arc<Store>,
    limiter: Arc<Semaphore>,
    finished: mpsc::UnboundedSender<(u64, tokio::task::Id)>,
) {
    // The slot first, then the evaluation future, boxed: that future is as large as the largest
    // check kind's probe, and creating it before the slot would make every check waiting for a
    // slot that large (all 10,000 checks of a big config are due in the first second).
    let permit = limiter.acquire().await.ok();
    let evaluation = Box::pin(evaluate_now(&spec, &ctx)).await;
    drop(permit);
    tracing::debug!(check = %spec.describe(), took = %format_duration(evaluation.duration), "evaluated");
    store.record(&spec, fingerprint, evaluation.outcomes, evaluation.samples, evaluation.at, evaluation.duration);
    // The driver is gone only at shutdown, when nothing is left to let go of.
    let _ = finished.send((fingerprint, tokio::task::id()));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    fn spec(text: &str) -> Arc<CheckSpec> {
        crate::config::parse("t.toml", text, Vec::new()).unwrap().checks[0].clone()
    }

    #[tokio::test]
    async fn a_check_that_outlives_its_timeout_is_an_error_naming_the_timeout() {
        // A UDP socket that never answers: the resolver waits until the scheduler gives up.
        let silent = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server = silent.local_addr().unwrap();
        let spec = spec(&format!(
            r#"
[[checks]]
kind = "dns"
name = "app.example.test"
nameserver = "{server}"
timeout = "300ms"
  [[checks.items]]
  id = "dns"
  section = "S"
  title = "t"
  severity = "critical"
"#
        ));
        let evaluation = evaluate(&spec, &Semaphore::new(1), &CheckContext::default()).await;
        let outcome = &evaluation.outcomes[0];
        assert_eq!(outcome.verdict, Verdict::Error);
        assert_eq!(outcome.cause, Some(Cause::Timeout));
        assert_eq!(outcome.reason, "no result within the timeout of 300ms");
    }

    #[tokio::test]
    async fn a_panicking_check_becomes_an_error_and_the_next_one_still_runs() {
        let crashed = guarded(Duration::from_secs(5), async { panic!("boom") }).await.unwrap_err();
        assert_eq!(crashed.cause, Cause::Panic);
        assert_eq!(crashed.reason, "the check crashed (a bug, please report it): boom");
        let fine = guarded(Duration::from_secs(5), async { Ok(crate::checks::Report::default()) }).await;
        assert!(fine.is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn a_hung_check_is_dropped_at_its_timeout() {
        let (dropped_tx, dropped_rx) = tokio::sync::oneshot::channel::<()>();
        let hung = guarded(Duration::from_secs(2), async move {
            let _noticed_on_drop = dropped_tx;
            std::future::pending::<()>().await;
            Ok(crate::checks::Report::default())
        })
        .await
        .unwrap_err();
        assert_eq!(hung.cause, Cause::Timeout);
        assert!(dropped_rx.await.is_err(), "the hung task was dropped, releasing what it held");
    }

    #[tokio::test]
    async fn a_check_still_blocked_from_before_is_reported_stuck() {
        let ctx = CheckContext::default();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let blocked = ctx.blocking().run(move || release_rx.recv().ok());
        let pending = tokio::spawn(blocked);
        while ctx.blocking().in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let spec = spec(
            r#"
[[checks]]
kind = "disk"
path = "/"
min_free_bytes = "1B"
  [[checks.items]]
  id = "disk"
  decides = "minimum"
  section = "S"
  title = "t"
  severity = "critical"
"#,
        );
        let evaluation = evaluate(&spec, &Semaphore::new(1), &ctx).await;
        assert_eq!(evaluation.outcomes[0].cause, Some(Cause::Stuck));
        // Stuck says nothing of the disk, so the check's own subject names what was looked at.
        assert_eq!(evaluation.outcomes[0].subject(), Some(&crate::model::Subject::Path("/".into())));
        release_tx.send(()).unwrap();
        pending.await.unwrap().unwrap();
        assert_eq!(ctx.blocking().in_flight(), 0);
        let evaluation = evaluate(&spec, &Semaphore::new(1), &ctx).await;
        assert_eq!(evaluation.outcomes[0].verdict, Verdict::Pass);
    }

    #[test]
    fn offsets_of_10000_checks_fill_every_second_of_a_minute_within_twice_the_mean() {
        let interval = Duration::from_secs(60);
        let mut per_second = [0usize; 60];
        for n in 0..10_000 {
            let offset = spread_offset(&format!("tls app-{n}.example.com:443"), interval);
            assert!(offset < interval);
            per_second[offset.as_secs() as usize] += 1;
        }
        let mean = 10_000 / 60;
        let busiest = *per_second.iter().max().unwrap();
        let idlest = *per_second.iter().min().unwrap();
        assert!(busiest <= 2 * mean, "busiest second holds {busiest}; mean {mean}: {per_second:?}");
        assert!(idlest >= mean / 2, "idlest second holds {idlest}; mean {mean}: {per_second:?}");
    }

    #[test]
    fn an_offset_depends_only_on_the_identity_and_the_interval() {
        let interval = Duration::from_secs(60);
        let offset = spread_offset("tcp_port 127.0.0.1:5432", interval);
        assert_eq!(offset, spread_offset("tcp_port 127.0.0.1:5432", interval), "stable");
        // A fixed value: a new hash function would move every check of every running daemon.
        assert_eq!(offset, Duration::from_nanos(58_946_101_327));
        assert_ne!(offset, spread_offset("tcp_port 127.0.0.1:5433", interval));
    }

    #[test]
    fn runs_land_on_the_checks_offset_in_every_interval() {
        let anchor = Instant::now();
        let interval = Duration::from_secs(60);
        let offset = Duration::from_secs(17);
        assert_eq!(next_slot(anchor, anchor, interval, offset), anchor + offset);
        assert_eq!(next_slot(anchor, anchor + offset, interval, offset), anchor + offset, "a slot at `after` counts");
        assert_eq!(
            next_slot(anchor, anchor + Duration::from_secs(18), interval, offset),
            anchor + Duration::from_secs(77)
        );
        assert_eq!(
            next_slot(anchor, anchor + Duration::from_secs(3600 + 20), interval, offset),
            anchor + Duration::from_secs(3600 + 77)
        );
        // After a run on its slot the next is one interval later; after a prompt first run off
        // its slot, the next slot at least half an interval away.
        let due = anchor + Duration::from_secs(77);
        assert_eq!(after_run(anchor, due, interval, offset), due + interval);
        let first = anchor + Duration::from_millis(300);
        assert_eq!(after_run(anchor, first, interval, offset), anchor + Duration::from_secs(77));
        let early = anchor + Duration::from_secs(5);
        assert_eq!(after_run(anchor, early, interval, offset), anchor + Duration::from_secs(77), "not 12s after");
    }

    #[tokio::test(start_paused = true)]
    async fn a_reload_keeps_the_due_time_of_an_unchanged_check_and_the_offset_of_a_changed_one() {
        let text = "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n  [[checks.items]]\n  id = \"cpu\"\n  decides = \"minimum\"\n  section = \"S\"\n  title = \"t\"\n  severity = \"critical\"\n";
        let clock = Clock { anchor: Instant::now() };
        let mut checks = ScheduledChecks::default();
        let mut queue = BinaryHeap::new();
        replace_checks(clock, &mut checks, &mut queue, vec![spec(text)]);
        let first = &checks.0[0];
        let (fingerprint, first_due, first_offset) = (first.fingerprint, first.next_due, first.offset);
        tokio::time::advance(Duration::from_secs(7)).await;
        replace_checks(clock, &mut checks, &mut queue, vec![spec(text)]);
        assert_eq!(checks.get(fingerprint).unwrap().next_due, first_due, "unchanged: same due time");
        let changed = spec(&text.replace("min_cores = 1", "min_cores = 2"));
        replace_checks(clock, &mut checks, &mut queue, vec![changed]);
        assert!(checks.get(fingerprint).is_none(), "the changed check has a new fingerprint");
        let scheduled = &checks.0[0];
        assert_eq!(scheduled.offset, first_offset, "same check identity: same offset");
    }
}
