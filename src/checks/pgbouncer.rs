//! `pgbouncer`: the admin console of a pgbouncer answers `SHOW POOLS`, and `SHOW DATABASES` lists
//! the database the application uses. The console is reached with a PostgreSQL URL, read as the
//! `postgres` kind reads its own ([`PgUrl`]).

use serde::Deserialize;
use tokio_postgres::SimpleQueryMessage;

use super::postgres::sql::describe_error;
use super::postgres::tls::tls_connector;
use super::postgres::url::PgUrl;
use super::postgres::{default_connect_timeout, quote};
use super::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::secret::Secret;
use crate::support::units::{format_duration, HumanDuration};
use crate::support::url::mask_url;

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

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Database(self.target()))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let url =
            PgUrl::parse(self.url.expose()).map_err(|why| ProbeFailure::new(Cause::Invalid, format!("url {why}")))?;
        let server = url.server();
        let mut config = url.config.clone();
        // `sslmode` is honoured as the postgres kind honours it (the default `prefer` falls back
        // to plain text on a console that offers no TLS, pgbouncer's default).
        config.connect_timeout(self.connect_timeout.0);
        let tls = tls_connector(ctx, &url).await?;
        let limit = self.connect_timeout.0;
        let pools = tokio::time::timeout(limit, async {
            let (client, connection) = config.connect(tls).await?;
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
