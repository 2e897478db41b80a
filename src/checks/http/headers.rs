//! `kind = "http_headers"`: the security headers of one answer, each its own aspect: HSTS,
//! Content-Security-Policy, X-Frame-Options (or CSP `frame-ancestors`), X-Content-Type-Options,
//! X-XSS-Protection and Referrer-Policy. The header grammars are read as browsers read them: a
//! header a browser would ignore does not pass.

use std::collections::BTreeMap;
use std::time::Duration;

use super::request::{default_max_body, http_kind};
use super::{status_sample, Answer, ClientSlot, HTTP_STATUS_CODE};
use crate::checks::{Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, Outcome, Report};
use crate::support::units::HumanDuration;

/// One year, the HSTS preload list's minimum and the usual recommendation.
const DEFAULT_HSTS_MAX_AGE: Duration = Duration::from_secs(365 * 86_400);

http_kind! {
    /// `kind = "http_headers"`: the security headers of one answer, each its own aspect.
    #[request(max_body_bytes = "default_max_body", redirects)]
    pub struct HttpHeadersCheck {
        /// The smallest acceptable HSTS `max-age`.
        #[serde(default = "default_hsts_max_age")]
        pub hsts_min_max_age: HumanDuration,
        #[serde(default)]
        pub hsts_include_subdomains: bool,
        /// The wanted `X-XSS-Protection` value. The checklist asks for `1; mode=block`; current
        /// advice (OWASP, MDN) is `0`, since the auditor it drives can be abused.
        #[serde(default = "default_xss")]
        pub xss_protection: String,
        /// Acceptable `Referrer-Policy` values.
        #[serde(default = "default_referrer_policies")]
        pub referrer_policies: Vec<String>,
    }
}

fn default_hsts_max_age() -> HumanDuration {
    HumanDuration(DEFAULT_HSTS_MAX_AGE)
}
fn default_xss() -> String {
    "1; mode=block".into()
}
fn default_referrer_policies() -> Vec<String> {
    ["no-referrer", "same-origin", "strict-origin", "strict-origin-when-cross-origin"].map(String::from).to_vec()
}

/// Every policy the Referrer Policy specification defines.
pub const REFERRER_POLICIES: &[&str] = &[
    "no-referrer",
    "no-referrer-when-downgrade",
    "origin",
    "origin-when-cross-origin",
    "same-origin",
    "strict-origin",
    "strict-origin-when-cross-origin",
    "unsafe-url",
];

impl Check for HttpHeadersCheck {
    const KIND: &'static str = "http_headers";
    const ASPECTS: &'static [&'static str] =
        &["hsts", "csp", "frame_options", "content_type_options", "xss_protection", "referrer_policy"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&HTTP_STATUS_CODE];
    type State = ClientSlot;

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        self.validate_request(&["http", "https"])?;
        if let Some(bad) = self.referrer_policies.iter().find(|p| !REFERRER_POLICIES.contains(&p.as_str())) {
            return Err(KeyError::new(
                "referrer_policies",
                format!("`{bad}` is not a referrer policy; one of {}", REFERRER_POLICIES.join(", ")),
            ));
        }
        if self.referrer_policies.is_empty() {
            return Err(KeyError::new("referrer_policies", "name at least one acceptable policy"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.request_target()
    }

    async fn run(&self, ctx: &CheckContext, slot: &mut Self::State) -> CheckResult {
        let answer = slot.fetch(ctx, &self.spec()).await?;
        Ok(self.decide(&answer))
    }
}

impl HttpHeadersCheck {
    pub fn decide(&self, answer: &Answer) -> Report {
        let csp = answer.all("content-security-policy");
        Report::default()
            .sample(status_sample("http_headers", &self.request_target(), answer.status))
            .with(
                "hsts",
                decide_hsts(
                    &answer.all("strict-transport-security"),
                    self.hsts_min_max_age.0,
                    self.hsts_include_subdomains,
                ),
            )
            .with("csp", decide_csp(&csp))
            .with("frame_options", decide_frame_options(&answer.all("x-frame-options"), &csp))
            .with("content_type_options", decide_content_type_options(&answer.all("x-content-type-options")))
            .with("xss_protection", decide_xss(&answer.all("x-xss-protection"), &self.xss_protection))
            .with("referrer_policy", decide_referrer(&answer.all("referrer-policy"), &self.referrer_policies))
    }
}

/// Splits a `;`-separated directive list into (lower-case name, value) pairs; `separator`
/// ends the name: `=` in HSTS (RFC 6797), white space in CSP, where `frame-ancestors='none'`
/// is an unknown directive named `frame-ancestors='none'`.
fn directives(value: &str, separator: fn(char) -> bool) -> Vec<(String, String)> {
    value
        .split(';')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| match d.split_once(separator) {
            Some((name, rest)) => (name.trim().to_ascii_lowercase(), rest.trim().to_string()),
            None => (d.to_ascii_lowercase(), String::new()),
        })
        .collect()
}

fn hsts_separator(c: char) -> bool {
    c == '='
}

fn csp_separator(c: char) -> bool {
    c.is_ascii_whitespace()
}

/// The one value of a header that must appear once, or the outcome that says why not.
pub(super) fn single<'a>(header: &str, values: &[&'a str]) -> Result<&'a str, Outcome> {
    match values {
        [] => Err(Outcome::fail(Cause::Missing, format!("no {header} header"))),
        // HTTP optional white space is space and tab only (RFC 9110, 5.6.3).
        [one] => Ok(one.trim_matches([' ', '\t'])),
        several => Err(Outcome::fail(
            Cause::Invalid,
            format!("{header} is sent {} times ({}); browsers then may ignore it", several.len(), several.join(" | ")),
        )),
    }
}

/// Decides `hsts` (RFC 6797): one header, `max-age` once and at least the minimum, and
/// `includeSubDomains` when wanted.
pub fn decide_hsts(values: &[&str], min_max_age: Duration, want_subdomains: bool) -> Outcome {
    let value = match single("Strict-Transport-Security", values) {
        Ok(value) => value,
        Err(outcome) => return outcome,
    };
    if let Some(bad) = value.split(';').map(|d| d.trim_matches([' ', '\t'])).find(|d| !hsts_directive(d)) {
        return Outcome::fail(
            Cause::Invalid,
            format!("Strict-Transport-Security `{value}` has the malformed directive `{bad}`; browsers ignore it"),
        );
    }
    let parsed = directives(value, hsts_separator);
    let mut seen: BTreeMap<&str, usize> = BTreeMap::new();
    for (name, _) in &parsed {
        *seen.entry(name.as_str()).or_default() += 1;
    }
    if let Some((name, _)) = seen.iter().find(|(_, count)| **count > 1) {
        return Outcome::fail(Cause::Invalid, format!("Strict-Transport-Security `{value}` repeats `{name}`"));
    }
    let Some((_, age)) = parsed.iter().find(|(name, _)| name == "max-age") else {
        return Outcome::fail(Cause::Invalid, format!("Strict-Transport-Security `{value}` has no max-age"));
    };
    // delta-seconds is digits only, optionally quoted; `parse` alone would take `+1`.
    let digits = age.strip_prefix('"').and_then(|a| a.strip_suffix('"')).unwrap_or(age);
    let age = if digits.bytes().all(|b| b.is_ascii_digit()) { digits.parse::<u64>().ok() } else { None };
    let Some(age) = age else {
        return Outcome::fail(Cause::Invalid, format!("Strict-Transport-Security `{value}`: max-age is not a number"));
    };
    let subdomains = seen.contains_key("includesubdomains");
    let wanted = format!(
        "want max-age at least {}s{}",
        min_max_age.as_secs(),
        if want_subdomains { " and includeSubDomains" } else { "" }
    );
    if age < min_max_age.as_secs() {
        return Outcome::fail(Cause::BelowMinimum, format!("Strict-Transport-Security max-age={age}; {wanted}"));
    }
    if want_subdomains && !subdomains {
        return Outcome::fail(
            Cause::Missing,
            format!("Strict-Transport-Security `{value}` lacks includeSubDomains; {wanted}"),
        );
    }
    Outcome::pass(format!(
        "Strict-Transport-Security max-age={age}{}; {wanted}",
        if subdomains { ", includeSubDomains" } else { "" }
    ))
}

/// Whether one `;`-separated part of HSTS is empty or `token [ "=" ( token / quoted-string ) ]`
/// with optional spaces around `=` (RFC 6797 section 6.1); a browser ignores a header with any
/// other part.
fn hsts_directive(part: &str) -> bool {
    let token = |text: &str| {
        !text.is_empty() && text.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
    };
    let quoted = |text: &str| {
        let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else { return false };
        let mut chars = inner.chars();
        while let Some(c) = chars.next() {
            match c {
                '"' => return false,
                '\\' if chars.next().is_none() => return false,
                _ => {}
            }
        }
        true
    };
    match part.split_once('=') {
        _ if part.is_empty() => true,
        None => token(part),
        Some((name, value)) => {
            let value = value.trim_matches([' ', '\t']);
            token(name.trim_end_matches([' ', '\t'])) && (token(value) || quoted(value))
        }
    }
}

/// Decides `csp`: a policy is present and parses; the reason warns about `unsafe-inline`,
/// `unsafe-eval` and a missing `default-src`.
pub fn decide_csp(values: &[&str]) -> Outcome {
    if values.is_empty() {
        return Outcome::fail(Cause::Missing, "no Content-Security-Policy header");
    }
    let mut warnings = Vec::new();
    let mut has_default = false;
    let mut count = 0;
    for value in values {
        let parsed = directives(value, csp_separator);
        if parsed.is_empty() {
            return Outcome::fail(Cause::Invalid, "an empty Content-Security-Policy header");
        }
        for (name, sources) in &parsed {
            if !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Outcome::fail(
                    Cause::Invalid,
                    format!("Content-Security-Policy has a malformed directive `{name}`"),
                );
            }
            count += 1;
            has_default |= name == "default-src";
            for keyword in ["'unsafe-inline'", "'unsafe-eval'"] {
                if sources.split_ascii_whitespace().any(|s| s.eq_ignore_ascii_case(keyword)) {
                    warnings.push(format!("{name} allows {keyword}"));
                }
            }
        }
    }
    if !has_default {
        warnings.push("no default-src fallback".into());
    }
    let mut reason = format!("Content-Security-Policy with {count} directive(s)");
    if !warnings.is_empty() {
        reason.push_str(&format!("; warning: {}", warnings.join(", ")));
    }
    Outcome::pass(reason)
}

/// Whether a CSP forbids all framing (`frame-ancestors 'none'`).
fn csp_forbids_framing(csp: &[&str]) -> bool {
    csp.iter()
        .flat_map(|v| directives(v, csp_separator))
        .any(|(name, sources)| name == "frame-ancestors" && sources == "'none'")
}

/// Decides `frame_options`: `X-Frame-Options: DENY`, or a CSP `frame-ancestors 'none'`.
pub fn decide_frame_options(values: &[&str], csp: &[&str]) -> Outcome {
    if csp_forbids_framing(csp) {
        return Outcome::pass("Content-Security-Policy frame-ancestors 'none' forbids framing");
    }
    match single("X-Frame-Options", values) {
        Ok(value) if value.eq_ignore_ascii_case("deny") => Outcome::pass(format!("X-Frame-Options: {value}")),
        Ok(value) if value.eq_ignore_ascii_case("sameorigin") => {
            Outcome::fail(Cause::Insecure, format!("X-Frame-Options: {value}; want DENY"))
        }
        Ok(value) => {
            Outcome::fail(Cause::Invalid, format!("X-Frame-Options `{value}` is not DENY or SAMEORIGIN; want DENY"))
        }
        Err(outcome) => outcome,
    }
}

/// Decides `content_type_options`: exactly `nosniff`.
pub fn decide_content_type_options(values: &[&str]) -> Outcome {
    match single("X-Content-Type-Options", values) {
        Ok(value) if value.eq_ignore_ascii_case("nosniff") => Outcome::pass(format!("X-Content-Type-Options: {value}")),
        Ok(value) => Outcome::fail(Cause::Invalid, format!("X-Content-Type-Options `{value}`; want nosniff")),
        Err(outcome) => outcome,
    }
}

fn normalize_xss(value: &str) -> Vec<String> {
    value
        .split(';')
        .map(|part| part.split_whitespace().collect::<String>().to_ascii_lowercase())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Decides `xss_protection`: the header equals the wanted value, spacing and case aside.
pub fn decide_xss(values: &[&str], wanted: &str) -> Outcome {
    match single("X-XSS-Protection", values) {
        Ok(value) => {
            let parts = normalize_xss(value);
            if !matches!(parts.first().map(String::as_str), Some("0" | "1")) {
                return Outcome::fail(
                    Cause::Invalid,
                    format!("X-XSS-Protection `{value}` is malformed; want {wanted}"),
                );
            }
            Outcome::decide(
                parts == normalize_xss(wanted),
                Cause::Mismatch,
                format!("X-XSS-Protection: {value}; want {wanted}"),
            )
        }
        Err(outcome) => outcome,
    }
}

/// Decides `referrer_policy`: the policy a browser applies (the last recognised token of all
/// the header's values) is one of the allowed ones.
pub fn decide_referrer(values: &[&str], allowed: &[String]) -> Outcome {
    if values.is_empty() {
        return Outcome::fail(Cause::Missing, "no Referrer-Policy header");
    }
    let tokens: Vec<String> = values
        .iter()
        .flat_map(|v| v.split(','))
        // Only HTTP white space (space, tab): a browser does not see `no-referrer` in
        // `no-referrer` followed by a no-break space, so neither may this check (found by fuzzing).
        .map(|t| t.trim_matches([' ', '\t']).to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect();
    let effective = tokens.iter().rev().find(|t| REFERRER_POLICIES.contains(&t.as_str()));
    match effective {
        None => Outcome::fail(Cause::Invalid, format!("Referrer-Policy `{}` names no known policy", values.join(", "))),
        Some(policy) => Outcome::decide(
            allowed.iter().any(|a| a == policy),
            Cause::Insecure,
            format!("Referrer-Policy is {policy}; want one of {}", allowed.join(", ")),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const YEAR: Duration = DEFAULT_HSTS_MAX_AGE;

    #[test]
    fn hsts_wants_a_long_max_age_once() {
        assert_eq!(decide_hsts(&["max-age=31536000; includeSubDomains"], YEAR, true).verdict, Verdict::Pass);
        assert_eq!(decide_hsts(&["MAX-AGE=\"31536000\""], YEAR, false).verdict, Verdict::Pass);
        let short = decide_hsts(&["max-age=300"], YEAR, false);
        assert_eq!(short.cause, Some(Cause::BelowMinimum));
        assert_eq!(short.reason, "Strict-Transport-Security max-age=300; want max-age at least 31536000s");
        assert_eq!(decide_hsts(&["max-age=31536000"], YEAR, true).cause, Some(Cause::Missing));
        assert_eq!(decide_hsts(&[], YEAR, false).cause, Some(Cause::Missing));
        assert_eq!(decide_hsts(&["max-age=1; max-age=31536000"], YEAR, false).cause, Some(Cause::Invalid));
        assert_eq!(decide_hsts(&["max-age=abc"], YEAR, false).cause, Some(Cause::Invalid));
        assert_eq!(decide_hsts(&["includeSubDomains"], YEAR, false).cause, Some(Cause::Invalid));
        assert_eq!(decide_hsts(&["max-age=31536000", "max-age=31536000"], YEAR, false).cause, Some(Cause::Invalid));
    }

    #[test]
    fn hsts_refuses_what_rfc_6797_refuses() {
        // Found by the http_headers fuzz target (fuzz/regressions/http_headers/): browsers ignore
        // these headers, so they must not pass.
        for value in [
            "max-age=31536000; includeSubOptions: DDomains",
            "max-age 31536000",
            "max-age=+31536000",
            "max-age=\"31536000",
            "max-age=31536000; in@valid",
            "max-age=31536000\u{a0}",
        ] {
            assert_eq!(decide_hsts(&[value], YEAR, false).cause, Some(Cause::Invalid), "{value}");
        }
        let spaced = decide_hsts(&["max-age = \"31536000\" ;; includeSubDomains ; preload;"], YEAR, true);
        assert_eq!(spaced.verdict, Verdict::Pass, "{}", spaced.reason);
    }

    #[test]
    fn csp_passes_when_present_and_warns_about_unsafe_sources() {
        let good = decide_csp(&["default-src 'self'; frame-ancestors 'none'"]);
        assert_eq!(good.verdict, Verdict::Pass);
        assert_eq!(good.reason, "Content-Security-Policy with 2 directive(s)");
        let weak = decide_csp(&["script-src 'self' 'unsafe-inline' 'UNSAFE-EVAL'"]);
        assert_eq!(weak.verdict, Verdict::Pass);
        assert_eq!(
            weak.reason,
            "Content-Security-Policy with 1 directive(s); warning: script-src allows 'unsafe-inline', script-src allows 'unsafe-eval', no default-src fallback"
        );
        assert_eq!(decide_csp(&[]).cause, Some(Cause::Missing));
        assert_eq!(decide_csp(&[" ; "]).cause, Some(Cause::Invalid));
        assert_eq!(decide_csp(&["default-src{ 'self'"]).cause, Some(Cause::Invalid));
    }

    #[test]
    fn framing_is_forbidden_by_deny_or_frame_ancestors_none() {
        assert_eq!(decide_frame_options(&["deny"], &[]).verdict, Verdict::Pass);
        assert_eq!(decide_frame_options(&[], &["frame-ancestors 'none'"]).verdict, Verdict::Pass);
        assert_eq!(decide_frame_options(&["SAMEORIGIN"], &[]).cause, Some(Cause::Insecure));
        assert_eq!(decide_frame_options(&["DENY", "SAMEORIGIN"], &[]).cause, Some(Cause::Invalid));
        assert_eq!(decide_frame_options(&["DENY, SAMEORIGIN"], &[]).cause, Some(Cause::Invalid));
        assert_eq!(decide_frame_options(&[], &["default-src 'self'"]).cause, Some(Cause::Missing));
        // Found by the http_headers fuzz target: a CSP name ends at white space, so this is an
        // unknown directive that browsers skip, and framing stays allowed.
        assert_eq!(decide_frame_options(&[], &["frame-ancestors= 'none'"]).cause, Some(Cause::Missing));
        assert_eq!(decide_frame_options(&[], &["frame-ancestors\t'none'"]).verdict, Verdict::Pass);
    }

    #[test]
    fn nosniff_xss_and_referrer_rules() {
        assert_eq!(decide_content_type_options(&["NoSniff"]).verdict, Verdict::Pass);
        assert_eq!(decide_content_type_options(&["sniff"]).cause, Some(Cause::Invalid));
        assert_eq!(decide_xss(&["1;mode=block"], "1; mode=block").verdict, Verdict::Pass);
        assert_eq!(decide_xss(&["0"], "1; mode=block").cause, Some(Cause::Mismatch));
        assert_eq!(decide_xss(&["0"], "0").verdict, Verdict::Pass);
        assert_eq!(decide_xss(&["yes please"], "0").cause, Some(Cause::Invalid));
        let allowed = default_referrer_policies();
        assert_eq!(decide_referrer(&["no-referrer"], &allowed).verdict, Verdict::Pass);
        // Browsers use the last policy they know.
        assert_eq!(decide_referrer(&["unsafe-url, strict-origin-when-cross-origin"], &allowed).verdict, Verdict::Pass);
        assert_eq!(decide_referrer(&["strict-origin, unsafe-url"], &allowed).cause, Some(Cause::Insecure));
        // A no-break space is not HTTP white space: the token is not a policy a browser knows.
        assert_eq!(decide_referrer(&["unsafe-url", "no-referrer\u{a0}"], &allowed).cause, Some(Cause::Insecure));
        assert_eq!(decide_referrer(&["no-referrer, made-up"], &allowed).verdict, Verdict::Pass);
        assert_eq!(decide_referrer(&["made-up"], &allowed).cause, Some(Cause::Invalid));
        assert_eq!(decide_referrer(&[], &allowed).cause, Some(Cause::Missing));
    }
}
