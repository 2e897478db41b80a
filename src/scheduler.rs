//! Runs every check on its own interval, under its timeout, at most `max_concurrent_checks` at
//! a time. A check runs in its own task: whether it returns, hangs past its timeout or panics,
//! the scheduler turns that into verdicts and no other check notices. Scrapes never run checks;
//! they read what the last evaluations left in the [`Store`].

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use rand::Rng;
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::checks::CheckContext;
use crate::config::{CheckSpec, Config};
use crate::model::{Cause, CheckResult, Outcome, ProbeFailure, Sample};
use crate::state::Store;
use crate::support::units::format_duration;

/// The first evaluations of a fresh config are spread over at most this long, so that a
/// thousand checks do not start in the same millisecond yet `/-/ready` comes quickly.
const STARTUP_SPREAD: Duration = Duration::from_secs(1);
/// Later runs drift by up to this share of the interval, so checks that started together part.
const JITTER_SHARE: f64 = 0.05;

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
    let tracker = &ctx.blocking;
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
            Err(failure) => Outcome::error(failure.cause, failure.reason.clone()),
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
}

/// A check of the running config, as the driver tracks it.
#[derive(Debug)]
struct Scheduled {
    spec: Arc<CheckSpec>,
    ctx: CheckContext,
    next_due: Instant,
    /// The evaluation in flight, if any: a check never overlaps itself, and a removed check's
    /// evaluation is cancelled.
    running: Option<JoinHandle<()>>,
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

/// The driver's checks. Dropping them (the driver task is aborted at shutdown) cancels the
/// evaluations in flight.
#[derive(Debug, Default)]
struct ScheduledChecks(HashMap<u64, Scheduled>);

impl Drop for ScheduledChecks {
    fn drop(&mut self) {
        for task in self.0.values().filter_map(|scheduled| scheduled.running.as_ref()) {
            task.abort();
        }
    }
}

/// The driver: sleeps until the earliest due check, starts it, and applies new configs.
async fn drive(mut commands: mpsc::UnboundedReceiver<Command>, store: Arc<Store>, limiter: Arc<Semaphore>) {
    let mut checks = ScheduledChecks::default();
    let checks = &mut checks.0;
    // Due times; an entry whose time no longer matches its check's `next_due` is stale.
    let mut queue: BinaryHeap<Reverse<(Instant, u64)>> = BinaryHeap::new();
    loop {
        let next = queue.peek().map(|Reverse((due, _))| *due);
        tokio::select! {
            command = commands.recv() => match command {
                Some(Command::Apply(specs)) => replace_checks(checks, &mut queue, specs),
                None => break,
            },
            () = sleep_until_or_forever(next) => {
                let now = Instant::now();
                while let Some(Reverse((due, fingerprint))) = queue.peek().copied() {
                    if due > now {
                        break;
                    }
                    queue.pop();
                    let Some(scheduled) = checks.get_mut(&fingerprint) else { continue };
                    if scheduled.next_due != due {
                        continue;
                    }
                    let pause = random_fraction(scheduled.spec.interval, 1.0 - JITTER_SHARE, 1.0 + JITTER_SHARE);
                    scheduled.next_due = due + pause;
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
                    )));
                }
            }
        }
    }
}

/// Installs a new set of checks: unchanged ones keep their state and due time.
fn replace_checks(
    checks: &mut HashMap<u64, Scheduled>,
    queue: &mut BinaryHeap<Reverse<(Instant, u64)>>,
    specs: Vec<Arc<CheckSpec>>,
) {
    let mut previous = std::mem::take(checks);
    let now = Instant::now();
    // Groups are derived by the store and switched-off checks do not apply: neither runs.
    for spec in specs.into_iter().filter(|spec| spec.runs()) {
        let fingerprint = spec.fingerprint();
        let scheduled = previous.remove(&fingerprint).unwrap_or_else(|| {
            let next_due = now + random_fraction(spec.interval.min(STARTUP_SPREAD), 0.0, 1.0);
            queue.push(Reverse((next_due, fingerprint)));
            Scheduled { spec, ctx: CheckContext::default(), next_due, running: None }
        });
        checks.insert(fingerprint, scheduled);
    }
    for removed in previous.into_values() {
        if let Some(task) = removed.running {
            task.abort();
        }
    }
    // Entries of removed checks are skipped when they come due; drop them now if they dominate.
    if queue.len() > 2 * checks.len() + 16 {
        queue.retain(|Reverse((due, fingerprint))| checks.get(fingerprint).is_some_and(|s| s.next_due == *due));
    }
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
) {
    // The slot first, then the evaluation future, boxed: that future is as large as the largest
    // check kind's probe, and creating it before the slot would make every check waiting for a
    // slot that large (all 10,000 checks of a big config are due in the first second).
    let permit = limiter.acquire().await.ok();
    let evaluation = Box::pin(evaluate_now(&spec, &ctx)).await;
    drop(permit);
    tracing::debug!(check = %spec.describe(), took = %format_duration(evaluation.duration), "evaluated");
    store.record(&spec, fingerprint, evaluation.outcomes, evaluation.samples, evaluation.at, evaluation.duration);
}

/// A random duration between `low` and `high` times `base`.
fn random_fraction(base: Duration, low: f64, high: f64) -> Duration {
    if base.is_zero() || low >= high {
        return base.mul_f64(low.max(0.0));
    }
    base.mul_f64(rand::rng().random_range(low..high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::BlockingTracker;
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
        let tracker = BlockingTracker::default();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let blocked = tracker.run(move || release_rx.recv().ok());
        let pending = tokio::spawn(blocked);
        while tracker.in_flight() == 0 {
            tokio::task::yield_now().await;
        }
        let spec = spec(
            r#"
[[checks]]
kind = "cpu"
min_cores = 1
  [[checks.items]]
  id = "cpu"
  decides = "minimum"
  section = "S"
  title = "t"
  severity = "critical"
"#,
        );
        let ctx = CheckContext { blocking: tracker.clone(), ..CheckContext::default() };
        let evaluation = evaluate(&spec, &Semaphore::new(1), &ctx).await;
        assert_eq!(evaluation.outcomes[0].cause, Some(Cause::Stuck));
        release_tx.send(()).unwrap();
        pending.await.unwrap().unwrap();
        assert_eq!(tracker.in_flight(), 0);
        let evaluation = evaluate(&spec, &Semaphore::new(1), &ctx).await;
        assert_eq!(evaluation.outcomes[0].verdict, Verdict::Pass);
    }

    #[test]
    fn jitter_stays_within_its_band() {
        for _ in 0..100 {
            let d = random_fraction(Duration::from_secs(100), 0.95, 1.05);
            assert!(d >= Duration::from_secs(95) && d <= Duration::from_secs(105));
        }
        assert_eq!(random_fraction(Duration::ZERO, 0.0, 1.0), Duration::ZERO);
    }
}
