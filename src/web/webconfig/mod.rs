//! `--web.config.file`: TLS, mutual TLS, basic auth, response headers and a rate limit for the
//! exporter's own endpoints, in the YAML format of the Prometheus exporter-toolkit, so a file
//! written for node_exporter works here unchanged.
//!
//! [`parse`] turns the text into a validated [`WebConfig`] without touching the disk (relative
//! paths resolve against the file's directory); [`build`] reads the certificates and keys and
//! makes the [`WebSettings`] the server uses; [`load`] does both. The daemon loads the file at
//! start and again on every reload (SIGHUP, `POST /-/reload`), never per connection: a renewed
//! certificate is picked up by a reload, and a broken file is refused while the running settings
//! stay (exporter-toolkit re-reads the file on every connection instead).
//!
//! Keys rustls cannot honour exactly are refused with the reason (TLS 1.0/1.1, cipher suites and
//! curves it does not implement); nothing security-relevant is ignored silently.
//!
//! One file per job: `yaml` decodes the file as written; `tls_spec`, `headers` and
//! `rate_limit` validate their sections (basic auth users are checked here); `tls` makes the
//! rustls server config from a [`TlsSpec`], with the `client_auth` policies for client
//! certificates.

mod client_auth;
mod headers;
mod rate_limit;
mod tls;
mod tls_spec;
mod yaml;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use hyper::header::{HeaderName, HeaderValue};

use crate::support::secret::Secret;
use crate::web::basic_auth::BasicAuth;

pub use client_auth::{ClientAuth, CLIENT_AUTH_TYPES};
pub use headers::ALLOWED_HEADERS;
pub use rate_limit::{RateLimitSpec, TokenBucket};
pub use tls_spec::{Pem, TlsSpec};

/// Why a web config file was refused: the file, the key, and the reason. Never a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("--web.config.file {file}: cannot read the file: {reason}")]
    Read { file: String, reason: String },
    #[error("--web.config.file {file}: {location}: {reason}")]
    Invalid { file: String, location: String, reason: String },
}

/// A key of the file (`tls_server_config.cert_file`) and why it was refused; [`parse`] and
/// [`build`] add the file's name to make a [`WebConfigError`].
type Refusal = (String, String);

/// A web config file, validated. `Default` is plain HTTP without authentication.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebConfig {
    pub tls: Option<TlsSpec>,
    pub headers: Vec<(String, String)>,
    /// User name to bcrypt hash.
    pub users: BTreeMap<String, Secret>,
    pub rate_limit: Option<RateLimitSpec>,
    /// What was accepted but deserves a word in the log.
    pub warnings: Vec<String>,
}

impl WebConfig {
    /// One line for logs and `--config.check`: what protects the endpoints.
    pub fn summary(&self) -> String {
        let mut parts = vec![match &self.tls {
            None => "plain HTTP".to_string(),
            Some(tls) => match tls.client_auth {
                ClientAuth::NoClientCert => "TLS".to_string(),
                other => format!("TLS with client certificates ({other:?})"),
            },
        }];
        if !self.users.is_empty() {
            parts.push(format!(
                "basic auth ({} {})",
                self.users.len(),
                if self.users.len() == 1 { "user" } else { "users" }
            ));
        }
        if let Some(limit) = self.rate_limit {
            parts.push(format!("rate limit {} per {:?}", limit.burst, limit.interval));
        }
        parts.join(", ")
    }
}

/// Parses and validates `text`, the contents of `file`. Pure: files named inside are not read.
pub fn parse(file: &Path, text: &str) -> Result<WebConfig, WebConfigError> {
    let invalid = |location: &str, reason: String| WebConfigError::Invalid {
        file: file.display().to_string(),
        location: location.to_string(),
        reason,
    };
    let refused = |(location, reason): Refusal| invalid(&location, reason);
    let raw = yaml::decode(text).map_err(refused)?;
    let base = file.parent().unwrap_or(Path::new("."));
    let mut warnings = Vec::new();

    let tls = match raw.tls_server_config {
        None => None,
        Some(raw_tls) => tls_spec::validate_tls(raw_tls, base, &mut warnings).map_err(refused)?,
    };

    let headers = match raw.http_server_config {
        None => Vec::new(),
        Some(http) => {
            if http.http2 == Some(true) {
                warnings.push("http_server_config.http2: HTTP/2 is not served; clients talk HTTP/1.1".to_string());
            }
            headers::validate(http.headers).map_err(refused)?
        }
    };

    for (user, hash) in &raw.basic_auth_users {
        let location = format!("basic_auth_users.{user}");
        if user.is_empty() || user.contains(':') {
            return Err(invalid("basic_auth_users", "a user name must be non-empty and hold no `:`".to_string()));
        }
        // The hash is never echoed: it is a secret in the toolkit's format.
        hash.expose().parse::<bcrypt::HashParts>().map_err(|_| {
            invalid(
                &location,
                "not a bcrypt hash (expected `$2y$`, `$2b$` or `$2a$`, a cost and 53 characters, as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints)"
                    .to_string(),
            )
        })?;
    }

    let rate_limit = rate_limit::validate(raw.rate_limit).map_err(refused)?;

    if tls.is_none() && !raw.basic_auth_users.is_empty() {
        warnings
            .push("basic_auth_users without tls_server_config: passwords cross the network in clear text".to_string());
    }
    Ok(WebConfig { tls, headers, users: raw.basic_auth_users, rate_limit, warnings })
}

/// What the server applies to every connection and request.
pub struct WebSettings {
    pub config: WebConfig,
    pub tls: Option<tokio_rustls::TlsAcceptor>,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub auth: Option<Arc<BasicAuth>>,
    pub rate_limit: Option<Mutex<TokenBucket>>,
}

impl fmt::Debug for WebSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the summary: the users' hashes and keys stay out of every output.
        f.debug_struct("WebSettings").field("summary", &self.config.summary()).finish()
    }
}

impl WebSettings {
    /// Plain HTTP, no auth: the settings without `--web.config.file`.
    pub fn plain() -> WebSettings {
        WebSettings { config: WebConfig::default(), tls: None, headers: Vec::new(), auth: None, rate_limit: None }
    }

    /// False when the rate limit is exhausted.
    pub fn admit(&self) -> bool {
        match &self.rate_limit {
            None => true,
            Some(bucket) => bucket.lock().map(|mut b| b.take(Instant::now())).unwrap_or(true),
        }
    }
}

/// Reads and validates `file`, then [`build`]s it.
pub fn load(file: &Path) -> Result<WebSettings, WebConfigError> {
    let text = std::fs::read_to_string(file)
        .map_err(|err| WebConfigError::Read { file: file.display().to_string(), reason: io_reason(&err) })?;
    build(file, parse(file, &text)?)
}

fn io_reason(err: &std::io::Error) -> String {
    match err.kind() {
        std::io::ErrorKind::NotFound => "no such file".to_string(),
        std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
        std::io::ErrorKind::IsADirectory => "it is a directory".to_string(),
        std::io::ErrorKind::InvalidData => "it is not UTF-8 text".to_string(),
        _ => err.to_string(),
    }
}

/// Reads the certificates and keys `config` names and makes the server's settings.
pub fn build(file: &Path, config: WebConfig) -> Result<WebSettings, WebConfigError> {
    let invalid = |location: &str, reason: String| WebConfigError::Invalid {
        file: file.display().to_string(),
        location: location.to_string(),
        reason,
    };
    let tls = match &config.tls {
        None => None,
        Some(spec) => Some(tokio_rustls::TlsAcceptor::from(Arc::new(
            tls::server_config(spec).map_err(|(key, reason)| invalid(&key, reason))?,
        ))),
    };
    let headers = headers::header_values(&config.headers);
    let auth = if config.users.is_empty() {
        None
    } else {
        Some(Arc::new(BasicAuth::new(config.users.clone()).map_err(|reason| invalid("basic_auth_users", reason))?))
    };
    let rate_limit = config.rate_limit.map(|spec| Mutex::new(TokenBucket::new(spec, Instant::now())));
    Ok(WebSettings { config, tls, headers, auth, rate_limit })
}

/// The helpers the tests of every part share: they parse text as `/etc/exporter/web.yml`.
#[cfg(test)]
mod test_support {
    use super::*;

    /// The least a TLS config needs, to which each test adds its keys.
    pub(super) const TLS_BASE: &str = "tls_server_config:\n  cert_file: a.pem\n  key_file: a.key\n";
    pub(super) const HASH: &str = "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze";

    pub(super) fn parse_text(text: &str) -> Result<WebConfig, String> {
        parse(Path::new("/etc/exporter/web.yml"), text).map_err(|e| e.to_string())
    }

    pub(super) fn refusal(text: &str) -> String {
        parse_text(text).expect_err("the config should be refused")
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{parse_text, refusal, HASH};
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn an_empty_file_means_plain_http_without_auth() {
        assert_eq!(parse_text("").unwrap(), WebConfig::default());
        assert_eq!(parse_text("# nothing yet\n").unwrap(), WebConfig::default());
        assert_eq!(parse_text("tls_server_config: {}\n").unwrap(), WebConfig::default());
    }

    #[test]
    fn the_toolkit_example_parses_with_paths_relative_to_the_file() {
        let config = parse_text(&format!(
            "tls_server_config:\n  cert_file: server.crt\n  key_file: /abs/server.key\nbasic_auth_users:\n  alice: {HASH}\n"
        ))
        .unwrap();
        let tls = config.tls.unwrap();
        assert_eq!(tls.cert, Pem::File(PathBuf::from("/etc/exporter/server.crt")));
        assert_eq!(tls.key, Pem::File(PathBuf::from("/abs/server.key")));
        assert_eq!(tls.versions, ["TLS12", "TLS13"]);
        assert_eq!(tls.client_auth, ClientAuth::NoClientCert);
        assert!(tls.prefer_server_order);
        assert_eq!(config.users.get("alice").map(Secret::expose), Some(HASH));
    }

    #[test]
    fn a_bad_hash_is_refused_without_echoing_it() {
        let message = refusal("basic_auth_users:\n  alice: plaintext-password\n");
        assert!(message.contains("basic_auth_users.alice: not a bcrypt hash"), "{message}");
        assert!(!message.contains("plaintext-password"));
        let message = refusal("basic_auth_users:\n  alice: 123456789\n");
        assert!(message.contains("alice: not a bcrypt hash") && !message.contains("123456789"), "{message}");
        let message = refusal("basic_auth_users:\n  alice: {hash: x}\n");
        assert!(message.ends_with("basic_auth_users.alice: must be a string (line 2, column 10)"), "{message}");
        let message = refusal("tls_server_config:\n  cert_file: a\n  key: [987654321]\n");
        assert!(message.ends_with("tls_server_config.key: must be a string (line 3, column 8)"), "{message}");
        assert!(refusal(&format!("basic_auth_users:\n  'a:b': {HASH}\n")).contains("hold no `:`"));
    }

    #[test]
    fn basic_auth_without_tls_is_accepted_with_a_warning() {
        let config = parse_text(&format!("basic_auth_users:\n  alice: {HASH}\n")).unwrap();
        assert_eq!(
            config.warnings,
            ["basic_auth_users without tls_server_config: passwords cross the network in clear text"]
        );
    }

    #[test]
    fn the_summary_says_what_protects_the_endpoints() {
        let config = parse_text(&format!(
            "tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: c\nbasic_auth_users:\n  alice: {HASH}\n"
        ))
        .unwrap();
        assert_eq!(config.summary(), "TLS with client certificates (RequireAndVerifyClientCert), basic auth (1 user)");
        assert!(!format!("{config:?}").contains(HASH));
    }
}
