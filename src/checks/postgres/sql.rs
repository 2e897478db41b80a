//! What a `postgres` check reads from the server, and the connection it reads it on.
//!
//! One combined catalog read (identity, role attributes, settings, connections in use, size,
//! expected tables) is prepared once per connection; when the server refuses it for a privilege,
//! each `Part` is read alone, so a [`Snapshot`] holds per part either what was read or why it
//! could not be. The connection is kept in [`PostgresState`] between evaluations and replaced when
//! it has died. [`describe_error`] turns a driver error into the cause and reason of a verdict.

use std::time::{Duration, Instant};

use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, SimpleQueryMessage, Statement};

use super::tls::tls_connector;
use super::url::PgUrl;
use super::{io_reason, PostgresCheck};
use crate::checks::latency::LatencyTracker;
use crate::checks::CheckContext;
use crate::model::{Cause, ProbeFailure};
use crate::support::secret::Secret;
use crate::support::units::format_duration;
use crate::support::url::mask_url;

/// Rows of `alembic_version` read at most; a real one has one row per branch head.
const MAX_ALEMBIC_ROWS: usize = 100;

/// What a check reads from the server, part by part: a part it could not read is the error
/// that stopped it, so only the aspects needing that part become errors.
#[derive(Clone, Debug, PartialEq)]
pub struct Snapshot {
    pub identity: Identity,
    pub role: Result<Option<RoleAttributes>, ProbeFailure>,
    pub settings: Result<Settings, ProbeFailure>,
    pub connections_in_use: Result<i64, ProbeFailure>,
    pub size_bytes: Result<i64, ProbeFailure>,
    /// Expected tables that do not exist, and whether `alembic_version` exists.
    pub tables: Result<(Vec<String>, bool), ProbeFailure>,
    /// The rows of `alembic_version`, when it exists and migrations are checked.
    pub alembic: Option<Result<Vec<String>, ProbeFailure>>,
    pub probe: Option<Result<Duration, ProbeFailure>>,
    /// `password_encryption` as the role's sessions see it (a role may override the server's).
    pub password_encryption: Result<String, ProbeFailure>,
    /// The lines of pg_hba.conf as `pg_hba_file_rules` shows them; an error when the role may
    /// not read the view (only superusers may, unless granted).
    pub hba: Result<Vec<HbaLine>, ProbeFailure>,
}

/// One line of pg_hba.conf, as `pg_hba_file_rules` parses it.
#[derive(Clone, Debug, PartialEq)]
pub struct HbaLine {
    pub line: i32,
    /// `local`, `host`, `hostssl`, `hostnossl`, ...
    pub connection: String,
    pub databases: Vec<String>,
    pub users: Vec<String>,
    pub address: Option<String>,
    pub method: Option<String>,
    /// The server's complaint about a line it cannot use.
    pub error: Option<String>,
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
const PASSWORD_ENCRYPTION: Part = Part { columns: "current_setting('password_encryption')", needs_tables_param: false };
const PARTS: [&Part; 7] = [&IDENTITY, &ROLE, &SETTINGS, &CONNECTIONS, &SIZE, &TABLES, &PASSWORD_ENCRYPTION];

/// pg_hba.conf lines read at most; a real file has a few dozen.
const MAX_HBA_LINES: usize = 1000;
/// Read on its own, not in the combined read: most application roles may not read it, and that
/// must not make the other parts fall back to one statement each.
const HBA_SQL: &str = "SELECT line_number, type, database, user_name, address, auth_method, error \
                       FROM pg_catalog.pg_hba_file_rules ORDER BY line_number";

fn combined_sql() -> String {
    let columns: Vec<&str> = PARTS.iter().map(|p| p.columns).collect();
    format!("SELECT {}", columns.join(", "))
}

/// What one postgres check keeps between evaluations.
#[derive(Default)]
pub struct PostgresState {
    /// Boxed: a connection is large, and most checks of other kinds share the state enum.
    session: Option<Box<Session>>,
    pub(super) latency: LatencyTracker,
}

struct Session {
    client: Client,
    /// The combined read, prepared once per connection so later evaluations only bind and execute.
    combined: Statement,
    /// The combined read was refused for a privilege on this connection: read part by part
    /// until the next connection, instead of being refused again at every evaluation.
    parts_only: bool,
    /// Reading pg_hba_file_rules was refused on this connection: not asked again until the
    /// next one (a grant takes effect on a new session anyway).
    hba_refused: Option<ProbeFailure>,
}

impl PostgresCheck {
    /// Connects (or reuses the connection) and reads everything the bound aspects need.
    pub(super) async fn measure(
        &self,
        ctx: &CheckContext,
        url: &PgUrl,
        password: &Result<Option<Secret>, ProbeFailure>,
        state: &mut PostgresState,
    ) -> Result<Snapshot, ProbeFailure> {
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
                state.session = Some(Box::new(self.connect(ctx, url, password.as_ref()).await?));
            }
            let Some(session) = state.session.as_mut() else {
                return Err(ProbeFailure::new(Cause::Io, "no connection"));
            };
            if session.parts_only {
                break Err(ProbeFailure::new(Cause::Permission, "the combined read was refused before"));
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
            return Err(ProbeFailure::new(Cause::Io, "no connection"));
        };
        let client = &session.client;
        let mut snapshot = match combined {
            Ok(row) => snapshot_from_row(&row, 0).map_err(|why| ProbeFailure::new(Cause::Invalid, why))?,
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
        snapshot.hba = match session.hba_refused.clone() {
            Some(refused) => Err(refused),
            None => self.read_hba(client, &snapshot.identity).await,
        };
        if let (Err(problem), Some(session)) = (&snapshot.hba, state.session.as_mut()) {
            if problem.cause == Cause::Permission {
                session.hba_refused = Some(problem.clone());
            }
        }
        let Some(session) = state.session.as_ref() else {
            return Err(ProbeFailure::new(Cause::Io, "no connection"));
        };
        let client = &session.client;
        let started = Instant::now();
        snapshot.probe = Some(self.bounded(client.simple_query(&self.probe_query)).await.map(|_| started.elapsed()));
        Ok(snapshot)
    }

    async fn read_hba(&self, client: &Client, identity: &Identity) -> Result<Vec<HbaLine>, ProbeFailure> {
        let rows = match self.bounded(client.query(HBA_SQL, &[])).await {
            Ok(rows) => rows,
            Err(problem) if problem.cause == Cause::Permission => {
                return Err(ProbeFailure::new(
                    Cause::Permission,
                    format!(
                        "role {0} may not read pg_hba_file_rules (superusers only unless granted: \
                         GRANT SELECT ON pg_hba_file_rules TO {0}; GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO {0}; \
                         in database {1})",
                        super::quote(&identity.user),
                        super::quote(&identity.database)
                    ),
                ))
            }
            Err(problem) => return Err(problem),
        };
        rows.iter()
            .take(MAX_HBA_LINES)
            .map(|row| {
                let invalid = |e: tokio_postgres::Error| ProbeFailure::new(Cause::Invalid, e.to_string());
                Ok(HbaLine {
                    line: row.try_get::<_, Option<i32>>(0).map_err(invalid)?.unwrap_or(0),
                    connection: row.try_get::<_, Option<String>>(1).map_err(invalid)?.unwrap_or_default(),
                    databases: row.try_get::<_, Option<Vec<String>>>(2).map_err(invalid)?.unwrap_or_default(),
                    users: row.try_get::<_, Option<Vec<String>>>(3).map_err(invalid)?.unwrap_or_default(),
                    address: row.try_get(4).map_err(invalid)?,
                    method: row.try_get(5).map_err(invalid)?,
                    error: row.try_get(6).map_err(invalid)?,
                })
            })
            .collect()
    }

    /// The combined read was refused for a privilege: read each part alone.
    async fn read_parts(&self, client: &Client, tables: &Vec<String>) -> Result<Snapshot, ProbeFailure> {
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
        let mut next = || rows.next().unwrap_or_else(|| Err(ProbeFailure::new(Cause::Io, "missing part")));
        let identity_row = next()?;
        let identity = identity_from_row(&identity_row, 0).map_err(|why| ProbeFailure::new(Cause::Invalid, why))?;
        let invalid = |why: String| ProbeFailure::new(Cause::Invalid, why);
        Ok(Snapshot {
            identity,
            role: next().and_then(|row| role_from_row(&row, 0).map_err(invalid)),
            settings: next().and_then(|row| settings_from_row(&row, 0).map_err(invalid)),
            connections_in_use: next().and_then(|row| row.try_get::<_, i64>(0).map_err(|e| invalid(e.to_string()))),
            size_bytes: next().and_then(|row| row.try_get::<_, i64>(0).map_err(|e| invalid(e.to_string()))),
            tables: next().and_then(|row| tables_from_row(&row, 0).map_err(invalid)),
            alembic: None,
            probe: None,
            password_encryption: next().and_then(|row| row.try_get::<_, String>(0).map_err(|e| invalid(e.to_string()))),
            hba: Err(ProbeFailure::new(Cause::Io, "not read yet")),
        })
    }

    async fn bounded<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, tokio_postgres::Error>>,
    ) -> Result<T, ProbeFailure> {
        match tokio::time::timeout(self.query_timeout.0, work).await {
            Ok(result) => result.map_err(|err| describe_error(&err)),
            Err(_) => Err(ProbeFailure::new(
                Cause::Timeout,
                format!("no answer within the query timeout of {}", format_duration(self.query_timeout.0)),
            )),
        }
    }

    async fn connect(
        &self,
        ctx: &CheckContext,
        url: &PgUrl,
        password: Option<&Secret>,
    ) -> Result<Session, ProbeFailure> {
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
                return Err(ProbeFailure::new(
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
        Ok(Session { client, combined, parts_only: false, hba_refused: None })
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
        password_encryption: Ok(row.try_get::<_, String>(start + 13).map_err(|e| e.to_string())?),
        hba: Err(ProbeFailure::new(Cause::Io, "not read yet")),
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
pub fn describe_error(err: &tokio_postgres::Error) -> ProbeFailure {
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
        return ProbeFailure::new(cause, format!("the server says: {} (SQLSTATE {})", db.message(), code.code()));
    }
    let mut source = std::error::Error::source(err);
    while let Some(inner) = source {
        if let Some(io) = inner.downcast_ref::<std::io::Error>() {
            // rustls reports a refused certificate as an io::Error wrapping its own error.
            if let Some(tls) = io.get_ref().and_then(|e| e.downcast_ref::<rustls::Error>()) {
                return ProbeFailure::new(Cause::Untrusted, format!("TLS: {tls}"));
            }
            return ProbeFailure::new(Cause::from_io(io), io_reason(io));
        }
        if inner.downcast_ref::<rustls::Error>().is_some() {
            return ProbeFailure::new(Cause::Untrusted, format!("TLS: {inner}"));
        }
        source = inner.source();
    }
    if err.is_closed() {
        return ProbeFailure::new(Cause::Io, "the server closed the connection");
    }
    ProbeFailure::new(Cause::Io, err.to_string())
}
