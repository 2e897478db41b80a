//! Check families and their registry. Each family is one file (or one folder, when it grows past
//! one job) that implements [`Check`] for its kinds; the `registry!` line at the bottom of this
//! file is the one place a kind is registered. From that list the macro generates the
//! [`CheckKind`] enum a config decodes into, [`KIND_NAMES`], [`all_families`], the per-check
//! [`CheckState`], and the dispatch of every [`Check`] method, so adding a family is one file
//! and one line (`docs/development.md`).
//!
//! A check runs one probe and decides one or more *aspects* (a disk check decides `minimum`,
//! `recommended` and `free_ratio` from one `statvfs`); each checklist item binds to one aspect. A
//! check returns only its verdicts and its own value samples: timeouts, panics, concurrency and
//! the common metrics belong to the scheduler. Nothing outside `checks/` names a family module;
//! the config, the scheduler and the commands use this registry.

pub mod attested;
pub mod backup;
pub mod backup_restore;
pub mod command;
pub mod env;
pub mod files;
pub mod http;
pub mod latency;
pub mod network;
pub mod pgbouncer;
pub mod postgres;
pub mod prometheus;
pub mod subject;
pub mod system;
pub mod tls;
pub mod vuln_report;

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;

use crate::model::{Cause, MetricFamily, ProbeFailure, Subject};
pub use crate::model::{CheckResult, Report};

/// One check family: the parameters of one `[[checks]]` table of its kind, decoded with unknown
/// keys refused, and how to run it.
pub trait Check: Clone + fmt::Debug + PartialEq + DeserializeOwned + Send + Sync + 'static {
    /// The `kind` a config names it by.
    const KIND: &'static str;
    /// The aspects it can decide, the first being the one an item gets when it names none.
    const ASPECTS: &'static [&'static str];
    /// The value metric families it may export besides the item verdicts.
    const FAMILIES: &'static [&'static MetricFamily];
    /// What one check keeps from one evaluation to the next (a reused connection, a latency
    /// window, histogram buckets); `()` for most. A reload that changes the check starts afresh.
    type State: Default + Send + 'static;

    /// The aspects this check can decide: its kind's [`Check::ASPECTS`], or more for a kind whose
    /// parameters name them (a journey's steps). The first is still the default.
    fn aspects(&self) -> &'static [&'static str] {
        Self::ASPECTS
    }

    /// Checks the parameters on their own and against the aspect an item binds to; the error
    /// names the offending key.
    fn validate(&self, aspect: &str) -> Result<(), KeyError>;

    /// What the check looks at, empty for checks of this host. Two checks of one kind on the
    /// same target would export the same series twice, so the config refuses that.
    fn target(&self) -> String;

    /// Rules that tie a parameter to the check's timeout (a connect timeout must end first, so a
    /// silent peer gets a verdict that says so): the key and the message.
    fn validate_timeout(&self, _timeout: Duration) -> Result<(), KeyError> {
        Ok(())
    }

    /// The one thing the check looks at (its path, its endpoint, its database), which its
    /// failing and undecidable verdicts are about unless they name a more precise thing (the CA
    /// file that cannot be read, the variable that is not set): root causes group by it.
    /// `None` for checks of no single thing.
    fn subject(&self) -> Option<Subject> {
        None
    }

    /// Sees the ids of the items the check decides, for kinds whose data is keyed by item (an
    /// attestation is recorded under its item's id); a refusal is said of the whole check.
    fn bind_items(&mut self, _ids: &[&str]) -> Result<(), String> {
        Ok(())
    }

    /// Runs the probe once and decides every aspect it can.
    fn run(&self, ctx: &CheckContext, state: &mut Self::State) -> impl Future<Output = CheckResult> + Send;
}

/// A boxed check is the check: large parameter sets are boxed so that every [`CheckKind`] is
/// not as large as the largest.
impl<T: Check> Check for Box<T> {
    const KIND: &'static str = T::KIND;
    const ASPECTS: &'static [&'static str] = T::ASPECTS;
    const FAMILIES: &'static [&'static MetricFamily] = T::FAMILIES;
    type State = T::State;

    fn aspects(&self) -> &'static [&'static str] {
        (**self).aspects()
    }

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        (**self).validate(aspect)
    }

    fn target(&self) -> String {
        (**self).target()
    }

    fn validate_timeout(&self, timeout: Duration) -> Result<(), KeyError> {
        (**self).validate_timeout(timeout)
    }

    fn subject(&self) -> Option<Subject> {
        (**self).subject()
    }

    fn bind_items(&mut self, ids: &[&str]) -> Result<(), String> {
        (**self).bind_items(ids)
    }

    fn run(&self, ctx: &CheckContext, state: &mut Self::State) -> impl Future<Output = CheckResult> + Send {
        (**self).run(ctx, state)
    }
}

/// What a running check may use from its surroundings: the count of its blocking work still
/// running and the state it keeps between evaluations. One allocation of 64 bytes a check: two
/// `Arc`s (a counter and a locked slot) took about 100 bytes a check (docs/benchmarks.md,
/// "Scale", round 6), and tokio's asynchronous lock around the state 96 (round 7).
#[derive(Clone, Default)]
pub struct CheckContext(Arc<ContextShared>);

#[derive(Default)]
struct ContextShared {
    blocking_in_flight: AtomicUsize,
    /// The check's [`Check::State`], created on first use. An evaluation takes it out for its
    /// run and its [`StateLease`] puts it back when the run ends or is dropped (a timeout), as a
    /// lock guard would: the state lives on across runs either way. The lock is held only to
    /// take and to put back. An evaluation running beside another of the same check would start
    /// from a fresh state; the scheduler never overlaps evaluations of one check.
    state: std::sync::Mutex<Option<CheckState>>,
}

/// A check's state, out of its slot for one run; back in the slot when dropped.
struct StateLease<'a> {
    slot: &'a std::sync::Mutex<Option<CheckState>>,
    state: Option<CheckState>,
}

impl<'a> StateLease<'a> {
    fn take(slot: &'a std::sync::Mutex<Option<CheckState>>) -> Self {
        let state = slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
        StateLease { slot, state }
    }
}

impl Drop for StateLease<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            *self.slot.lock().unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(state);
        }
    }
}

impl fmt::Debug for CheckContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckContext").field("blocking_in_flight", &self.blocking().in_flight()).finish()
    }
}

impl CheckContext {
    /// The check's blocking work.
    pub fn blocking(&self) -> BlockingTracker<'_> {
        BlockingTracker(self)
    }
}

/// Counts blocking operations of one check that are still running. A `statvfs` on a hung NFS
/// mount cannot be cancelled; the scheduler's timeout gives up on it, and the next evaluation
/// sees it still running and reports `stuck` instead of piling up another blocked thread.
pub struct BlockingTracker<'a>(&'a CheckContext);

impl BlockingTracker<'_> {
    pub fn in_flight(&self) -> usize {
        self.0 .0.blocking_in_flight.load(Ordering::SeqCst)
    }

    /// Runs `work` on tokio's blocking pool, counted until it returns (even after its caller
    /// has timed out and gone).
    pub fn run<T, F>(&self, work: F) -> impl Future<Output = Result<T, ProbeFailure>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        struct Guard(Arc<ContextShared>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.blocking_in_flight.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.0 .0.blocking_in_flight.fetch_add(1, Ordering::SeqCst);
        let guard = Guard(self.0 .0.clone());
        let handle = tokio::task::spawn_blocking(move || {
            let _guard = guard;
            work()
        });
        async move {
            handle.await.map_err(|err| {
                let cause = if err.is_panic() { Cause::Panic } else { Cause::Io };
                ProbeFailure::new(cause, format!("blocking work failed: {err}"))
            })
        }
    }
}

/// Declares every kind of check: the enum a config decodes into, its per-check state, the name
/// list, and the dispatch of every [`Check`] method.
macro_rules! registry {
    ($($variant:ident($family:ty),)*) => {
        /// Every kind of check a config may name, tagged by `kind`. Each kind's parameters are
        /// boxed: inline, every check took the size of the largest kind's (240 bytes), and a big
        /// checklist holds tens of thousands of checks, most of them small.
        #[derive(Clone, Debug, PartialEq)]
        pub enum CheckKind {
            $($variant(Box<$family>),)*
        }

        /// The state one check keeps between evaluations, by kind. Boxed like the parameters:
        /// inline, every check's slot took the size of the largest kind's state (88 bytes),
        /// and most kinds keep nothing (a box of nothing allocates nothing).
        pub enum CheckState {
            $($variant(Box<<$family as Check>::State>),)*
        }

        /// The kinds of check, in registry order.
        pub const KIND_NAMES: &[&str] = &[$(<$family as Check>::KIND,)*];

        /// Every value metric family any kind may export, for `docs/metrics.md` and its test.
        pub fn all_families() -> Vec<&'static MetricFamily> {
            [$(<$family as Check>::FAMILIES,)*].concat()
        }

        impl CheckKind {
            /// Decodes the parameters of a check of kind `kind` (the table without `kind` and the
            /// scheduling keys) straight into the kind's type, so that messages name the key.
            pub fn decode(kind: &str, params: toml::Value) -> Result<CheckKind, String> {
                $(if kind == <$family as Check>::KIND {
                    return crate::support::decode::decode_value(params).map(|check| CheckKind::$variant(Box::new(check)));
                })*
                Err(format!("kind: unknown kind `{kind}`; one of {}", KIND_NAMES.join(", ")))
            }

            pub fn name(&self) -> &'static str {
                match self {
                    $(CheckKind::$variant(_) => <$family as Check>::KIND,)*
                }
            }

            /// See [`Check::aspects`].
            pub fn aspects(&self) -> &'static [&'static str] {
                match self {
                    $(CheckKind::$variant(check) => check.aspects(),)*
                }
            }

            /// See [`Check::FAMILIES`].
            pub fn families(&self) -> &'static [&'static MetricFamily] {
                match self {
                    $(CheckKind::$variant(_) => <$family as Check>::FAMILIES,)*
                }
            }

            /// See [`Check::validate`].
            pub fn validate(&self, aspect: &str) -> Result<(), KeyError> {
                match self {
                    $(CheckKind::$variant(check) => check.validate(aspect),)*
                }
            }

            /// See [`Check::target`].
            pub fn target(&self) -> String {
                match self {
                    $(CheckKind::$variant(check) => check.target(),)*
                }
            }

            /// See [`Check::validate_timeout`].
            pub fn validate_timeout(&self, timeout: Duration) -> Result<(), KeyError> {
                match self {
                    $(CheckKind::$variant(check) => check.validate_timeout(timeout),)*
                }
            }

            /// See [`Check::subject`].
            pub fn subject(&self) -> Option<Subject> {
                match self {
                    $(CheckKind::$variant(check) => check.subject(),)*
                }
            }

            /// See [`Check::bind_items`].
            pub fn bind_items(&mut self, ids: &[&str]) -> Result<(), String> {
                match self {
                    $(CheckKind::$variant(check) => check.bind_items(ids),)*
                }
            }

            /// Runs the check once with the state kept in `ctx`.
            pub async fn run(&self, ctx: &CheckContext) -> CheckResult {
                let mut lease = StateLease::take(&ctx.0.state);
                let slot = &mut lease.state;
                match self {
                    $(CheckKind::$variant(check) => {
                        if !matches!(*slot, Some(CheckState::$variant(_))) {
                            *slot = Some(CheckState::$variant(Default::default()));
                        }
                        match &mut *slot {
                            Some(CheckState::$variant(state)) => {
                                let result = check.run(ctx, state).await;
                                match check.subject() {
                                    Some(thing) => subject::result_about(result, thing),
                                    None => result,
                                }
                            }
                            _ => Err(ProbeFailure::new(Cause::Io, "the check's state slot holds another kind")),
                        }
                    })*
                }
            }
        }
    };
}

impl CheckKind {
    /// Where an `attested` check keeps its attestations and how long one counts; `None` for
    /// every other kind. The `attest` command records through this, so that nothing outside
    /// `checks/` reads a family's parameters.
    pub fn attestation(&self) -> Option<(&std::path::Path, Duration)> {
        match self {
            CheckKind::Attested(check) => Some((&check.file, check.validity.0)),
            _ => None,
        }
    }

    /// Tells the check which config file it came from; only an `attested` check keeps it, for
    /// the command its hint prints.
    pub fn bind_config_file(&mut self, config_file: &std::path::Path) {
        if let CheckKind::Attested(check) = self {
            check.config_file = config_file.to_path_buf();
        }
    }

    /// Tells the check which environment's instance it is; only an `attested` check keeps it,
    /// for the command its hint prints (`attest ID --environment NAME`).
    pub fn bind_environment(&mut self, environment: &str) {
        if let CheckKind::Attested(check) = self {
            check.environment = Some(environment.to_string());
        }
    }

    /// Whether a person's action outside the config (an `attest`) decides the check, so that a
    /// reload runs it again at once rather than at its next turn.
    pub fn reads_attestations(&self) -> bool {
        self.attestation().is_some()
    }

    /// `disk /`, `tcp_port 127.0.0.1:5432`, or just `cpu` for checks of this host.
    pub fn describe(&self) -> String {
        let target = self.target();
        if target.is_empty() {
            self.name().to_string()
        } else {
            format!("{} {target}", self.name())
        }
    }
}

// The registry: one line per kind, in the order the kinds are listed to users.
registry! {
    Cpu(system::CpuCheck),
    Memory(system::MemoryCheck),
    Disk(system::DiskCheck),
    TcpPort(network::TcpPortCheck),
    Dns(network::DnsCheck),
    Postgres(Box<postgres::PostgresCheck>),
    Pgbouncer(pgbouncer::PgbouncerCheck),
    Tls(tls::TlsCheck),
    TlsCertFile(tls::TlsCertFileCheck),
    Http(http::HttpCheck),
    HttpHeaders(http::HttpHeadersCheck),
    HttpsRedirect(http::HttpsRedirectCheck),
    Cors(http::CorsCheck),
    HttpRestricted(http::HttpRestrictedCheck),
    MetricsEndpoint(http::MetricsEndpointCheck),
    HttpJourney(Box<http::HttpJourneyCheck>),
    Backup(backup::BackupCheck),
    BackupIntegrity(backup::BackupIntegrityCheck),
    BackupRestore(Box<backup_restore::BackupRestoreCheck>),
    Directories(files::DirectoriesCheck),
    Permissions(files::PermissionsCheck),
    DirUsage(files::DirUsageCheck),
    JsonLog(files::JsonLogCheck),
    AppEnv(env::AppEnvCheck),
    EnvRule(env::EnvRuleCheck),
    Command(command::CommandCheck),
    Attested(attested::AttestedCheck),
    VulnReport(vuln_report::VulnReportCheck),
    Prometheus(prometheus::PrometheusCheck),
    Alertmanager(prometheus::AlertmanagerCheck),
}

/// A parameter problem found by a check's `validate`: the key and what is wrong with it.
#[derive(Clone, Debug, PartialEq)]
pub struct KeyError {
    pub key: &'static str,
    pub message: String,
}

impl KeyError {
    pub fn new(key: &'static str, message: impl Into<String>) -> Self {
        KeyError { key, message: message.into() }
    }
}

/// `#[serde(default = "super::yes")]` for flags that are on unless switched off.
pub(crate) fn yes() -> bool {
    true
}

/// Decodes a string that must be one of a few words, saying which words when it is not.
pub(crate) fn one_of<'de, D, T>(deserializer: D, choices: &[(&str, T)]) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Copy,
{
    let text = <String as serde::Deserialize>::deserialize(deserializer)?;
    choices.iter().find(|(name, _)| *name == text).map(|(_, value)| *value).ok_or_else(|| {
        let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
        serde::de::Error::custom(format!("`{text}` is not one of {}", names.join(", ")))
    })
}

/// Compiles a regex from the config, with the parser's complaint on one line (regex prints a
/// multi-line diagram).
pub(crate) fn compile_regex(key: &'static str, pattern: &str) -> Result<regex::Regex, KeyError> {
    regex::Regex::new(pattern).map_err(|err| {
        let text = err.to_string();
        let why = text.lines().last().unwrap_or_default().trim_start_matches("error: ").to_string();
        KeyError::new(key, format!("`{pattern}` is not a regular expression ({why})"))
    })
}

/// Refuses a probe's own time limit (`key`) that does not end before the check's timeout: the
/// probe must give up first, so that `why` happens before the scheduler's generic timeout.
pub(crate) fn shorter_than_timeout(
    key: &'static str,
    limit: Duration,
    timeout: Duration,
    why: &str,
) -> Result<(), KeyError> {
    if limit >= timeout {
        return Err(KeyError::new(
            key,
            format!(
                "{} is not shorter than the timeout {}; {why} before the check times out",
                crate::support::units::format_duration(limit),
                crate::support::units::format_duration(timeout)
            ),
        ));
    }
    Ok(())
}

/// Refuses an aspect whose threshold parameter was not given.
pub(crate) fn require<T>(value: &Option<T>, aspect: &str, key: &'static str) -> Result<(), KeyError> {
    if value.is_none() {
        return Err(KeyError::new(key, format!("an item decides `{aspect}`, which needs `{key}`")));
    }
    Ok(())
}

/// Refuses a ratio outside 0..=1.
pub(crate) fn check_ratio(value: Option<f64>, key: &'static str) -> Result<(), KeyError> {
    match value {
        Some(v) if !(0.0..=1.0).contains(&v) || v.is_nan() => {
            Err(KeyError::new(key, format!("must be a ratio between 0 and 1, got {v}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_state_lease_puts_the_state_back_when_its_run_ends_or_is_dropped() {
        let ctx = CheckContext::default();
        {
            let mut lease = StateLease::take(&ctx.0.state);
            assert!(lease.state.is_none(), "no state before the first run");
            lease.state = Some(CheckState::Cpu(Box::default()));
            // While a run holds it, the slot is empty.
            assert!(ctx.0.state.lock().unwrap().is_none());
        }
        assert!(matches!(*ctx.0.state.lock().unwrap(), Some(CheckState::Cpu(_))), "the state is back after the run");

        // A run cancelled mid-way (its future dropped at a timeout) puts the state back too.
        let run = async {
            let _lease = StateLease::take(&ctx.0.state);
            std::future::pending::<()>().await;
        };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
        let timed_out = runtime.block_on(async { tokio::time::timeout(Duration::from_millis(1), run).await });
        assert!(timed_out.is_err());
        assert!(matches!(*ctx.0.state.lock().unwrap(), Some(CheckState::Cpu(_))), "the state is back after a timeout");
    }
}
