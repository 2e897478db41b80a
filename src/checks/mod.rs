//! Check families. Each file holds one family; [`CheckKind`] is the closed set of kinds a config
//! may name, tagged by `kind`. A check runs one probe and decides one or more *aspects*
//! (a disk check decides `minimum`, `recommended` and `free_ratio` from one `statvfs`); each
//! checklist item binds to one aspect. A check returns only its verdicts and its own value
//! samples: timeouts, panics, concurrency and the common metrics belong to the scheduler.

pub mod attested;
pub mod backup;
pub mod command;
pub mod env;
pub mod files;
pub mod group;
pub mod http;
pub mod latency;
pub mod network;
pub mod postgres;
pub mod prometheus;
pub mod system;
pub mod tls;
pub mod tls_hello;

use std::any::Any;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use serde::Serialize;

/// The three answers a check can give about one aspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Fail,
    /// The check could not decide: a timeout, a refused connection, a permission error.
    Error,
}

impl Verdict {
    pub const ALL: [Verdict; 3] = [Verdict::Pass, Verdict::Fail, Verdict::Error];

    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Error => "error",
        }
    }
}

/// Why an item fails or cannot be decided, from a small fixed vocabulary so that it can be a
/// label value (`checklist_item_failure_cause{cause}`) without unbounded cardinality.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    Timeout,
    Refused,
    Unreachable,
    NotFound,
    Permission,
    BelowMinimum,
    AboveMaximum,
    Mismatch,
    Expired,
    /// A certificate (or attestation) whose validity has not started.
    NotYetValid,
    Untrusted,
    /// A server that does not send its whole certificate chain.
    IncompleteChain,
    /// A key, signature, password or secret weaker than wanted.
    Weak,
    /// A setting that is present but insecure (legacy TLS accepted, `*` in CORS, `DEBUG=true`).
    Insecure,
    /// Something that must be there is absent (a header, a key, a table, a file in a set).
    Missing,
    /// Present but not in the expected form (a malformed header, a value that does not parse).
    Invalid,
    /// Data that fails its own integrity check (a truncated or bit-flipped backup).
    Corrupt,
    /// An HTTP status other than the expected one.
    UnexpectedStatus,
    /// Authentication or authorisation was refused (wrong password, missing privilege).
    Auth,
    /// A port that should be closed accepted a connection.
    Open,
    /// The check could not run: bad data from the target, an OS error we did not expect.
    Io,
    /// The check's code panicked; a bug, reported rather than hidden.
    Panic,
    /// The previous evaluation is still blocked in the kernel (a hung NFS mount).
    Stuck,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Timeout => "timeout",
            Cause::Refused => "refused",
            Cause::Unreachable => "unreachable",
            Cause::NotFound => "not_found",
            Cause::Permission => "permission",
            Cause::BelowMinimum => "below_minimum",
            Cause::AboveMaximum => "above_maximum",
            Cause::Mismatch => "mismatch",
            Cause::Expired => "expired",
            Cause::NotYetValid => "not_yet_valid",
            Cause::Untrusted => "untrusted",
            Cause::IncompleteChain => "incomplete_chain",
            Cause::Weak => "weak",
            Cause::Insecure => "insecure",
            Cause::Missing => "missing",
            Cause::Invalid => "invalid",
            Cause::Corrupt => "corrupt",
            Cause::UnexpectedStatus => "unexpected_status",
            Cause::Auth => "auth",
            Cause::Open => "open",
            Cause::Io => "io",
            Cause::Panic => "panic",
            Cause::Stuck => "stuck",
        }
    }

    /// Maps an I/O error to the closest cause, for checks that touch files or sockets.
    pub fn from_io(err: &std::io::Error) -> Cause {
        use std::io::ErrorKind;
        match err.kind() {
            ErrorKind::NotFound => Cause::NotFound,
            ErrorKind::PermissionDenied => Cause::Permission,
            ErrorKind::ConnectionRefused => Cause::Refused,
            ErrorKind::TimedOut => Cause::Timeout,
            ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable | ErrorKind::AddrNotAvailable => {
                Cause::Unreachable
            }
            _ => Cause::Io,
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A verdict with the reason a person reads, and for fail and error the cause.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub cause: Option<Cause>,
    pub reason: String,
}

impl Outcome {
    pub fn pass(reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Pass, cause: None, reason: reason.into() }
    }

    pub fn fail(cause: Cause, reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Fail, cause: Some(cause), reason: reason.into() }
    }

    pub fn error(cause: Cause, reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Error, cause: Some(cause), reason: reason.into() }
    }

    /// Pass when `ok`, else fail with `cause`; the reason is the same either way because it
    /// states the measured value and the wanted one.
    pub fn decide(ok: bool, cause: Cause, reason: String) -> Self {
        if ok {
            Outcome::pass(reason)
        } else {
            Outcome::fail(cause, reason)
        }
    }
}

/// Whether a family is a gauge or a histogram.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MetricKind {
    Gauge,
    Histogram,
}

/// A value metric family that a check family exports besides the item verdicts. Families are
/// declared once as statics so that HELP text and the metric reference in `docs/metrics.md`
/// stay one list.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MetricFamily {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: MetricKind,
}

/// A histogram as exposed: per-bucket counts (not cumulative) by upper bound, sum and count,
/// accumulated since the check started (Prometheus computes rates and quantiles from them).
#[derive(Clone, Debug, PartialEq)]
pub struct HistogramValue {
    pub buckets: Vec<(f64, u64)>,
    pub sum: f64,
    pub count: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum SampleValue {
    Gauge(f64),
    Histogram(HistogramValue),
}

/// One sample of a value family. Label values are bounded by the config (paths, addresses).
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub family: &'static MetricFamily,
    pub labels: Vec<(&'static str, String)>,
    pub value: SampleValue,
}

impl Sample {
    /// A gauge sample; `family` must be a gauge family.
    pub fn new(family: &'static MetricFamily, value: f64) -> Self {
        debug_assert_eq!(family.kind, MetricKind::Gauge, "{} is not a gauge", family.name);
        Sample { family, labels: Vec::new(), value: SampleValue::Gauge(value) }
    }

    /// A histogram sample; `family` must be a histogram family.
    pub fn histogram(family: &'static MetricFamily, value: HistogramValue) -> Self {
        debug_assert_eq!(family.kind, MetricKind::Histogram, "{} is not a histogram", family.name);
        Sample { family, labels: Vec::new(), value: SampleValue::Histogram(value) }
    }

    /// The value of a gauge sample (tests and reasons read it).
    pub fn gauge_value(&self) -> Option<f64> {
        match self.value {
            SampleValue::Gauge(v) => Some(v),
            SampleValue::Histogram(_) => None,
        }
    }

    /// Adds a label. Values longer than [`MAX_LABEL_VALUE_BYTES`] are cut (at a character
    /// boundary, marked with `…`): some come from the target (a server's version string), and a
    /// hostile target must not be able to make every scrape megabytes long.
    pub fn label(mut self, name: &'static str, value: impl Into<String>) -> Self {
        let mut value = value.into();
        if value.len() > MAX_LABEL_VALUE_BYTES {
            let mut end = MAX_LABEL_VALUE_BYTES - '…'.len_utf8();
            while !value.is_char_boundary(end) {
                end -= 1;
            }
            value.truncate(end);
            value.push('…');
        }
        self.labels.push((name, value));
        self
    }
}

/// The longest label value a sample carries, in bytes.
pub const MAX_LABEL_VALUE_BYTES: usize = 256;

/// What one run of a check found: a verdict per aspect it could decide, and value samples.
#[derive(Debug, Default)]
pub struct Report {
    pub aspects: Vec<(&'static str, Outcome)>,
    pub samples: Vec<Sample>,
}

impl Report {
    pub fn with(mut self, aspect: &'static str, outcome: Outcome) -> Self {
        self.aspects.push((aspect, outcome));
        self
    }

    pub fn sample(mut self, sample: Sample) -> Self {
        self.samples.push(sample);
        self
    }

    pub fn outcome(&self, aspect: &str) -> Option<&Outcome> {
        self.aspects.iter().find(|(name, _)| *name == aspect).map(|(_, o)| o)
    }
}

/// A probe that could not be made at all (the path is missing, the name does not resolve):
/// every item bound to the check gets this as an error verdict.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeFailure {
    pub cause: Cause,
    pub reason: String,
}

impl ProbeFailure {
    pub fn new(cause: Cause, reason: impl Into<String>) -> Self {
        ProbeFailure { cause, reason: reason.into() }
    }
}

pub type CheckResult = Result<Report, ProbeFailure>;

/// Counts blocking operations of one check that are still running. A `statvfs` on a hung NFS
/// mount cannot be cancelled; the scheduler's timeout gives up on it, and the next evaluation
/// sees it still running and reports `stuck` instead of piling up another blocked thread.
#[derive(Clone, Debug, Default)]
pub struct BlockingTracker(Arc<AtomicUsize>);

impl BlockingTracker {
    pub fn in_flight(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }

    /// Runs `work` on tokio's blocking pool, counted until it returns (even after its caller
    /// has timed out and gone).
    pub fn run<T, F>(&self, work: F) -> impl Future<Output = Result<T, ProbeFailure>> + use<T, F>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        struct Guard(Arc<AtomicUsize>);
        impl Drop for Guard {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.0.fetch_add(1, Ordering::SeqCst);
        let guard = Guard(self.0.clone());
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

/// State a check keeps from one evaluation to the next: a reused database connection, a
/// rolling latency window, cumulative histogram buckets. One slot per running check; a reload
/// that changes the check starts it with a fresh slot. The slot holds one value of whatever type
/// the check asks for, created with `Default` on first use.
#[derive(Clone, Default)]
pub struct CheckMemory(Arc<tokio::sync::Mutex<Option<Box<dyn Any + Send>>>>);

impl fmt::Debug for CheckMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckMemory")
    }
}

impl CheckMemory {
    /// Locks the slot as a `T`. Held across awaits, so one evaluation of a check at a time
    /// owns its state (the scheduler never overlaps evaluations of one check anyway).
    pub async fn lock<T: Default + Send + 'static>(&self) -> tokio::sync::MappedMutexGuard<'_, T> {
        let mut guard = self.0.lock().await;
        if !guard.as_ref().is_some_and(|state| state.is::<T>()) {
            *guard = Some(Box::new(T::default()));
        }
        tokio::sync::MutexGuard::map(guard, |slot| {
            slot.as_mut().and_then(|state| state.downcast_mut::<T>()).expect("the slot was just filled with a T")
        })
    }
}

/// What a running check may use from its surroundings.
#[derive(Clone, Debug, Default)]
pub struct CheckContext {
    pub blocking: BlockingTracker,
    pub memory: CheckMemory,
}

/// Every kind of check a config may name. The exhaustive matches below force a new kind to be
/// wired into validation, scheduling and the docs.
#[derive(Clone, Debug, PartialEq)]
pub enum CheckKind {
    Cpu(system::CpuCheck),
    Memory(system::MemoryCheck),
    Disk(system::DiskCheck),
    TcpPort(network::TcpPortCheck),
    Dns(network::DnsCheck),
    // Boxed: its many thresholds would make every variant as large as it.
    Postgres(Box<postgres::PostgresCheck>),
    Pgbouncer(postgres::PgbouncerCheck),
    Tls(tls::TlsCheck),
    TlsCertFile(tls::TlsCertFileCheck),
    Http(http::HttpCheck),
    HttpHeaders(http::HttpHeadersCheck),
    HttpsRedirect(http::HttpsRedirectCheck),
    Cors(http::CorsCheck),
    HttpRestricted(http::HttpRestrictedCheck),
    MetricsEndpoint(http::MetricsEndpointCheck),
    Backup(backup::BackupCheck),
    BackupIntegrity(backup::BackupIntegrityCheck),
    Attested(attested::AttestedCheck),
    Command(command::CommandCheck),
    EnvRule(env::EnvRuleCheck),
    AppEnv(env::AppEnvCheck),
    JsonLog(files::JsonLogCheck),
    DirUsage(files::DirUsageCheck),
    Permissions(files::PermissionsCheck),
    Directories(files::DirectoriesCheck),
    Group(group::GroupCheck),
    Prometheus(prometheus::PrometheusCheck),
    Alertmanager(prometheus::AlertmanagerCheck),
}

/// All kind names, for error messages and docs.
pub const KIND_NAMES: &[&str] = &[
    "cpu",
    "memory",
    "disk",
    "tcp_port",
    "dns",
    "postgres",
    "pgbouncer",
    "tls",
    "tls_cert_file",
    "http",
    "http_headers",
    "https_redirect",
    "cors",
    "http_restricted",
    "metrics_endpoint",
    "backup",
    "backup_integrity",
    "directories",
    "permissions",
    "dir_usage",
    "json_log",
    "app_env",
    "env_rule",
    "command",
    "attested",
    "group",
    "prometheus",
    "alertmanager",
];

/// Every value gauge family any kind may export, for `docs/metrics.md` and its test.
pub fn all_families() -> Vec<&'static MetricFamily> {
    [
        system::CpuCheck::FAMILIES,
        system::MemoryCheck::FAMILIES,
        system::DiskCheck::FAMILIES,
        network::TcpPortCheck::FAMILIES,
        network::DnsCheck::FAMILIES,
        postgres::PostgresCheck::FAMILIES,
        postgres::PgbouncerCheck::FAMILIES,
        tls::TlsCheck::FAMILIES,
        tls::TlsCertFileCheck::FAMILIES,
        http::HttpCheck::FAMILIES,
        http::HttpHeadersCheck::FAMILIES,
        http::HttpsRedirectCheck::FAMILIES,
        http::CorsCheck::FAMILIES,
        http::HttpRestrictedCheck::FAMILIES,
        http::MetricsEndpointCheck::FAMILIES,
        backup::BackupCheck::FAMILIES,
        backup::BackupIntegrityCheck::FAMILIES,
        files::DirUsageCheck::FAMILIES,
        env::AppEnvCheck::FAMILIES,
        command::CommandCheck::FAMILIES,
        attested::AttestedCheck::FAMILIES,
        prometheus::PrometheusCheck::FAMILIES,
        prometheus::AlertmanagerCheck::FAMILIES,
    ]
    .concat()
}

impl CheckKind {
    /// Decodes the parameters of a check of kind `kind` (the table without `kind` and the
    /// scheduling keys). Decoding straight into the kind's struct keeps the key in error messages.
    pub fn decode(kind: &str, params: toml::Value) -> Result<CheckKind, String> {
        use crate::config::decode_value as decode_as;
        Ok(match kind {
            "cpu" => CheckKind::Cpu(decode_as(params)?),
            "memory" => CheckKind::Memory(decode_as(params)?),
            "disk" => CheckKind::Disk(decode_as(params)?),
            "tcp_port" => CheckKind::TcpPort(decode_as(params)?),
            "dns" => CheckKind::Dns(decode_as(params)?),
            "postgres" => CheckKind::Postgres(decode_as(params)?),
            "pgbouncer" => CheckKind::Pgbouncer(decode_as(params)?),
            "tls" => CheckKind::Tls(decode_as(params)?),
            "tls_cert_file" => CheckKind::TlsCertFile(decode_as(params)?),
            "http" => CheckKind::Http(decode_as(params)?),
            "http_headers" => CheckKind::HttpHeaders(decode_as(params)?),
            "https_redirect" => CheckKind::HttpsRedirect(decode_as(params)?),
            "cors" => CheckKind::Cors(decode_as(params)?),
            "http_restricted" => CheckKind::HttpRestricted(decode_as(params)?),
            "metrics_endpoint" => CheckKind::MetricsEndpoint(decode_as(params)?),
            "backup" => CheckKind::Backup(decode_as(params)?),
            "backup_integrity" => CheckKind::BackupIntegrity(decode_as(params)?),
            "attested" => CheckKind::Attested(decode_as(params)?),
            "command" => CheckKind::Command(decode_as(params)?),
            "env_rule" => CheckKind::EnvRule(decode_as(params)?),
            "app_env" => CheckKind::AppEnv(decode_as(params)?),
            "json_log" => CheckKind::JsonLog(decode_as(params)?),
            "dir_usage" => CheckKind::DirUsage(decode_as(params)?),
            "permissions" => CheckKind::Permissions(decode_as(params)?),
            "directories" => CheckKind::Directories(decode_as(params)?),
            "group" => CheckKind::Group(decode_as(params)?),
            "prometheus" => CheckKind::Prometheus(decode_as(params)?),
            "alertmanager" => CheckKind::Alertmanager(decode_as(params)?),
            other => return Err(format!("kind: unknown kind `{other}`; one of {}", KIND_NAMES.join(", "))),
        })
    }

    pub fn name(&self) -> &'static str {
        match self {
            CheckKind::Cpu(_) => "cpu",
            CheckKind::Memory(_) => "memory",
            CheckKind::Disk(_) => "disk",
            CheckKind::TcpPort(_) => "tcp_port",
            CheckKind::Dns(_) => "dns",
            CheckKind::Postgres(_) => "postgres",
            CheckKind::Pgbouncer(_) => "pgbouncer",
            CheckKind::Tls(_) => "tls",
            CheckKind::TlsCertFile(_) => "tls_cert_file",
            CheckKind::Http(_) => "http",
            CheckKind::HttpHeaders(_) => "http_headers",
            CheckKind::HttpsRedirect(_) => "https_redirect",
            CheckKind::Cors(_) => "cors",
            CheckKind::HttpRestricted(_) => "http_restricted",
            CheckKind::MetricsEndpoint(_) => "metrics_endpoint",
            CheckKind::Backup(_) => "backup",
            CheckKind::BackupIntegrity(_) => "backup_integrity",
            CheckKind::Attested(_) => "attested",
            CheckKind::Command(_) => "command",
            CheckKind::EnvRule(_) => "env_rule",
            CheckKind::AppEnv(_) => "app_env",
            CheckKind::JsonLog(_) => "json_log",
            CheckKind::DirUsage(_) => "dir_usage",
            CheckKind::Permissions(_) => "permissions",
            CheckKind::Directories(_) => "directories",
            CheckKind::Group(_) => "group",
            CheckKind::Prometheus(_) => "prometheus",
            CheckKind::Alertmanager(_) => "alertmanager",
        }
    }

    /// The aspects this kind can decide, the first being the one an item gets when it names none.
    pub fn aspects(&self) -> &'static [&'static str] {
        match self {
            CheckKind::Cpu(_) => system::CpuCheck::ASPECTS,
            CheckKind::Memory(_) => system::MemoryCheck::ASPECTS,
            CheckKind::Disk(_) => system::DiskCheck::ASPECTS,
            CheckKind::TcpPort(_) => network::TcpPortCheck::ASPECTS,
            CheckKind::Dns(_) => network::DnsCheck::ASPECTS,
            CheckKind::Postgres(_) => postgres::PostgresCheck::ASPECTS,
            CheckKind::Pgbouncer(_) => postgres::PgbouncerCheck::ASPECTS,
            CheckKind::Tls(_) => tls::TlsCheck::ASPECTS,
            CheckKind::TlsCertFile(_) => tls::TlsCertFileCheck::ASPECTS,
            CheckKind::Http(_) => http::HttpCheck::ASPECTS,
            CheckKind::HttpHeaders(_) => http::HttpHeadersCheck::ASPECTS,
            CheckKind::HttpsRedirect(_) => http::HttpsRedirectCheck::ASPECTS,
            CheckKind::Cors(_) => http::CorsCheck::ASPECTS,
            CheckKind::HttpRestricted(_) => http::HttpRestrictedCheck::ASPECTS,
            CheckKind::MetricsEndpoint(_) => http::MetricsEndpointCheck::ASPECTS,
            CheckKind::Backup(_) => backup::BackupCheck::ASPECTS,
            CheckKind::BackupIntegrity(_) => backup::BackupIntegrityCheck::ASPECTS,
            CheckKind::Attested(_) => attested::AttestedCheck::ASPECTS,
            CheckKind::Command(_) => command::CommandCheck::ASPECTS,
            CheckKind::EnvRule(_) => env::EnvRuleCheck::ASPECTS,
            CheckKind::AppEnv(_) => env::AppEnvCheck::ASPECTS,
            CheckKind::JsonLog(_) => files::JsonLogCheck::ASPECTS,
            CheckKind::DirUsage(_) => files::DirUsageCheck::ASPECTS,
            CheckKind::Permissions(_) => files::PermissionsCheck::ASPECTS,
            CheckKind::Directories(_) => files::DirectoriesCheck::ASPECTS,
            CheckKind::Group(_) => group::GroupCheck::ASPECTS,
            CheckKind::Prometheus(_) => prometheus::PrometheusCheck::ASPECTS,
            CheckKind::Alertmanager(_) => prometheus::AlertmanagerCheck::ASPECTS,
        }
    }

    /// Checks the parameters on their own and against the aspects items bind to.
    /// The error names the offending key.
    pub fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        match self {
            CheckKind::Cpu(c) => c.validate(aspect),
            CheckKind::Memory(c) => c.validate(aspect),
            CheckKind::Disk(c) => c.validate(aspect),
            CheckKind::TcpPort(c) => c.validate(aspect),
            CheckKind::Dns(c) => c.validate(aspect),
            CheckKind::Postgres(c) => c.validate(aspect),
            CheckKind::Pgbouncer(c) => c.validate(aspect),
            CheckKind::Tls(c) => c.validate(aspect),
            CheckKind::TlsCertFile(c) => c.validate(aspect),
            CheckKind::Http(c) => c.validate(aspect),
            CheckKind::HttpHeaders(c) => c.validate(aspect),
            CheckKind::HttpsRedirect(c) => c.validate(aspect),
            CheckKind::Cors(c) => c.validate(aspect),
            CheckKind::HttpRestricted(c) => c.validate(aspect),
            CheckKind::MetricsEndpoint(c) => c.validate(aspect),
            CheckKind::Backup(c) => c.validate(aspect),
            CheckKind::BackupIntegrity(c) => c.validate(aspect),
            CheckKind::Attested(c) => c.validate(aspect),
            CheckKind::Command(c) => c.validate(aspect),
            CheckKind::EnvRule(c) => c.validate(aspect),
            CheckKind::AppEnv(c) => c.validate(aspect),
            CheckKind::JsonLog(c) => c.validate(aspect),
            CheckKind::DirUsage(c) => c.validate(aspect),
            CheckKind::Permissions(c) => c.validate(aspect),
            CheckKind::Directories(c) => c.validate(aspect),
            CheckKind::Group(c) => c.validate(aspect),
            CheckKind::Prometheus(c) => c.validate(aspect),
            CheckKind::Alertmanager(c) => c.validate(aspect),
        }
    }

    /// What the check looks at; two checks of one kind on the same target would export the same
    /// series twice, so the config refuses that and asks for more items on one check instead.
    pub fn target(&self) -> String {
        match self {
            CheckKind::Cpu(_) | CheckKind::Memory(_) => String::new(),
            CheckKind::Disk(c) => c.path.display().to_string(),
            CheckKind::TcpPort(c) => c.address.clone(),
            CheckKind::Dns(c) => c.name.clone(),
            CheckKind::Postgres(c) => c.target(),
            CheckKind::Pgbouncer(c) => c.target(),
            CheckKind::Tls(c) => c.target(),
            CheckKind::TlsCertFile(c) => c.target(),
            CheckKind::Http(c) => crate::secret::mask_url(&c.url),
            CheckKind::HttpHeaders(c) => crate::secret::mask_url(&c.url),
            CheckKind::HttpsRedirect(c) => crate::secret::mask_url(&c.url),
            // One URL may be asked with several foreign origins.
            CheckKind::Cors(c) => format!("{} (origin {})", crate::secret::mask_url(&c.url), c.origin),
            CheckKind::HttpRestricted(c) => crate::secret::mask_url(&c.url),
            CheckKind::MetricsEndpoint(c) => crate::secret::mask_url(&c.url),
            // Series carry the set name, so two sets may share a directory.
            CheckKind::Backup(c) => c.set.clone(),
            CheckKind::BackupIntegrity(c) => c.set.clone(),
            CheckKind::Attested(c) => c.item_id.clone(),
            CheckKind::Command(c) => c.display(),
            CheckKind::EnvRule(c) => format!("{} {}", c.source().describe(), c.key),
            CheckKind::AppEnv(c) => c.source().describe(),
            // Kinds without value series may check one path several ways.
            CheckKind::JsonLog(c) => format!("{} (last {} lines)", c.path.display(), c.lines),
            CheckKind::DirUsage(c) => c.path.display().to_string(),
            CheckKind::Permissions(c) => match c.uid {
                Some(uid) => format!("{} for uid {uid}", c.path.display()),
                None => c.path.display().to_string(),
            },
            CheckKind::Directories(c) => c.root.display().to_string(),
            // Groups export no series, so two may share members (two sign-off lines over one
            // set of items); the config does not compare their targets.
            CheckKind::Group(c) => match c.members.len() {
                1 => "of 1 item".to_string(),
                n => format!("of {n} items"),
            },
            // Several checks may ask one server different questions.
            CheckKind::Prometheus(c) => c.target(),
            CheckKind::Alertmanager(c) => c.target(),
        }
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

    /// The value gauge families this kind may export.
    pub fn families(&self) -> &'static [&'static MetricFamily] {
        match self {
            CheckKind::Cpu(_) => system::CpuCheck::FAMILIES,
            CheckKind::Memory(_) => system::MemoryCheck::FAMILIES,
            CheckKind::Disk(_) => system::DiskCheck::FAMILIES,
            CheckKind::TcpPort(_) => network::TcpPortCheck::FAMILIES,
            CheckKind::Dns(_) => network::DnsCheck::FAMILIES,
            CheckKind::Postgres(_) => postgres::PostgresCheck::FAMILIES,
            CheckKind::Pgbouncer(_) => postgres::PgbouncerCheck::FAMILIES,
            CheckKind::Tls(_) => tls::TlsCheck::FAMILIES,
            CheckKind::TlsCertFile(_) => tls::TlsCertFileCheck::FAMILIES,
            CheckKind::Http(_) => http::HttpCheck::FAMILIES,
            CheckKind::HttpHeaders(_) => http::HttpHeadersCheck::FAMILIES,
            CheckKind::HttpsRedirect(_) => http::HttpsRedirectCheck::FAMILIES,
            CheckKind::Cors(_) => http::CorsCheck::FAMILIES,
            CheckKind::HttpRestricted(_) => http::HttpRestrictedCheck::FAMILIES,
            CheckKind::MetricsEndpoint(_) => http::MetricsEndpointCheck::FAMILIES,
            CheckKind::Backup(_) => backup::BackupCheck::FAMILIES,
            CheckKind::BackupIntegrity(_) => backup::BackupIntegrityCheck::FAMILIES,
            CheckKind::Attested(_) => attested::AttestedCheck::FAMILIES,
            CheckKind::Command(_) => command::CommandCheck::FAMILIES,
            CheckKind::EnvRule(_) => env::EnvRuleCheck::FAMILIES,
            CheckKind::AppEnv(_) => env::AppEnvCheck::FAMILIES,
            CheckKind::JsonLog(_) => files::JsonLogCheck::FAMILIES,
            CheckKind::DirUsage(_) => files::DirUsageCheck::FAMILIES,
            CheckKind::Permissions(_) => files::PermissionsCheck::FAMILIES,
            CheckKind::Directories(_) => files::DirectoriesCheck::FAMILIES,
            CheckKind::Group(_) => group::GroupCheck::FAMILIES,
            CheckKind::Prometheus(_) => prometheus::PrometheusCheck::FAMILIES,
            CheckKind::Alertmanager(_) => prometheus::AlertmanagerCheck::FAMILIES,
        }
    }

    pub async fn run(&self, ctx: &CheckContext) -> CheckResult {
        match self {
            CheckKind::Cpu(c) => c.run(ctx).await,
            CheckKind::Memory(c) => c.run(ctx).await,
            CheckKind::Disk(c) => c.run(ctx).await,
            CheckKind::TcpPort(c) => c.run(ctx).await,
            CheckKind::Dns(c) => c.run(ctx).await,
            CheckKind::Postgres(c) => c.run(ctx).await,
            CheckKind::Pgbouncer(c) => c.run(ctx).await,
            CheckKind::Tls(c) => c.run(ctx).await,
            CheckKind::TlsCertFile(c) => c.run(ctx).await,
            CheckKind::Http(c) => c.run(ctx).await,
            CheckKind::HttpHeaders(c) => c.run(ctx).await,
            CheckKind::HttpsRedirect(c) => c.run(ctx).await,
            CheckKind::Cors(c) => c.run(ctx).await,
            CheckKind::HttpRestricted(c) => c.run(ctx).await,
            CheckKind::MetricsEndpoint(c) => c.run(ctx).await,
            CheckKind::Backup(c) => c.run(ctx).await,
            CheckKind::BackupIntegrity(c) => c.run(ctx).await,
            CheckKind::Attested(c) => c.run(ctx).await,
            CheckKind::Command(c) => c.run(ctx).await,
            CheckKind::EnvRule(c) => c.run(ctx).await,
            CheckKind::AppEnv(c) => c.run(ctx).await,
            CheckKind::JsonLog(c) => c.run(ctx).await,
            CheckKind::DirUsage(c) => c.run(ctx).await,
            CheckKind::Permissions(c) => c.run(ctx).await,
            CheckKind::Directories(c) => c.run(ctx).await,
            CheckKind::Group(c) => c.run(ctx).await,
            CheckKind::Prometheus(c) => c.run(ctx).await,
            CheckKind::Alertmanager(c) => c.run(ctx).await,
        }
    }
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
    fn long_label_values_are_cut_at_a_character_boundary() {
        let long = "é".repeat(400);
        let sample = Sample::new(&system::HOST_CPU_CORES, 1.0).label("version", long);
        let value = &sample.labels[0].1;
        assert!(value.len() <= MAX_LABEL_VALUE_BYTES && value.ends_with('…'), "{} bytes", value.len());
        let short = Sample::new(&system::HOST_CPU_CORES, 1.0).label("version", "15.4");
        assert_eq!(short.labels[0].1, "15.4");
    }
}
