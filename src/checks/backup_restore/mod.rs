//! `backup_restore`: a restore drill. The newest file of a backup set is restored into a scratch
//! database on a configured PostgreSQL server, then compared with production.
//!
//! The file is read as `backup_integrity` reads it (`checks::backup`: decrypted by gpg or age,
//! gzip and zstd decompressed with their checksums verified) and the content is piped into the
//! real `psql` (plain SQL) or `pg_restore` (custom format), started as child processes in their
//! own process group. Those tools, not SQL executed here, restore because they are what an
//! operator runs in a real recovery (COPY blocks, `\restrict`, the custom format's TOC and
//! dependency order), so a dump they cannot restore is exactly the one that fails the drill.
//!
//! Safety, since the drill writes to a database server:
//! - the scratch database has a name of its own (`checklist_restore_<hash>`) and a marker comment;
//!   an existing database of that name without the marker is never touched (the drill is refused);
//! - it runs as a dedicated role: not a superuser, not production's role;
//! - plain SQL passes a guard that refuses psql meta-commands (`\connect`, `\!`);
//! - the scratch database is dropped after the drill, by a guard even when the scheduler's
//!   timeout drops the run (it kills the tool's process group and drops the database in a task
//!   of its own), and a leftover from a crash is dropped at the start of the next drill;
//! - `max_scratch_size` bounds its disk, the check's `timeout` its time, and one drill runs at a
//!   time in the process.
//!
//! Parts: [`decide`] holds the verdicts (pure), `drill` the server and process I/O.

pub mod decide;
mod drill;
pub mod guard;

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;

use super::backup::{file_name, newest_of_set, validate_keys, validate_set, DecryptionKeys};
use super::postgres::url::{read_password, PasswordSource, PgUrl};
use super::postgres::{default_connect_timeout, is_table_name, quote};
use super::{check_ratio, require, shorter_than_timeout, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::secret::Secret;
use crate::support::units::{ByteSize, HumanDuration};
use crate::support::url::mask_url;
use decide::{decide_data, decide_duration, decide_migrations, decide_restores};

pub static RESTORE_DURATION: MetricFamily = MetricFamily {
    name: "checklist_backup_restore_duration_seconds",
    help: "How long the last restore drill took to restore the newest backup of the set, in seconds.",
    kind: MetricKind::Gauge,
};
pub static RESTORE_SIZE: MetricFamily = MetricFamily {
    name: "checklist_backup_restore_size_bytes",
    help: "Size on disk of the database the last restore drill restored, in bytes.",
    kind: MetricKind::Gauge,
};
pub static RESTORE_ROWS: MetricFamily = MetricFamily {
    name: "checklist_backup_restore_rows",
    help: "Rows of a configured table in the database the last restore drill restored.",
    kind: MetricKind::Gauge,
};

/// One drill at a time in the process: each keeps a core, a disk and the scratch server busy.
/// A drill's permit moves into its scratch guard, and into the guard's cleanup task when a
/// timeout interrupts it, so that the next drill starts only after that cleanup has dropped the
/// database (it could otherwise drop the next drill's database of the same name).
static DRILLS: std::sync::LazyLock<std::sync::Arc<Semaphore>> =
    std::sync::LazyLock::new(|| std::sync::Arc::new(Semaphore::new(1)));

/// What the scratch database's comment says, so that a database is known to be a drill's own.
pub(crate) const MARKER: &str = "checklist-exporter restore drill scratch database; dropped after each drill";
/// Every scratch database's name starts so.
pub(crate) const SCRATCH_PREFIX: &str = "checklist_restore_";

fn default_pattern() -> String {
    "*".to_string()
}
fn default_query_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(300))
}
fn default_tolerance() -> f64 {
    0.05
}
fn default_psql() -> PathBuf {
    PathBuf::from("psql")
}
fn default_pg_restore() -> PathBuf {
    PathBuf::from("pg_restore")
}

/// `kind = "backup_restore"`: the newest file of a set, restored into a scratch database.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupRestoreCheck {
    pub set: String,
    pub directory: PathBuf,
    #[serde(default = "default_pattern")]
    pub pattern: String,
    pub gpg_passphrase_file: Option<PathBuf>,
    pub gpg_homedir: Option<PathBuf>,
    pub age_identity_file: Option<PathBuf>,
    /// The server to restore on, as the drill's dedicated role, naming the database the drill
    /// connects to to create and drop its scratch database (usually `postgres`).
    pub scratch_url: Secret,
    pub scratch_password_env: Option<String>,
    pub scratch_password_file: Option<PathBuf>,
    /// The scratch database's name; `checklist_restore_<hash of set and directory>` by default.
    pub scratch_database: Option<String>,
    /// Production, read only: the alembic head and row counts are compared with it.
    pub production_url: Option<Secret>,
    pub production_password_env: Option<String>,
    pub production_password_file: Option<PathBuf>,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: HumanDuration,
    /// Bound on each comparison query (a `count(*)` on a big production table takes a while).
    #[serde(default = "default_query_timeout")]
    pub query_timeout: HumanDuration,
    /// Recovery time objective: the longest a restore may take.
    pub rto: Option<HumanDuration>,
    /// The restore is stopped when the scratch database grows past this.
    pub max_scratch_size: Option<ByteSize>,
    #[serde(default)]
    pub row_count_tables: Vec<String>,
    /// How far a restored row count may be from production's, as a ratio of production's.
    #[serde(default = "default_tolerance")]
    pub row_count_tolerance: f64,
    /// Queries run on the restored database, each returning one boolean that must be true.
    #[serde(default)]
    pub invariants: Vec<String>,
    #[serde(default = "default_psql")]
    pub psql: PathBuf,
    #[serde(default = "default_pg_restore")]
    pub pg_restore: PathBuf,
}

impl std::fmt::Debug for BackupRestoreCheck {
    // By hand so that the URLs show masked; their passwords' lengths are kept so that a changed
    // password restarts the check (the fingerprint of a check is its Debug text).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let chars = |url: &Secret| PgUrl::parse(url.expose()).ok().map(|u| u.password_chars());
        f.debug_struct("BackupRestoreCheck")
            .field("set", &self.set)
            .field("directory", &self.directory)
            .field("pattern", &self.pattern)
            .field("gpg_passphrase_file", &self.gpg_passphrase_file)
            .field("gpg_homedir", &self.gpg_homedir)
            .field("age_identity_file", &self.age_identity_file)
            .field("scratch_url", &mask_url(self.scratch_url.expose()))
            .field("scratch_url_password_chars", &chars(&self.scratch_url))
            .field("scratch_password_env", &self.scratch_password_env)
            .field("scratch_password_file", &self.scratch_password_file)
            .field("scratch_database", &self.scratch_database)
            .field("production_url", &self.production_url.as_ref().map(|u| mask_url(u.expose())))
            .field("production_url_password_chars", &self.production_url.as_ref().map(chars))
            .field("production_password_env", &self.production_password_env)
            .field("production_password_file", &self.production_password_file)
            .field("connect_timeout", &self.connect_timeout)
            .field("query_timeout", &self.query_timeout)
            .field("rto", &self.rto)
            .field("max_scratch_size", &self.max_scratch_size)
            .field("row_count_tables", &self.row_count_tables)
            .field("row_count_tolerance", &self.row_count_tolerance)
            .field("invariants", &self.invariants)
            .field("psql", &self.psql)
            .field("pg_restore", &self.pg_restore)
            .finish()
    }
}

/// FNV-1a: a stable hash across releases and machines, so a scratch name stays the same.
fn stable_hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| (hash ^ byte as u64).wrapping_mul(0x0100_0000_01b3))
}

fn is_scratch_name(name: &str) -> bool {
    name.starts_with(SCRATCH_PREFIX)
        && name.len() <= 63
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl BackupRestoreCheck {
    fn keys(&self) -> DecryptionKeys {
        DecryptionKeys {
            gpg_passphrase_file: self.gpg_passphrase_file.clone(),
            gpg_homedir: self.gpg_homedir.clone(),
            age_identity_file: self.age_identity_file.clone(),
        }
    }

    /// The scratch database's name: configured, or derived from the set and its directory.
    pub fn scratch_name(&self) -> String {
        self.scratch_database.clone().unwrap_or_else(|| {
            let key = format!("{}\0{}", self.set, self.directory.display());
            format!("{SCRATCH_PREFIX}{:016x}", stable_hash(&key))
        })
    }

    fn validate_url(
        key: &'static str,
        url: &Secret,
        password_env: &Option<String>,
        password_file: &Option<PathBuf>,
    ) -> Result<PgUrl, KeyError> {
        let parsed = PgUrl::parse(url.expose()).map_err(|why| KeyError::new(key, why))?;
        let sources = [parsed.config.get_password().is_some(), password_env.is_some(), password_file.is_some()];
        if sources.iter().filter(|s| **s).count() > 1 {
            return Err(KeyError::new(
                key,
                "give its password in one place: the URL, the `_password_env` or the `_password_file` key",
            ));
        }
        if let Some(path) = password_file {
            if !path.is_absolute() {
                return Err(KeyError::new(
                    key,
                    format!("its password file `{}` is not an absolute path", path.display()),
                ));
            }
        }
        Ok(parsed)
    }

    fn production_target(&self) -> String {
        self.production_url
            .as_ref()
            .and_then(|url| PgUrl::parse(url.expose()).ok())
            .map(|url| format!("{}/{}", url.server(), url.database()))
            .unwrap_or_default()
    }
}

impl Check for BackupRestoreCheck {
    const KIND: &'static str = "backup_restore";
    const ASPECTS: &'static [&'static str] = &["restores", "migrations", "data", "duration"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&RESTORE_DURATION, &RESTORE_SIZE, &RESTORE_ROWS];
    type State = ();

    fn validate(&self, aspect: &str) -> Result<(), KeyError> {
        validate_set(&self.set, &self.directory, &self.pattern)?;
        validate_keys(&self.pattern, &self.keys())?;
        let scratch = Self::validate_url(
            "scratch_url",
            &self.scratch_url,
            &self.scratch_password_env,
            &self.scratch_password_file,
        )?;
        let Some(role) = scratch.config.get_user() else {
            return Err(KeyError::new(
                "scratch_url",
                "names no role; the drill runs as a dedicated role with CREATEDB",
            ));
        };
        let name = self.scratch_name();
        if !is_scratch_name(&name) {
            return Err(KeyError::new(
                "scratch_database",
                format!(
                    "`{}` is not a scratch name: it must start with `{SCRATCH_PREFIX}` (lower-case letters, digits, `_`; at most 63), \
                     so that no other database is ever dropped",
                    quote(&name)
                ),
            ));
        }
        if let Some(url) = &self.production_url {
            let production = Self::validate_url(
                "production_url",
                url,
                &self.production_password_env,
                &self.production_password_file,
            )?;
            if production.server() == scratch.server() {
                if production.database() == name {
                    return Err(KeyError::new(
                        "scratch_database",
                        format!(
                            "`{name}` is the production database on {}; the drill drops its scratch database",
                            scratch.server()
                        ),
                    ));
                }
                if production.config.get_user() == Some(role) {
                    return Err(KeyError::new(
                        "scratch_url",
                        format!(
                            "restores as `{}`, production's role on {}; use a dedicated role with CREATEDB",
                            quote(role),
                            scratch.server()
                        ),
                    ));
                }
            }
        }
        if self.connect_timeout.0.is_zero() || self.query_timeout.0.is_zero() {
            return Err(KeyError::new("connect_timeout", "connect_timeout and query_timeout must be longer than 0s"));
        }
        check_ratio(Some(self.row_count_tolerance), "row_count_tolerance")?;
        for table in &self.row_count_tables {
            if !is_table_name(table) {
                return Err(KeyError::new(
                    "row_count_tables",
                    format!("`{}` is not a table name (like `users` or `app.users`)", quote(table)),
                ));
            }
        }
        if !self.row_count_tables.is_empty() {
            require(&self.production_url, "data", "production_url")?;
        }
        if self.invariants.iter().any(|q| q.trim().is_empty()) {
            return Err(KeyError::new("invariants", "an invariant query is empty"));
        }
        match aspect {
            "migrations" => require(&self.production_url, aspect, "production_url")?,
            "duration" => require(&self.rto, aspect, "rto")?,
            "data" if self.row_count_tables.is_empty() && self.invariants.is_empty() => {
                return Err(KeyError::new(
                    "row_count_tables",
                    "an item decides `data`, which needs `row_count_tables` or `invariants`",
                ))
            }
            _ => {}
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.set.clone()
    }

    fn validate_timeout(&self, timeout: Duration) -> Result<(), KeyError> {
        shorter_than_timeout(
            "connect_timeout",
            self.connect_timeout.0,
            timeout,
            "an unreachable scratch server must be reported as such",
        )
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let invalid = |key: &str, why: String| ProbeFailure::new(Cause::Invalid, format!("{key} {why}"));
        let scratch_url = PgUrl::parse(self.scratch_url.expose()).map_err(|why| invalid("scratch_url", why))?;
        let scratch_password = read_password(
            ctx,
            &scratch_url,
            &PasswordSource {
                password_env: self.scratch_password_env.as_deref(),
                env_file: None,
                password_file: self.scratch_password_file.as_deref(),
                file_key: "scratch_password_file",
            },
        )
        .await?;
        let production = match &self.production_url {
            Some(url) => {
                let url = PgUrl::parse(url.expose()).map_err(|why| invalid("production_url", why))?;
                let source = PasswordSource {
                    password_env: self.production_password_env.as_deref(),
                    env_file: None,
                    password_file: self.production_password_file.as_deref(),
                    file_key: "production_password_file",
                };
                let password = read_password(ctx, &url, &source).await?;
                Some(drill::Server::new(ctx, &url, password, self.connect_timeout.0).await?)
            }
            None => None,
        };

        let newest = match newest_of_set(ctx, &self.directory, &self.pattern, &self.set).await? {
            Ok(newest) => newest,
            Err(reason) => {
                let mut report = Report::default();
                for aspect in Self::ASPECTS {
                    let outcome = Outcome::fail(Cause::Missing, reason.clone())
                        .about(Subject::Path(self.directory.display().to_string()));
                    report = report.with(aspect, outcome);
                }
                return Ok(report);
            }
        };

        let drill_permit = DRILLS.clone().acquire_owned().await.ok();
        let server = drill::Server::new(ctx, &scratch_url, scratch_password, self.connect_timeout.0).await?;
        let scratch_target = Subject::Database(server.target());
        let about_scratch = |problem: ProbeFailure| problem.about(scratch_target.clone());
        let admin = server.connect(None).await.map_err(about_scratch)?;
        let name = self.scratch_name();
        let limits = drill::Limits { query: self.query_timeout.0, max_size: self.max_scratch_size.map(|s| s.0) };
        drill::refuse_privileged_role(&admin, &server, limits.query).await.map_err(about_scratch)?;
        drill::prepare_scratch(&admin, &server, &name, limits.query).await.map_err(about_scratch)?;
        let mut guard = drill::ScratchGuard::new(server.clone(), name.clone(), drill_permit);
        let tools = drill::Tools { psql: self.psql.clone(), pg_restore: self.pg_restore.clone() };
        let restored = drill::restore(
            ctx,
            &server,
            &admin,
            &name,
            &newest.path,
            file_name(&newest.path),
            self.keys(),
            &tools,
            &guard,
            limits,
        )
        .await?;

        let set = self.set.as_str();
        let mut report = Report::default()
            .sample(Sample::new(&RESTORE_DURATION, restored.elapsed.as_secs_f64()).label("set", set))
            .with("restores", decide_restores(&restored));
        if let Some(rto) = self.rto {
            report = report.with("duration", decide_duration(&restored, rto.0));
        }
        if restored.succeeded() {
            if let Ok(size) = drill::database_size(&admin, &name, limits.query).await {
                report = report.sample(Sample::new(&RESTORE_SIZE, size as f64).label("set", set));
            }
            let compared = drill::compare(&server, &name, production.as_ref(), self, limits.query).await;
            for count in &compared.counts {
                if let Ok(rows) = count.restored {
                    report = report.sample(
                        Sample::new(&RESTORE_ROWS, rows as f64).label("set", set).label("table", count.table.as_str()),
                    );
                }
            }
            if let Some(heads) = &compared.production_heads {
                report = report
                    .with("migrations", decide_migrations(&compared.restored_heads, heads, &self.production_target()));
            }
            if !self.row_count_tables.is_empty() || !self.invariants.is_empty() {
                report = report.with(
                    "data",
                    decide_data(&compared.counts, self.row_count_tolerance, &compared.invariants)
                        .about(Subject::Database(format!("{}/{name}", server.target_server()))),
                );
            }
        } else {
            let reason = format!("the restore of {} failed, so there is nothing to compare", restored.file);
            for aspect in ["migrations", "data"] {
                report = report.with(
                    aspect,
                    Outcome::error(Cause::Invalid, reason.clone()).about(Subject::Path(restored.file.clone())),
                );
            }
        }
        match drill::drop_scratch(&admin, &name, limits.query).await {
            Ok(()) => guard.disarm(),
            Err(problem) => {
                tracing::warn!(database = %name, reason = %problem.reason, "the scratch database was not dropped; retrying in the background");
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(extra: &str) -> BackupRestoreCheck {
        let text = format!(
            "set = \"db\"\ndirectory = \"/backups\"\nscratch_url = \"postgres://drill:s3cret@127.0.0.1/postgres\"\n{extra}"
        );
        toml::from_str(&text).unwrap()
    }

    #[test]
    fn the_scratch_name_is_stable_and_marked_by_its_prefix() {
        let name = check("").scratch_name();
        assert_eq!(name, check("").scratch_name());
        assert!(name.starts_with(SCRATCH_PREFIX) && name.len() == SCRATCH_PREFIX.len() + 16, "{name}");
        let mut elsewhere = check("");
        elsewhere.directory = PathBuf::from("/other");
        assert_ne!(name, elsewhere.scratch_name());
        let debug = format!("{:?}", check(""));
        assert!(!debug.contains("s3cret"), "{debug}");
    }

    #[test]
    fn production_names_and_roles_are_refused_for_the_scratch() {
        let foreign = check("scratch_database = \"dndstory\"");
        assert_eq!(foreign.validate("restores").unwrap_err().key, "scratch_database");
        let same = check(
            "scratch_database = \"checklist_restore_x\"\nproduction_url = \"postgres://app@127.0.0.1/checklist_restore_x\"",
        );
        assert_eq!(same.validate("restores").unwrap_err().key, "scratch_database");
        let same_role = check("production_url = \"postgres://drill@127.0.0.1:5432/dndstory\"");
        assert_eq!(same_role.validate("restores").unwrap_err().key, "scratch_url");
        assert_eq!(check("").validate("migrations").unwrap_err().key, "production_url");
        assert_eq!(check("").validate("duration").unwrap_err().key, "rto");
        assert_eq!(check("").validate("data").unwrap_err().key, "row_count_tables");
        assert_eq!(check("invariants = [\"SELECT true\"]").validate("data"), Ok(()));
    }
}
