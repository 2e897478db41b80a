//! The authority of a URL (`scheme://user:password@host:port/…`) split into its parts, in one
//! place for the crate: [`mask_url`] hides the password found here, and a check that judges the
//! password of a URL reads it here.
//!
//! Readers disagree on where the user-info ends when a password holds an unencoded `@`, `/`, `?`
//! or `#`, so a caller says whose reading it needs ([`Reading`]). Every part is kept as written;
//! only the password is decoded, on request ([`Authority::password`]), because it is compared and
//! measured as the server sees it.

use crate::support::secret::Secret;

/// Whose reading of a URL decides where its user-info ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// RFC 3986, as the `url` crate (reqwest) and browsers read a URL: the authority ends at the
    /// first `/`, `?` or `#`, and the user-info at the last `@` inside it.
    Rfc3986,
    /// libpq and tokio-postgres: the user-info is everything before the first `@`, wherever it
    /// stands, so a password may hold an unencoded `/`, `?` or `#`. The host ends at `/` or `?`.
    Libpq,
    /// The longer user-info of the two: everything either reader would take as the password, for
    /// hiding it whoever reads the URL.
    Widest,
}

/// A percent sign in the password that does not start two hexadecimal digits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a bad %-escape in the password")]
pub struct BadEscape;

/// A URL split around its authority, each part as written. No `Debug`: it holds a password.
#[derive(Clone, Copy)]
pub struct Authority<'a> {
    /// The scheme, without `://`; `None` for text without `://`, read as authority and path.
    pub scheme: Option<&'a str>,
    /// The user name: the user-info up to its first `:`. `None` without user-info.
    pub user: Option<&'a str>,
    /// The user-info after its first `:`, still percent-encoded; read through [`Self::password`].
    password: Option<&'a str>,
    /// The host, an IPv6 literal in its brackets (as the `url` crate's `host_str`); empty when the
    /// URL names none. A libpq host list (`a:5432,b:5433`) is not split: its first `:` ends the host.
    pub host: &'a str,
    /// The text after the host's `:`, up to the end of the authority.
    pub port: Option<&'a str>,
    /// What follows the user-info, from the `@` that ends it (everything after `scheme://` when
    /// there is no user-info): host, port, path, query and fragment, as written.
    pub after_user_info: &'a str,
}

impl<'a> Authority<'a> {
    pub fn parse(url: &'a str, reading: Reading) -> Self {
        let (scheme, rest) = match url.split_once("://") {
            Some((scheme, rest)) => (Some(scheme), rest),
            None => (None, url),
        };
        let rfc_authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let last_in_authority = rest[..rfc_authority_end].rfind('@');
        let first_anywhere = rest.find('@');
        // `None` orders before any `Some`, so `max` is the later end of the two.
        let at = match reading {
            Reading::Rfc3986 => last_in_authority,
            Reading::Libpq => first_anywhere,
            Reading::Widest => last_in_authority.max(first_anywhere),
        };
        let (user_info, after_user_info, hosts) = match at {
            Some(at) => (Some(&rest[..at]), &rest[at..], &rest[at + 1..]),
            None => (None, rest, rest),
        };
        let (user, password) = match user_info.map(|info| info.split_once(':').ok_or(info)) {
            None => (None, None),
            Some(Ok((user, password))) => (Some(user), Some(password)),
            Some(Err(user)) => (Some(user), None),
        };
        let host_end: &[char] = match reading {
            Reading::Libpq => &['/', '?'],
            Reading::Rfc3986 | Reading::Widest => &['/', '?', '#'],
        };
        let (host, port) = split_host_port(&hosts[..hosts.find(host_end).unwrap_or(hosts.len())]);
        Authority { scheme, user, password, host, port, after_user_info }
    }

    /// Whether the user-info holds a password (`user:` holds an empty one).
    pub fn has_password(&self) -> bool {
        self.password.is_some()
    }

    /// The password, percent-decoded as libpq and tokio-postgres decode it (`%40` is `@`); bytes
    /// that are not UTF-8 become U+FFFD. A `%` that does not start two hexadecimal digits is an
    /// error here, where tokio-postgres would keep it as written.
    pub fn password(&self) -> Result<Option<Secret>, BadEscape> {
        let Some(encoded) = self.password else { return Ok(None) };
        let decoded = percent_decode(encoded)?;
        Ok(Some(Secret::new(String::from_utf8_lossy(&decoded))))
    }
}

/// `host[:port]`, or `[v6]:port` with the brackets kept in the host.
fn split_host_port(text: &str) -> (&str, Option<&str>) {
    if text.starts_with('[') {
        return match text.find(']') {
            Some(close) => {
                let (host, after) = text.split_at(close + 1);
                (host, after.strip_prefix(':'))
            }
            None => (text, None),
        };
    }
    match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    }
}

fn percent_decode(text: &str) -> Result<Vec<u8>, BadEscape> {
    let mut pieces = text.split('%');
    let mut decoded = pieces.next().unwrap_or_default().as_bytes().to_vec();
    for piece in pieces {
        let (hex, literal) = piece.split_at_checked(2).ok_or(BadEscape)?;
        decoded.push(u8::from_str_radix(hex, 16).map_err(|_| BadEscape)?);
        decoded.extend_from_slice(literal.as_bytes());
    }
    Ok(decoded)
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
    use std::str::FromStr;

    use super::*;

    fn password(url: &str, reading: Reading) -> Option<String> {
        Authority::parse(url, reading).password().unwrap().map(|p| p.expose().to_string())
    }

    #[test]
    fn a_url_without_user_info() {
        let url = Authority::parse("https://example.org:8443/a?b=c@d", Reading::Rfc3986);
        assert_eq!(url.scheme, Some("https"));
        assert_eq!((url.user, url.has_password()), (None, false));
        assert_eq!((url.host, url.port), ("example.org", Some("8443")));
        assert_eq!(url.after_user_info, "example.org:8443/a?b=c@d");
        let bare = Authority::parse("not a url", Reading::Rfc3986);
        assert_eq!((bare.scheme, bare.user, bare.host), (None, None, "not a url"));
    }

    #[test]
    fn a_user_without_a_password() {
        let url = Authority::parse("postgres://app@db/x", Reading::Libpq);
        assert_eq!((url.user, url.has_password()), (Some("app"), false));
        assert_eq!(url.password(), Ok(None));
        assert_eq!((url.host, url.port, url.after_user_info), ("db", None, "@db/x"));
    }

    #[test]
    fn a_user_and_a_password() {
        let url = Authority::parse("postgres://app:hunter2@db:5432/x", Reading::Rfc3986);
        assert_eq!(url.user, Some("app"));
        assert_eq!(password("postgres://app:hunter2@db:5432/x", Reading::Rfc3986).as_deref(), Some("hunter2"));
        assert_eq!((url.host, url.port, url.after_user_info), ("db", Some("5432"), "@db:5432/x"));
        assert_eq!(password("postgres://app:@db/x", Reading::Libpq).as_deref(), Some(""));
        assert_eq!(password("postgres://app:hun:ter2@db/x", Reading::Libpq).as_deref(), Some("hun:ter2"));
    }

    #[test]
    fn an_unencoded_at_or_slash_in_the_password_is_read_as_each_reader_reads_it() {
        let url = "postgres://app:hunter2@canary@127.0.0.1/x";
        assert_eq!(password(url, Reading::Rfc3986).as_deref(), Some("hunter2@canary"));
        assert_eq!(Authority::parse(url, Reading::Rfc3986).host, "127.0.0.1");
        assert_eq!(password(url, Reading::Libpq).as_deref(), Some("hunter2"));
        assert_eq!(Authority::parse(url, Reading::Libpq).host, "canary@127.0.0.1");
        assert_eq!(password(url, Reading::Widest).as_deref(), Some("hunter2@canary"));

        let slash = "postgres://app:hunter2/canary@127.0.0.1/x";
        let rfc = Authority::parse(slash, Reading::Rfc3986);
        assert_eq!((rfc.user, rfc.host, rfc.port), (None, "app", Some("hunter2")));
        assert_eq!(password(slash, Reading::Libpq).as_deref(), Some("hunter2/canary"));
        assert_eq!(password(slash, Reading::Widest).as_deref(), Some("hunter2/canary"));
        assert_eq!(Authority::parse(slash, Reading::Widest).after_user_info, "@127.0.0.1/x");
    }

    #[test]
    fn an_ipv6_host_keeps_its_brackets() {
        let url = Authority::parse("postgres://app:pw@[::1]:5433/x", Reading::Libpq);
        assert_eq!((url.host, url.port), ("[::1]", Some("5433")));
        let url = Authority::parse("https://[fe80::1]/health", Reading::Rfc3986);
        assert_eq!((url.host, url.port), ("[fe80::1]", None));
    }

    #[test]
    fn the_password_is_percent_decoded_as_tokio_postgres_decodes_it() {
        for url in [
            "postgres://app:p%40ss@db/x",
            "postgres://app:p%2Fss%3Aw%3f@db:5432/x",
            "postgresql://app:w%C3%B6rter@db/x?sslmode=require",
            "postgres://app:plain@db/x",
            "postgres://app:hunter2/canary@db/x",
            "postgres://app@db/x",
            "postgres://db/x",
        ] {
            let config = tokio_postgres::Config::from_str(url).unwrap();
            let theirs = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned());
            assert_eq!(password(url, Reading::Libpq), theirs, "{url}");
            assert_eq!(Authority::parse(url, Reading::Libpq).user, config.get_user(), "{url}");
        }
        assert_eq!(password("postgres://app:p%40ss@db/x", Reading::Libpq).as_deref(), Some("p@ss"));
        for bad in ["postgres://app:100%@db/x", "postgres://app:%zz@db/x", "postgres://app:%4@db/x"] {
            assert_eq!(Authority::parse(bad, Reading::Libpq).password(), Err(BadEscape), "{bad}");
        }
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
