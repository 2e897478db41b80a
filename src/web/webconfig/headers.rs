//! `http_server_config.headers`: the few security headers the exporter-toolkit lets a web config
//! add to every response, each with the values it accepts, and their conversion to the header
//! values the server sends.

use std::collections::BTreeMap;

use hyper::header::{HeaderName, HeaderValue};

use super::Refusal;

/// The response headers a web config may set, with the values each accepts (empty: any).
pub const ALLOWED_HEADERS: [(&str, &[&str]); 5] = [
    ("Content-Security-Policy", &[]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-XSS-Protection", &[]),
    ("Strict-Transport-Security", &[]),
];

/// The headers as written, checked against [`ALLOWED_HEADERS`]: canonical names, blank values
/// left out ("Unset if blank").
pub(super) fn validate(raw: BTreeMap<String, String>) -> Result<Vec<(String, String)>, Refusal> {
    let mut headers = Vec::new();
    for (name, value) in raw {
        let location = format!("http_server_config.headers.{name}");
        let (canonical, accepted) = header_rule(&name).ok_or_else(|| {
            let allowed: Vec<&str> = ALLOWED_HEADERS.iter().map(|(n, _)| *n).collect();
            (location.clone(), format!("this header cannot be configured; allowed: {}", allowed.join(", ")))
        })?;
        if headers.iter().any(|(set, _): &(String, String)| set == canonical) {
            return Err((location, format!("{canonical} is listed twice")));
        }
        if value.trim().is_empty() {
            continue; // "Unset if blank"
        }
        if !accepted.is_empty() && !accepted.iter().any(|a| a.eq_ignore_ascii_case(value.trim())) {
            return Err((location, format!("`{value}` is not accepted; use one of: {}", accepted.join(", "))));
        }
        if HeaderValue::from_str(&value).is_err() {
            return Err((location, "the value holds characters a header cannot carry".to_string()));
        }
        headers.push((canonical.to_string(), value));
    }
    Ok(headers)
}

fn header_rule(name: &str) -> Option<(&'static str, &'static [&'static str])> {
    ALLOWED_HEADERS.iter().find(|(allowed, _)| allowed.eq_ignore_ascii_case(name)).copied()
}

/// The validated headers as the server sends them.
pub(super) fn header_values(headers: &[(String, String)]) -> Vec<(HeaderName, HeaderValue)> {
    headers
        .iter()
        .filter_map(|(name, value)| {
            Some((HeaderName::from_bytes(name.as_bytes()).ok()?, HeaderValue::from_str(value).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse_text, refusal};

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
}
