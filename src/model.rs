//! The verdict model, the floor every layer stands on: what a check can say about an item
//! ([`Verdict`], [`Cause`], [`Outcome`]), what one run of a check found ([`Report`] or
//! [`ProbeFailure`]), and the value samples it exports besides ([`Sample`] of a
//! [`MetricFamily`]). The checks produce these; the store, the scheduler, the exposition, the
//! page and the reports read them. This module knows no check family and imports nothing of
//! the crate.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The three answers a check can give about one aspect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// The thing a verdict is about, named structurally (not by its reason's wording) so that
/// failing verdicts about the same thing can be gathered into one root cause: one unset
/// variable, one missing file, one unreachable endpoint blocks many items, and fixing it once
/// clears them all. Values are what the config names (a path, a variable, `host:port`), never a
/// secret: a URL is kept without its user information and query.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
pub enum Subject {
    /// A file or directory, by absolute path.
    Path(String),
    /// An environment variable (of the daemon or of an env file), by name.
    Variable(String),
    /// A network endpoint, `host:port`.
    Endpoint(String),
    /// A URL, without user information or query.
    Url(String),
    /// A database, by its masked connection target (`host:port/dbname`).
    Database(String),
    /// An external program a check runs, by name.
    Tool(String),
    /// A person's attestation, by item id.
    Attestation(String),
}

impl Subject {
    /// The kind as a word (`path`, `variable`, ...), for labels and text.
    pub fn kind(&self) -> &'static str {
        match self {
            Subject::Path(_) => "path",
            Subject::Variable(_) => "variable",
            Subject::Endpoint(_) => "endpoint",
            Subject::Url(_) => "url",
            Subject::Database(_) => "database",
            Subject::Tool(_) => "tool",
            Subject::Attestation(_) => "attestation",
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Subject::Path(name)
            | Subject::Variable(name)
            | Subject::Endpoint(name)
            | Subject::Url(name)
            | Subject::Database(name)
            | Subject::Tool(name)
            | Subject::Attestation(name) => name,
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.name())
    }
}

/// A verdict with the reason a person reads, for fail and error the cause, and when known the
/// thing it is about.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    pub verdict: Verdict,
    pub cause: Option<Cause>,
    pub reason: String,
    /// Boxed: only an item that does not pass names one, and the store keeps an outcome for
    /// every item (inline, 24 bytes more each; docs/benchmarks.md, "Scale", round 7).
    pub subject: Option<Box<Subject>>,
}

impl Outcome {
    pub fn pass(reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Pass, cause: None, reason: reason.into(), subject: None }
    }

    pub fn fail(cause: Cause, reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Fail, cause: Some(cause), reason: reason.into(), subject: None }
    }

    pub fn error(cause: Cause, reason: impl Into<String>) -> Self {
        Outcome { verdict: Verdict::Error, cause: Some(cause), reason: reason.into(), subject: None }
    }

    /// Names the thing this verdict is about (see [`Subject`]).
    pub fn about(mut self, subject: Subject) -> Self {
        self.subject = Some(Box::new(subject));
        self
    }

    /// The thing this verdict is about, when known.
    pub fn subject(&self) -> Option<&Subject> {
        self.subject.as_deref()
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
    /// The thing that could not be probed, when known (see [`Subject`]).
    pub subject: Option<Subject>,
}

impl ProbeFailure {
    pub fn new(cause: Cause, reason: impl Into<String>) -> Self {
        ProbeFailure { cause, reason: reason.into(), subject: None }
    }

    /// Names the thing that could not be probed.
    pub fn about(mut self, subject: Subject) -> Self {
        self.subject = Some(subject);
        self
    }
}

pub type CheckResult = Result<Report, ProbeFailure>;

#[cfg(test)]
mod tests {
    use super::*;

    static CORES: MetricFamily = MetricFamily { name: "checklist_test_cores", help: "Cores.", kind: MetricKind::Gauge };

    #[test]
    fn long_label_values_are_cut_at_a_character_boundary() {
        let long = "é".repeat(400);
        let sample = Sample::new(&CORES, 1.0).label("version", long);
        let value = &sample.labels[0].1;
        assert!(value.len() <= MAX_LABEL_VALUE_BYTES && value.ends_with('…'), "{} bytes", value.len());
        let short = Sample::new(&CORES, 1.0).label("version", "15.4");
        assert_eq!(short.labels[0].1, "15.4");
    }
}
