//! The connection URL of a `postgres` (or `pgbouncer`) check, and where the password to log in
//! with comes from.
//!
//! tokio-postgres reads the URL (host list, user, password, database, parameters) and builds the
//! `Config` that connects; [`PgUrl::parse`] takes out first what it does not know (libpq's
//! `verify-ca`/`verify-full` and `sslrootcert`) and refuses a password whose unencoded `@` would
//! make part of it the host. The password may instead come from `password_env` (the environment
//! or an env file) or `password_file`: `PostgresCheck::password` reads whichever is configured.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tokio_postgres::config::{Host, SslMode};

use super::{io_reason, quote, PostgresCheck};
use crate::checks::CheckContext;
use crate::model::{Cause, ProbeFailure, Subject};
use crate::support::secret::Secret;

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
        // tokio-postgres ends the user-info at the first `@` (`support::url::Reading::Libpq`).
        // With an unencoded `@` in the password, the rest of the password would become the host,
        // and be shown as the server. The hosts it made are checked, not the URL's text, so a
        // `%40` or a `host=` parameter that yields such a host is refused as well.
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

    /// Length of the password the URL holds, for the fingerprint of a check (its `Debug` text).
    pub(crate) fn password_chars(&self) -> usize {
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

impl PostgresCheck {
    /// The password to log in with: from the URL, `password_env` or `password_file`. `Ok(None)`
    /// when none is configured (trust or peer authentication).
    pub(super) async fn password(&self, ctx: &CheckContext, url: &PgUrl) -> Result<Option<Secret>, ProbeFailure> {
        let source = PasswordSource {
            password_env: self.password_env.as_deref(),
            env_file: self.env_file.as_deref(),
            password_file: self.password_file.as_deref(),
            file_key: "password_file",
        };
        read_password(ctx, url, &source).await
    }
}

/// Where a password comes from besides the URL, and the key that names the file in messages
/// (`password_file`, or a `backup_restore` check's `scratch_password_file`).
pub(crate) struct PasswordSource<'a> {
    pub password_env: Option<&'a str>,
    pub env_file: Option<&'a Path>,
    pub password_file: Option<&'a Path>,
    pub file_key: &'a str,
}

/// The password to log in with: from the URL, the file or the environment variable (looked up
/// in the env file when one is given). `Ok(None)` when none is configured.
pub(crate) async fn read_password(
    ctx: &CheckContext,
    url: &PgUrl,
    source: &PasswordSource<'_>,
) -> Result<Option<Secret>, ProbeFailure> {
    if let Some(password) = url.config.get_password() {
        return Ok(Some(Secret::new(String::from_utf8_lossy(password))));
    }
    if let Some(path) = source.password_file {
        let path = path.to_path_buf();
        let shown = path.display().to_string();
        let key = source.file_key;
        let read = ctx.blocking().run(move || std::fs::read_to_string(&path)).await?;
        return match read {
            Ok(text) => Ok(Some(Secret::new(text.trim_end_matches(['\n', '\r'])))),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                Err(ProbeFailure::new(Cause::Missing, format!("the password file {shown} is missing ({key})"))
                    .about(Subject::Path(shown)))
            }
            Err(err) => Err(ProbeFailure::new(
                Cause::from_io(&err),
                format!("the password file {shown} cannot be read ({key}): {}", io_reason(&err)),
            )
            .about(Subject::Path(shown))),
        };
    }
    let Some(key) = source.password_env else { return Ok(None) };
    match source.env_file {
        None => match std::env::var(key) {
            Ok(value) => Ok(Some(Secret::new(value))),
            Err(_) => Err(ProbeFailure::new(Cause::Missing, format!("environment variable {key} is not set"))
                .about(Subject::Variable(key.to_string()))),
        },
        Some(path) => {
            let path = path.to_path_buf();
            let shown = path.display().to_string();
            let read = ctx.blocking().run(move || std::fs::read_to_string(&path)).await?;
            let text = read.map_err(|err| {
                ProbeFailure::new(Cause::from_io(&err), format!("env_file {shown}: {}", io_reason(&err)))
                    .about(Subject::Path(shown.clone()))
            })?;
            crate::support::dotenv::parse(&text).get(key).cloned().map(Some).ok_or_else(|| {
                ProbeFailure::new(Cause::Missing, format!("env_file {shown} does not set {key}"))
                    .about(Subject::Variable(key.to_string()))
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::checks::postgres::tests::check;
    use crate::checks::Check;

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
    fn a_host_holding_an_at_is_refused_however_it_is_written() {
        let refused = "holds more than one `@` before the host; write an `@` in the password as %40";
        for url in ["postgres://app:pw@x@db/y", "postgres://app@db%40x/y", "postgres://app@db/y?host=a@b"] {
            assert_eq!(PgUrl::parse(url).err().as_deref(), Some(refused), "{url}");
        }
        assert_eq!(PgUrl::parse("postgres://app:p%40ss@db/y").unwrap().server(), "db:5432");
    }
}
