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

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::header::{HeaderName, HeaderValue};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DistinguishedName, NamedGroup, SupportedProtocolVersion};
use serde::Deserialize;

use crate::support::secret::Secret;
use crate::support::tls::{ClientPolicy, Verifier};
use crate::web::basic_auth::BasicAuth;

/// Why a web config file was refused: the file, the key, and the reason. Never a secret.
#[derive(Debug, thiserror::Error)]
pub enum WebConfigError {
    #[error("--web.config.file {file}: cannot read the file: {reason}")]
    Read { file: String, reason: String },
    #[error("--web.config.file {file}: {location}: {reason}")]
    Invalid { file: String, location: String, reason: String },
}

/// The response headers a web config may set, with the values each accepts (empty: any).
pub const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Content-Security-Policy", &[]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-XSS-Protection", &[]),
    ("Strict-Transport-Security", &[]),
];

/// `client_auth_type` values, as Go's crypto/tls names them.
pub const CLIENT_AUTH_TYPES: [&str; 5] = [
    "NoClientCert",
    "RequestClientCert",
    "RequireAnyClientCert",
    "VerifyClientCertIfGiven",
    "RequireAndVerifyClientCert",
];

/// The file as written. Unknown keys are refused, so a typo cannot turn TLS or auth off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWebConfig {
    tls_server_config: Option<RawTls>,
    http_server_config: Option<RawHttp>,
    #[serde(default, deserialize_with = "unique_keys")]
    basic_auth_users: BTreeMap<String, Secret>,
    rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    cert_file: Option<String>,
    key_file: Option<String>,
    client_ca_file: Option<String>,
    client_auth_type: Option<String>,
    #[serde(default)]
    client_allowed_sans: Vec<String>,
    min_version: Option<String>,
    max_version: Option<String>,
    #[serde(default)]
    cipher_suites: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    curve_preferences: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHttp {
    http2: Option<bool>,
    #[serde(default, deserialize_with = "unique_keys")]
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    interval: String,
    #[serde(default)]
    burst: u32,
}

/// Where a PEM document comes from: a file (resolved against the web config's directory) or the
/// text written inline.
#[derive(Clone, PartialEq, Eq)]
pub enum Pem {
    File(PathBuf),
    Inline(String),
}

impl fmt::Debug for Pem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Pem::File(path) => write!(f, "File({})", path.display()),
            // Inline keys are secrets.
            Pem::Inline(_) => f.write_str("Inline(..)"),
        }
    }
}

/// How clients must authenticate with a certificate (Go's `tls.ClientAuthType`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    NoClientCert,
    RequestClientCert,
    RequireAnyClientCert,
    VerifyClientCertIfGiven,
    RequireAndVerifyClientCert,
}

impl ClientAuth {
    fn parse(name: &str) -> Option<ClientAuth> {
        Some(match name {
            "NoClientCert" => ClientAuth::NoClientCert,
            "RequestClientCert" => ClientAuth::RequestClientCert,
            "RequireAnyClientCert" => ClientAuth::RequireAnyClientCert,
            "VerifyClientCertIfGiven" => ClientAuth::VerifyClientCertIfGiven,
            "RequireAndVerifyClientCert" => ClientAuth::RequireAndVerifyClientCert,
            _ => return None,
        })
    }

    fn verifies(self) -> bool {
        matches!(self, ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert)
    }

    fn requires(self) -> bool {
        matches!(self, ClientAuth::RequireAnyClientCert | ClientAuth::RequireAndVerifyClientCert)
    }
}

/// The validated TLS part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSpec {
    pub cert: Pem,
    pub key: Pem,
    pub client_ca: Option<Pem>,
    pub client_auth: ClientAuth,
    pub allowed_sans: Vec<String>,
    /// `TLS12` and/or `TLS13`, lowest first.
    pub versions: Vec<&'static str>,
    /// TLS 1.2 cipher suites by IANA name in preference order; `None` keeps rustls's defaults.
    /// TLS 1.3 suites are always all enabled, as in Go.
    pub cipher_suites: Option<Vec<String>>,
    /// Key exchange groups in preference order; `None` keeps rustls's defaults.
    pub curves: Option<Vec<NamedGroup>>,
    pub prefer_server_order: bool,
}

/// A global token bucket: `burst` requests at once, then one per `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSpec {
    pub interval: Duration,
    pub burst: u32,
}

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
    let raw: RawWebConfig = if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        // An empty file means no TLS and no auth, as in exporter-toolkit.
        RawWebConfig::default()
    } else {
        let deserializer = yaml_serde::Deserializer::from_str(text);
        serde_path_to_error::deserialize(deserializer).map_err(|err| {
            let path = err.path().to_string();
            let location = if path == "." || path.is_empty() { "document".to_string() } else { path };
            invalid(&location, describe_yaml_error(&location, err.into_inner()))
        })?
    };
    let base = file.parent().unwrap_or(Path::new("."));
    let mut warnings = Vec::new();

    let tls = match raw.tls_server_config {
        None => None,
        Some(raw_tls) => validate_tls(raw_tls, base, &mut warnings).map_err(|(key, reason)| invalid(&key, reason))?,
    };

    let mut headers = Vec::new();
    if let Some(http) = raw.http_server_config {
        if http.http2 == Some(true) {
            warnings.push("http_server_config.http2: HTTP/2 is not served; clients talk HTTP/1.1".to_string());
        }
        for (name, value) in http.headers {
            let location = format!("http_server_config.headers.{name}");
            let (canonical, accepted) = header_rule(&name).ok_or_else(|| {
                let allowed: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
                invalid(&location, format!("this header cannot be configured; allowed: {}", allowed.join(", ")))
            })?;
            if headers.iter().any(|(set, _): &(String, String)| set == canonical) {
                return Err(invalid(&location, format!("{canonical} is listed twice")));
            }
            if value.trim().is_empty() {
                continue; // "Unset if blank"
            }
            if !accepted.is_empty() && !accepted.iter().any(|a| a.eq_ignore_ascii_case(value.trim())) {
                return Err(invalid(
                    &location,
                    format!("`{value}` is not accepted; use one of: {}", accepted.join(", ")),
                ));
            }
            if HeaderValue::from_str(&value).is_err() {
                return Err(invalid(&location, "the value holds characters a header cannot carry".to_string()));
            }
            headers.push((canonical.to_string(), value));
        }
    }

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

    let rate_limit = match raw.rate_limit {
        None => None,
        Some(limit) => {
            let interval = if limit.interval.trim() == "0" {
                Duration::ZERO
            } else {
                crate::support::units::parse_duration(&limit.interval).map_err(|r| invalid("rate_limit.interval", r))?
            };
            if interval.is_zero() {
                None // "set to 0 to disable rate limiter"
            } else if limit.burst == 0 {
                return Err(invalid("rate_limit.burst", "must be at least 1, or no request would pass".to_string()));
            } else {
                Some(RateLimitSpec { interval, burst: limit.burst })
            }
        }
    };

    if tls.is_none() && !raw.basic_auth_users.is_empty() {
        warnings
            .push("basic_auth_users without tls_server_config: passwords cross the network in clear text".to_string());
    }
    Ok(WebConfig { tls, headers, users: raw.basic_auth_users, rate_limit, warnings })
}

/// serde's message, without values that may be secrets (keys and password hashes).
fn describe_yaml_error(location: &str, err: yaml_serde::Error) -> String {
    let position = err.location().map(|l| format!(" (line {}, column {})", l.line(), l.column())).unwrap_or_default();
    let mut message = err.to_string();
    // yaml_serde adds "at line L column C" and the enclosing key's path itself; say each once.
    if let Some(at) = message.find(" at line ") {
        message.truncate(at);
    }
    if let Some((prefix, rest)) = message.split_once(": ") {
        if location.starts_with(prefix) {
            message = rest.to_string();
        }
    }
    // "invalid type: integer `1234`" would quote a password hash or a key.
    let secret = location.starts_with("basic_auth_users.") || location == "tls_server_config.key";
    if secret && message.starts_with("invalid") {
        return format!("must be a string{position}");
    }
    for internal in ["struct RawWebConfig", "struct RawTls", "struct RawHttp", "struct RawRateLimit"] {
        message = message.replace(internal, "a mapping");
    }
    format!("{message}{position}")
}

/// A mapping whose keys must be unique (user names, header names): YAML parsers that keep the
/// last of two equal keys would otherwise drop a user or a header without a word. An empty
/// value (`basic_auth_users:`) is an empty mapping.
fn unique_keys<'de, D, V>(deserializer: D) -> Result<BTreeMap<String, V>, D::Error>
where
    D: serde::Deserializer<'de>,
    V: Deserialize<'de>,
{
    struct UniqueKeys<V>(std::marker::PhantomData<V>);
    impl<'de, V: Deserialize<'de>> serde::de::Visitor<'de> for UniqueKeys<V> {
        type Value = BTreeMap<String, V>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a mapping")
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
            Ok(BTreeMap::new())
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut entries = BTreeMap::new();
            while let Some((key, value)) = map.next_entry::<String, V>()? {
                if entries.contains_key(&key) {
                    return Err(serde::de::Error::custom(format!("`{key}` is listed twice")));
                }
                entries.insert(key, value);
            }
            Ok(entries)
        }
    }
    deserializer.deserialize_any(UniqueKeys(std::marker::PhantomData))
}

fn header_rule(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    ALLOWED_HEADERS.iter().find(|(allowed, _)| allowed.eq_ignore_ascii_case(name)).copied()
}

type Refusal = (String, String);

fn refuse(key: &str, reason: impl Into<String>) -> Refusal {
    (format!("tls_server_config.{key}"), reason.into())
}

/// `inline` or `file`, never both; a file resolves against `base`.
fn pem_source(inline: Option<String>, file: Option<String>, name: &str, base: &Path) -> Result<Option<Pem>, Refusal> {
    let file = file.filter(|f| !f.trim().is_empty());
    let inline = inline.filter(|i| !i.trim().is_empty());
    match (inline, file) {
        (Some(_), Some(_)) => Err(refuse(name, format!("both `{name}` and `{name}_file` are set; use one"))),
        (Some(text), None) => Ok(Some(Pem::Inline(text))),
        (None, Some(path)) => Ok(Some(Pem::File(base.join(path)))),
        (None, None) => Ok(None),
    }
}

fn validate_tls(raw: RawTls, base: &Path, warnings: &mut Vec<String>) -> Result<Option<TlsSpec>, Refusal> {
    let cert = pem_source(raw.cert, raw.cert_file, "cert", base)?;
    let key = pem_source(raw.key, raw.key_file, "key", base)?;
    let client_ca = pem_source(raw.client_ca, raw.client_ca_file, "client_ca", base)?;
    let client_auth = match raw.client_auth_type.as_deref().map(str::trim) {
        None | Some("") => ClientAuth::NoClientCert,
        Some(name) => ClientAuth::parse(name).ok_or_else(|| {
            refuse(
                "client_auth_type",
                format!("`{name}` is not a client auth type; use one of: {}", CLIENT_AUTH_TYPES.join(", ")),
            )
        })?,
    };
    let (cert, key) = match (cert, key) {
        (Some(cert), Some(key)) => (cert, key),
        (None, None) if client_ca.is_none() && client_auth == ClientAuth::NoClientCert => {
            // An empty tls_server_config means plain HTTP, as in exporter-toolkit.
            return Ok(None);
        }
        (Some(_), None) => {
            return Err(refuse("key_file", "missing: a certificate needs its private key (key_file or key)"))
        }
        (None, _) => return Err(refuse("cert_file", "missing: TLS needs a certificate (cert_file or cert)")),
    };

    match (client_auth, &client_ca) {
        (ClientAuth::NoClientCert, Some(_)) => return Err(refuse(
            "client_ca_file",
            "a client CA is set but client_auth_type is NoClientCert; set client_auth_type: RequireAndVerifyClientCert",
        )),
        (auth, None) if auth.verifies() => {
            return Err(refuse(
                "client_ca_file",
                format!("missing: client_auth_type {auth:?} verifies client certificates against it"),
            ))
        }
        (auth @ (ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert), ca) => {
            let unused = if ca.is_some() { "; client_ca_file is not used" } else { "" };
            warnings.push(format!(
                "tls_server_config.client_auth_type: {auth:?} does not verify client certificates{unused}; use RequireAndVerifyClientCert"
            ));
        }
        _ => {}
    }
    if !raw.client_allowed_sans.is_empty() && !client_auth.requires() {
        return Err(refuse(
            "client_allowed_sans",
            "needs client_auth_type RequireAndVerifyClientCert (or RequireAnyClientCert): otherwise a client may send no certificate",
        ));
    }

    let min = tls_version(raw.min_version.as_deref(), "min_version", "TLS12")?;
    let max = tls_version(raw.max_version.as_deref(), "max_version", "TLS13")?;
    if min > max {
        return Err(refuse("min_version", "is above max_version"));
    }
    let versions: Vec<&'static str> = ["TLS12", "TLS13"].into_iter().filter(|v| (min..=max).contains(v)).collect();

    let cipher_suites = if raw.cipher_suites.is_empty() {
        None
    } else {
        let available = tls12_suite_names();
        let mut chosen = Vec::new();
        for name in &raw.cipher_suites {
            if TLS13_SUITES.contains(&name.as_str()) {
                continue; // Go ignores TLS 1.3 suites here too: all of them stay enabled.
            }
            if !available.contains(name) {
                return Err(refuse(
                    "cipher_suites",
                    format!("`{name}` is not available (rustls offers for TLS 1.2: {})", available.join(", ")),
                ));
            }
            chosen.push(name.clone());
        }
        if chosen.is_empty() && versions.contains(&"TLS12") {
            return Err(refuse(
                "cipher_suites",
                "names no TLS 1.2 suite, so no TLS 1.2 client could connect; set min_version: TLS13 instead",
            ));
        }
        Some(chosen)
    };

    let curves = if raw.curve_preferences.is_empty() {
        None
    } else {
        let mut groups = Vec::new();
        for name in &raw.curve_preferences {
            let group = match name.as_str() {
                "CurveP256" => NamedGroup::secp256r1,
                "CurveP384" => NamedGroup::secp384r1,
                "X25519" => NamedGroup::X25519,
                "X25519MLKEM768" => NamedGroup::X25519MLKEM768,
                "CurveP521" => {
                    return Err(refuse(
                        "curve_preferences",
                        "CurveP521 is not available in rustls; use CurveP256, CurveP384, X25519 or X25519MLKEM768",
                    ))
                }
                other => {
                    return Err(refuse(
                        "curve_preferences",
                        format!("`{other}` is not a curve; use CurveP256, CurveP384, X25519 or X25519MLKEM768"),
                    ))
                }
            };
            groups.push(group);
        }
        Some(groups)
    };

    Ok(Some(TlsSpec {
        cert,
        key,
        client_ca,
        client_auth,
        allowed_sans: raw.client_allowed_sans,
        versions,
        cipher_suites,
        curves,
        prefer_server_order: raw.prefer_server_cipher_suites.unwrap_or(true),
    }))
}

const TLS13_SUITES: [&str; 3] = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];

fn provider() -> CryptoProvider {
    rustls::crypto::aws_lc_rs::default_provider()
}

/// The TLS 1.2 suites rustls offers, by their IANA (and Go) names.
fn tls12_suite_names() -> Vec<String> {
    provider().cipher_suites.iter().filter(|s| s.tls13().is_none()).map(|s| format!("{:?}", s.suite())).collect()
}

/// `TLS12`/`TLS13`; the names sort in version order.
fn tls_version(value: Option<&str>, key: &str, default: &'static str) -> Result<&'static str, Refusal> {
    match value.map(str::trim) {
        None | Some("") => Ok(default),
        Some("TLS12") => Ok("TLS12"),
        Some("TLS13") => Ok("TLS13"),
        Some(old @ ("TLS10" | "TLS11")) => Err(refuse(
            key,
            format!("{old} is not supported: rustls implements TLS 1.2 and 1.3 only; use TLS12 or TLS13"),
        )),
        Some(other) => Err(refuse(key, format!("`{other}` is not a TLS version; use TLS12 or TLS13"))),
    }
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

/// A token bucket refilled at one token per interval, holding at most `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    spec: RateLimitSpec,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(spec: RateLimitSpec, now: Instant) -> TokenBucket {
        TokenBucket { spec, tokens: f64::from(spec.burst), updated: now }
    }

    pub fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.updated).as_secs_f64() / self.spec.interval.as_secs_f64();
        self.tokens = (self.tokens + refill).min(f64::from(self.spec.burst));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
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
            server_config(spec).map_err(|(key, reason)| invalid(&key, reason))?,
        ))),
    };
    let headers = config
        .headers
        .iter()
        .filter_map(|(name, value)| {
            Some((HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(value).ok()?))
        })
        .collect();
    let auth = if config.users.is_empty() {
        None
    } else {
        Some(Arc::new(BasicAuth::new(config.users.clone()).map_err(|reason| invalid("basic_auth_users", reason))?))
    };
    let rate_limit = config.rate_limit.map(|spec| Mutex::new(TokenBucket::new(spec, Instant::now())));
    Ok(WebSettings { config, tls, headers, auth, rate_limit })
}

fn read_pem(source: &Pem, key: &str) -> Result<Vec<u8>, Refusal> {
    match source {
        Pem::Inline(text) => Ok(text.as_bytes().to_vec()),
        Pem::File(path) => std::fs::read(path).map_err(|err| {
            refuse(&format!("{key}_file"), format!("cannot read {}: {}", path.display(), io_reason(&err)))
        }),
    }
}

fn where_from(source: &Pem, key: &str) -> (String, String) {
    match source {
        Pem::File(path) => (format!("{key}_file"), path.display().to_string()),
        Pem::Inline(_) => (key.to_string(), format!("the inline `{key}`")),
    }
}

fn certificates(source: &Pem, key: &str) -> Result<Vec<CertificateDer<'static>>, Refusal> {
    let bytes = read_pem(source, key)?;
    let (location, name) = where_from(source, key);
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|err| refuse(&location, format!("{name} is not valid PEM: {err}")))?;
    if certs.is_empty() {
        return Err(refuse(&location, format!("{name} holds no PEM certificate")));
    }
    Ok(certs)
}

fn server_config(spec: &TlsSpec) -> Result<rustls::ServerConfig, Refusal> {
    let certs = certificates(&spec.cert, "cert")?;
    let key_bytes = read_pem(&spec.key, "key")?;
    let (key_location, key_name) = where_from(&spec.key, "key");
    // The parse error is not shown: it could quote key material.
    let key = PrivateKeyDer::from_pem_slice(&key_bytes)
        .map_err(|_| refuse(&key_location, format!("{key_name} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)")))?;

    let mut provider = provider();
    if let Some(names) = &spec.cipher_suites {
        let mut suites: Vec<_> = provider.cipher_suites.iter().filter(|s| s.tls13().is_some()).copied().collect();
        for name in names {
            suites.extend(provider.cipher_suites.iter().filter(|s| &format!("{:?}", s.suite()) == name).copied());
        }
        provider.cipher_suites = suites;
    }
    if let Some(groups) = &spec.curves {
        let available = provider.kx_groups.clone();
        provider.kx_groups =
            groups.iter().filter_map(|wanted| available.iter().find(|g| g.name() == *wanted).copied()).collect();
        if provider.kx_groups.is_empty() {
            return Err(refuse("curve_preferences", "none of these curves is available"));
        }
    }
    let provider = Arc::new(provider);
    let versions: Vec<&'static SupportedProtocolVersion> = spec
        .versions
        .iter()
        .map(|v| if *v == "TLS12" { &rustls::version::TLS12 } else { &rustls::version::TLS13 })
        .collect();
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|err| refuse("min_version", format!("the TLS settings do not fit together: {err}")))?;

    let verifier: Option<Arc<dyn ClientCertVerifier>> = match spec.client_auth {
        ClientAuth::NoClientCert => None,
        ClientAuth::RequestClientCert | ClientAuth::RequireAnyClientCert => {
            Some(Verifier::new(UnverifiedClientCert { mandatory: spec.client_auth.requires() }, &provider))
        }
        ClientAuth::VerifyClientCertIfGiven | ClientAuth::RequireAndVerifyClientCert => {
            let ca = spec.client_ca.as_ref().ok_or_else(|| refuse("client_ca_file", "missing"))?;
            let (ca_location, ca_name) = where_from(ca, "client_ca");
            let mut roots = rustls::RootCertStore::empty();
            for cert in certificates(ca, "client_ca")? {
                roots
                    .add(cert)
                    .map_err(|err| refuse(&ca_location, format!("{ca_name}: not a usable CA certificate: {err}")))?;
            }
            let builder = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
            let builder = if spec.client_auth == ClientAuth::VerifyClientCertIfGiven {
                builder.allow_unauthenticated()
            } else {
                builder
            };
            Some(builder.build().map_err(|err| refuse(&ca_location, format!("{ca_name}: {err}")))?)
        }
    };
    let verifier = verifier.map(|inner| -> Arc<dyn ClientCertVerifier> {
        if spec.allowed_sans.is_empty() {
            inner
        } else {
            Verifier::new(AllowedSans { inner, allowed: spec.allowed_sans.clone() }, &provider)
        }
    });
    let builder = match verifier {
        None => builder.with_no_client_auth(),
        Some(verifier) => builder.with_client_cert_verifier(verifier),
    };
    let (cert_location, _) = where_from(&spec.cert, "cert");
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|err| refuse(&cert_location, format!("the certificate and key cannot be used together: {err}")))?;
    config.ignore_client_order = spec.prefer_server_order;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// `RequestClientCert` and `RequireAnyClientCert`: the client proves it holds the key of the
/// certificate it sends, but the certificate itself is not checked against any CA.
#[derive(Debug)]
struct UnverifiedClientCert {
    mandatory: bool,
}

impl ClientPolicy for UnverifiedClientCert {
    fn client_auth_mandatory(&self) -> bool {
        self.mandatory
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }
}

/// `client_allowed_sans`: after the inner verifier accepts a certificate, one of its subject
/// alternative names must be on the list exactly.
#[derive(Debug)]
struct AllowedSans {
    inner: Arc<dyn ClientCertVerifier>,
    allowed: Vec<String>,
}

impl ClientPolicy for AllowedSans {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self.inner.verify_client_cert(end_entity, intermediates, now)?;
        if subject_alt_names(end_entity).iter().any(|name| self.allowed.contains(name)) {
            Ok(verified)
        } else {
            tracing::debug!("client certificate refused: none of its SANs is in client_allowed_sans");
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::ApplicationVerificationFailure))
        }
    }
}

/// DNS names, IP addresses, e-mail addresses and URIs of a certificate, as Go prints them.
fn subject_alt_names(der: &CertificateDer<'_>) -> Vec<String> {
    use x509_parser::extensions::GeneralName;
    let Ok((_, cert)) = x509_parser::parse_x509_certificate(der) else { return Vec::new() };
    let Ok(Some(extension)) = cert.subject_alternative_name() else { return Vec::new() };
    extension
        .value
        .general_names
        .iter()
        .filter_map(|name| match name {
            GeneralName::DNSName(s) | GeneralName::RFC822Name(s) | GeneralName::URI(s) => Some(s.to_string()),
            GeneralName::IPAddress(bytes) => match bytes.len() {
                4 => Some(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(*bytes).ok()?).to_string()),
                16 => Some(std::net::Ipv6Addr::from(<[u8; 16]>::try_from(*bytes).ok()?).to_string()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The least a TLS config needs, to which each test adds its keys.
    const TLS_BASE: &str = "tls_server_config:\n  cert_file: a.pem\n  key_file: a.key\n";
    const HASH: &str = "$2y$10$mDwo.lAisC94iLAyP81MCesa29IzH37oigHC/42V2pdJlUprsJPze";

    fn parse_text(text: &str) -> Result<WebConfig, String> {
        parse(Path::new("/etc/exporter/web.yml"), text).map_err(|e| e.to_string())
    }

    fn refusal(text: &str) -> String {
        parse_text(text).expect_err("the config should be refused")
    }

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
    fn unknown_keys_are_refused_with_their_place() {
        let message = refusal("tls_server_config:\n  cert_fil: a.pem\n");
        assert!(
            message.starts_with(
                "--web.config.file /etc/exporter/web.yml: tls_server_config.cert_fil: unknown field `cert_fil`, expected one of `cert`,"
            ),
            "{message}"
        );
        assert!(message.ends_with("(line 2, column 3)"), "{message}");
        let message = refusal("basic_auth: {}\n");
        assert!(message.contains("web.yml: basic_auth: unknown field `basic_auth`, expected one of"), "{message}");
    }

    #[test]
    fn a_certificate_without_key_and_the_reverse_are_refused() {
        assert!(refusal("tls_server_config:\n  cert_file: a.pem\n")
            .ends_with("tls_server_config.key_file: missing: a certificate needs its private key (key_file or key)"));
        assert!(refusal("tls_server_config:\n  key_file: a.key\n")
            .ends_with("tls_server_config.cert_file: missing: TLS needs a certificate (cert_file or cert)"));
        assert!(refusal("tls_server_config:\n  cert_file: a.pem\n  cert: x\n  key_file: k\n")
            .contains("both `cert` and `cert_file` are set"));
    }

    #[test]
    fn client_auth_needs_a_ca_when_it_verifies_and_a_ca_needs_client_auth() {
        assert!(refusal(&format!("{TLS_BASE}  client_auth_type: RequireAndVerifyClientCert\n"))
            .ends_with("tls_server_config.client_ca_file: missing: client_auth_type RequireAndVerifyClientCert verifies client certificates against it"));
        assert!(refusal(&format!("{TLS_BASE}  client_ca_file: ca.pem\n")).contains("client_auth_type is NoClientCert"));
        assert!(refusal(&format!("{TLS_BASE}  client_auth_type: Always\n"))
            .contains("`Always` is not a client auth type; use one of: NoClientCert,"));
        let warned = parse_text(&format!("{TLS_BASE}  client_auth_type: RequireAnyClientCert\n")).unwrap();
        assert!(warned.warnings[0].contains("does not verify client certificates"), "{:?}", warned.warnings);
        assert!(refusal(&format!(
            "{TLS_BASE}  client_auth_type: VerifyClientCertIfGiven\n  client_ca_file: ca.pem\n  client_allowed_sans: [a]\n"
        ))
        .contains("client_allowed_sans: needs client_auth_type RequireAndVerifyClientCert"));
    }

    #[test]
    fn tls_versions_are_honoured_and_old_ones_refused() {
        assert_eq!(parse_text(&format!("{TLS_BASE}  min_version: TLS13\n")).unwrap().tls.unwrap().versions, ["TLS13"]);
        assert_eq!(parse_text(&format!("{TLS_BASE}  max_version: TLS12\n")).unwrap().tls.unwrap().versions, ["TLS12"]);
        assert!(refusal(&format!("{TLS_BASE}  min_version: TLS11\n"))
            .contains("TLS11 is not supported: rustls implements TLS 1.2 and 1.3 only"));
        assert!(refusal(&format!("{TLS_BASE}  min_version: TLS13\n  max_version: TLS12\n"))
            .contains("min_version: is above max_version"));
    }

    #[test]
    fn cipher_suites_and_curves_map_to_what_rustls_has_or_are_refused() {
        let tls = parse_text(&format!(
            "{TLS_BASE}  cipher_suites: [TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, TLS_AES_128_GCM_SHA256]\n  curve_preferences: [X25519, CurveP256]\n  prefer_server_cipher_suites: false\n"
        ))
        .unwrap()
        .tls
        .unwrap();
        assert_eq!(tls.cipher_suites.unwrap(), ["TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"]);
        assert_eq!(tls.curves.unwrap(), [NamedGroup::X25519, NamedGroup::secp256r1]);
        assert!(!tls.prefer_server_order);
        assert!(refusal(&format!("{TLS_BASE}  cipher_suites: [TLS_RSA_WITH_AES_128_CBC_SHA]\n"))
            .contains("`TLS_RSA_WITH_AES_128_CBC_SHA` is not available (rustls offers for TLS 1.2: TLS_ECDHE_"));
        assert!(refusal(&format!("{TLS_BASE}  curve_preferences: [CurveP521]\n"))
            .contains("CurveP521 is not available in rustls"));
    }

    #[test]
    fn only_the_toolkit_headers_with_their_values_are_accepted() {
        let config = parse_text(
            "http_server_config:\n  headers:\n    X-Frame-Options: sameorigin\n    Strict-Transport-Security: max-age=31536000\n    X-XSS-Protection: ''\n",
        )
        .unwrap();
        assert_eq!(
            config.headers,
            [
                ("Strict-Transport-Security".to_string(), "max-age=31536000".to_string()),
                ("X-Frame-Options".to_string(), "sameorigin".to_string())
            ]
        );
        assert!(refusal("http_server_config:\n  headers:\n    Server: nginx\n").ends_with(
            "http_server_config.headers.Server: this header cannot be configured; allowed: Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, Strict-Transport-Security"
        ));
        assert!(refusal("http_server_config:\n  headers:\n    X-Frame-Options: allow\n")
            .contains("`allow` is not accepted; use one of: deny, sameorigin"));
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
    fn a_user_or_header_listed_twice_is_refused_rather_than_dropped() {
        let message = refusal(&format!("basic_auth_users:\n  alice: {HASH}\n  alice: {HASH}\n"));
        assert!(message.contains("basic_auth_users: `alice` is listed twice"), "{message}");
        let message =
            refusal("http_server_config:\n  headers:\n    X-Frame-Options: deny\n    x-frame-options: sameorigin\n");
        assert!(message.contains("X-Frame-Options is listed twice"), "{message}");
        assert_eq!(parse_text("basic_auth_users:\nhttp_server_config:\n  headers:\n").unwrap(), WebConfig::default());
        assert!(refusal("- a\n").contains("document: invalid type: sequence, expected a mapping"));
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
    fn the_rate_limit_is_a_token_bucket_and_zero_disables_it() {
        let config = parse_text("rate_limit:\n  interval: 1s\n  burst: 2\n").unwrap();
        let spec = config.rate_limit.unwrap();
        assert_eq!(spec, RateLimitSpec { interval: Duration::from_secs(1), burst: 2 });
        assert_eq!(parse_text("rate_limit:\n  interval: 0\n  burst: 5\n").unwrap().rate_limit, None);
        assert!(refusal("rate_limit:\n  interval: 1s\n").contains("rate_limit.burst: must be at least 1"));

        let start = Instant::now();
        let mut bucket = TokenBucket::new(spec, start);
        assert!(bucket.take(start) && bucket.take(start));
        assert!(!bucket.take(start), "the burst is spent");
        assert!(bucket.take(start + Duration::from_secs(1)), "one token back after one interval");
        assert!(!bucket.take(start + Duration::from_secs(1)));
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
