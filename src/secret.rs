//! Secrets (passwords, keys, tokens) are carried in [`Secret`], whose `Debug` and `Display`
//! never print the value, so a secret cannot reach a log line, a reason, a page or an error by
//! accident. Code that needs the value calls [`Secret::expose`], which is easy to search for.

use std::fmt;

use serde::{Deserialize, Deserializer};

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value itself. Never format it into anything a person or a scraper sees.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Length in characters: reasons may speak of it ("password has 12 characters; want 20").
    pub fn char_len(&self) -> usize {
        self.0.chars().count()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Secret)
    }
}

/// A URL with any password in its user-info replaced by `****`, for logs and reasons:
/// `postgres://app:hunter2@db:5432/x` becomes `postgres://app:****@db:5432/x`.
pub fn mask_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else { return url.to_string() };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else { return url.to_string() };
    let user_info = &authority[..at];
    let masked_user_info = match user_info.split_once(':') {
        Some((user, _password)) => format!("{user}:****"),
        None => user_info.to_string(),
    };
    format!("{}{masked_user_info}{}", &url[..scheme_end], &rest[at..])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_never_format_their_value() {
        let secret = Secret::new("hunter2-canary");
        assert_eq!(format!("{secret}"), "<redacted>");
        assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
        assert_eq!(format!("{:?}", Some(&secret)), "Some(Secret(<redacted>))");
        assert_eq!(secret.expose(), "hunter2-canary");
        assert_eq!(secret.char_len(), 14);
    }

    #[test]
    fn urls_lose_their_password() {
        assert_eq!(mask_url("postgres://app:hunter2@db:5432/x"), "postgres://app:****@db:5432/x");
        assert_eq!(
            mask_url("postgresql://app:p%40ss@db/x?sslmode=require"),
            "postgresql://app:****@db/x?sslmode=require"
        );
        assert_eq!(mask_url("postgres://app@db/x"), "postgres://app@db/x");
        assert_eq!(mask_url("postgres://db/x?user=a@b"), "postgres://db/x?user=a@b");
        assert_eq!(mask_url("not a url"), "not a url");
    }
}
