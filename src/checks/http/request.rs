//! The request fields every HTTP-based kind shares, declared once by [`http_kind!`]: `url`,
//! `resolve` (the address to connect to instead of the URL host's DNS answer), the trust (`ca_files`, `system_roots`), `request_timeout`, `max_body_bytes` and, for the kinds
//! that may follow redirects, `follow_redirects` and `max_redirects`; their defaults, their
//! validation, and the [`RequestSpec`] a check builds from them for the client.
//!
//! Serde's `flatten` would share them as one struct, but a flattened struct no longer refuses
//! unknown keys (`deny_unknown_fields`) and changes the messages, so the macro writes the fields
//! into each kind's struct instead.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use crate::checks::KeyError;
use crate::support::units::{ByteSize, HumanDuration};

const DEFAULT_MAX_BODY: u64 = 1 << 20;
const DEFAULT_MAX_REDIRECTS: usize = 5;

/// The request one check makes, built from its request fields by the `spec` method that
/// `http_kind!` gives the kind.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub url: String,
    /// `resolve` as written: connect here, keep the URL's host for SNI and `Host`.
    pub resolve: Option<String>,
    pub ca_files: Vec<PathBuf>,
    pub system_roots: bool,
    pub request_timeout: Duration,
    pub max_body_bytes: u64,
    /// `None`: redirects are answers, not followed.
    pub max_redirects: Option<usize>,
    pub method: reqwest::Method,
    pub headers: Vec<(&'static str, String)>,
}

impl RequestSpec {
    /// The request with one more header (the foreign `Origin` of a CORS probe, the `Accept` of a
    /// scrape).
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
}

/// Declares the struct of an HTTP-based kind: the shared request fields first, then the kind's
/// own, decoded with unknown keys refused. Serde's message for an unknown key lists the expected
/// keys in this order, so it is the same for every kind: `url`, `resolve`, `ca_files`, `system_roots`,
/// `request_timeout`, `max_body_bytes`, then `follow_redirects` and `max_redirects` where the
/// kind has them, then the kind's own fields.
///
/// `#[request(max_body_bytes = "path")]` names the function that gives the kind's default body
/// cap; `#[request(max_body_bytes = "path", redirects)]` adds `follow_redirects` (off) and
/// `max_redirects` (5) for a kind that may follow redirects; without them the check judges the
/// first answer, a redirect included. The kind gets two methods: `spec()`, the GET it makes
/// (without the kind's own headers, which it adds with [`RequestSpec::header`]), and
/// `validate_request(schemes)`, the shared fields' validation with the URL held to `schemes`.
macro_rules! http_kind {
    (
        $(#[doc = $doc:expr])*
        #[request(max_body_bytes = $max_body:literal, redirects)]
        pub struct $name:ident { $($fields:tt)* }
    ) => {
        $crate::checks::http::http_kind! {
            @struct $(#[doc = $doc])* $name $max_body {
                #[serde(default)]
                pub follow_redirects: bool,
                #[serde(default = "crate::checks::http::default_max_redirects")]
                pub max_redirects: usize,
                $($fields)*
            }
        }

        impl $name {
            /// Redirects are followed only when the config says so, up to `max_redirects`.
            fn redirect_limit(&self) -> Option<usize> {
                self.follow_redirects.then_some(self.max_redirects)
            }
        }
    };
    (
        $(#[doc = $doc:expr])*
        #[request(max_body_bytes = $max_body:literal)]
        pub struct $name:ident { $($fields:tt)* }
    ) => {
        $crate::checks::http::http_kind! { @struct $(#[doc = $doc])* $name $max_body { $($fields)* } }

        impl $name {
            /// A redirect is an answer like any other: the kind judges it.
            fn redirect_limit(&self) -> Option<usize> {
                None
            }
        }
    };
    (@struct $(#[doc = $doc:expr])* $name:ident $max_body:literal { $($fields:tt)* }) => {
        $(#[doc = $doc])*
        #[derive(Clone, Debug, PartialEq, ::serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            pub url: ::std::string::String,
            pub resolve: ::std::option::Option<::std::string::String>,
            #[serde(default)]
            pub ca_files: ::std::vec::Vec<::std::path::PathBuf>,
            #[serde(default = "crate::checks::yes")]
            pub system_roots: bool,
            #[serde(default = "crate::checks::http::default_request_timeout")]
            pub request_timeout: $crate::support::units::HumanDuration,
            #[serde(default = $max_body)]
            pub max_body_bytes: $crate::support::units::ByteSize,
            $($fields)*
        }

        impl $name {
            /// The GET this check makes, from its request fields.
            fn spec(&self) -> $crate::checks::http::RequestSpec {
                $crate::checks::http::RequestSpec {
                    url: self.url.clone(),
                    resolve: self.resolve.clone(),
                    ca_files: self.ca_files.clone(),
                    system_roots: self.system_roots,
                    request_timeout: self.request_timeout.0,
                    max_body_bytes: self.max_body_bytes.bytes(),
                    max_redirects: self.redirect_limit(),
                    method: ::reqwest::Method::GET,
                    headers: ::std::vec::Vec::new(),
                }
            }

            /// What the check looks at, as labels and reasons show it: the URL without
            /// credentials, and the address it is sent to when `resolve` sets one, so that
            /// checks of one URL on several servers behind a load balancer stay apart.
            fn request_target(&self) -> ::std::string::String {
                $crate::checks::http::request_target(&self.url, self.resolve.as_deref())
            }

            /// Refuses request fields that cannot make a request, the URL held to `schemes`.
            fn validate_request(&self, schemes: &[&str]) -> ::std::result::Result<(), $crate::checks::KeyError> {
                $crate::checks::http::validate_common(&self.spec(), schemes)
            }
        }
    };
}

/// Used by the kinds of this folder and by `prometheus` and `alertmanager` (`checks::prometheus`).
pub(in crate::checks) use http_kind;

fn validate_url(url: &str, schemes: &[&str]) -> Result<reqwest::Url, KeyError> {
    let shown = crate::support::url::mask_url(url);
    let parsed =
        reqwest::Url::parse(url).map_err(|err| KeyError::new("url", format!("`{shown}` is not a URL: {err}")))?;
    if !schemes.contains(&parsed.scheme()) {
        return Err(KeyError::new("url", format!("`{shown}` must use {}", schemes.join(" or "))));
    }
    if parsed.password().is_some() || !parsed.username().is_empty() {
        // The URL becomes a label value and appears in reasons: no credentials in it.
        return Err(KeyError::new("url", "must not carry credentials (user:password@)"));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(KeyError::new("url", format!("`{shown}` has no host")));
    }
    Ok(parsed)
}

/// See the `request_target` method `http_kind!` gives every kind.
pub(in crate::checks) fn request_target(url: &str, resolve: Option<&str>) -> String {
    let shown = crate::support::url::mask_url(url);
    match resolve {
        Some(address) => format!("{shown} via {address}"),
        None => shown,
    }
}

/// `resolve` read as `curl --resolve` means it: an IP address, with a port (`127.0.0.1:8443`,
/// `[::1]:8443`) or without (`10.0.0.7`, `::1`; the URL's port is used). Port 0 stands for "the
/// URL's port", as reqwest reads it.
pub(in crate::checks) fn parse_resolve(text: &str) -> Result<SocketAddr, String> {
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    let bare = text.strip_prefix('[').and_then(|t| t.strip_suffix(']')).unwrap_or(text);
    match bare.parse::<IpAddr>() {
        Ok(ip) => Ok(SocketAddr::new(ip, 0)),
        Err(_) => Err(format!(
            "`{text}` is not an IP address with an optional port (like `10.0.0.7`, `127.0.0.1:8443` or `[::1]:8443`)"
        )),
    }
}

fn validate_resolve(url: &reqwest::Url, resolve: &str) -> Result<(), KeyError> {
    let address = parse_resolve(resolve).map_err(|why| KeyError::new("resolve", why))?;
    if url.domain().is_none() {
        return Err(KeyError::new(
            "resolve",
            "needs a URL whose host is a name: an IP address is connected to as it is",
        ));
    }
    match url.port() {
        Some(port) if address.port() != 0 && address.port() != port => Err(KeyError::new(
            "resolve",
            format!("port {} differs from the URL's port {port}; leave it out or make them the same", address.port()),
        )),
        _ => Ok(()),
    }
}

/// The validation of the shared request fields, in the order their messages have always come.
pub(in crate::checks) fn validate_common(spec: &RequestSpec, schemes: &[&str]) -> Result<(), KeyError> {
    let url = validate_url(&spec.url, schemes)?;
    if let Some(resolve) = &spec.resolve {
        validate_resolve(&url, resolve)?;
    }
    if !spec.system_roots && spec.ca_files.is_empty() && spec.url.starts_with("https:") {
        return Err(KeyError::new("system_roots", "`system_roots = false` needs `ca_files`"));
    }
    if let Some(relative) = spec.ca_files.iter().find(|p| !p.is_absolute()) {
        return Err(KeyError::new("ca_files", format!("`{}` must be an absolute path", relative.display())));
    }
    if spec.request_timeout.is_zero() {
        return Err(KeyError::new("request_timeout", "must be longer than 0s"));
    }
    if spec.max_body_bytes == 0 {
        return Err(KeyError::new("max_body_bytes", "must be at least 1 byte"));
    }
    // A limit is in the spec only when `follow_redirects = true`.
    if spec.max_redirects == Some(0) {
        return Err(KeyError::new("max_redirects", "must be at least 1 when `follow_redirects = true`"));
    }
    Ok(())
}

pub(in crate::checks) fn default_request_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
pub(in crate::checks) fn default_max_body() -> ByteSize {
    ByteSize(DEFAULT_MAX_BODY, false)
}
pub(in crate::checks) fn default_max_redirects() -> usize {
    DEFAULT_MAX_REDIRECTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_credentials_are_refused() {
        assert!(validate_url("https://user:pw@app.example/", &["https"]).is_err());
        assert!(validate_url("ftp://app.example/", &["http", "https"]).is_err());
        assert!(validate_url("https://app.example/health", &["http", "https"]).is_ok());
    }

    #[test]
    fn resolve_is_an_ip_address_with_an_optional_port_for_a_url_with_a_host_name() {
        assert_eq!(parse_resolve("127.0.0.1:8443"), Ok("127.0.0.1:8443".parse().unwrap()));
        assert_eq!(parse_resolve("[::1]:8443"), Ok("[::1]:8443".parse().unwrap()));
        assert_eq!(parse_resolve("10.0.0.7"), Ok("10.0.0.7:0".parse().unwrap()));
        assert_eq!(parse_resolve("[::1]"), Ok("[::1]:0".parse().unwrap()));
        assert!(parse_resolve("lb.internal:443").unwrap_err().contains("is not an IP address"));
        let url = |text: &str| reqwest::Url::parse(text).unwrap();
        assert!(validate_resolve(&url("https://app.example/"), "10.0.0.7:8443").is_ok());
        assert!(validate_resolve(&url("https://app.example:8443/"), "10.0.0.7:8443").is_ok());
        assert!(validate_resolve(&url("https://app.example:8443/"), "10.0.0.7").is_ok());
        let differs = validate_resolve(&url("https://app.example:8443/"), "10.0.0.7:443").unwrap_err();
        assert_eq!(differs.message, "port 443 differs from the URL's port 8443; leave it out or make them the same");
        assert_eq!(validate_resolve(&url("https://10.0.0.1/"), "10.0.0.7").unwrap_err().key, "resolve");
        assert_eq!(
            request_target("https://app.example/", Some("10.0.0.7:443")),
            "https://app.example/ via 10.0.0.7:443"
        );
    }
}
