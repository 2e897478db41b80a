//! Secrets (passwords, keys, tokens) are carried in [`Secret`], whose `Debug` and `Display`
//! never print the value, so a secret cannot reach a log line, a reason, a page or an error by
//! accident. Code that needs the value calls [`Secret::expose`], which is easy to search for.

use std::fmt;

use serde::{Deserialize, Deserializer};

use crate::support::url::{Authority, Reading};

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
/// `postgres://app:hunter2@db:5432/x` becomes `postgres://app:****@db:5432/x`. A `password=`
/// parameter (`?password=…`, or libpq's `host=db password=…` form) is masked too.
pub fn mask_url(url: &str) -> String {
    // Where the user-info ends depends on who reads the URL (`Reading`). A postgres URL is read
    // both by URL parsers and by tokio-postgres, so whatever either would take as the password
    // is masked.
    let rfc = Authority::parse(url, Reading::Rfc3986);
    let authority = match rfc.scheme {
        Some(scheme) if scheme.starts_with("postgres") => Authority::parse(url, Reading::Widest),
        _ => rfc,
    };
    let masked = match authority.user.filter(|_| authority.has_password()) {
        Some(user) => {
            let scheme = authority.scheme.map(|scheme| format!("{scheme}://")).unwrap_or_default();
            format!("{scheme}{user}:****{}", authority.after_user_info)
        }
        None => url.to_string(),
    };
    mask_password_parameters(&masked)
}

/// Replaces the value of every `password=` parameter: in a query (`?password=x&…`) it ends at
/// `&`, `#` or a space; in libpq's key=value form it may be quoted (`password='a b'`).
fn mask_password_parameters(text: &str) -> String {
    const KEY: &str = "password";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(position) = rest.to_ascii_lowercase().find(KEY) {
        let after_key = &rest[position + KEY.len()..];
        let Some(value) = after_key.trim_start().strip_prefix('=') else {
            out.push_str(&rest[..position + KEY.len()]);
            rest = after_key;
            continue;
        };
        let value = value.trim_start();
        let end = match value.strip_prefix('\'') {
            Some(quoted) => {
                let mut escaped = false;
                let close = quoted.char_indices().find(|&(_, c)| {
                    let closes = c == '\'' && !escaped;
                    escaped = c == '\\' && !escaped;
                    closes
                });
                close.map_or(value.len(), |(i, _)| i + 2)
            }
            None => value.find(|c: char| c == '&' || c == '#' || c.is_whitespace()).unwrap_or(value.len()),
        };
        out.push_str(&rest[..position]);
        out.push_str("password=****");
        rest = &value[end..];
    }
    out.push_str(rest);
    out
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

    #[test]
    fn passwords_with_unencoded_delimiters_or_in_parameters_are_masked_whole() {
        for password in ["hunter2@canary", "hunter2/canary", "hunter2#canary", "hunter2?canary", "hun:ter2"] {
            let masked = mask_url(&format!("postgres://app:{password}@127.0.0.1:5432/x"));
            assert_eq!(masked, "postgres://app:****@127.0.0.1:5432/x", "{password}");
        }
        assert_eq!(mask_url("https://u:hunter2@example.org/a?b=c@d"), "https://u:****@example.org/a?b=c@d");
        assert_eq!(
            mask_url("postgres://app@db/x?sslmode=disable&password=hunter2&application_name=y"),
            "postgres://app@db/x?sslmode=disable&password=****&application_name=y"
        );
        assert_eq!(
            mask_url("host=db user=app password = 'hunter2 \\' canary' dbname=x"),
            "host=db user=app password=**** dbname=x"
        );
        assert_eq!(mask_url("host=db PASSWORD=hunter2"), "host=db password=****");
        assert_eq!(mask_url("password_file is not set"), "password_file is not set");
    }
}
