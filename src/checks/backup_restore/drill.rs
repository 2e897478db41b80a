//! The I/O of a restore drill: the scratch server and its scratch database, the restore tool as
//! a child process fed from the backup file, and the comparison reads.

use std::io::{Read, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio_postgres::config::Host;
use tokio_postgres::{Client, SimpleQueryMessage};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::decide::{Invariant, Restored, TableCount, ToolExit};
use super::guard::MetaCommandGuard;
use super::{BackupRestoreCheck, MARKER, SCRATCH_PREFIX};
use crate::checks::backup::{io_failure, verify_file, DecryptionKeys};
use crate::checks::postgres::sql::describe_error;
use crate::checks::postgres::tls::tls_connector;
use crate::checks::postgres::url::{PgUrl, TlsMode};
use crate::checks::CheckContext;
use crate::model::{Cause, ProbeFailure};
use crate::support::secret::Secret;
use crate::support::text::excerpt;
use crate::support::units::format_duration;

/// Rows of `alembic_version` read at most.
const MAX_ALEMBIC_ROWS: usize = 100;
/// How often the scratch database's size is looked at while restoring.
const SIZE_POLL: Duration = Duration::from_millis(500);

/// A PostgreSQL server as the drill reaches it: the driver's config (password included) and the
/// same settings as libpq environment variables for `psql` and `pg_restore`, so that the
/// password never shows on a command line.
#[derive(Clone)]
pub(super) struct Server {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    connect_timeout: Duration,
    server: String,
    database: String,
    env: Vec<(&'static str, String)>,
    password: Option<Secret>,
}

impl Server {
    pub async fn new(
        ctx: &CheckContext,
        url: &PgUrl,
        password: Option<Secret>,
        connect_timeout: Duration,
    ) -> Result<Server, ProbeFailure> {
        let mut config = url.config.clone();
        if let Some(password) = &password {
            config.password(password.expose());
        }
        config.connect_timeout(connect_timeout);
        config.application_name("checklist-exporter restore drill");
        let tls = tls_connector(ctx, url).await?;
        let mut env = Vec::new();
        match url.config.get_hosts().first() {
            Some(Host::Tcp(host)) => env.push(("PGHOST", host.clone())),
            Some(Host::Unix(path)) => env.push(("PGHOST", path.display().to_string())),
            None => {}
        }
        env.push(("PGPORT", url.config.get_ports().first().copied().unwrap_or(5432).to_string()));
        if let Some(user) = url.config.get_user() {
            env.push(("PGUSER", user.to_string()));
        }
        let sslmode = match url.tls {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        };
        env.push(("PGSSLMODE", sslmode.to_string()));
        if let Some(root) = &url.root_cert {
            env.push(("PGSSLROOTCERT", root.display().to_string()));
        }
        // libpq's minimum is 2 seconds.
        env.push(("PGCONNECT_TIMEOUT", connect_timeout.as_secs().max(2).to_string()));
        env.push(("PGAPPNAME", "checklist-exporter restore drill".to_string()));
        Ok(Server { config, tls, connect_timeout, server: url.server(), database: url.database(), env, password })
    }

    /// `host:port/database` of the URL, never its password.
    pub fn target(&self) -> String {
        format!("{}/{}", self.server, self.database)
    }

    pub fn target_server(&self) -> &str {
        &self.server
    }

    /// A session in `database`, or in the URL's own database.
    pub async fn connect(&self, database: Option<&str>) -> Result<Client, ProbeFailure> {
        let mut config = self.config.clone();
        if let Some(database) = database {
            config.dbname(database);
        }
        let connected = tokio::time::timeout(self.connect_timeout, config.connect(self.tls.clone())).await;
        let (client, connection) = match connected {
            Ok(Ok(pair)) => pair,
            Ok(Err(err)) => {
                let problem = describe_error(&err);
                return Err(ProbeFailure::new(problem.cause, format!("{}: {}", self.server, problem.reason)));
            }
            Err(_) => {
                return Err(ProbeFailure::new(
                    Cause::Timeout,
                    format!(
                        "{} accepted no PostgreSQL session within the connect timeout of {}",
                        self.server,
                        format_duration(self.connect_timeout)
                    ),
                ))
            }
        };
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %describe_error(&err).reason, "restore drill connection ended");
            }
        });
        Ok(client)
    }
}

/// The bounds of one drill.
#[derive(Clone, Copy)]
pub(super) struct Limits {
    pub query: Duration,
    pub max_size: Option<u64>,
}

async fn bounded<T>(
    limit: Duration,
    work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, ProbeFailure> {
    match tokio::time::timeout(limit, work).await {
        Ok(result) => result.map_err(|err| describe_error(&err)),
        Err(_) => Err(ProbeFailure::new(
            Cause::Timeout,
            format!("no answer within the query timeout of {}", format_duration(limit)),
        )),
    }
}

/// The predefined roles that let SQL run programs or read and write the server's files
/// (`COPY … FROM PROGRAM`, `pg_read_file`).
const SERVER_ACCESS_ROLES: [&str; 3] = ["pg_execute_server_program", "pg_read_server_files", "pg_write_server_files"];

/// Databases listed in a reason, at most.
const LISTED_DATABASES: i64 = 5;

/// A dump runs as the drill's role, so the role must hold nothing a dump could use to leave the
/// scratch database: no superuser, no CREATEROLE (on PostgreSQL ≤ 15 it can grant itself
/// pg_execute_server_program), no BYPASSRLS, no membership in the server-access roles, and no
/// membership in the owner of a database other than a scratch one (a `--clean --create` dump
/// could drop it). It needs CREATEDB for its scratch database.
pub(super) async fn refuse_privileged_role(
    admin: &Client,
    server: &Server,
    limit: Duration,
) -> Result<(), ProbeFailure> {
    let row = bounded(
        limit,
        admin.query_one(
            "SELECT current_user::text, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, \
               ARRAY(SELECT r FROM unnest($1::text[]) r \
                     WHERE pg_catalog.pg_has_role(current_user, r::name, 'MEMBER') ORDER BY r), \
               ARRAY(SELECT format('%I (owned by %I)', datname, pg_catalog.pg_get_userbyid(datdba)) \
                     FROM pg_catalog.pg_database \
                     WHERE left(datname::text, length($3)) <> $3 \
                       AND pg_catalog.pg_has_role(current_user, datdba, 'MEMBER') \
                     ORDER BY datname LIMIT $2) \
             FROM pg_catalog.pg_roles WHERE rolname = current_user",
            &[&&SERVER_ACCESS_ROLES[..], &LISTED_DATABASES, &SCRATCH_PREFIX],
        ),
    )
    .await?;
    let role = super::quote(&row.get::<_, String>(0));
    let (superuser, create_db, create_role, bypass_rls): (bool, bool, bool, bool) =
        (row.get(1), row.get(2), row.get(3), row.get(4));
    let (server_access, owned): (Vec<String>, Vec<String>) = (row.get(5), row.get(6));
    let mut held = Vec::new();
    if superuser {
        held.push("SUPERUSER".to_string());
    }
    if create_role {
        held.push("CREATEROLE (it could grant itself pg_execute_server_program)".to_string());
    }
    if bypass_rls {
        held.push("BYPASSRLS".to_string());
    }
    if !server_access.is_empty() {
        held.push(format!("membership in {} (programs and files on the server)", server_access.join(", ")));
    }
    if !owned.is_empty() {
        held.push(format!(
            "ownership, as owner or member of the owner, of {} (a dump with DROP DATABASE could drop it)",
            owned.join(", ")
        ));
    }
    if !held.is_empty() {
        return Err(ProbeFailure::new(
            Cause::Insecure,
            format!(
                "role {role} on {} has {}; a restore drill runs as a dedicated role with CREATEDB and no more, \
                 so that a dump cannot reach other databases or the server",
                server.server,
                held.join("; ")
            ),
        ));
    }
    if !create_db {
        return Err(ProbeFailure::new(
            Cause::Permission,
            format!("role {role} on {} lacks CREATEDB, which the drill needs for its scratch database", server.server),
        ));
    }
    Ok(())
}

/// Drops a leftover scratch database of ours (a crash, a timeout whose cleanup did not finish),
/// refuses a database of that name that is not ours, then creates and marks a fresh one.
pub(super) async fn prepare_scratch(
    admin: &Client,
    server: &Server,
    name: &str,
    limit: Duration,
) -> Result<(), ProbeFailure> {
    let existing = bounded(
        limit,
        admin.query_opt(
            "SELECT shobj_description(oid, 'pg_database'), pg_get_userbyid(datdba) = current_user \
             FROM pg_catalog.pg_database WHERE datname = $1",
            &[&name],
        ),
    )
    .await?;
    if let Some(row) = existing {
        let (comment, owned): (Option<String>, bool) = (row.get(0), row.get(1));
        // Marked, or (between CREATE and COMMENT when a run was cut short) ours by owner and prefix.
        let ours =
            comment.as_deref() == Some(MARKER) || (comment.is_none() && owned && name.starts_with(SCRATCH_PREFIX));
        if !ours {
            return Err(ProbeFailure::new(
                Cause::Invalid,
                format!(
                    "database {name} on {} exists and is not a restore drill's scratch database (its comment is not the \
                     drill's marker); the drill neither restores into it nor drops it: name another scratch_database",
                    server.server
                ),
            ));
        }
        tracing::info!(database = %name, "dropping a leftover restore drill scratch database");
        drop_scratch(admin, name, limit).await?;
    }
    // template0: a dump restores into an empty database, not one carrying template1's additions.
    bounded(limit, admin.batch_execute(&format!("CREATE DATABASE \"{name}\" TEMPLATE template0"))).await?;
    bounded(limit, admin.batch_execute(&format!("COMMENT ON DATABASE \"{name}\" IS '{MARKER}'"))).await?;
    Ok(())
}

pub(super) async fn drop_scratch(admin: &Client, name: &str, limit: Duration) -> Result<(), ProbeFailure> {
    bounded(limit, admin.batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))).await
}

pub(super) async fn database_size(admin: &Client, name: &str, limit: Duration) -> Result<u64, ProbeFailure> {
    let row = bounded(
        limit,
        admin.query_one("SELECT pg_database_size(oid) FROM pg_catalog.pg_database WHERE datname = $1", &[&name]),
    )
    .await?;
    Ok(row.get::<_, i64>(0).max(0) as u64)
}

/// Kills a process group (the restore tool and anything it started).
fn kill_group(pid: i32) {
    if pid > 0 {
        // SAFETY: kill(2) with a negative pid signals the group; no memory is involved.
        unsafe {
            libc::kill(-pid, libc::SIGKILL);
        }
    }
}

/// Drops the scratch database unless disarmed: when the scheduler's timeout drops the drill's
/// future, this stops the restore (cancels the read, kills the tool's process group) and drops
/// the database from a task of its own, which holds the drill's permit until the database is gone.
pub(super) struct ScratchGuard {
    server: Server,
    name: String,
    armed: bool,
    permit: Option<tokio::sync::OwnedSemaphorePermit>,
    pub cancel: Arc<AtomicBool>,
    pub tool_pid: Arc<AtomicI32>,
}

impl ScratchGuard {
    pub fn new(server: Server, name: String, permit: Option<tokio::sync::OwnedSemaphorePermit>) -> ScratchGuard {
        ScratchGuard {
            server,
            name,
            armed: true,
            permit,
            cancel: Arc::new(AtomicBool::new(false)),
            tool_pid: Arc::new(AtomicI32::new(0)),
        }
    }

    pub fn disarm(&mut self) {
        self.armed = false;
    }
}

impl Drop for ScratchGuard {
    fn drop(&mut self) {
        self.cancel.store(true, Ordering::SeqCst);
        kill_group(self.tool_pid.load(Ordering::SeqCst));
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        let (server, name, permit) = (self.server.clone(), self.name.clone(), self.permit.take());
        runtime.spawn(async move {
            let _permit = permit;
            let dropped = match server.connect(None).await {
                Ok(admin) => drop_scratch(&admin, &name, Duration::from_secs(60)).await,
                Err(problem) => Err(problem),
            };
            match dropped {
                Ok(()) => tracing::info!(database = %name, "dropped the scratch database of an interrupted restore drill"),
                Err(problem) => tracing::warn!(database = %name, reason = %problem.reason, "cannot drop the scratch database; the next drill will"),
            }
        });
    }
}

/// Where the restore tools are.
#[derive(Clone)]
pub(super) struct Tools {
    pub psql: PathBuf,
    pub pg_restore: PathBuf,
}

struct Running {
    tool: &'static str,
    child: Child,
    stdin: Option<ChildStdin>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
}

/// The sink the backup's content is read into: on the first bytes it starts `pg_restore` (a
/// custom-format dump, `PGDMP`) or `psql` (plain SQL, watched by a [`MetaCommandGuard`]).
struct RestoreSink {
    tools: Tools,
    env: Vec<(&'static str, String)>,
    password: Option<Secret>,
    database: String,
    tool_pid: Arc<AtomicI32>,
    running: Option<Running>,
    guard: Option<MetaCommandGuard>,
    refused: Option<String>,
    spawn_error: Option<(&'static str, String)>,
}

impl RestoreSink {
    fn start(&mut self, first: &[u8]) -> std::io::Result<()> {
        let custom = first.starts_with(b"PGDMP");
        let (tool, program) = if custom { ("pg_restore", &self.tools.pg_restore) } else { ("psql", &self.tools.psql) };
        let mut command = Command::new(program);
        if custom {
            // Objects become the drill role's: production's roles need not exist on the scratch server.
            command.args(["--exit-on-error", "--no-owner", "--no-privileges", "--dbname", &self.database]);
        } else {
            command.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f", "-", "--dbname", &self.database]);
            self.guard = Some(MetaCommandGuard::default());
        }
        // A minimal environment: nothing of the exporter's own (tokens, keys) reaches the tool or
        // anything a dump could make it start; libpq gets only what the drill's URL says.
        command.env_clear();
        for (key, value) in std::env::vars_os() {
            let key_text = key.to_string_lossy();
            if key_text == "PATH" || key_text == "LANG" || key_text.starts_with("LC_") {
                command.env(&key, value);
            }
        }
        command.envs(self.env.iter().map(|(k, v)| (*k, v.as_str())));
        if let Some(password) = &self.password {
            command.env("PGPASSWORD", password.expose());
        }
        command.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped()).process_group(0);
        let mut child = command.spawn().inspect_err(|err| {
            self.spawn_error = Some((tool, format!("{}: {err}", program.display())));
        })?;
        self.tool_pid.store(child.id() as i32, Ordering::SeqCst);
        // stderr on its own thread, so a chatty tool cannot block on a full pipe.
        let stderr = child.stderr.take().map(|stderr| {
            std::thread::spawn(move || {
                let mut kept = Vec::new();
                let _ = stderr.take(64 * 1024).read_to_end(&mut kept);
                kept
            })
        });
        let stdin = child.stdin.take();
        self.running = Some(Running { tool, child, stdin, stderr });
        Ok(())
    }

    /// Closes the tool's input and waits for it.
    fn finish(mut self) -> (Option<&'static str>, Option<ToolExit>, Option<String>, Option<String>) {
        let spawn_error = self.spawn_error.take();
        let Some(mut running) = self.running.take() else {
            let tool = spawn_error.as_ref().map(|(tool, _)| *tool);
            return (tool, None, spawn_error.map(|(_, why)| why), self.refused);
        };
        // psql runs a last line without a newline at the end of its input: decide on it first.
        if let Some(Err(refusal)) = self.guard.as_mut().map(MetaCommandGuard::finish) {
            kill_group(self.tool_pid.load(Ordering::SeqCst));
            self.refused.get_or_insert(refusal);
        }
        drop(running.stdin.take());
        let exit = match running.child.wait() {
            Ok(status) => {
                let stderr = running.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
                let status_text = match (status.code(), status.signal()) {
                    (Some(code), _) => format!("exit status {code}"),
                    (None, Some(signal)) => format!("killed by signal {signal}"),
                    _ => status.to_string(),
                };
                ToolExit { success: status.success(), status: status_text, message: tool_message(&stderr) }
            }
            Err(err) => ToolExit { success: false, status: "not waited for".into(), message: err.to_string() },
        };
        self.tool_pid.store(0, Ordering::SeqCst);
        (Some(running.tool), Some(exit), None, self.refused)
    }
}

impl Write for RestoreSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.running.is_none() {
            self.start(buf)?;
        }
        if let Some(guard) = &mut self.guard {
            if let Err(line) = guard.feed(buf) {
                self.refused = Some(line);
                kill_group(self.tool_pid.load(Ordering::SeqCst));
                return Err(std::io::Error::other("a psql meta-command was refused"));
            }
        }
        match self.running.as_mut().and_then(|r| r.stdin.as_mut()) {
            Some(stdin) => stdin.write_all(buf).map(|()| buf.len()),
            None => Err(std::io::Error::other("the restore tool has no input")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The line of the tool's stderr that says what went wrong, with every quoted value masked:
/// PostgreSQL quotes the offending value of a restored row (`invalid input syntax for type
/// uuid: "…"`), which is production data and may be a token or a person's details.
fn tool_message(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let line = lines
        .iter()
        .find(|l| l.contains("ERROR") || l.contains("error:") || l.contains("FATAL"))
        .or(lines.first())
        .copied()
        .unwrap_or("it said nothing on stderr");
    excerpt(&mask_quoted(line), 300)
}

/// `text` with what stands between double or single quotes replaced by `…`; an unclosed quote
/// masks the rest of the line.
fn mask_quoted(text: &str) -> String {
    let mut masked = String::with_capacity(text.len());
    let mut open: Option<char> = None;
    for c in text.chars() {
        match open {
            Some(quote) if c == quote => {
                masked.push('…');
                masked.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                masked.push(c);
                if c == '"' || c == '\'' {
                    open = Some(c);
                }
            }
        }
    }
    if open.is_some() {
        masked.push('…');
    }
    masked
}

/// Restores `path` into the scratch database `name`, watching its size.
#[allow(clippy::too_many_arguments)]
pub(super) async fn restore(
    ctx: &CheckContext,
    server: &Server,
    admin: &Client,
    name: &str,
    path: &Path,
    file: String,
    keys: DecryptionKeys,
    tools: &Tools,
    guard: &ScratchGuard,
    limits: Limits,
) -> Result<Restored, ProbeFailure> {
    let sink = RestoreSink {
        tools: tools.clone(),
        env: server.env.clone(),
        password: server.password.clone(),
        database: name.to_string(),
        tool_pid: guard.tool_pid.clone(),
        running: None,
        guard: None,
        refused: None,
        spawn_error: None,
    };
    let (cancel, owned_path) = (guard.cancel.clone(), path.to_path_buf());
    let work = ctx.blocking().run(move || {
        let started = Instant::now();
        let mut sink = sink;
        let read = verify_file(&owned_path, &keys, &cancel, &mut sink);
        let (tool, exit, spawn_error, refused) = sink.finish();
        (read, tool, exit, spawn_error, refused, started.elapsed())
    });
    tokio::pin!(work);
    let mut over_size = None;
    let finished = loop {
        tokio::select! {
            finished = &mut work => break finished?,
            _ = tokio::time::sleep(SIZE_POLL), if limits.max_size.is_some() && over_size.is_none() => {
                let limit = limits.max_size.unwrap_or(u64::MAX);
                if let Ok(size) = database_size(admin, name, limits.query).await {
                    if size > limit {
                        over_size = Some((size, limit));
                        guard.cancel.store(true, Ordering::SeqCst);
                        kill_group(guard.tool_pid.load(Ordering::SeqCst));
                    }
                }
            }
        }
    };
    let (read, tool, exit, spawn_error, refused, elapsed) = finished;
    let read = read.map_err(|err| io_failure("backup file", path, &err))?;
    Ok(Restored { file, read, tool, exit, spawn_error, refused, over_size, elapsed })
}

/// What the restored database and production were found to hold.
pub(super) struct Compared {
    pub restored_heads: Result<Vec<String>, ProbeFailure>,
    /// `None` without a production URL.
    pub production_heads: Option<Result<Vec<String>, ProbeFailure>>,
    pub counts: Vec<TableCount>,
    pub invariants: Vec<Invariant>,
}

async fn alembic_heads(client: &Client, limit: Duration) -> Result<Vec<String>, ProbeFailure> {
    let sql = format!("SELECT version_num FROM alembic_version LIMIT {MAX_ALEMBIC_ROWS}");
    let messages = bounded(limit, client.simple_query(&sql)).await?;
    Ok(messages
        .iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(row) => Some(row.get(0).unwrap_or("").to_string()),
            _ => None,
        })
        .collect())
}

/// `"schema"."table"` for a configured name (one or two plain identifiers, checked at load),
/// folded to lower case as PostgreSQL folds unquoted names, and quoted, so that `user` names the
/// table "user" and not the `USER` function.
fn quoted_table_name(table: &str) -> String {
    table.split('.').map(|part| format!("\"{}\"", part.to_lowercase())).collect::<Vec<_>>().join(".")
}

/// Counts the rows of `table`, resolved the same way on either side; a view, sequence or missing
/// relation is an error naming what the name is.
async fn row_count(client: &Client, table: &str, limit: Duration) -> Result<i64, ProbeFailure> {
    let quoted = quoted_table_name(table);
    let resolved = bounded(
        limit,
        client.query_opt(
            "SELECT format('%I.%I', n.nspname, c.relname), c.relkind::text \
             FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace \
             WHERE c.oid = pg_catalog.to_regclass($1)",
            &[&quoted],
        ),
    )
    .await?;
    let Some(row) = resolved else {
        return Err(ProbeFailure::new(Cause::Missing, format!("no table {quoted} (on the search_path)")));
    };
    let (qualified, kind): (String, String) = (row.get(0), row.get(1));
    if !matches!(kind.as_str(), "r" | "p") {
        let what = match kind.as_str() {
            "v" => "a view",
            "m" => "a materialized view",
            "S" => "a sequence",
            "f" => "a foreign table",
            "i" | "I" => "an index",
            _ => "not a table",
        };
        return Err(ProbeFailure::new(Cause::Invalid, format!("{quoted} is {what}; want a table to count rows of")));
    }
    let row = bounded(limit, client.query_one(&format!("SELECT count(*) FROM {qualified}"), &[])).await?;
    Ok(row.get(0))
}

async fn invariant(client: &Client, query: &str, limit: Duration) -> Result<bool, ProbeFailure> {
    let rows = bounded(limit, client.query(query, &[])).await?;
    match rows.first().map(|row| row.try_get::<_, Option<bool>>(0)) {
        Some(Ok(Some(held))) if rows.len() == 1 => Ok(held),
        Some(Ok(None)) if rows.len() == 1 => Ok(false),
        _ => Err(ProbeFailure::new(
            Cause::Invalid,
            format!("returned {} row(s); want one row with one boolean column", rows.len()),
        )),
    }
}

/// Reads the restored database (alembic head, row counts, invariants) and production (alembic
/// head, row counts) in read-only transactions.
pub(super) async fn compare(
    server: &Server,
    name: &str,
    production: Option<&Server>,
    check: &BackupRestoreCheck,
    limit: Duration,
) -> Compared {
    let restored = server.connect(Some(name)).await;
    let production_client = match production {
        Some(production) => Some(production.connect(None).await),
        None => None,
    };
    let mut compared = Compared {
        restored_heads: Err(ProbeFailure::new(Cause::Io, "not read")),
        production_heads: None,
        counts: Vec::new(),
        invariants: Vec::new(),
    };
    for client in
        [restored.as_ref().ok(), production_client.as_ref().and_then(|c| c.as_ref().ok())].into_iter().flatten()
    {
        let _ = bounded(limit, client.batch_execute("SET default_transaction_read_only = on")).await;
    }
    compared.restored_heads = match &restored {
        Ok(client) => alembic_heads(client, limit).await,
        Err(problem) => Err(problem.clone()),
    };
    compared.production_heads = match &production_client {
        Some(Ok(client)) => Some(alembic_heads(client, limit).await),
        Some(Err(problem)) => Some(Err(problem.clone())),
        None => None,
    };
    for table in &check.row_count_tables {
        let restored_rows = match &restored {
            Ok(client) => row_count(client, table, limit).await,
            Err(problem) => Err(problem.clone()),
        };
        let production_rows = match &production_client {
            Some(Ok(client)) => row_count(client, table, limit).await,
            Some(Err(problem)) => Err(problem.clone()),
            None => Err(ProbeFailure::new(Cause::Invalid, "no production_url")),
        };
        compared.counts.push(TableCount { table: table.clone(), restored: restored_rows, production: production_rows });
    }
    for query in &check.invariants {
        let held = match &restored {
            Ok(client) => invariant(client, query, limit).await,
            Err(problem) => Err(problem.clone()),
        };
        compared.invariants.push(Invariant { query: query.clone(), held });
    }
    compared
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::sync::Semaphore;

    #[test]
    fn a_tools_message_keeps_no_restored_value() {
        let stderr = b"psql:/dev/stdin:42: ERROR:  invalid input syntax for type uuid: \"tok-3f9a-secret\"\nCONTEXT:  COPY users, line 1, column id: \"tok-3f9a-secret\"\n";
        let message = tool_message(stderr);
        assert_eq!(message, "psql:/dev/stdin:42: ERROR:  invalid input syntax for type uuid: \"…\"");
        assert_eq!(mask_quoted("value 'abc' and \"d"), "value '…' and \"…");
        assert_eq!(mask_quoted("no quotes"), "no quotes");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn an_interrupted_drills_permit_is_held_until_its_cleanup_ends() {
        // A server that accepts and never answers: the cleanup's connection waits, bounded by
        // its connect timeout of 2 s, until the test closes it.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let url = PgUrl::parse(&format!("postgres://drill@127.0.0.1:{port}/postgres?sslmode=disable")).unwrap();
        let server = Server::new(&CheckContext::default(), &url, None, Duration::from_secs(2)).await.unwrap();
        let drills = Arc::new(Semaphore::new(1));
        let permit = drills.clone().acquire_owned().await.unwrap();
        drop(ScratchGuard::new(server.clone(), "checklist_restore_test".into(), Some(permit)));
        let (connection, _) = listener.accept().await.unwrap();
        assert!(drills.try_acquire().is_err(), "the next drill started while the cleanup was running");
        drop(connection);
        let next = tokio::time::timeout(Duration::from_secs(60), drills.acquire()).await;
        assert!(next.is_ok(), "the cleanup never released the drill's permit");
        drop(next);

        // A drill that ended normally releases its permit at once.
        let permit = drills.clone().acquire_owned().await.unwrap();
        let mut guard = ScratchGuard::new(server, "checklist_restore_test".into(), Some(permit));
        guard.disarm();
        drop(guard);
        assert!(drills.try_acquire().is_ok());
    }
}
