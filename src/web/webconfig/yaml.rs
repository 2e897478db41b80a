//! The web config file as written, decoded from YAML: the `Raw*` shapes each section validates,
//! and the wording of decoding errors (the key's place, never a value that may be a secret).

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;

use super::Refusal;
use crate::support::secret::Secret;

/// The file as written. Unknown keys are refused, so a typo cannot turn TLS or auth off.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWebConfig {
    pub(super) tls_server_config: Option<RawTls>,
    pub(super) http_server_config: Option<RawHttp>,
    #[serde(default, deserialize_with = "unique_keys")]
    pub(super) basic_auth_users: BTreeMap<String, Secret>,
    pub(super) rate_limit: Option<RawRateLimit>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTls {
    pub(super) cert: Option<String>,
    pub(super) key: Option<String>,
    pub(super) client_ca: Option<String>,
    pub(super) cert_file: Option<String>,
    pub(super) key_file: Option<String>,
    pub(super) client_ca_file: Option<String>,
    pub(super) client_auth_type: Option<String>,
    #[serde(default)]
    pub(super) client_allowed_sans: Vec<String>,
    pub(super) min_version: Option<String>,
    pub(super) max_version: Option<String>,
    #[serde(default)]
    pub(super) cipher_suites: Vec<String>,
    pub(super) prefer_server_cipher_suites: Option<bool>,
    #[serde(default)]
    pub(super) curve_preferences: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawHttp {
    pub(super) http2: Option<bool>,
    #[serde(default, deserialize_with = "unique_keys")]
    pub(super) headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRateLimit {
    pub(super) interval: String,
    #[serde(default)]
    pub(super) burst: u32,
}

/// Decodes `text`; the refusal names where in the file decoding failed (`document` for the whole).
pub(super) fn decode(text: &str) -> Result<RawWebConfig, Refusal> {
    if text.lines().all(|l| l.trim().is_empty() || l.trim_start().starts_with('#')) {
        // An empty file means no TLS and no auth, as in exporter-toolkit.
        return Ok(RawWebConfig::default());
    }
    let deserializer = yaml_serde::Deserializer::from_str(text);
    serde_path_to_error::deserialize(deserializer).map_err(|err| {
        let path = err.path().to_string();
        let location = if path == "." || path.is_empty() { "document".to_string() } else { path };
        let reason = describe_yaml_error(&location, err.into_inner());
        (location, reason)
    })
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse_text, refusal, HASH};
    use crate::web::webconfig::WebConfig;

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
    fn a_user_or_header_listed_twice_is_refused_rather_than_dropped() {
        let message = refusal(&format!("basic_auth_users:\n  alice: {HASH}\n  alice: {HASH}\n"));
        assert!(message.contains("basic_auth_users: `alice` is listed twice"), "{message}");
        let message =
            refusal("http_server_config:\n  headers:\n    X-Frame-Options: deny\n    x-frame-options: sameorigin\n");
        assert!(message.contains("X-Frame-Options is listed twice"), "{message}");
        assert_eq!(parse_text("basic_auth_users:\nhttp_server_config:\n  headers:\n").unwrap(), WebConfig::default());
        assert!(refusal("- a\n").contains("document: invalid type: sequence, expected a mapping"));
    }
}
