//! PostgreSQL: one `postgres` check connects once, keeps the connection for the next evaluations,
//! and decides every database line of the checklist from at most three statements: one combined
//! catalog read (identity, role attributes, settings, connections in use, size, expected tables),
//! the `alembic_version` rows when migrations are checked, and the timed probe query.
//!
//! The decisions are pure functions of a [`Snapshot`], tested below on plain values. When the
//! combined read is refused for lack of a privilege (a catalog view revoked from the role), each
//! part is read on its own, so only the aspects that need the unreadable part become errors.
//!
//! A `pgbouncer` check asks a pgbouncer admin console for `SHOW POOLS`.

use std::net::IpAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, SimpleQueryMessage, Statement};

use super::latency::LatencyTracker;
use super::{check_ratio, require, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample};
use crate::support::secret::{mask_url, Secret};
use crate::support::text::excerpt;
use crate::support::tls::Verifier;
use crate::support::units::{format_bytes, format_duration, format_percent, ByteSize, HumanDuration};

pub static PG_INFO: MetricFamily =
    MetricFamily { name: "checklist_pg_info", help: "PostgreSQL server version (always 1).", kind: MetricKind::Gauge };
pub static PG_SETTING: MetricFamily = MetricFamily {
    name: "checklist_pg_setting",
    help: "A tuning setting of the server, in bytes for sizes, else the plain number.",
    kind: MetricKind::Gauge,
};
pub static PG_CONNECTIONS_IN_USE: MetricFamily = MetricFamily {
    name: "checklist_pg_connections_in_use",
    help: "Client backends connected to the server.",
    kind: MetricKind::Gauge,
};
pub static PG_CONNECTIONS_USED_RATIO: MetricFamily = MetricFamily {
    name: "checklist_pg_connections_used_ratio",
    help: "Client backends connected over max_connections.",
    kind: MetricKind::Gauge,
};
pub static PG_DATABASE_SIZE_BYTES: MetricFamily = MetricFamily {
    name: "checklist_pg_database_size_bytes",
    help: "Size of the database on disk in bytes.",
    kind: MetricKind::Gauge,
};
pub static PG_PROBE_QUERY_DURATION: MetricFamily = MetricFamily {
    name: "checklist_pg_probe_query_duration_seconds",
    help: "Round trip of the probe query on the reused connection, in seconds.",
    kind: MetricKind::Histogram,
};
pub static PGBOUNCER_POOLS: MetricFamily = MetricFamily {
    name: "checklist_pgbouncer_pools",
    help: "Pools that the pgbouncer admin console lists in SHOW POOLS (used since its start).",
    kind: MetricKind::Gauge,
};
pub static PGBOUNCER_DATABASES: MetricFamily = MetricFamily {
    name: "checklist_pgbouncer_databases",
    help: "Databases that pgbouncer is configured to serve (SHOW DATABASES).",
    kind: MetricKind::Gauge,
};

/// The settings compared with RAM and ranges, in the order they are exported.
pub const TUNING_SETTINGS: [&str; 4] =
    ["shared_buffers", "effective_cache_size", "max_connections", "checkpoint_completion_target"];
/// Role attributes an application role must not have.
const PRIVILEGED_ATTRIBUTES: [&str; 4] = ["SUPERUSER", "CREATEROLE", "CREATEDB", "BYPASSRLS"];
/// Longest string of server text (a revision, a table name) quoted in a reason.
const MAX_QUOTED_CHARS: usize = 64;
/// Rows of `alembic_version` read at most; a real one has one row per branch head.
const MAX_ALEMBIC_ROWS: usize = 100;

fn default_connect_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_query_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_shared_buffers_band() -> [f64; 2] {
    [0.15, 0.40]
}
fn default_effective_cache_size_band() -> [f64; 2] {
    [0.50, 0.85]
}
fn default_min_checkpoint_completion_target() -> f64 {
    0.9
}
fn default_max_connections_used_ratio() -> f64 {
    0.8
}
fn default_max_query_latency() -> HumanDuration {
    HumanDuration(Duration::from_millis(100))
}
fn default_latency_window() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_probe_query() -> String {
    "SELECT 1".to_string()
}

/// `kind = "postgres"`: a database reached by `url`, judged on every aspect its items bind to.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresCheck {
    /// `postgres://user[:password]@host:port/dbname?sslmode=...`. A password in it is a secret.
    pub url: Secret,
    /// Name of the environment variable holding the password, looked up in `env_file` when given,
    /// else in the exporter's environment.
    pub password_env: Option<String>,
    /// An env file (dotenv syntax) to read `password_env` from, as the application reads it.
    pub env_file: Option<PathBuf>,
    /// A file whose whole content (trailing newline removed) is the password.
    pub password_file: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    #[serde(default = "default_query_timeout")]
    pub query_timeout: HumanDuration,
    pub expect_database: Option<String>,
    pub expect_user: Option<String>,
    pub min_password_length: Option<usize>,
    #[serde(default)]
    pub expect_tables: Vec<String>,
    /// The revision `alembic_version` must hold; without it, exactly one row is wanted.
    pub alembic_revision: Option<String>,
    /// RAM of the database host; required for tuning aspects of a remote database.
    pub ram_bytes: Option<ByteSize>,
    #[serde(default = "default_shared_buffers_band")]
    pub shared_buffers_ratio: [f64; 2],
    #[serde(default = "default_effective_cache_size_band")]
    pub effective_cache_size_ratio: [f64; 2],
    pub max_connections_range: Option<[u64; 2]>,
    #[serde(default = "default_min_checkpoint_completion_target")]
    pub min_checkpoint_completion_target: f64,
    #[serde(default = "default_max_connections_used_ratio")]
    pub max_connections_used_ratio: f64,
    #[serde(default = "default_max_query_latency")]
    pub max_query_latency: HumanDuration,
    #[serde(default = "default_latency_window")]
    pub latency_window: HumanDuration,
    #[serde(default = "default_probe_query")]
    pub probe_query: String,
}

impl std::fmt::Debug for PostgresCheck {
    // By hand so that the URL shows masked. The fingerprint of a check is its Debug text, so the
    // password's length is included: a changed password in the URL restarts the check.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCheck")
            .field("url", &mask_url(self.url.expose()))
            .field("url_password_chars", &PgUrl::parse(self.url.expose()).ok().map(|u| u.password_chars()))
            .field("password_env", &self.password_env)
            .field("env_file", &self.env_file)
            .field("password_file", &self.password_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("expect_database", &self.expect_database)
            .field("expect_user", &self.expect_user)
            .field("min_password_length", &self.min_password_length)
            .field("expect_tables", &self.expect_tables)
            .field("alembic_revision", &self.alembic_revision)
            .field("ram_bytes", &self.ram_bytes)
            .field("shared_buffers_ratio", &self.shared_buffers_ratio)
            .field("effective_cache_size_ratio", &self.effective_cache_size_ratio)
            .field("max_connections_range", &self.max_connections_range)
            .field("min_checkpoint_completion_target", &self.min_checkpoint_completion_target)
            .field("max_connections_used_ratio", &self.max_connections_used_ratio)
            .field("max_query_latency", &self.max_query_latency)
            .field("latency_window", &self.latency_window)
            .field("probe_query", &self.probe_query)
            .finish()
    }
}

/// How the connection is encrypted, from the URL's `sslmode` as libpq reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    Disable,
    /// TLS when the server offers it, else plain (libpq's default).
    Prefer,
    /// Encrypted, certificate not checked (libpq's `require`).
    Require,
    /// Encrypted, chain checked against the roots, host name not checked.
    VerifyCa,
    /// Encrypted, chain and host name checked.
    VerifyFull,
}

/// A parsed connection URL. tokio-postgres knows neither `verify-ca`/`verify-full` nor
/// `sslrootcert`, so those are taken out before it parses the rest.
pub struct PgUrl {
    pub config: tokio_postgres::Config,
    pub tls: TlsMode,
    pub root_cert: Option<PathBuf>,
}

impl PgUrl {
    pub fn parse(url: &str) -> Result<PgUrl, String> {
        let Some(rest) = url.strip_prefix("postgres://").or_else(|| url.strip_prefix("postgresql://")) else {
            return Err("must be a postgres:// or postgresql:// URL".to_string());
        };
        let (base, query) = match url.split_once('?') {
            Some((base, query)) => (base, query),
            None => (url, ""),
        };
        if rest.is_empty() {
            return Err("names no host".to_string());
        }
        let mut tls = TlsMode::Prefer;
        let mut root_cert = None;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match key {
                "sslmode" => {
                    tls = match value {
                        "disable" => TlsMode::Disable,
                        "prefer" | "allow" => TlsMode::Prefer,
                        "require" => TlsMode::Require,
                        "verify-ca" => TlsMode::VerifyCa,
                        "verify-full" => TlsMode::VerifyFull,
                        other => {
                            return Err(format!(
                                "sslmode `{}` is not one of disable, prefer, require, verify-ca, verify-full",
                                quote(other)
                            ))
                        }
                    }
                }
                "sslrootcert" => root_cert = Some(PathBuf::from(value)),
                _ => kept.push(pair),
            }
        }
        let rebuilt = if kept.is_empty() { base.to_string() } else { format!("{base}?{}", kept.join("&")) };
        // tokio-postgres' parse errors name the option, never its value.
        let mut config = tokio_postgres::Config::from_str(&rebuilt).map_err(|err| err.to_string())?;
        if config.get_hosts().is_empty() {
            return Err("names no host".to_string());
        }
        // tokio-postgres ends the user-info at the first `@`. With an unencoded `@` in the
        // password, the rest of the password would become the host, and be shown as the server.
        if config.get_hosts().iter().any(|host| matches!(host, Host::Tcp(name) if name.contains('@'))) {
            return Err("holds more than one `@` before the host; write an `@` in the password as %40".to_string());
        }
        config.ssl_mode(match tls {
            TlsMode::Disable => SslMode::Disable,
            TlsMode::Prefer => SslMode::Prefer,
            TlsMode::Require | TlsMode::VerifyCa | TlsMode::VerifyFull => SslMode::Require,
        });
        Ok(PgUrl { config, tls, root_cert })
    }

    fn password_chars(&self) -> usize {
        self.config.get_password().map(|p| String::from_utf8_lossy(p).chars().count()).unwrap_or(0)
    }

    /// `host:port` of the first host, the `server` label of every series.
    pub fn server(&self) -> String {
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        match self.config.get_hosts().first() {
            Some(Host::Tcp(host)) if host.contains(':') => format!("[{host}]:{port}"),
            Some(Host::Tcp(host)) => format!("{host}:{port}"),
            Some(Host::Unix(path)) => format!("{}:{port}", path.display()),
            None => format!("localhost:{port}"),
        }
    }

    pub fn database(&self) -> String {
        self.config.get_dbname().or(self.config.get_user()).unwrap_or("postgres").to_string()
    }

    /// True for a Unix socket, `localhost` or a loopback address: this host's RAM is the server's.
    pub fn is_local(&self) -> bool {
        self.config.get_hosts().iter().all(|host| match host {
            Host::Unix(_) => true,
            Host::Tcp(name) => name == "localhost" || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        })
    }
}

/// What a check reads from the server, part by part: a part it could not read is the error
/// that stopped it, so only the aspects needing that part become errors.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub identity: Identity,
    pub role: Result<Option<RoleAttributes>, Problem>,
    pub settings: Result<Settings, Problem>,
    pub connections_in_use: Result<i64, Problem>,
    pub size_bytes: Result<i64, Problem>,
    /// Expected tables that do not exist, and whether `alembic_version` exists.
    pub tables: Result<(Vec<String>, bool), Problem>,
    /// The rows of `alembic_version`, when it exists and migrations are checked.
    pub alembic: Option<Result<Vec<String>, Problem>>,
    pub probe: Option<Result<Duration, Problem>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Identity {
    pub version: String,
    pub server_version: String,
    pub database: String,
    pub user: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct RoleAttributes {
    pub superuser: bool,
    pub create_role: bool,
    pub create_db: bool,
    pub bypass_rls: bool,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Settings {
    pub shared_buffers_bytes: i64,
    pub effective_cache_size_bytes: i64,
    pub max_connections: i64,
    pub checkpoint_completion_target: f64,
}

/// Why a part could not be read.
#[derive(Clone, Debug, PartialEq)]
pub struct Problem {
    pub cause: Cause,
    pub reason: String,
}

impl Problem {
    fn new(cause: Cause, reason: impl Into<String>) -> Self {
        Problem { cause, reason: reason.into() }
    }

    fn outcome(&self, aspect_needs: &str) -> Outcome {
        Outcome::error(self.cause, format!("cannot read {aspect_needs}: {}", self.reason))
    }
}

/// The combined catalog read, as parts: each part's columns, so that the fallback can read a part
/// alone. The tables part takes the expected table names as `$1`.
struct Part {
    columns: &'static str,
    needs_tables_param: bool,
}

const IDENTITY: Part = Part {
    columns: "version(), current_setting('server_version'), current_database()::text, current_user::text",
    needs_tables_param: false,
};
const ROLE: Part = Part {
    columns: "(SELECT ARRAY[rolsuper, rolcreaterole, rolcreatedb, rolbypassrls] FROM pg_catalog.pg_roles WHERE rolname = current_user)",
    needs_tables_param: false,
};
const SETTINGS: Part = Part {
    columns:
        "pg_size_bytes(current_setting('shared_buffers')), pg_size_bytes(current_setting('effective_cache_size')), \
              current_setting('max_connections')::int8, current_setting('checkpoint_completion_target')::float8",
    needs_tables_param: false,
};
const CONNECTIONS: Part = Part {
    columns: "(SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend')",
    needs_tables_param: false,
};
const SIZE: Part = Part { columns: "pg_database_size(current_database())", needs_tables_param: false };
const TABLES: Part = Part {
    columns: "ARRAY(SELECT t FROM unnest($1::text[]) AS t WHERE to_regclass(t) IS NULL), \
              to_regclass('alembic_version') IS NOT NULL",
    needs_tables_param: true,
};
const PARTS: [&Part; 6] = [&IDENTITY, &ROLE, &SETTINGS, &CONNECTIONS, &SIZE, &TABLES];

fn combined_sql() -> String {
    let columns: Vec<&str> = PARTS.iter().map(|p| p.columns).collect();
    format!("SELECT {}", columns.join(", "))
}

/// What one postgres check keeps between evaluations.
#[derive(Default)]
pub struct PostgresState {
    session: Option<Session>,
    latency: LatencyTracker,
}

struct Session {
    client: Client,
    /// The combined read, prepared once per connection so later evaluations only bind and execute.
    combined: Statement,
    /// The combined read was refused for a privilege on this connection: read part by part
    /// until the next connection, instead of being refused again at every evaluation.
    parts_only: bool,
}

impl Check for PostgresCheck {
    const KIND: &'static str = "postgres";
    const ASPECTS: &'static [&'static str] = &[
        "running",
        "database",
        "user",
        "least_privilege",
        "password_strength",
        "schema",
        "migrations",
        "shared_buffers",
        "effective_cache_size",
        "max_connections",
        "checkpoint_completion_target",
        "connections",
        "latency",
    ];
    const FAMILIES: &'static [&'static MetricFamily] = &[
        &PG_INFO,
        &PG_SETTING,
        &PG_CONNECTIONS_IN_USE,
        &PG_CONNECTIONS_USED_RATIO,
        &PG_DATABASE_SIZE_BYTES,
        &PG_PROBE_QUERY_DURATION,
    ];
    type State = PostgresState;

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        let url = PgUrl::parse(self.url.expose()).map_err(|why| KeyError::new("url", why))?;
        let sources = [url.config.get_password().is_some(), self.password_env.is_some(), self.password_file.is_some()];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(KeyError::new(
                "password_env",
                "give the password in one place: the URL, `password_env` or `password_file`",
            ));
        }
        if self.env_file.is_some() && self.password_env.is_none() {
            return Err(KeyError::new("env_file", "`env_file` needs `password_env`, the key to read from it"));
        }
        for (key, path) in [("env_file", &self.env_file), ("password_file", &self.password_file)] {
            if let Some(path) = path {
                if !path.is_absolute() {
                    return Err(KeyError::new(key, format!("`{}` is not an absolute path", path.display())));
                }
            }
        }
        if self.connect_timeout.0.is_zero() || self.query_timeout.0.is_zero() {
            return Err(KeyError::new("connect_timeout", "connect_timeout and query_timeout must be longer than 0s"));
        }
        for table in &self.expect_tables {
            if !is_table_name(table) {
                return Err(KeyError::new(
                    "expect_tables",
                    format!("`{}` is not a table name (like `users` or `app.users`)", quote(table)),
                ));
            }
        }
        for (key, band) in [
            ("shared_buffers_ratio", self.shared_buffers_ratio),
            ("effective_cache_size_ratio", self.effective_cache_size_ratio),
        ] {
            check_ratio(Some(band[0]), key)?;
            check_ratio(Some(band[1]), key)?;
            if band[0] > band[1] {
                return Err(KeyError::new(key, format!("the band [{}, {}] is upside down", band[0], band[1])));
            }
        }
        check_ratio(Some(self.max_connections_used_ratio), "max_connections_used_ratio")?;
        if let Some([low, high]) = self.max_connections_range {
            if low > high {
                return Err(KeyError::new(
                    "max_connections_range",
                    format!("the range [{low}, {high}] is upside down"),
                ));
            }
        }
        if self.probe_query.trim().is_empty() {
            return Err(KeyError::new("probe_query", "must not be empty"));
        }
        match aspect {
            "database" => require(&self.expect_database, aspect, "expect_database")?,
            "user" => require(&self.expect_user, aspect, "expect_user")?,
            "password_strength" => require(&self.min_password_length, aspect, "min_password_length")?,
            "max_connections" => require(&self.max_connections_range, aspect, "max_connections_range")?,
            "schema" if self.expect_tables.is_empty() => {
                return Err(KeyError::new("expect_tables", "an item decides `schema`, which needs `expect_tables`"))
            }
            "shared_buffers" | "effective_cache_size" if self.ram_bytes.is_none() && !url.is_local() => {
                return Err(KeyError::new(
                    "ram_bytes",
                    format!(
                        "an item decides `{aspect}` of a remote database ({}); give the database host's RAM",
                        url.server()
                    ),
                ))
            }
            _ => {}
        }
        Ok(())
    }

    /// `host:port/database` from the URL, never its password.
    fn target(&self) -> String {
        match PgUrl::parse(self.url.expose()) {
            Ok(url) => format!("{}/{}", url.server(), url.database()),
            Err(_) => mask_url(self.url.expose()),
        }
    }

    fn validate_timeout(&self, timeout: Duration) -> Result<(), KeyError> {
        if self.connect_timeout.0 >= timeout {
            return Err(KeyError::new(
                "connect_timeout",
                format!(
                    "{} is not shorter than the timeout {}; a server that accepts and never answers must be reported as such before the check times out",
                    format_duration(self.connect_timeout.0),
                    format_duration(timeout)
                ),
            ));
        }
        Ok(())
    }

    async fn run(&self, ctx: &CheckContext, state: &mut Self::State) -> CheckResult {
        let url =
            PgUrl::parse(self.url.expose()).map_err(|why| ProbeFailure::new(Cause::Invalid, format!("url {why}")))?;
        let password = self.password(ctx, &url).await;
        let ram = match self.ram_bytes {
            Some(ram) => Some(ram.0),
            None if url.is_local() => host_ram(ctx).await,
            None => None,
        };
        let measured = self.measure(ctx, &url, &password, state).await;
        let snapshot = match measured {
            Ok(snapshot) => snapshot,
            Err(problem) => {
                return Ok(self.decide_unreachable(&url.server(), &problem, password.as_ref().ok()));
            }
        };
        if let Some(Ok(took)) = &snapshot.probe {
            state.latency.observe(Instant::now(), *took, self.latency_window.0);
        }
        let password = password.as_ref().ok();
        Ok(self.decide(&url.server(), &snapshot, password, ram, &state.latency))
    }
}

impl PostgresCheck {
    /// The password to log in with: from the URL, `password_env` or `password_file`. `Ok(None)`
    /// when none is configured (trust or peer authentication).
    async fn password(&self, ctx: &CheckContext, url: &PgUrl) -> Result<Option<Secret>, Problem> {
        if let Some(password) = url.config.get_password() {
            return Ok(Some(Secret::new(String::from_utf8_lossy(password))));
        }
        if let Some(path) = &self.password_file {
            let path = path.clone();
            let shown = path.display().to_string();
            let read = ctx
                .blocking
                .run(move || std::fs::read_to_string(&path))
                .await
                .map_err(|failure| Problem::new(failure.cause, failure.reason))?;
            return match read {
                Ok(text) => Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r'])))),
                Err(err) => {
                    Err(Problem::new(Cause::from_io(&err), format!("password_file {shown}: {}", io_reason(&err))))
                }
            };
        }
        let Some(key) = &self.password_env else { return Ok(None) };
        match &self.env_file {
            None => match std::env::var(key) {
                Ok(value) => Ok(Some(Secret::new(value))),
                Err(_) => Err(Problem::new(Cause::Missing, format!("environment variable {key} is not set"))),
            },
            Some(path) => {
                let path = path.clone();
                let shown = path.display().to_string();
                let read = ctx
                    .blocking
                    .run(move || std::fs::read_to_string(&path))
                    .await
                    .map_err(|failure| Problem::new(failure.cause, failure.reason))?;
                let text = read.map_err(|err| {
                    Problem::new(Cause::from_io(&err), format!("env_file {shown}: {}", io_reason(&err)))
                })?;
                crate::support::dotenv::parse(&text)
                    .get(key)
                    .cloned()
                    .map(Some)
                    .ok_or_else(|| Problem::new(Cause::Missing, format!("env_file {shown} does not set {key}")))
            }
        }
    }

    /// Connects (or reuses the connection) and reads everything the bound aspects need.
    async fn measure(
        &self,
        ctx: &CheckContext,
        url: &PgUrl,
        password: &Result<Option<Secret>, Problem>,
        state: &mut PostgresState,
    ) -> Result<Snapshot, Problem> {
        let password = match password {
            Ok(password) => password.clone(),
            // Without its password the role cannot log in; with trust auth it might, but an
            // unreadable password source is worth an error on every aspect that connects.
            Err(problem) => return Err(problem.clone()),
        };
        let tables: Vec<String> = self.expect_tables.clone();
        // A reused connection may have died with a server restart since the last evaluation; one
        // fresh connection is tried before giving up, so a server that is back is seen at once.
        let combined = loop {
            let fresh = state.session.as_ref().is_none_or(|s| s.client.is_closed());
            if fresh {
                state.session = None;
                state.session = Some(self.connect(ctx, url, password.as_ref()).await?);
            }
            let Some(session) = state.session.as_mut() else {
                return Err(Problem::new(Cause::Io, "no connection"));
            };
            if session.parts_only {
                break Err(Problem::new(Cause::Permission, "the combined read was refused before"));
            }
            let params: [&(dyn ToSql + Sync); 1] = [&tables];
            match self.bounded(session.client.query_one(&session.combined, &params)).await {
                Ok(row) => break Ok(row),
                Err(problem) if problem.cause == Cause::Permission => {
                    session.parts_only = true;
                    break Err(problem);
                }
                Err(problem) => {
                    state.session = None;
                    if fresh || problem.cause == Cause::Timeout {
                        return Err(problem);
                    }
                }
            }
        };
        let Some(session) = state.session.as_ref() else {
            return Err(Problem::new(Cause::Io, "no connection"));
        };
        let client = &session.client;
        let mut snapshot = match combined {
            Ok(row) => snapshot_from_row(&row, 0).map_err(|why| Problem::new(Cause::Invalid, why))?,
            Err(_) => self.read_parts(client, &tables).await?,
        };
        let wants_alembic = matches!(snapshot.tables, Ok((_, true)));
        if wants_alembic {
            let sql = format!("SELECT version_num FROM alembic_version LIMIT {MAX_ALEMBIC_ROWS}");
            snapshot.alembic = Some(self.bounded(client.simple_query(&sql)).await.map(|messages| {
                messages
                    .iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_string()),
                        _ => None,
                    })
                    .collect()
            }));
        }
        let started = Instant::now();
        snapshot.probe = Some(self.bounded(client.simple_query(&self.probe_query)).await.map(|_| started.elapsed()));
        Ok(snapshot)
    }

    /// The combined read was refused for a privilege: read each part alone.
    async fn read_parts(&self, client: &Client, tables: &Vec<String>) -> Result<Snapshot, Problem> {
        let mut rows = Vec::with_capacity(PARTS.len());
        for part in PARTS {
            let sql = format!("SELECT {}", part.columns);
            let result = if part.needs_tables_param {
                let params: [&(dyn ToSql + Sync); 1] = [tables];
                self.bounded(client.query_one(&sql, &params)).await
            } else {
                self.bounded(client.query_one(&sql, &[])).await
            };
            rows.push(result);
        }
        let mut rows = rows.into_iter();
        let mut next = || rows.next().unwrap_or_else(|| Err(Problem::new(Cause::Io, "missing part")));
        let identity_row = next()?;
        let identity = identity_from_row(&identity_row, 0).map_err(|why| Problem::new(Cause::Invalid, why))?;
        let invalid = |why: String| Problem::new(Cause::Invalid, why);
        Ok(Snapshot {
            identity,
            role: next().and_then(|row| role_from_row(&row, 0).map_err(invalid)),
            settings: next().and_then(|row| settings_from_row(&row, 0).map_err(invalid)),
            connections_in_use: next().and_then(|row| row.try_get::<_, i64>(0).map_err(|e| invalid(e.to_string()))),
            size_bytes: next().and_then(|row| row.try_get::<_, i64>(0).map_err(|e| invalid(e.to_string()))),
            tables: next().and_then(|row| tables_from_row(&row, 0).map_err(invalid)),
            alembic: None,
            probe: None,
        })
    }

    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, Problem> {
        match tokio::time::timeout(self.query_timeout.0, work).await {
            Ok(result) => result.map_err(|err| describe_error(&err)),
            Err(_) => Err(Problem::new(
                Cause::Timeout,
                format!("no answer within the query timeout of {}", format_duration(self.query_timeout.0)),
            )),
        }
    }

    async fn connect(&self, ctx: &CheckContext, url: &PgUrl, password: Option<&Secret>) -> Result<Session, Problem> {
        let mut config = url.config.clone();
        if let Some(password) = password {
            config.password(password.expose());
        }
        config.connect_timeout(self.connect_timeout.0);
        config.application_name("checklist-exporter");
        let tls = tls_connector(ctx, url).await?;
        tracing::debug!(url = %mask_url(self.url.expose()), "connecting to PostgreSQL");
        // The whole startup is bounded, not only the TCP handshake: a listener that accepts and
        // never speaks would otherwise hold the check until the scheduler's timeout.
        let connected = tokio::time::timeout(self.connect_timeout.0, config.connect(tls)).await;
        let (client, connection) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(err)) => return Err(describe_error(&err)),
            Err(_) => {
                return Err(Problem::new(
                    Cause::Timeout,
                    format!(
                        "{} accepted no PostgreSQL session within the connect timeout of {}",
                        url.server(),
                        format_duration(self.connect_timeout.0)
                    ),
                ))
            }
        };
        // The connection task ends when the client is dropped or the server goes away.
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %describe_error(&err).reason, "PostgreSQL connection ended");
            }
        });
        let combined = self.bounded(client.prepare(&combined_sql())).await?;
        Ok(Session { client, combined, parts_only: false })
    }

    /// Every aspect when the server could not be reached: `running` fails when nothing answers,
    /// the others cannot be decided; the password length is still known.
    pub fn decide_unreachable(&self, server: &str, problem: &Problem, password: Option<&Option<Secret>>) -> Report {
        let mut report = Report::default();
        let not_running = matches!(problem.cause, Cause::Refused | Cause::Timeout | Cause::Unreachable);
        for aspect in Self::ASPECTS {
            let outcome = match *aspect {
                "running" if not_running => {
                    Outcome::fail(problem.cause, format!("PostgreSQL at {server} does not answer: {}", problem.reason))
                }
                "password_strength" => match password {
                    Some(password) => self.decide_password(password.as_ref()),
                    None => Outcome::error(problem.cause, problem.reason.clone()),
                },
                _ => Outcome::error(problem.cause, format!("cannot reach PostgreSQL at {server}: {}", problem.reason)),
            };
            report = report.with(aspect, outcome);
        }
        report
    }

    pub fn decide_password(&self, password: Option<&Secret>) -> Outcome {
        let min = self.min_password_length.unwrap_or(0);
        match password {
            None => Outcome::fail(
                Cause::Missing,
                format!(
                    "no database password is configured (trust or peer authentication); want at least {min} characters"
                ),
            ),
            Some(password) => {
                let length = password.char_len();
                Outcome::decide(
                    length >= min,
                    Cause::Weak,
                    format!("the database password has {length} characters; want at least {min}"),
                )
            }
        }
    }

    /// Decides every aspect from what was read. `ram` is the database host's memory, if known.
    pub fn decide(
        &self,
        server: &str,
        snapshot: &Snapshot,
        password: Option<&Option<Secret>>,
        ram: Option<u64>,
        latency: &LatencyTracker,
    ) -> Report {
        let identity = &snapshot.identity;
        let mut report = Report::default()
            .sample(
                Sample::new(&PG_INFO, 1.0).label("server", server).label("version", quote(&identity.server_version)),
            )
            .sample(Sample::histogram(&PG_PROBE_QUERY_DURATION, latency.histogram()).label("server", server));

        report = report.with(
            "running",
            Outcome::pass(format!("PostgreSQL {} at {server} answers", quote(&identity.server_version))),
        );
        let expected = |want: &Option<String>, got: &str, what: &str| match want {
            Some(want) => Outcome::decide(
                want == got,
                Cause::Mismatch,
                format!("connected to {what} {}; want {}", quote(got), quote(want)),
            ),
            None => Outcome::pass(format!("connected to {what} {}", quote(got))),
        };
        report = report
            .with("database", expected(&self.expect_database, &identity.database, "database"))
            .with("user", expected(&self.expect_user, &identity.user, "role"));
        report = report.with("least_privilege", decide_privileges(&identity.user, &snapshot.role));
        report = report.with(
            "password_strength",
            match password {
                Some(password) => self.decide_password(password.as_ref()),
                None => Outcome::error(Cause::Io, "the password source could not be read"),
            },
        );

        match &snapshot.tables {
            Ok((missing, alembic_exists)) => {
                report = report.with("schema", decide_tables(&self.expect_tables, missing));
                report = report.with(
                    "migrations",
                    decide_migrations(self.alembic_revision.as_deref(), *alembic_exists, snapshot.alembic.as_ref()),
                );
            }
            Err(problem) => {
                report = report
                    .with("schema", problem.outcome("the table list"))
                    .with("migrations", problem.outcome("the table list"));
            }
        }

        match &snapshot.settings {
            Ok(settings) => {
                let values = [
                    settings.shared_buffers_bytes as f64,
                    settings.effective_cache_size_bytes as f64,
                    settings.max_connections as f64,
                    settings.checkpoint_completion_target,
                ];
                for (name, value) in TUNING_SETTINGS.iter().zip(values) {
                    report =
                        report.sample(Sample::new(&PG_SETTING, value).label("server", server).label("name", *name));
                }
                let memory_share = |name: &'static str, bytes: i64, band: [f64; 2]| match ram {
                    Some(ram) => decide_band(name, bytes, ram, band),
                    None => Outcome::error(
                        Cause::Io,
                        format!("the RAM of the database host is unknown; cannot judge {name} against it"),
                    ),
                };
                report = report
                    .with(
                        "shared_buffers",
                        memory_share("shared_buffers", settings.shared_buffers_bytes, self.shared_buffers_ratio),
                    )
                    .with(
                        "effective_cache_size",
                        memory_share(
                            "effective_cache_size",
                            settings.effective_cache_size_bytes,
                            self.effective_cache_size_ratio,
                        ),
                    )
                    .with(
                        "max_connections",
                        decide_max_connections(settings.max_connections, self.max_connections_range),
                    )
                    .with(
                        "checkpoint_completion_target",
                        decide_checkpoint(settings.checkpoint_completion_target, self.min_checkpoint_completion_target),
                    );
            }
            Err(problem) => {
                for name in TUNING_SETTINGS {
                    report = report.with(name, problem.outcome("the server settings"));
                }
            }
        }

        let connections = match (&snapshot.connections_in_use, &snapshot.settings) {
            (Ok(in_use), Ok(settings)) => {
                let ratio =
                    if settings.max_connections > 0 { *in_use as f64 / settings.max_connections as f64 } else { 1.0 };
                report = report
                    .sample(Sample::new(&PG_CONNECTIONS_IN_USE, *in_use as f64).label("server", server))
                    .sample(Sample::new(&PG_CONNECTIONS_USED_RATIO, ratio).label("server", server));
                decide_connections(*in_use, settings.max_connections, self.max_connections_used_ratio)
            }
            (Err(problem), _) => problem.outcome("the connections in use (pg_stat_activity)"),
            (_, Err(problem)) => problem.outcome("max_connections"),
        };
        report = report.with("connections", connections);

        if let Ok(size) = snapshot.size_bytes {
            report = report.sample(
                Sample::new(&PG_DATABASE_SIZE_BYTES, size as f64)
                    .label("server", server)
                    .label("database", quote(&identity.database)),
            );
        }

        let latency_outcome = match &snapshot.probe {
            Some(Err(problem)) => Outcome::error(problem.cause, format!("the probe query failed: {}", problem.reason)),
            _ => decide_latency(latency, self.max_query_latency.0, self.latency_window.0),
        };
        report.with("latency", latency_outcome)
    }
}

/// A share of RAM within a band: "shared_buffers is 128 MiB = 3% of 4 GiB RAM; want 15-40%".
pub fn decide_band(name: &str, bytes: i64, ram: u64, band: [f64; 2]) -> Outcome {
    let bytes = bytes.max(0) as u64;
    let ratio = if ram == 0 { 0.0 } else { bytes as f64 / ram as f64 };
    let reason = format!(
        "{name} is {} = {} of {} RAM; want {}-{}",
        format_bytes(bytes),
        format_percent(ratio),
        format_bytes(ram),
        format_percent(band[0]).trim_end_matches('%'),
        format_percent(band[1])
    );
    if ratio < band[0] {
        Outcome::fail(Cause::BelowMinimum, reason)
    } else if ratio > band[1] {
        Outcome::fail(Cause::AboveMaximum, reason)
    } else {
        Outcome::pass(reason)
    }
}

pub fn decide_max_connections(value: i64, range: Option<[u64; 2]>) -> Outcome {
    let Some([low, high]) = range else { return Outcome::pass(format!("max_connections is {value}")) };
    let reason = format!("max_connections is {value}; want {low}-{high}");
    if value < low as i64 {
        Outcome::fail(Cause::BelowMinimum, reason)
    } else if value > high as i64 {
        Outcome::fail(Cause::AboveMaximum, reason)
    } else {
        Outcome::pass(reason)
    }
}

pub fn decide_checkpoint(value: f64, min: f64) -> Outcome {
    // Compared with a little slack: the server prints 0.9 from a float8 that may be 0.8999….
    Outcome::decide(
        value + 1e-9 >= min,
        Cause::BelowMinimum,
        format!("checkpoint_completion_target is {value}; want at least {min}"),
    )
}

pub fn decide_connections(in_use: i64, max_connections: i64, max_ratio: f64) -> Outcome {
    let ratio = if max_connections > 0 { in_use as f64 / max_connections as f64 } else { 1.0 };
    Outcome::decide(
        ratio <= max_ratio,
        Cause::AboveMaximum,
        format!(
            "{in_use} of max_connections {max_connections} in use ({}); want at most {}",
            format_percent(ratio),
            format_percent(max_ratio)
        ),
    )
}

pub fn decide_privileges(user: &str, role: &Result<Option<RoleAttributes>, Problem>) -> Outcome {
    let user = quote(user);
    match role {
        Err(problem) => problem.outcome("the role attributes (pg_roles)"),
        Ok(None) => Outcome::error(Cause::NotFound, format!("role {user} is not in pg_roles")),
        Ok(Some(role)) => {
            let flags = [role.superuser, role.create_role, role.create_db, role.bypass_rls];
            let held: Vec<&str> =
                PRIVILEGED_ATTRIBUTES.iter().zip(flags).filter(|(_, held)| *held).map(|(name, _)| *name).collect();
            let unwanted = PRIVILEGED_ATTRIBUTES.join(", ");
            if held.is_empty() {
                Outcome::pass(format!("role {user} has none of {unwanted}"))
            } else {
                Outcome::fail(Cause::Insecure, format!("role {user} has {}; want none of {unwanted}", held.join(", ")))
            }
        }
    }
}

pub fn decide_tables(expected: &[String], missing: &[String]) -> Outcome {
    if missing.is_empty() {
        let names: Vec<String> = expected.iter().map(|t| quote(t)).collect();
        Outcome::pass(format!("all {} expected tables exist: {}", expected.len(), names.join(", ")))
    } else {
        let names: Vec<String> = missing.iter().map(|t| quote(t)).collect();
        Outcome::fail(
            Cause::Missing,
            format!("{} of {} expected tables are missing: {}", missing.len(), expected.len(), names.join(", ")),
        )
    }
}

pub fn decide_migrations(
    revision: Option<&str>,
    table_exists: bool,
    rows: Option<&Result<Vec<String>, Problem>>,
) -> Outcome {
    if !table_exists {
        return Outcome::fail(Cause::Missing, "table alembic_version does not exist: migrations never ran here");
    }
    let rows = match rows {
        Some(Ok(rows)) => rows,
        Some(Err(problem)) => return problem.outcome("alembic_version"),
        None => return Outcome::error(Cause::Io, "alembic_version was not read"),
    };
    let shown: Vec<String> = rows.iter().take(5).map(|r| quote(r)).collect();
    let held = if rows.is_empty() { "no revision".to_string() } else { shown.join(", ") };
    match revision {
        Some(want) => Outcome::decide(
            rows.len() == 1 && rows[0] == want,
            Cause::Mismatch,
            format!("alembic_version holds {held}; want {}", quote(want)),
        ),
        None => Outcome::decide(
            rows.len() == 1,
            Cause::Invalid,
            format!("alembic_version holds {} row(s) ({held}); want exactly one", rows.len()),
        ),
    }
}

pub fn decide_latency(tracker: &LatencyTracker, max: Duration, window: Duration) -> Outcome {
    match tracker.quantile(0.95) {
        None => Outcome::error(Cause::Io, "no probe query has been timed yet"),
        Some(p95) => Outcome::decide(
            p95 <= max,
            Cause::AboveMaximum,
            format!(
                "probe query p95 {} over {} run(s) in the last {}; want at most {}",
                format_duration_fine(p95),
                tracker.len(),
                format_duration(window),
                format_duration_fine(max)
            ),
        ),
    }
}

/// Milliseconds with a decimal below 10 ms, where query latencies live.
fn format_duration_fine(duration: Duration) -> String {
    let ms = duration.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.2} ms")
    } else if ms < 1000.0 {
        format!("{ms:.0} ms")
    } else {
        format_duration(duration)
    }
}

fn snapshot_from_row(row: &tokio_postgres::Row, start: usize) -> Result<Snapshot, String> {
    let identity = identity_from_row(row, start)?;
    Ok(Snapshot {
        identity,
        role: Ok(role_from_row(row, start + 4)?),
        settings: Ok(settings_from_row(row, start + 5)?),
        connections_in_use: Ok(row.try_get::<_, i64>(start + 9).map_err(|e| e.to_string())?),
        size_bytes: Ok(row.try_get::<_, i64>(start + 10).map_err(|e| e.to_string())?),
        tables: Ok(tables_from_row(row, start + 11)?),
        alembic: None,
        probe: None,
    })
}

fn identity_from_row(row: &tokio_postgres::Row, at: usize) -> Result<Identity, String> {
    let text = |i: usize| row.try_get::<_, String>(at + i).map_err(|e| e.to_string());
    Ok(Identity { version: text(0)?, server_version: text(1)?, database: text(2)?, user: text(3)? })
}

fn role_from_row(row: &tokio_postgres::Row, at: usize) -> Result<Option<RoleAttributes>, String> {
    let flags: Option<Vec<bool>> = row.try_get(at).map_err(|e| e.to_string())?;
    Ok(flags.map(|f| RoleAttributes {
        superuser: f.first().copied().unwrap_or(false),
        create_role: f.get(1).copied().unwrap_or(false),
        create_db: f.get(2).copied().unwrap_or(false),
        bypass_rls: f.get(3).copied().unwrap_or(false),
    }))
}

fn settings_from_row(row: &tokio_postgres::Row, at: usize) -> Result<Settings, String> {
    let int = |i: usize| row.try_get::<_, i64>(at + i).map_err(|e| e.to_string());
    Ok(Settings {
        shared_buffers_bytes: int(0)?,
        effective_cache_size_bytes: int(1)?,
        max_connections: int(2)?,
        checkpoint_completion_target: row.try_get::<_, f64>(at + 3).map_err(|e| e.to_string())?,
    })
}

fn tables_from_row(row: &tokio_postgres::Row, at: usize) -> Result<(Vec<String>, bool), String> {
    let missing: Vec<String> = row.try_get(at).map_err(|e| e.to_string())?;
    let alembic: bool = row.try_get(at + 1).map_err(|e| e.to_string())?;
    Ok((missing, alembic))
}

/// Maps a driver error to a cause and a reason. The server's message is in the DbError; the
/// Display of the error itself is only "db error".
pub fn describe_error(err: &tokio_postgres::Error) -> Problem {
    use tokio_postgres::error::SqlState;
    if let Some(db) = err.as_db_error() {
        let code = db.code();
        let cause = if *code == SqlState::INVALID_PASSWORD || *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            Cause::Auth
        } else if *code == SqlState::INVALID_CATALOG_NAME || *code == SqlState::UNDEFINED_TABLE {
            Cause::NotFound
        } else if *code == SqlState::INSUFFICIENT_PRIVILEGE {
            Cause::Permission
        } else if *code == SqlState::CANNOT_CONNECT_NOW {
            Cause::Refused
        } else {
            Cause::Io
        };
        return Problem::new(cause, format!("the server says: {} (SQLSTATE {})", db.message(), code.code()));
    }
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            // rustls reports a refused certificate as an io::Error wrapping its own error.
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return Problem::new(Cause::Untrusted, format!("TLS: {tls}"));
            }
            return Problem::new(Cause::from_io(io), io_reason(io));
        }
        if inner.downcast_ref::<rustls::Error>().is_some() {
            return Problem::new(Cause::Untrusted, format!("TLS: {inner}"));
        }
        source = inner.source();
    }
    if err.is_closed() {
        return Problem::new(Cause::Io, "the server closed the connection");
    }
    Problem::new(Cause::Io, err.to_string())
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused: nothing listens there".to_string(),
        std::io::ErrorKind::NotFound => "does not exist".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

/// At most [`MAX_QUOTED_CHARS`] of a target's text.
fn quote(text: &str) -> String {
    excerpt(text, MAX_QUOTED_CHARS)
}

fn is_table_name(name: &str) -> bool {
    let identifier = |part: &str| {
        let mut chars = part.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
            && part.len() <= 63
    };
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| identifier(p))
}

async fn host_ram(ctx: &CheckContext) -> Option<u64> {
    let total = ctx
        .blocking
        .run(|| {
            let mut system = sysinfo::System::new().ok()?;
            system.refresh_memory();
            Some(system.total_memory())
        })
        .await
        .ok()
        .flatten()?;
    (total > 0).then_some(total)
}

/// The TLS connector for the URL's `sslmode`. One crypto provider is named explicitly, so no
/// process-wide default is needed.
async fn tls_connector(ctx: &CheckContext, url: &PgUrl) -> Result<tokio_postgres_rustls::MakeRustlsConnect, Problem> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| Problem::new(Cause::Io, format!("TLS setup: {err}")))?;
    let config = match url.tls {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Verifier::new(tls::AcceptAnyCertificate, &provider))
            .with_no_client_auth(),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let root_cert = url.root_cert.clone();
            let roots = ctx
                .blocking
                .run(move || tls::load_roots(root_cert.as_deref()))
                .await
                .map_err(|failure| Problem::new(failure.cause, failure.reason))??;
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|err| Problem::new(Cause::Untrusted, format!("TLS roots: {err}")))?;
            if url.tls == TlsMode::VerifyCa {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Verifier::new(tls::ChainOnly(verifier), &provider))
                    .with_no_client_auth()
            } else {
                builder.with_webpki_verifier(verifier).with_no_client_auth()
            }
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

mod tls {
    //! Certificate verification for libpq's `sslmode` levels below `verify-full`.

    use std::sync::Arc;

    use rustls::client::danger::{ServerCertVerified, ServerCertVerifier};
    use rustls::client::WebPkiServerVerifier;
    use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
    use rustls::{CertificateError, Error, RootCertStore};

    use crate::support::tls::ServerPolicy;

    use super::Problem;
    use crate::model::Cause;

    /// `sslmode=require` (and `prefer`): encrypted, certificate not checked, as libpq does.
    #[derive(Debug)]
    pub struct AcceptAnyCertificate;

    impl ServerPolicy for AcceptAnyCertificate {
        fn verify_server_cert(
            &self,
            _end_entity: &CertificateDer<'_>,
            _intermediates: &[CertificateDer<'_>],
            _server_name: &ServerName<'_>,
            _ocsp_response: &[u8],
            _now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            Ok(ServerCertVerified::assertion())
        }
    }

    /// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name is not checked.
    #[derive(Debug)]
    pub struct ChainOnly(pub Arc<WebPkiServerVerifier>);

    impl ServerPolicy for ChainOnly {
        fn verify_server_cert(
            &self,
            end_entity: &CertificateDer<'_>,
            intermediates: &[CertificateDer<'_>],
            server_name: &ServerName<'_>,
            ocsp_response: &[u8],
            now: UnixTime,
        ) -> Result<ServerCertVerified, Error> {
            match self.0.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
                Err(Error::InvalidCertificate(
                    CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
                )) => Ok(ServerCertVerified::assertion()),
                other => other,
            }
        }
    }

    /// The roots from `sslrootcert` when given, else the system's.
    pub fn load_roots(path: Option<&std::path::Path>) -> Result<RootCertStore, Problem> {
        let mut roots = RootCertStore::empty();
        match path {
            Some(path) => {
                let pem = std::fs::read(path).map_err(|err| {
                    Problem::new(
                        Cause::from_io(&err),
                        format!("sslrootcert {}: {}", path.display(), super::io_reason(&err)),
                    )
                })?;
                let mut reader = std::io::Cursor::new(pem);
                for cert in rustls_pemfile_certs(&mut reader) {
                    roots.add(cert).map_err(|err| {
                        Problem::new(Cause::Invalid, format!("sslrootcert {}: {err}", path.display()))
                    })?;
                }
            }
            None => {
                let found = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(found.certs);
            }
        }
        if roots.is_empty() {
            return Err(Problem::new(Cause::Untrusted, "no trusted root certificate to verify the server with"));
        }
        Ok(roots)
    }

    fn rustls_pemfile_certs(reader: &mut std::io::Cursor<Vec<u8>>) -> Vec<CertificateDer<'static>> {
        use rustls::pki_types::pem::PemObject;
        CertificateDer::pem_reader_iter(reader).filter_map(Result::ok).collect()
    }
}

/// `kind = "pgbouncer"`: the admin console at `url` answers `SHOW POOLS` with at least one pool.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PgbouncerCheck {
    /// `postgres://user[:password]@host:port/pgbouncer`.
    pub url: Secret,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// A pool (database name) that must be listed.
    pub expect_database: Option<String>,
}

impl std::fmt::Debug for PgbouncerCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgbouncerCheck")
            .field("url", &mask_url(self.url.expose()))
            .field("url_password_chars", &PgUrl::parse(self.url.expose()).ok().map(|u| u.password_chars()))
            .field("connect_timeout", &self.connect_timeout)
            .field("expect_database", &self.expect_database)
            .finish()
    }
}

impl Check for PgbouncerCheck {
    const KIND: &'static str = "pgbouncer";
    const ASPECTS: &'static [&'static str] = &["pools"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&PGBOUNCER_POOLS, &PGBOUNCER_DATABASES];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        PgUrl::parse(self.url.expose()).map_err(|why| KeyError::new("url", why))?;
        if self.connect_timeout.0.is_zero() {
            return Err(KeyError::new("connect_timeout", "must be longer than 0s"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        match PgUrl::parse(self.url.expose()) {
            Ok(url) => url.server(),
            Err(_) => mask_url(self.url.expose()),
        }
    }

    async fn run(&self, _ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let url =
            PgUrl::parse(self.url.expose()).map_err(|why| ProbeFailure::new(Cause::Invalid, format!("url {why}")))?;
        let server = url.server();
        let mut config = url.config.clone();
        // The admin console speaks only the simple protocol and offers no TLS by default.
        config.ssl_mode(SslMode::Disable);
        config.connect_timeout(self.connect_timeout.0);
        let limit = self.connect_timeout.0;
        let pools = tokio::time::timeout(limit, async {
            let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
            let task = tokio::spawn(connection);
            // SHOW POOLS proves the admin console answers; it lists a pool only once a client
            // has used it, so the configured databases come from SHOW DATABASES.
            let answered = async {
                let pools = client.simple_query("SHOW POOLS").await?;
                let databases = client.simple_query("SHOW DATABASES").await?;
                Ok::<_, tokio_postgres::Error>((pools, databases))
            }
            .await;
            drop(client);
            let _ = task.await;
            let (pools, databases) = answered?;
            let names = |messages: Vec<SimpleQueryMessage>, column: &str| -> Vec<String> {
                messages
                    .into_iter()
                    .filter_map(|m| match m {
                        SimpleQueryMessage::Row(row) => Some(row.get(column).unwrap_or("").to_string()),
                        _ => None,
                    })
                    .collect()
            };
            // SHOW POOLS names a pool by its `database`; SHOW DATABASES by `name` (its
            // `database` column is the server-side name).
            let databases = (names(pools, "database"), names(databases, "name"));
            Ok::<_, tokio_postgres::Error>(databases)
        })
        .await;
        let (pools, databases) = match pools {
            Ok(Ok(found)) => found,
            Ok(Err(err)) => {
                let problem = describe_error(&err);
                return Err(ProbeFailure::new(problem.cause, format!("pgbouncer at {server}: {}", problem.reason)));
            }
            Err(_) => {
                return Err(ProbeFailure::new(
                    Cause::Timeout,
                    format!("pgbouncer at {server} gave no answer within {}", format_duration(limit)),
                ))
            }
        };
        Ok(self.decide(&server, &pools, &databases))
    }
}

impl PgbouncerCheck {
    /// `pools` from SHOW POOLS, `databases` from SHOW DATABASES; the console's own `pgbouncer`
    /// entry is not a pool of the application.
    pub fn decide(&self, server: &str, pools: &[String], databases: &[String]) -> Report {
        let application = |names: &[String]| -> Vec<String> {
            names.iter().filter(|p| *p != "pgbouncer").map(|p| quote(p)).collect()
        };
        let (pools, databases) = (application(pools), application(databases));
        let report = Report::default()
            .sample(Sample::new(&PGBOUNCER_POOLS, pools.len() as f64).label("server", server))
            .sample(Sample::new(&PGBOUNCER_DATABASES, databases.len() as f64).label("server", server));
        let said = format!(
            "pgbouncer at {server} answers SHOW POOLS ({} active pools) and serves {}",
            pools.len(),
            shown(&databases)
        );
        let outcome = match &self.expect_database {
            Some(want) => Outcome::decide(
                databases.iter().any(|p| p == want),
                Cause::Missing,
                format!("{said}; want {}", quote(want)),
            ),
            None => {
                Outcome::decide(!databases.is_empty(), Cause::Missing, format!("{said}; want at least one database"))
            }
        };
        report.with("pools", outcome)
    }
}

fn shown(names: &[String]) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.iter().take(10).cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const MIB: i64 = 1 << 20;
    const GIB: u64 = 1 << 30;

    /// A check with every default, decoded as the config decodes it.
    fn check(url: &str) -> PostgresCheck {
        config::Config::builder()
            .add_source(config::File::from_str(&format!("url = \"{url}\""), config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
    }

    fn snapshot() -> Snapshot {
        Snapshot {
            identity: Identity {
                version: "PostgreSQL 15.5 on x86_64".into(),
                server_version: "15.5".into(),
                database: "dndstory".into(),
                user: "dnduser".into(),
            },
            role: Ok(Some(RoleAttributes::default())),
            settings: Ok(Settings {
                shared_buffers_bytes: 1024 * MIB,
                effective_cache_size_bytes: 3072 * MIB,
                max_connections: 100,
                checkpoint_completion_target: 0.9,
            }),
            connections_in_use: Ok(12),
            size_bytes: Ok(8 * MIB),
            tables: Ok((vec![], true)),
            alembic: Some(Ok(vec!["abc123".into()])),
            probe: Some(Ok(Duration::from_millis(2))),
        }
    }

    #[test]
    fn shared_buffers_reason_states_value_ratio_and_band() {
        let outcome = decide_band("shared_buffers", 128 * MIB, 4 * GIB, [0.15, 0.40]);
        assert_eq!(
            outcome,
            Outcome::fail(Cause::BelowMinimum, "shared_buffers is 128 MiB = 3.1% of 4 GiB RAM; want 15-40%")
        );
        assert_eq!(decide_band("shared_buffers", 1024 * MIB, 4 * GIB, [0.15, 0.40]).verdict, Verdict::Pass);
        let high = decide_band("effective_cache_size", 3900 * MIB, 4 * GIB, [0.50, 0.85]);
        assert_eq!(high.cause, Some(Cause::AboveMaximum));
        assert_eq!(high.reason, "effective_cache_size is 3.8 GiB = 95.2% of 4 GiB RAM; want 50-85%");
    }

    #[test]
    fn the_band_edges_pass() {
        assert_eq!(decide_band("shared_buffers", 1024 * MIB, 4 * GIB, [0.25, 0.25]).verdict, Verdict::Pass);
    }

    #[test]
    fn max_connections_inside_and_outside_the_range() {
        assert_eq!(decide_max_connections(100, Some([20, 500])).reason, "max_connections is 100; want 20-500");
        assert_eq!(decide_max_connections(100, Some([20, 500])).verdict, Verdict::Pass);
        assert_eq!(decide_max_connections(10, Some([20, 500])).cause, Some(Cause::BelowMinimum));
        assert_eq!(decide_max_connections(1000, Some([20, 500])).cause, Some(Cause::AboveMaximum));
    }

    #[test]
    fn checkpoint_completion_target_at_least_the_minimum() {
        assert_eq!(decide_checkpoint(0.9, 0.9).verdict, Verdict::Pass);
        assert_eq!(
            decide_checkpoint(0.5, 0.9),
            Outcome::fail(Cause::BelowMinimum, "checkpoint_completion_target is 0.5; want at least 0.9")
        );
    }

    #[test]
    fn connections_used_ratio_against_the_maximum() {
        assert_eq!(
            decide_connections(85, 100, 0.8),
            Outcome::fail(Cause::AboveMaximum, "85 of max_connections 100 in use (85%); want at most 80%")
        );
        assert_eq!(decide_connections(80, 100, 0.8).verdict, Verdict::Pass);
    }

    #[test]
    fn any_privileged_attribute_fails_least_privilege() {
        let role = RoleAttributes { superuser: true, create_db: true, ..RoleAttributes::default() };
        assert_eq!(
            decide_privileges("dnduser", &Ok(Some(role))),
            Outcome::fail(
                Cause::Insecure,
                "role dnduser has SUPERUSER, CREATEDB; want none of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS"
            )
        );
        let plain = decide_privileges("dnduser", &Ok(Some(RoleAttributes::default())));
        assert_eq!(plain.reason, "role dnduser has none of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS");
        assert_eq!(plain.verdict, Verdict::Pass);
        let refused = decide_privileges("dnduser", &Err(Problem::new(Cause::Permission, "permission denied")));
        assert_eq!(refused.verdict, Verdict::Error);
        assert_eq!(refused.cause, Some(Cause::Permission));
    }

    #[test]
    fn missing_tables_are_named() {
        let expected = vec!["users".to_string(), "stories".to_string()];
        assert_eq!(
            decide_tables(&expected, &["stories".to_string()]),
            Outcome::fail(Cause::Missing, "1 of 2 expected tables are missing: stories")
        );
        assert_eq!(decide_tables(&expected, &[]).reason, "all 2 expected tables exist: users, stories");
    }

    #[test]
    fn migrations_at_the_configured_revision_or_exactly_one_row() {
        let one = Ok(vec!["abc123".to_string()]);
        assert_eq!(decide_migrations(Some("abc123"), true, Some(&one)).verdict, Verdict::Pass);
        assert_eq!(
            decide_migrations(Some("def456"), true, Some(&one)),
            Outcome::fail(Cause::Mismatch, "alembic_version holds abc123; want def456")
        );
        assert_eq!(decide_migrations(None, true, Some(&one)).verdict, Verdict::Pass);
        let two = Ok(vec!["a1".to_string(), "b2".to_string()]);
        assert_eq!(
            decide_migrations(None, true, Some(&two)),
            Outcome::fail(Cause::Invalid, "alembic_version holds 2 row(s) (a1, b2); want exactly one")
        );
        let none = Ok(vec![]);
        assert_eq!(
            decide_migrations(None, true, Some(&none)).reason,
            "alembic_version holds 0 row(s) (no revision); want exactly one"
        );
        assert_eq!(decide_migrations(Some("abc123"), false, None).cause, Some(Cause::Missing));
    }

    #[test]
    fn latency_p95_over_the_window_against_the_maximum() {
        let mut tracker = LatencyTracker::default();
        assert_eq!(
            decide_latency(&tracker, Duration::from_millis(100), Duration::from_secs(300)).verdict,
            Verdict::Error
        );
        let start = Instant::now();
        for i in 0..20 {
            tracker.observe(start + Duration::from_secs(i), Duration::from_millis(2), Duration::from_secs(300));
        }
        let fast = decide_latency(&tracker, Duration::from_millis(100), Duration::from_secs(300));
        assert_eq!(fast, Outcome::pass("probe query p95 2.00 ms over 20 run(s) in the last 5m; want at most 100 ms"));
        for i in 20..22 {
            tracker.observe(start + Duration::from_secs(i), Duration::from_millis(400), Duration::from_secs(300));
        }
        let slow = decide_latency(&tracker, Duration::from_millis(100), Duration::from_secs(300));
        assert_eq!(slow.cause, Some(Cause::AboveMaximum));
        assert_eq!(slow.reason, "probe query p95 400 ms over 22 run(s) in the last 5m; want at most 100 ms");
    }

    #[test]
    fn password_length_is_judged_without_showing_it() {
        let mut check = check("postgres://dnduser@127.0.0.1/dndstory");
        check.min_password_length = Some(20);
        let short = check.decide_password(Some(&Secret::new("hunter2-canary")));
        assert_eq!(short, Outcome::fail(Cause::Weak, "the database password has 14 characters; want at least 20"));
        assert_eq!(check.decide_password(None).cause, Some(Cause::Missing));
    }

    #[test]
    fn a_refused_catalog_view_errors_only_the_aspects_that_need_it() {
        let check = check("postgres://dnduser@127.0.0.1/dndstory");
        let mut snap = snapshot();
        snap.connections_in_use = Err(Problem::new(Cause::Permission, "the server says: permission denied"));
        let report = check.decide("127.0.0.1:5432", &snap, Some(&None), Some(4 * GIB), &LatencyTracker::default());
        let connections = report.outcome("connections").unwrap();
        assert_eq!(connections.verdict, Verdict::Error);
        assert_eq!(
            connections.reason,
            "cannot read the connections in use (pg_stat_activity): the server says: permission denied"
        );
        for aspect in ["running", "least_privilege", "schema", "migrations", "shared_buffers", "max_connections"] {
            assert_eq!(report.outcome(aspect).unwrap().verdict, Verdict::Pass, "{aspect}");
        }
        assert!(report.samples.iter().all(|s| s.family.name != "checklist_pg_connections_used_ratio"));
    }

    #[test]
    fn settings_are_exported_in_bytes_and_numbers() {
        let check = check("postgres://dnduser@127.0.0.1/dndstory");
        let report = check.decide("127.0.0.1:5432", &snapshot(), None, Some(4 * GIB), &LatencyTracker::default());
        let setting = |name: &str| {
            report
                .samples
                .iter()
                .find(|s| s.family.name == "checklist_pg_setting" && s.labels.contains(&("name", name.to_string())))
                .and_then(Sample::gauge_value)
        };
        assert_eq!(setting("shared_buffers"), Some((1024 * MIB) as f64));
        assert_eq!(setting("max_connections"), Some(100.0));
        assert_eq!(setting("checkpoint_completion_target"), Some(0.9));
        assert_eq!(report.outcome("shared_buffers").unwrap().verdict, Verdict::Pass);
        assert_eq!(report.outcome("effective_cache_size").unwrap().verdict, Verdict::Pass);
        assert_eq!(report.outcome("password_strength").unwrap().verdict, Verdict::Error);
    }

    #[test]
    fn unknown_ram_makes_the_memory_shares_undecidable() {
        let check = check("postgres://dnduser@127.0.0.1/dndstory");
        let report = check.decide("127.0.0.1:5432", &snapshot(), Some(&None), None, &LatencyTracker::default());
        assert_eq!(report.outcome("shared_buffers").unwrap().verdict, Verdict::Error);
        assert_eq!(report.outcome("max_connections").unwrap().verdict, Verdict::Pass);
    }

    #[test]
    fn nothing_listening_fails_running_and_leaves_the_rest_undecided() {
        let mut check = check("postgres://dnduser@127.0.0.1/dndstory");
        check.min_password_length = Some(4);
        let problem = Problem::new(Cause::Refused, "connection refused: nothing listens there");
        let report = check.decide_unreachable("127.0.0.1:5432", &problem, Some(&Some(Secret::new("12345"))));
        assert_eq!(
            report.outcome("running").cloned().unwrap(),
            Outcome::fail(
                Cause::Refused,
                "PostgreSQL at 127.0.0.1:5432 does not answer: connection refused: nothing listens there"
            )
        );
        assert_eq!(report.outcome("schema").unwrap().verdict, Verdict::Error);
        assert_eq!(report.outcome("password_strength").unwrap().verdict, Verdict::Pass);
        let auth = Problem::new(Cause::Auth, "the server says: password authentication failed");
        let report = check.decide_unreachable("127.0.0.1:5432", &auth, None);
        assert_eq!(report.outcome("running").unwrap().verdict, Verdict::Error);
    }

    #[test]
    fn urls_are_parsed_with_libpq_ssl_modes() {
        let url = PgUrl::parse("postgres://app:pw@db.internal:6432/dndstory?sslmode=verify-full&sslrootcert=/ca.pem")
            .unwrap();
        assert_eq!(url.tls, TlsMode::VerifyFull);
        assert_eq!(url.root_cert, Some(PathBuf::from("/ca.pem")));
        assert_eq!(url.server(), "db.internal:6432");
        assert_eq!(url.database(), "dndstory");
        assert!(!url.is_local());
        assert_eq!(url.password_chars(), 2);
        assert_eq!(PgUrl::parse("postgresql://app@127.0.0.1/x").unwrap().tls, TlsMode::Prefer);
        assert!(PgUrl::parse("postgresql://app@localhost/x?sslmode=require").unwrap().is_local());
        assert_eq!(
            PgUrl::parse("postgres://app@db/x?sslmode=maybe").err().unwrap(),
            "sslmode `maybe` is not one of disable, prefer, require, verify-ca, verify-full"
        );
        assert_eq!(PgUrl::parse("mysql://db/x").err().unwrap(), "must be a postgres:// or postgresql:// URL");
        let two_ats = check("postgres://app:hunter2@canary@127.0.0.1/x");
        assert_eq!(
            two_ats.validate("running").unwrap_err().message,
            "holds more than one `@` before the host; write an `@` in the password as %40"
        );
        assert_eq!(two_ats.target(), "postgres://app:****@127.0.0.1/x");
    }

    #[test]
    fn debug_and_target_never_show_the_password() {
        let check = check("postgres://app:hunter2-canary@db.internal:5432/dndstory");
        let debug = format!("{check:?}");
        assert!(!debug.contains("hunter2-canary"), "{debug}");
        assert!(debug.contains("postgres://app:****@db.internal:5432/dndstory"), "{debug}");
        assert_eq!(check.target(), "db.internal:5432/dndstory");
    }

    #[test]
    fn validation_rules() {
        let mut remote = check("postgres://app@db.internal/dndstory");
        assert_eq!(remote.validate("shared_buffers").unwrap_err().key, "ram_bytes");
        remote.ram_bytes = Some(ByteSize(8 * GIB, false));
        assert_eq!(remote.validate("shared_buffers"), Ok(()));
        let mut two_sources = check("postgres://app:pw@127.0.0.1/dndstory");
        two_sources.password_env = Some("DB_PASSWORD".into());
        assert_eq!(two_sources.validate("running").unwrap_err().key, "password_env");
        let mut bad_table = check("postgres://app@127.0.0.1/dndstory");
        bad_table.expect_tables = vec!["users; drop table x".into()];
        assert_eq!(bad_table.validate("schema").unwrap_err().key, "expect_tables");
        let mut upside_down = check("postgres://app@127.0.0.1/dndstory");
        upside_down.shared_buffers_ratio = [0.4, 0.15];
        assert_eq!(upside_down.validate("running").unwrap_err().key, "shared_buffers_ratio");
        assert_eq!(check("postgres://app@127.0.0.1/x").validate("schema").unwrap_err().key, "expect_tables");
        assert_eq!(check("postgres://app@127.0.0.1/x").validate("database").unwrap_err().key, "expect_database");
    }

    #[test]
    fn pgbouncer_pools_must_list_the_database() {
        let bouncer = PgbouncerCheck {
            url: Secret::new("postgres://pgbouncer@127.0.0.1:6432/pgbouncer"),
            connect_timeout: default_connect_timeout(),
            expect_database: Some("dndstory".into()),
        };
        let listed = bouncer.decide(
            "127.0.0.1:6432",
            &["pgbouncer".to_string()],
            &["pgbouncer".to_string(), "dndstory".to_string()],
        );
        assert_eq!(
            listed.outcome("pools").unwrap().reason,
            "pgbouncer at 127.0.0.1:6432 answers SHOW POOLS (0 active pools) and serves dndstory; want dndstory"
        );
        assert_eq!(listed.outcome("pools").unwrap().verdict, Verdict::Pass);
        let empty = bouncer.decide("127.0.0.1:6432", &[], &["pgbouncer".to_string()]);
        assert_eq!(empty.outcome("pools").unwrap().cause, Some(Cause::Missing));
    }
}
