//! Runs every check on its own interval, under its timeout, at most `max_concurrent_checks` at
//! a time. A check runs in its own task: whether it returns, hangs past its timeout or panics,
//! the scheduler turns that into verdicts and no other check notices. Scrapes never run checks;
//! they read what the last evaluations left in the [`Store`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rand::Rng;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::checks::{Cause, CheckContext, CheckResult, Outcome, ProbeFailure, Sample};
use crate::config::{CheckSpec, Config};
use crate::state::Store;
use crate::units::format_duration;

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
    let tracker = &ctx.blocking;
    // The semaphore is never closed while checks run; if it were, run unthrottled rather than not at all.
    let _permit = limiter.acquire().await.ok();
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

/// Owns one task per check of the running config.
#[derive(Debug)]
pub struct Scheduler {
    store: Arc<Store>,
    limiter: Arc<Semaphore>,
    running: Mutex<Running>,
}

#[derive(Debug, Default)]
struct Running {
    permits: usize,
    tasks: HashMap<String, JoinHandle<()>>,
}

impl Scheduler {
    pub fn new(store: Arc<Store>) -> Self {
        Scheduler { store, limiter: Arc::new(Semaphore::new(0)), running: Mutex::new(Running::default()) }
    }

    /// Switches to `config`. Checks whose definition did not change keep running on their own
    /// rhythm; changed and new checks start now; removed checks stop.
    pub fn apply(&self, config: &Config) {
        self.store.install(config);
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        let wanted = config.settings.max_concurrent_checks;
        if wanted > running.permits {
            self.limiter.add_permits(wanted - running.permits);
        } else {
            // Permits held by running checks are forgotten as they come back.
            let excess = running.permits - wanted;
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
        running.permits = wanted;

        let mut tasks = std::mem::take(&mut running.tasks);
        for check in &config.checks {
            let fingerprint = check.fingerprint();
            let task = match tasks.remove(&fingerprint) {
                Some(task) if !task.is_finished() => task,
                _ => tokio::spawn(check_loop(
                    check.clone(),
                    fingerprint.clone(),
                    self.store.clone(),
                    self.limiter.clone(),
                )),
            };
            running.tasks.insert(fingerprint, task);
        }
        for (_, stale) in tasks {
            stale.abort();
        }
    }

    /// Stops every check loop (at shutdown).
    pub fn stop(&self) {
        let mut running = self.running.lock().unwrap_or_else(|p| p.into_inner());
        for (_, task) in running.tasks.drain() {
            task.abort();
        }
    }
}

async fn check_loop(spec: Arc<CheckSpec>, fingerprint: String, store: Arc<Store>, limiter: Arc<Semaphore>) {
    let ctx = CheckContext::default();
    let first_delay = random_fraction(spec.interval.min(STARTUP_SPREAD), 0.0, 1.0);
    tokio::time::sleep(first_delay).await;
    loop {
        let started = tokio::time::Instant::now();
        let evaluation = evaluate(&spec, &limiter, &ctx).await;
        tracing::debug!(check = %spec.describe(), took = %format_duration(evaluation.duration), "evaluated");
        store.record(&spec, &fingerprint, evaluation.outcomes, evaluation.samples, evaluation.at, evaluation.duration);
        let pause = random_fraction(spec.interval, 1.0 - JITTER_SHARE, 1.0 + JITTER_SHARE);
        tokio::time::sleep_until(started + pause).await;
    }
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
    use crate::checks::{BlockingTracker, Verdict};

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
