//! PostgreSQL: one `postgres` check connects once, keeps the connection for the next evaluations,
//! and decides every database line of the checklist from at most four statements: one combined
//! catalog read (identity, role attributes, settings, connections in use, size, expected tables,
//! `password_encryption`), the `alembic_version` rows when migrations are checked, the lines of
//! `pg_hba_file_rules` (where the role may read them), and the timed probe query.
//!
//! This file holds the kind itself: its parameters, their validation, its metric families and the
//! run that ties the parts together. The parts, lowest first:
//! - [`url`]: the connection URL (`sslmode`, `sslrootcert`) and where the password comes from;
//! - `tls`: the TLS connector for the URL's `sslmode` (the `pgbouncer` kind uses it too);
//! - [`sql`]: the statements, the reused session, and the [`sql::Snapshot`] they read;
//! - [`decide`]: the verdicts, pure functions of a snapshot, tested on plain values. When the
//!   combined read is refused for lack of a privilege (a catalog view revoked from the role), each
//!   part is read on its own, so only the aspects that need the unreadable part become errors.
//!
//! The `pgbouncer` kind (`checks::pgbouncer`) reads its console URL with [`url::PgUrl`] and
//! describes driver errors with [`sql::describe_error`] and connects with the same TLS.

pub mod decide;
pub mod sql;
pub(super) mod tls;
pub mod url;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::{check_ratio, require, shorter_than_timeout, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, ProbeFailure, Subject};
use crate::support::secret::Secret;
use crate::support::text::excerpt;
use crate::support::units::{ByteSize, HumanDuration};
use crate::support::url::mask_url;
use sql::PostgresState;
use url::PgUrl;

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

/// The settings compared with RAM and ranges, in the order they are exported.
pub const TUNING_SETTINGS: [&str; 4] =
    ["shared_buffers", "effective_cache_size", "max_connections", "checkpoint_completion_target"];
/// Longest string of server text (a revision, a table name) quoted in a reason.
const MAX_QUOTED_CHARS: usize = 64;

/// Shared with the `pgbouncer` kind, whose console is reached the same way.
pub(crate) fn default_connect_timeout() -> HumanDuration {
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
        "password_encryption",
        "hba_auth",
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
        shorter_than_timeout(
            "connect_timeout",
            self.connect_timeout.0,
            timeout,
            "a server that accepts and never answers must be reported as such",
        )
    }

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Database(self.target()))
    }

    async fn run(&self, ctx: &CheckContext, state: &mut Self::State) -> CheckResult {
        let url =
            PgUrl::parse(self.url.expose()).map_err(|why| ProbeFailure::new(Cause::Invalid, format!("url {why}")))?;
        let password = self.password(ctx, &url).await;
        if let Err(problem) = &password {
            return Ok(self.decide_without_password(&url.server(), problem));
        }
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

/// The reason for an I/O failure (a password file, `sslrootcert`, the socket), in the words
/// used by every reason of this kind.
fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::ConnectionRefused => "connection refused: nothing listens there".to_string(),
        std::io::ErrorKind::NotFound => "does not exist".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        _ => err.to_string(),
    }
}

/// At most [`MAX_QUOTED_CHARS`] of a target's text.
pub(crate) fn quote(text: &str) -> String {
    excerpt(text, MAX_QUOTED_CHARS)
}

pub(crate) fn is_table_name(name: &str) -> bool {
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
        .blocking()
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

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    /// A check with every default, decoded as the config decodes it.
    pub(super) fn check(url: &str) -> PostgresCheck {
        config::Config::builder()
            .add_source(config::File::from_str(&format!("url = \"{url}\""), config::FileFormat::Toml))
            .build()
            .unwrap()
            .try_deserialize()
            .unwrap()
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
}
