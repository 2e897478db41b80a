//! Environment and secrets: an env file in dotenv syntax, or the environment of a running
//! process (`/proc/PID/environ`, the PID from a pidfile).
//!
//! `app_env` decides the application's settings (the D&D story app's keys); `env_rule` checks
//! one key of any env file against a generic rule. Every value is a [`Secret`]: reasons about
//! secret keys speak of lengths and properties only, and reasons about plain settings show
//! their value only for keys that are not secrets.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{compile_regex, subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::dotenv::{self, EnvFile};
use crate::support::secret::Secret;
use crate::support::text::excerpt;
use crate::support::url::{Authority, Reading};

pub static ENV_ENTRIES: MetricFamily = MetricFamily {
    name: "checklist_env_entries",
    help: "Number of KEY=VALUE entries read from the env file or process environment.",
    kind: MetricKind::Gauge,
};
pub static ENV_PROBLEM_LINES: MetricFamily = MetricFamily {
    name: "checklist_env_problem_lines",
    help: "Lines of the env file that are not entries, comments or blank.",
    kind: MetricKind::Gauge,
};

/// Env files are small; anything bigger is not one.
const MAX_ENV_BYTES: u64 = 1 << 20;

/// Where the variables come from: exactly one of `file` and `pidfile`.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvSource {
    pub file: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
}

impl EnvSource {
    fn validate(&self) -> Result<(), KeyError> {
        match (&self.file, &self.pidfile) {
            (Some(_), Some(_)) => Err(KeyError::new("file", "give either `file` or `pidfile`, not both")),
            (None, None) => {
                Err(KeyError::new("file", "missing; give `file` (an env file) or `pidfile` (a running process)"))
            }
            (Some(path), None) | (None, Some(path)) if !path.is_absolute() => Err(KeyError::new(
                if self.file.is_some() { "file" } else { "pidfile" },
                format!("`{}` is not an absolute path", path.display()),
            )),
            _ => Ok(()),
        }
    }

    /// `/opt/app/.env` or `pid of /run/app.pid`: the target and the `source` label.
    pub fn describe(&self) -> String {
        match (&self.file, &self.pidfile) {
            (Some(file), _) => file.display().to_string(),
            (None, Some(pidfile)) => format!("pid of {}", pidfile.display()),
            (None, None) => String::new(),
        }
    }

    async fn read(&self, ctx: &CheckContext) -> Result<EnvFile, ProbeFailure> {
        let source = self.clone();
        // Every key read from a file that cannot be read is about that file, not each key.
        let file = self.file.clone().or_else(|| self.pidfile.clone()).unwrap_or_default();
        ctx.blocking().run(move || source.read_blocking()).await?.map_err(|failure| match failure.subject {
            Some(_) => failure,
            None => failure.about(subject::path(&file)),
        })
    }

    fn read_blocking(&self) -> Result<EnvFile, ProbeFailure> {
        if let Some(file) = &self.file {
            let bytes = read_bounded(file, "env file")?;
            if bytes.is_empty() {
                return Err(ProbeFailure::new(
                    Cause::Missing,
                    format!("env file {} is empty (0 bytes)", file.display()),
                ));
            }
            let parsed = dotenv::parse(&String::from_utf8_lossy(&bytes));
            if parsed.entries.is_empty() {
                let first =
                    parsed.problems.first().map(|p| format!("; line {}: {}", p.line, p.message)).unwrap_or_default();
                return Err(ProbeFailure::new(
                    Cause::Invalid,
                    format!(
                        "env file {} holds no KEY=VALUE entries (binary or not an env file?){first}",
                        file.display()
                    ),
                ));
            }
            return Ok(parsed);
        }
        let pidfile = self.pidfile.as_deref().unwrap_or(Path::new(""));
        let text = read_bounded(pidfile, "pidfile")?;
        let pid: u32 = String::from_utf8_lossy(&text).trim().parse().map_err(|_| {
            ProbeFailure::new(Cause::Invalid, format!("pidfile {} does not hold a process id", pidfile.display()))
        })?;
        let environ = PathBuf::from(format!("/proc/{pid}/environ"));
        let bytes = std::fs::read(&environ).map_err(|err| {
            let why = match err.kind() {
                std::io::ErrorKind::NotFound => format!("process {pid} (from {}) is not running", pidfile.display()),
                std::io::ErrorKind::PermissionDenied => {
                    format!("cannot read the environment of process {pid}: permission denied (run as its user or root)")
                }
                _ => format!("cannot read the environment of process {pid}: {err}"),
            };
            ProbeFailure::new(Cause::from_io(&err), why)
        })?;
        Ok(dotenv::parse_environ(&bytes))
    }
}

fn read_bounded(path: &Path, what: &str) -> Result<Vec<u8>, ProbeFailure> {
    use std::io::Read;
    let failure = |err: std::io::Error| {
        let why = match err.raw_os_error() {
            Some(libc::ELOOP) => "a symbolic link loop".to_string(),
            Some(libc::EISDIR) => "it is a directory".to_string(),
            _ => match err.kind() {
                std::io::ErrorKind::NotFound => "it does not exist".to_string(),
                std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
                _ => err.to_string(),
            },
        };
        ProbeFailure::new(Cause::from_io(&err), format!("cannot read {what} {}: {why}", path.display()))
    };
    let file = std::fs::File::open(path).map_err(failure)?;
    let metadata = file.metadata().map_err(failure)?;
    if metadata.is_dir() {
        return Err(ProbeFailure::new(
            Cause::Invalid,
            format!("cannot read {what} {}: it is a directory", path.display()),
        ));
    }
    if metadata.len() > MAX_ENV_BYTES {
        return Err(ProbeFailure::new(
            Cause::Invalid,
            format!("{what} {} has {} bytes; an env file has at most {MAX_ENV_BYTES}", path.display(), metadata.len()),
        ));
    }
    let mut bytes = Vec::new();
    file.take(MAX_ENV_BYTES).read_to_end(&mut bytes).map_err(failure)?;
    Ok(bytes)
}

fn source_samples(source: &str, env: &EnvFile) -> Vec<Sample> {
    vec![
        Sample::new(&ENV_ENTRIES, env.entries.len() as f64).label("source", source),
        Sample::new(&ENV_PROBLEM_LINES, env.problems.len() as f64).label("source", source),
    ]
}

/// A value of a non-secret setting, shortened and quoted for a reason.
fn shown(value: &Secret) -> String {
    format!("`{}`", excerpt(value.expose(), 80))
}

fn missing(key: &str) -> Outcome {
    Outcome::fail(Cause::Missing, format!("{key} is not set")).about(Subject::Variable(key.to_string()))
}

fn default_required_keys() -> Vec<String> {
    ["SECRET_KEY", "DATABASE_URL", "OPENAI_API_KEY", "ALLOWED_HOSTS", "CORS_ORIGINS", "ENVIRONMENT", "DEBUG"]
        .iter()
        .map(|k| k.to_string())
        .collect()
}
fn default_min_secret_key_chars() -> usize {
    32
}
fn default_min_secret_key_entropy_bits() -> f64 {
    128.0
}
fn default_min_database_password_chars() -> usize {
    20
}
fn default_environment() -> String {
    "production".to_string()
}
fn default_log_levels() -> Vec<String> {
    vec!["INFO".to_string(), "WARNING".to_string()]
}
fn default_workers_per_core() -> u32 {
    2
}
fn default_max_upload_bytes() -> u64 {
    52_428_800
}

/// `kind = "app_env"`: the application's settings, one aspect per checklist line.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppEnvCheck {
    /// An env file; or
    pub file: Option<PathBuf>,
    /// a pidfile naming a running process whose environment is read.
    pub pidfile: Option<PathBuf>,
    #[serde(default = "default_required_keys")]
    pub required_keys: Vec<String>,
    #[serde(default = "default_min_secret_key_chars")]
    pub min_secret_key_chars: usize,
    #[serde(default = "default_min_secret_key_entropy_bits")]
    pub min_secret_key_entropy_bits: f64,
    #[serde(default = "default_min_database_password_chars")]
    pub min_database_password_chars: usize,
    #[serde(default = "default_environment")]
    pub environment: String,
    #[serde(default = "default_log_levels")]
    pub log_levels: Vec<String>,
    #[serde(default = "default_workers_per_core")]
    pub workers_per_core: u32,
    /// An exact worker count instead of `workers_per_core` x cores.
    pub workers: Option<u32>,
    /// The production domain `ALLOWED_HOSTS` must include.
    pub production_domain: Option<String>,
    /// The production IP address `ALLOWED_HOSTS` must include, if any.
    pub production_ip: Option<String>,
    /// Domains CORS origins may be on (the domain or its subdomains); the production domain
    /// when not given.
    pub cors_domains: Option<Vec<String>>,
    #[serde(default = "default_max_upload_bytes")]
    pub max_upload_bytes: u64,
}

impl Check for AppEnvCheck {
    const KIND: &'static str = "app_env";
    const ASPECTS: &'static [&'static str] = &[
        "required_keys",
        "secret_key",
        "database_url",
        "debug",
        "environment",
        "log_level",
        "workers",
        "allowed_hosts",
        "cors_origins",
        "upload_max_size",
        "ssl_redirect",
        "openai_api_key",
        "syntax",
    ];
    const FAMILIES: &'static [&'static MetricFamily] = &[&ENV_ENTRIES, &ENV_PROBLEM_LINES];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        self.source().validate()?;
        match aspect {
            "allowed_hosts" => super::require(&self.production_domain, aspect, "production_domain"),
            "cors_origins" if self.cors_domains.is_none() => {
                super::require(&self.production_domain, aspect, "production_domain")
            }
            "required_keys" if self.required_keys.is_empty() => Err(KeyError::new("required_keys", "lists no keys")),
            "workers" if self.workers == Some(0) || self.workers_per_core == 0 => Err(KeyError::new(
                if self.workers == Some(0) { "workers" } else { "workers_per_core" },
                "must be at least 1",
            )),
            _ => Ok(()),
        }
    }

    fn target(&self) -> String {
        self.source().describe()
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let env = self.source().read(ctx).await?;
        let cores = std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1);
        Ok(self.decide(&env, cores))
    }
}

impl AppEnvCheck {
    pub fn source(&self) -> EnvSource {
        EnvSource { file: self.file.clone(), pidfile: self.pidfile.clone() }
    }

    pub fn decide(&self, env: &EnvFile, cores: u32) -> Report {
        let mut report = Report::default();
        for sample in source_samples(&self.source().describe(), env) {
            report = report.sample(sample);
        }
        let get = |key: &str| env.get(key);
        let absent: Vec<&str> =
            self.required_keys.iter().map(String::as_str).filter(|k| get(k).is_none_or(Secret::is_empty)).collect();
        let required = if absent.is_empty() {
            Outcome::pass(format!("all {} required keys are set", self.required_keys.len()))
        } else {
            Outcome::fail(Cause::Missing, format!("not set or empty: {}", absent.join(", ")))
        };
        let problems = if env.problems.is_empty() {
            String::new()
        } else {
            let lines: Vec<String> = env.problems.iter().map(|p| format!("line {}: {}", p.line, p.message)).collect();
            format!(" (unreadable lines: {})", lines.join("; "))
        };
        let required = Outcome { reason: format!("{}{problems}", required.reason), ..required };
        report = report.with("required_keys", required);
        report = report.with(
            "secret_key",
            get("SECRET_KEY").map_or_else(
                || missing("SECRET_KEY"),
                |v| {
                    let decided = decide_secret_key(v, self.min_secret_key_chars, self.min_secret_key_entropy_bits);
                    subject::unless_passing(decided, Subject::Variable("SECRET_KEY".into()))
                },
            ),
        );
        report = report.with(
            "database_url",
            get("DATABASE_URL").map_or_else(
                || missing("DATABASE_URL"),
                |v| {
                    let decided = decide_database_url(v, self.min_database_password_chars);
                    subject::unless_passing(decided, Subject::Variable("DATABASE_URL".into()))
                },
            ),
        );
        report =
            report.with("debug", get("DEBUG").map_or_else(|| missing("DEBUG"), |v| decide_flag("DEBUG", v, false)));
        report = report.with(
            "environment",
            get("ENVIRONMENT").map_or_else(
                || missing("ENVIRONMENT"),
                |v| {
                    Outcome::decide(
                        v.expose() == self.environment,
                        Cause::Mismatch,
                        format!("ENVIRONMENT is {}; want `{}`", shown(v), self.environment),
                    )
                },
            ),
        );
        report = report.with(
            "log_level",
            get("LOG_LEVEL").map_or_else(
                || missing("LOG_LEVEL"),
                |v| {
                    let ok = self.log_levels.iter().any(|l| l.eq_ignore_ascii_case(v.expose().trim()));
                    Outcome::decide(
                        ok,
                        Cause::Mismatch,
                        format!("LOG_LEVEL is {}; want one of {}", shown(v), self.log_levels.join(", ")),
                    )
                },
            ),
        );
        report = report
            .with("workers", get("WORKERS").map_or_else(|| missing("WORKERS"), |v| self.decide_workers(v, cores)));
        report = report.with(
            "allowed_hosts",
            get("ALLOWED_HOSTS").map_or_else(|| missing("ALLOWED_HOSTS"), |v| self.decide_allowed_hosts(v)),
        );
        report = report.with(
            "cors_origins",
            get("CORS_ORIGINS").map_or_else(|| missing("CORS_ORIGINS"), |v| decide_cors(v, &self.cors_domains())),
        );
        report = report.with(
            "upload_max_size",
            get("UPLOAD_MAX_SIZE").map_or_else(|| missing("UPLOAD_MAX_SIZE"), |v| self.decide_upload(v)),
        );
        report = report.with(
            "ssl_redirect",
            get("SECURE_SSL_REDIRECT")
                .map_or_else(|| missing("SECURE_SSL_REDIRECT"), |v| decide_flag("SECURE_SSL_REDIRECT", v, true)),
        );
        report
            .with("openai_api_key", get("OPENAI_API_KEY").map_or_else(|| missing("OPENAI_API_KEY"), decide_openai_key))
            .with("syntax", decide_syntax(&self.source().describe(), env))
    }

    fn cors_domains(&self) -> Vec<String> {
        self.cors_domains.clone().unwrap_or_else(|| self.production_domain.iter().cloned().collect())
    }

    fn decide_workers(&self, value: &Secret, cores: u32) -> Outcome {
        let Ok(workers) = value.expose().trim().parse::<u32>() else {
            return Outcome::fail(Cause::Invalid, format!("WORKERS is {}; want a whole number", shown(value)));
        };
        match self.workers {
            Some(want) => {
                Outcome::decide(workers == want, Cause::Mismatch, format!("WORKERS is {workers}; want {want}"))
            }
            None => {
                let want = self.workers_per_core.saturating_mul(cores);
                Outcome::decide(
                    workers >= want,
                    Cause::BelowMinimum,
                    format!(
                        "WORKERS is {workers}; want at least {want} ({} per core x {cores} cores)",
                        self.workers_per_core
                    ),
                )
            }
        }
    }

    fn decide_allowed_hosts(&self, value: &Secret) -> Outcome {
        let hosts = split_list(value.expose());
        let mut wanted: Vec<&str> = self.production_domain.iter().map(String::as_str).collect();
        wanted.extend(self.production_ip.iter().map(String::as_str));
        let absent: Vec<&str> =
            wanted.iter().copied().filter(|w| !hosts.iter().any(|h| h.eq_ignore_ascii_case(w))).collect();
        let reason = if absent.is_empty() {
            format!("ALLOWED_HOSTS ({} entries) includes {}", hosts.len(), wanted.join(" and "))
        } else {
            format!("ALLOWED_HOSTS ({} entries: {}) lacks {}", hosts.len(), shown(value), absent.join(" and "))
        };
        Outcome::decide(absent.is_empty(), Cause::Missing, reason)
    }

    fn decide_upload(&self, value: &Secret) -> Outcome {
        let Ok(bytes) = value.expose().trim().parse::<u64>() else {
            return Outcome::fail(
                Cause::Invalid,
                format!("UPLOAD_MAX_SIZE is {}; want a number of bytes", shown(value)),
            );
        };
        if bytes == 0 {
            return Outcome::fail(Cause::Invalid, "UPLOAD_MAX_SIZE is 0; uploads would all be refused");
        }
        Outcome::decide(
            bytes <= self.max_upload_bytes,
            Cause::AboveMaximum,
            format!("UPLOAD_MAX_SIZE is {bytes} bytes; want at most {}", self.max_upload_bytes),
        )
    }
}

/// Splits a list setting: comma separated, or a JSON array of strings.
pub fn split_list(text: &str) -> Vec<String> {
    let trimmed = text.trim();
    if trimmed.starts_with('[') {
        if let Ok(items) = serde_json::from_str::<Vec<String>>(trimmed) {
            return items.into_iter().map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
        }
    }
    trimmed.split([',', ' ']).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A boolean setting as Django and python-decouple read them.
pub fn parse_flag(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" | "t" | "y" => Some(true),
        "false" | "0" | "no" | "off" | "f" | "n" => Some(false),
        _ => None,
    }
}

fn decide_flag(key: &str, value: &Secret, want: bool) -> Outcome {
    match parse_flag(value.expose()) {
        None => Outcome::fail(Cause::Invalid, format!("{key} is {}; want {want}", shown(value))),
        // Both flags (DEBUG off, SECURE_SSL_REDIRECT on) are about security: a flag set the
        // wrong way is insecure, not missing.
        Some(is) => Outcome::decide(is == want, Cause::Insecure, format!("{key} is {}; want {want}", shown(value))),
    }
}

/// Pass when every line of the env file is an entry, a comment or blank. A fault is named by
/// its line number and what is wrong, never by the line's text (it may be a pasted secret).
pub fn decide_syntax(source: &str, env: &EnvFile) -> Outcome {
    if env.problems.is_empty() {
        return Outcome::pass(format!(
            "{source}: {} entries; every line is an entry, a comment or blank",
            env.entries.len()
        ));
    }
    let lines: Vec<String> = env.problems.iter().map(|p| format!("line {}: {}", p.line, p.message)).collect();
    Outcome::fail(Cause::Invalid, format!("{source}: {}", lines.join("; ")))
}

/// Shannon entropy of the character distribution times the length: a rough estimate of the
/// bits an attacker must guess, low for repeated or dictionary-like values.
pub fn estimated_entropy_bits(value: &str) -> f64 {
    let chars: Vec<char> = value.chars().collect();
    if chars.is_empty() {
        return 0.0;
    }
    let mut counts = std::collections::HashMap::new();
    for c in &chars {
        *counts.entry(*c).or_insert(0usize) += 1;
    }
    let n = chars.len() as f64;
    let per_char: f64 = counts
        .values()
        .map(|&k| {
            let p = k as f64 / n;
            -p * p.log2()
        })
        .sum();
    per_char * n
}

/// Words that mark a value as a placeholder left from an example file.
const PLACEHOLDERS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "secret",
    "password",
    "placeholder",
    "example",
    "your-",
    "your_",
    "xxxx",
    "todo",
    "insecure",
    "default",
];

/// Whether a value looks like a placeholder: contains a placeholder word, or is one short unit
/// repeated (`aaaa…`, `abcabc…`).
pub fn looks_like_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    if PLACEHOLDERS.iter().any(|word| lower.contains(word)) {
        return true;
    }
    let chars: Vec<char> = value.chars().collect();
    (1..=4).any(|unit| chars.len() >= 2 * unit && chars.iter().enumerate().all(|(i, c)| *c == chars[i % unit]))
}

pub fn decide_secret_key(value: &Secret, min_chars: usize, min_bits: f64) -> Outcome {
    let length = value.char_len();
    let bits = estimated_entropy_bits(value.expose());
    let measured = format!("SECRET_KEY has {length} characters and an estimated {bits:.0} bits of entropy");
    if looks_like_placeholder(value.expose()) {
        return Outcome::fail(
            Cause::Weak,
            format!("{measured}; it looks like a placeholder (a well-known word or a repeated pattern)"),
        );
    }
    let wanted = format!("want at least {min_chars} characters and {min_bits:.0} bits");
    Outcome::decide(length >= min_chars && bits >= min_bits, Cause::Weak, format!("{measured}; {wanted}"))
}

/// The password of a database URL, percent-decoded.
fn url_password(url: &str) -> Result<Option<Secret>, &'static str> {
    let Some((scheme, _)) = url.split_once("://") else { return Err("has no scheme://") };
    if scheme.is_empty() || !scheme.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) {
        return Err("has no valid scheme");
    }
    let authority = Authority::parse(url, Reading::Rfc3986);
    if authority.host.is_empty() && authority.port.is_none() {
        return Err("has no host");
    }
    authority.password().map_err(|_| "has a bad %-escape in its password")
}

pub fn decide_database_url(value: &Secret, min_chars: usize) -> Outcome {
    match url_password(value.expose().trim()) {
        Err(problem) => Outcome::fail(Cause::Invalid, format!("DATABASE_URL does not parse as a URL: it {problem}")),
        Ok(None) => Outcome::fail(
            Cause::Weak,
            "DATABASE_URL has no password; want one of at least {min_chars} characters"
                .replace("{min_chars}", &min_chars.to_string()),
        ),
        Ok(Some(password)) => {
            let length = password.char_len();
            let mut reason = format!("DATABASE_URL password has {length} characters; want at least {min_chars}");
            let placeholder = looks_like_placeholder(password.expose());
            if placeholder {
                reason.push_str("; it looks like a placeholder (a well-known word or a repeated pattern)");
            }
            Outcome::decide(length >= min_chars && !placeholder, Cause::Weak, reason)
        }
    }
}

/// Origins must be `https://host[:port]` on an allowed domain or its subdomains, and never `*`.
pub fn decide_cors(value: &Secret, domains: &[String]) -> Outcome {
    let origins = split_list(value.expose());
    if origins.is_empty() {
        return Outcome::fail(Cause::Missing, "CORS_ORIGINS is empty");
    }
    let mut problems = Vec::new();
    for origin in &origins {
        if origin.contains('*') {
            return Outcome::fail(
                Cause::Insecure,
                format!(
                    "CORS_ORIGINS contains a wildcard ({}); want only production origins",
                    shown(&Secret::new(origin.clone()))
                ),
            );
        }
        let Some(host_port) = origin.strip_prefix("https://") else {
            problems.push(format!("`{origin}` is not https"));
            continue;
        };
        let host = host_port.trim_end_matches('/').split(':').next().unwrap_or_default().to_ascii_lowercase();
        let allowed = domains.iter().any(|d| {
            let d = d.to_ascii_lowercase();
            host == d || host.ends_with(&format!(".{d}"))
        });
        if !allowed {
            problems.push(format!("`{origin}` is not on {}", domains.join(" or ")));
        }
    }
    if problems.is_empty() {
        Outcome::pass(format!("CORS_ORIGINS lists {} https origin(s) on {}", origins.len(), domains.join(", ")))
    } else {
        Outcome::fail(Cause::Insecure, format!("CORS_ORIGINS: {}", problems.join("; ")))
    }
}

/// OpenAI keys are `sk-` followed by letters, digits, `-` and `_` (`sk-proj-…` today).
pub fn decide_openai_key(value: &Secret) -> Outcome {
    let key = value.expose();
    let length = value.char_len();
    let well_formed = key.starts_with("sk-")
        && length >= 40
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    let reason = if well_formed {
        format!("OPENAI_API_KEY has {length} characters and the `sk-` form")
    } else if key.chars().any(char::is_whitespace) {
        format!("OPENAI_API_KEY has {length} characters including whitespace; want `sk-` and at least 40 letters, digits, `-` or `_`")
    } else {
        format!("OPENAI_API_KEY has {length} characters and is not of the form `sk-` followed by at least 37 letters, digits, `-` or `_`")
    };
    Outcome::decide(well_formed, Cause::Invalid, reason)
}

/// `kind = "env_rule"`: one key of any env file against one rule.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvRuleCheck {
    /// An env file; or
    pub file: Option<PathBuf>,
    /// a pidfile naming a running process whose environment is read.
    pub pidfile: Option<PathBuf>,
    pub key: String,
    /// The value must match this regular expression (anchor it with `^…$` for a whole match).
    pub matches: Option<String>,
    /// The value must be one of these.
    pub one_of: Option<Vec<String>>,
    /// The value must be a number of at least `min` …
    pub min: Option<f64>,
    /// … and at most `max`.
    pub max: Option<f64>,
    /// Whether the value may be shown in reasons; by default it is treated as a secret.
    #[serde(default = "default_true")]
    pub secret: bool,
}

fn default_true() -> bool {
    true
}

impl Check for EnvRuleCheck {
    const KIND: &'static str = "env_rule";
    const ASPECTS: &'static [&'static str] = &["rule"];
    const FAMILIES: &'static [&'static MetricFamily] = &[];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.source().validate()?;
        if self.key.is_empty() || !self.key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
            return Err(KeyError::new("key", format!("`{}` is not a variable name", self.key)));
        }
        if let Some(pattern) = &self.matches {
            compile_regex("matches", pattern)?;
        }
        if let (Some(min), Some(max)) = (self.min, self.max) {
            if min > max {
                return Err(KeyError::new("max", format!("{max} is below min {min}")));
            }
        }
        let rules = [self.matches.is_some(), self.one_of.is_some(), self.min.is_some() || self.max.is_some()];
        if rules.iter().filter(|r| **r).count() > 1 {
            return Err(KeyError::new("matches", "give one rule per check: `matches`, `one_of`, or `min`/`max`"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        format!("{} {}", self.source().describe(), self.key)
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let env = self.source().read(ctx).await?;
        Ok(self.decide(&env))
    }
}

impl EnvRuleCheck {
    pub fn source(&self) -> EnvSource {
        EnvSource { file: self.file.clone(), pidfile: self.pidfile.clone() }
    }

    pub fn decide(&self, env: &EnvFile) -> Report {
        let key = &self.key;
        let outcome = match env.get(key) {
            None => missing(key),
            Some(value) => {
                let described = if self.secret {
                    format!("{key} ({} characters)", value.char_len())
                } else {
                    format!("{key} is {}", shown(value))
                };
                if let Some(pattern) = &self.matches {
                    match regex::Regex::new(pattern) {
                        Ok(re) => Outcome::decide(
                            re.is_match(value.expose()),
                            Cause::Mismatch,
                            format!("{described}; want it to match /{pattern}/"),
                        ),
                        Err(err) => Outcome::error(Cause::Invalid, format!("matches: {err}")),
                    }
                } else if let Some(choices) = &self.one_of {
                    let ok = choices.iter().any(|c| c == value.expose());
                    let choices_text =
                        if self.secret { format!("{} allowed values", choices.len()) } else { choices.join(", ") };
                    Outcome::decide(ok, Cause::Mismatch, format!("{described}; want one of {choices_text}"))
                } else if self.min.is_some() || self.max.is_some() {
                    let range = match (self.min, self.max) {
                        (Some(min), Some(max)) => format!("between {min} and {max}"),
                        (Some(min), None) => format!("at least {min}"),
                        (None, Some(max)) => format!("at most {max}"),
                        (None, None) => String::new(),
                    };
                    match value.expose().trim().parse::<f64>() {
                        Ok(number) if number.is_finite() => {
                            let low = self.min.is_some_and(|min| number < min);
                            let high = self.max.is_some_and(|max| number > max);
                            let cause = if low { Cause::BelowMinimum } else { Cause::AboveMaximum };
                            Outcome::decide(!low && !high, cause, format!("{described}; want a number {range}"))
                        }
                        _ => Outcome::fail(Cause::Invalid, format!("{described}; want a number {range}")),
                    }
                } else if value.is_empty() {
                    Outcome::fail(Cause::Missing, format!("{key} is set but empty"))
                } else {
                    Outcome::pass(format!("{key} is set ({} characters)", value.char_len()))
                }
            }
        };
        let outcome = subject::unless_passing(outcome, Subject::Variable(key.clone()));
        // No samples: the env file's series belong to the app_env check of the file, and
        // several rules share one file.
        Report::default().with("rule", outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    fn app() -> AppEnvCheck {
        AppEnvCheck {
            file: Some(PathBuf::from("/opt/app/.env")),
            pidfile: None,
            required_keys: default_required_keys(),
            min_secret_key_chars: 32,
            min_secret_key_entropy_bits: 128.0,
            min_database_password_chars: 20,
            environment: "production".into(),
            log_levels: default_log_levels(),
            workers_per_core: 2,
            workers: None,
            production_domain: Some("dndstory.example.org".into()),
            production_ip: None,
            cors_domains: None,
            max_upload_bytes: 52_428_800,
        }
    }

    const GOOD: &str = "SECRET_KEY=Zx8#kP2@vL9qR4!mN7$wT1^yH6&jB3*fD5(gS0)\n\
        DATABASE_URL=postgres://dnduser:Vq7%40Lr2Xp9Kd4Mz8Nw3Jt@db:5432/dndstory\n\
        OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc\n\
        ALLOWED_HOSTS=dndstory.example.org,www.dndstory.example.org\n\
        CORS_ORIGINS=https://dndstory.example.org,https://app.dndstory.example.org\n\
        ENVIRONMENT=production\nDEBUG=False\nLOG_LEVEL=info\nWORKERS=8\nUPLOAD_MAX_SIZE=52428800\nSECURE_SSL_REDIRECT=true\n";

    #[test]
    fn a_good_env_file_passes_every_aspect() {
        let report = app().decide(&dotenv::parse(GOOD), 4);
        for aspect in AppEnvCheck::ASPECTS {
            let outcome = report.outcome(aspect).unwrap();
            assert_eq!(outcome.verdict, Verdict::Pass, "{aspect}: {}", outcome.reason);
        }
        assert_eq!(report.outcome("workers").unwrap().reason, "WORKERS is 8; want at least 8 (2 per core x 4 cores)");
    }

    #[test]
    fn weak_placeholder_and_short_secret_keys_fail_without_showing_them() {
        let weak = decide_secret_key(&Secret::new("changeme-changeme-changeme-changeme"), 32, 128.0);
        assert_eq!(weak.cause, Some(Cause::Weak));
        assert!(weak.reason.contains("placeholder") && !weak.reason.contains("changeme"), "{}", weak.reason);
        let repeated = decide_secret_key(&Secret::new("ab".repeat(20)), 32, 128.0);
        assert!(repeated.reason.contains("placeholder"));
        let short = decide_secret_key(&Secret::new("Zx8#kP2@vL9q"), 32, 128.0);
        assert_eq!(short.reason, "SECRET_KEY has 12 characters and an estimated 43 bits of entropy; want at least 32 characters and 128 bits");
        assert_eq!(estimated_entropy_bits("aaaa"), 0.0);
    }

    #[test]
    fn database_urls_are_judged_by_password_length_only() {
        let short = decide_database_url(&Secret::new("postgres://u:hunter2@db/x"), 20);
        assert_eq!(short, Outcome::fail(Cause::Weak, "DATABASE_URL password has 7 characters; want at least 20"));
        assert_eq!(decide_database_url(&Secret::new("postgres://u@db/x"), 20).cause, Some(Cause::Weak));
        assert_eq!(decide_database_url(&Secret::new("not a url"), 20).cause, Some(Cause::Invalid));
        // %40 is one character of the password.
        assert!(decide_database_url(&Secret::new("postgres://u:%40bcdefghijklmnopqrs@db/x"), 20)
            .reason
            .contains("has 19 characters"));
    }

    #[test]
    fn cors_refuses_wildcards_http_and_foreign_domains() {
        let domains = vec!["dndstory.example.org".to_string()];
        assert_eq!(decide_cors(&Secret::new("*"), &domains).cause, Some(Cause::Insecure));
        let mixed = decide_cors(&Secret::new("[\"http://dndstory.example.org\", \"https://evil.org\"]"), &domains);
        assert_eq!(mixed.reason, "CORS_ORIGINS: `http://dndstory.example.org` is not https; `https://evil.org` is not on dndstory.example.org");
        // A lookalike domain is not a subdomain.
        assert_eq!(decide_cors(&Secret::new("https://xdndstory.example.org"), &domains).verdict, Verdict::Fail);
    }

    #[test]
    fn settings_fail_with_their_value_and_the_wanted_one() {
        let env = dotenv::parse("DEBUG=true\nENVIRONMENT=staging\nLOG_LEVEL=DEBUG\nWORKERS=two\nUPLOAD_MAX_SIZE=104857600\nSECURE_SSL_REDIRECT=false\nOPENAI_API_KEY=sk-short\n");
        let report = app().decide(&env, 2);
        assert_eq!(report.outcome("debug").unwrap(), &Outcome::fail(Cause::Insecure, "DEBUG is `true`; want false"));
        assert_eq!(report.outcome("environment").unwrap().reason, "ENVIRONMENT is `staging`; want `production`");
        assert_eq!(report.outcome("log_level").unwrap().reason, "LOG_LEVEL is `DEBUG`; want one of INFO, WARNING");
        assert_eq!(report.outcome("workers").unwrap().cause, Some(Cause::Invalid));
        assert_eq!(
            report.outcome("upload_max_size").unwrap().reason,
            "UPLOAD_MAX_SIZE is 104857600 bytes; want at most 52428800"
        );
        assert_eq!(report.outcome("ssl_redirect").unwrap().verdict, Verdict::Fail);
        assert_eq!(report.outcome("openai_api_key").unwrap().cause, Some(Cause::Invalid));
        assert_eq!(
            report.outcome("secret_key").unwrap(),
            &Outcome::fail(Cause::Missing, "SECRET_KEY is not set").about(Subject::Variable("SECRET_KEY".into()))
        );
        assert_eq!(report.outcome("allowed_hosts").unwrap().cause, Some(Cause::Missing));
    }

    #[test]
    fn an_exact_worker_count_can_be_configured() {
        let mut check = app();
        check.workers = Some(3);
        let report = check.decide(&dotenv::parse("WORKERS=4\n"), 2);
        assert_eq!(report.outcome("workers").unwrap(), &Outcome::fail(Cause::Mismatch, "WORKERS is 4; want 3"));
    }

    #[test]
    fn generic_rules_keep_secret_values_out_of_reasons() {
        let env = dotenv::parse("TOKEN=canary-token-value\nPORT=8080\nMODE=fast\n");
        let rule = |key: &str| EnvRuleCheck {
            file: Some(PathBuf::from("/x.env")),
            pidfile: None,
            key: key.into(),
            matches: None,
            one_of: None,
            min: None,
            max: None,
            secret: true,
        };
        let regex = EnvRuleCheck { matches: Some("^tok-".into()), ..rule("TOKEN") };
        let outcome = regex.decide(&env).outcome("rule").cloned().unwrap();
        assert_eq!(
            outcome,
            Outcome::fail(Cause::Mismatch, "TOKEN (18 characters); want it to match /^tok-/")
                .about(Subject::Variable("TOKEN".into())),
            "a rule that does not hold is about its variable"
        );
        let range = EnvRuleCheck { min: Some(1024.0), max: Some(65535.0), secret: false, ..rule("PORT") };
        assert_eq!(
            range.decide(&env).outcome("rule").unwrap().reason,
            "PORT is `8080`; want a number between 1024 and 65535"
        );
        let set = EnvRuleCheck { one_of: Some(vec!["safe".into()]), secret: false, ..rule("MODE") };
        assert_eq!(set.decide(&env).outcome("rule").unwrap().cause, Some(Cause::Mismatch));
        assert_eq!(rule("ABSENT").decide(&env).outcome("rule").unwrap().cause, Some(Cause::Missing));
        assert_eq!(rule("TOKEN").decide(&env).outcome("rule").unwrap().verdict, Verdict::Pass);
        let two_rules = EnvRuleCheck { matches: Some("x".into()), one_of: Some(vec![]), ..rule("TOKEN") };
        assert_eq!(two_rules.validate("rule").unwrap_err().key, "matches");
    }
}
