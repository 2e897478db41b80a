//! What each fuzz target does with one input, shared by the libFuzzer targets in
//! `fuzz/fuzz_targets/` and by `tests/fuzz_corpus.rs`, which replays every committed corpus file
//! and crash regression through the same functions under plain `cargo test`.
//!
//! Each function feeds the bytes to one parser of the crate and asserts properties beyond "does
//! not panic": a property that does not hold panics, which libFuzzer records as a crash. Inputs
//! are laid out so that a corpus file stays readable text where the parser reads text.

use std::net::IpAddr;
use std::time::Duration;

use checklist_exporter::checks::http::{
    decide_content_type_options, decide_csp, decide_frame_options, decide_hsts, decide_referrer, decide_xss, Answer,
    REFERRER_POLICIES,
};
use checklist_exporter::checks::tls::cert::{
    decide_covers_names, decide_expiry, decide_strength, format_timestamp, parse_cert, pem_certs, ExpiryRule,
};
use checklist_exporter::checks::tls::decide_chain_complete;
use checklist_exporter::checks::tls::hello::{classify, client_hello, HelloAnswer, LegacyVersion};
use checklist_exporter::config;
use checklist_exporter::model::{Outcome, Verdict};
use checklist_exporter::support::dotenv;

/// The file name the config target passes; every error must name it.
const CONFIG_FILE: &str = "fuzz/checklist.toml";

fn assert_readable(what: &str, outcome: &Outcome) {
    assert!(!outcome.reason.trim().is_empty(), "{what}: a verdict without a reason: {outcome:?}");
    assert_eq!(outcome.cause.is_some(), outcome.verdict != Verdict::Pass, "{what}: cause and verdict disagree");
}

// ------------------------------------------------------------------------------------------
// config

/// Config text, optionally followed by a NUL and `KEY=VALUE` lines that become `CHECKLIST__…`
/// environment overrides. Properties: an error names the file; a valid config has unique item
/// ids, at most `MAX_ITEMS` items, and every check decides at least one item.
pub fn config(data: &[u8]) {
    let (text, env) = match data.iter().position(|b| *b == 0) {
        Some(nul) => (&data[..nul], &data[nul + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(text) else { return };
    let env: Vec<(String, String)> = String::from_utf8_lossy(env)
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(key, value)| {
            let key = if key.starts_with("CHECKLIST__") { key.to_string() } else { format!("CHECKLIST__{key}") };
            (key, value.to_string())
        })
        .collect();
    match config::parse(CONFIG_FILE, text, env) {
        Err(err) => {
            let message = err.to_string();
            assert!(message.starts_with(&format!("{CONFIG_FILE}: ")), "the error does not name the file: {message}");
            assert!(message.len() > CONFIG_FILE.len() + 2, "an error without a reason: {message}");
        }
        Ok(config) => {
            assert!(config.item_count() <= config::MAX_ITEMS);
            let mut ids = std::collections::HashSet::new();
            for (check, item) in config.items() {
                assert!(ids.insert(item.id.as_str()), "item id {} is used twice in a valid config", item.id);
                assert!(
                    Duration::ZERO < check.timeout() && check.timeout() <= check.interval(),
                    "{}",
                    check.describe()
                );
            }
            assert!(config.checks.iter().all(|check| !check.items.is_empty()), "a check that decides no item");
        }
    }
}

// ------------------------------------------------------------------------------------------
// dotenv

/// Any bytes as an env file, then the same bytes as `KEY=VALUE` records separated by NUL,
/// written out as an env file in the quoting styles the parser reads and read back.
pub fn dotenv(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let file = dotenv::parse(&text);
    // `str::lines` counts a final line without a newline; an empty text has no lines.
    let line_count = text.lines().count();
    for entry in &file.entries {
        assert!((1..=line_count).contains(&entry.line), "entry line {} of {line_count}", entry.line);
        assert!(valid_key(&entry.key), "an entry with the key `{}`", entry.key);
    }
    for problem in &file.problems {
        assert!((1..=line_count).contains(&problem.line), "problem line {} of {line_count}", problem.line);
    }

    let pairs: Vec<(String, String)> = text
        .split('\0')
        .filter(|record| !record.is_empty())
        .map(|record| {
            let (key, value) = record.split_once('=').unwrap_or((record, ""));
            // Any text becomes a variable name; the value is kept exactly.
            let key: String = key.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
            (format!("K{key}"), value.to_string())
        })
        .collect();
    let written: String = pairs.iter().enumerate().map(|(index, (key, value))| env_line(index, key, value)).collect();
    let read = dotenv::parse(&written);
    assert!(read.problems.is_empty(), "{:?} in the written file {written:?}", read.problems);
    let read_pairs: Vec<(String, String)> =
        read.entries.iter().map(|entry| (entry.key.clone(), entry.value.expose().to_string())).collect();
    assert_eq!(read_pairs, pairs, "the written file {written:?} reads back differently");

    // /proc/PID/environ: NUL-separated records.
    let environ: Vec<u8> = pairs.iter().flat_map(|(key, value)| format!("{key}={value}\0").into_bytes()).collect();
    let read: Vec<(String, String)> = dotenv::parse_environ(&environ)
        .entries
        .iter()
        .map(|entry| (entry.key.clone(), entry.value.expose().to_string()))
        .collect();
    assert_eq!(read, pairs, "environ records read back differently");
}

fn valid_key(key: &str) -> bool {
    key.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// One `KEY=value` line in the style the index picks, among those that can hold the value.
fn env_line(index: usize, key: &str, value: &str) -> String {
    let export = if index % 4 == 3 { "export " } else { "" };
    let unquoted_ok = value == value.trim()
        && !value.starts_with(['\'', '"'])
        && !value.contains(" #")
        && !value.contains(['\n', '\r']);
    let single_ok = !value.contains(['\'', '\n', '\r']);
    // A literal line break inside double quotes; `\r` would be lost to CRLF handling.
    let multiline_ok = value.contains('\n') && !value.contains('\r');
    match index % 3 {
        0 if unquoted_ok => format!("{export}{key}={value}\n"),
        1 if single_ok => format!("{export}{key}='{value}'\n"),
        2 if multiline_ok => {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
            format!("{export}{key}=\"{escaped}\"\n")
        }
        _ => {
            let escaped = value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n").replace('\r', "\\r");
            format!("{export}{key}=\"{escaped}\"\n")
        }
    }
}

// ------------------------------------------------------------------------------------------
// security headers

/// `Name: value` lines, as a response's header block. Values a server cannot send (control
/// characters other than tab) are dropped, as hyper refuses them. Every header decision runs;
/// a pass must be one the header's specification allows.
pub fn http_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let headers: Vec<(String, String)> = text
        .lines()
        .filter_map(|line| line.split_once(':'))
        .filter(|(_, value)| !value.chars().any(|c| c.is_control() && c != '\t'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim_matches([' ', '\t']).to_string()))
        .collect();
    let answer = Answer { status: 200, headers, ..Answer::default() };
    let hsts = answer.all("strict-transport-security");
    let csp = answer.all("content-security-policy");
    let frame = answer.all("x-frame-options");
    let nosniff = answer.all("x-content-type-options");
    let referrer = answer.all("referrer-policy");
    let year = Duration::from_secs(365 * 86_400);

    for want_subdomains in [false, true] {
        let outcome = decide_hsts(&hsts, year, want_subdomains);
        assert_readable("hsts", &outcome);
        if outcome.verdict == Verdict::Pass {
            let [value] = hsts[..] else { panic!("hsts passed with {} headers", hsts.len()) };
            let directives = strict_hsts(value)
                .unwrap_or_else(|| panic!("hsts passed `{value}`, which RFC 6797 section 6.1 refuses"));
            let max_age = directives.iter().find(|(name, _)| name == "max-age").and_then(|(_, v)| v.as_deref());
            let digits = max_age.unwrap_or_else(|| panic!("hsts passed `{value}` without a max-age value"));
            assert!(
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
                "hsts passed `{value}`: max-age `{digits}` is not delta-seconds (1*DIGIT)"
            );
            assert!(digits.parse::<u64>().is_ok_and(|age| age >= year.as_secs()), "hsts passed `{value}`");
            if want_subdomains {
                assert!(directives.iter().any(|(name, _)| name == "includesubdomains"), "hsts passed `{value}`");
            }
        }
    }

    let outcome = decide_csp(&csp);
    assert_readable("csp", &outcome);
    assert!(outcome.verdict != Verdict::Pass || !csp.is_empty(), "csp passed without a header");

    let outcome = decide_frame_options(&frame, &csp);
    assert_readable("frame_options", &outcome);
    if outcome.verdict == Verdict::Pass {
        let by_csp = csp.iter().any(|policy| {
            policy.split(';').any(|directive| {
                let mut words = directive.split_ascii_whitespace();
                words.next().is_some_and(|name| name.eq_ignore_ascii_case("frame-ancestors"))
                    && words.next() == Some("'none'")
                    && words.next().is_none()
            })
        });
        let by_header = matches!(frame[..], [value] if value.eq_ignore_ascii_case("deny"));
        assert!(by_csp || by_header, "frame_options passed {frame:?} with CSP {csp:?}");
    }

    let outcome = decide_content_type_options(&nosniff);
    assert_readable("content_type_options", &outcome);
    if outcome.verdict == Verdict::Pass {
        assert!(matches!(nosniff[..], [value] if value.eq_ignore_ascii_case("nosniff")), "nosniff passed {nosniff:?}");
    }

    for wanted in ["0", "1; mode=block"] {
        assert_readable("xss_protection", &decide_xss(&answer.all("x-xss-protection"), wanted));
    }

    let allowed: Vec<String> = ["no-referrer", "strict-origin-when-cross-origin"].map(String::from).to_vec();
    let outcome = decide_referrer(&referrer, &allowed);
    assert_readable("referrer_policy", &outcome);
    if outcome.verdict == Verdict::Pass {
        // The policy a browser applies is the last token it recognises (Referrer Policy, 11.1).
        let last_known = referrer
            .iter()
            .flat_map(|value| value.split(','))
            .map(|token| token.trim_matches([' ', '\t']).to_ascii_lowercase())
            .rfind(|token| REFERRER_POLICIES.contains(&token.as_str()));
        assert!(
            last_known.is_some_and(|policy| allowed.contains(&policy)),
            "referrer_policy passed {referrer:?}; the browser applies another policy"
        );
    }
}

/// RFC 6797 section 6.1, written apart from the crate's parser: `[ directive ] *( ";" [
/// directive ] )`, a directive `token [ "=" ( token / quoted-string ) ]`, optional white space
/// (space, tab) around tokens and separators, no directive twice. Returns (lower-case name,
/// value with quotes and escapes resolved), or `None` when a browser must ignore the header.
fn strict_hsts(value: &str) -> Option<Vec<(String, Option<String>)>> {
    let is_tchar = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c);
    let chars: Vec<char> = value.chars().collect();
    let mut at = 0;
    let skip_ows = |at: &mut usize| {
        while *at < chars.len() && (chars[*at] == ' ' || chars[*at] == '\t') {
            *at += 1;
        }
    };
    let token = |at: &mut usize| {
        let start = *at;
        while *at < chars.len() && is_tchar(chars[*at]) {
            *at += 1;
        }
        (*at > start).then(|| chars[start..*at].iter().collect::<String>())
    };
    let mut directives: Vec<(String, Option<String>)> = Vec::new();
    loop {
        skip_ows(&mut at);
        match chars.get(at) {
            None => break,
            Some(';') => {
                at += 1;
                continue;
            }
            Some(_) => {}
        }
        let name = token(&mut at)?.to_ascii_lowercase();
        skip_ows(&mut at);
        let mut directive_value = None;
        if chars.get(at) == Some(&'=') {
            at += 1;
            skip_ows(&mut at);
            if chars.get(at) == Some(&'"') {
                at += 1;
                let mut quoted = String::new();
                loop {
                    match chars.get(at)? {
                        '"' => break,
                        '\\' => {
                            at += 1;
                            quoted.push(*chars.get(at)?);
                        }
                        c => quoted.push(*c),
                    }
                    at += 1;
                }
                at += 1;
                directive_value = Some(quoted);
            } else {
                directive_value = Some(token(&mut at)?);
            }
            skip_ows(&mut at);
        }
        if !matches!(chars.get(at), None | Some(';')) {
            return None;
        }
        if directives.iter().any(|(seen, _)| *seen == name) {
            return None;
        }
        directives.push((name, directive_value));
    }
    Some(directives)
}

// ------------------------------------------------------------------------------------------
// TLS ServerHello classifier

/// The first byte picks the offered version (bit 0) and whether the server closed after these
/// bytes (bit 1); the rest is what the server sent. An acceptance must be a ServerHello record
/// for the offered version, a decision must not change when more bytes arrive, and the reason
/// is printable. Then the same bytes as a server name for the ClientHello builder.
pub fn tls_hello(data: &[u8]) {
    let Some((&flags, bytes)) = data.split_first() else { return };
    let version = if flags & 1 == 0 { LegacyVersion::Tls10 } else { LegacyVersion::Tls11 };
    let closed = flags & 2 != 0;
    let answer = classify(version, bytes, closed);
    match &answer {
        HelloAnswer::Accepted => {
            assert!(bytes.len() >= 11 && bytes[0] == 22 && bytes[1] == 3 && bytes[5] == 2, "accepted {bytes:?}");
            assert_eq!(bytes[9..11], version.wire(), "accepted a ServerHello for another version");
        }
        HelloAnswer::Incomplete => assert!(!closed, "asks for more bytes from a closed connection"),
        HelloAnswer::Refused(reason) | HelloAnswer::NotTls(reason) => {
            assert!(!reason.is_empty() && !reason.chars().any(char::is_control), "reason {reason:?}");
        }
    }
    // A decision taken on a prefix stands once the rest arrives.
    for end in 0..bytes.len().min(24) {
        let early = classify(version, &bytes[..end], false);
        if early != HelloAnswer::Incomplete {
            let late = classify(version, bytes, false);
            assert_eq!(
                std::mem::discriminant(&early),
                std::mem::discriminant(&late),
                "{early:?} after {end} bytes, {late:?} after {}",
                bytes.len()
            );
            break;
        }
    }

    let name = String::from_utf8_lossy(bytes);
    let hello = client_hello(version, Some(&name), [7; 32]);
    assert_eq!(hello[..3], [22, 3, 1]);
    assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), hello.len() - 5, "record length");
    assert_eq!(u32::from_be_bytes([0, hello[6], hello[7], hello[8]]) as usize, hello.len() - 9, "handshake length");
    // SNI (4 bytes of extension header, 5 of list and name lengths) only for a name that fits.
    let without_sni = client_hello(version, None, [7; 32]).len();
    let sni = !name.is_empty() && name.len() < 256;
    assert_eq!(hello.len(), if sni { without_sni + 9 + name.len() } else { without_sni }, "SNI for {name:?}");
}

// ------------------------------------------------------------------------------------------
// certificates

/// Bytes as the TLS check sees a certificate (DER) or the cert_file check reads a file (PEM).
/// Every certificate that parses goes through the decisions: dates print, a certificate
/// covers its own names, an expired one fails expiry, a lone one completes its chain only when
/// it is self-signed.
pub fn certificate(data: &[u8]) {
    let ders: Vec<Vec<u8>> = if data.starts_with(b"-----BEGIN") {
        match pem_certs(data) {
            Ok(certs) => certs.iter().map(|cert| cert.to_vec()).collect(),
            Err(_) => return,
        }
    } else {
        vec![data.to_vec()]
    };
    let chain: Vec<_> = ders.iter().filter_map(|der| parse_cert(der).ok()).collect();
    for cert in &chain {
        for time in [cert.not_before, cert.not_after] {
            assert!(format_timestamp(time).ends_with(" UTC"));
        }
        let own_names: Vec<String> = cert
            .dns_names
            .iter()
            .filter(|name| !name.contains('*') && name.parse::<IpAddr>().is_err())
            .cloned()
            .chain(cert.ip_addresses.iter().map(IpAddr::to_string))
            .collect();
        let covers = decide_covers_names(cert, &own_names);
        assert_readable("covers_names", &covers);
        if cert.has_san {
            assert_eq!(
                covers.verdict,
                Verdict::Pass,
                "{} does not cover its own names: {}",
                cert.subject,
                covers.reason
            );
        }
        let rule = ExpiryRule { min_remaining: Some(Duration::from_secs(86_400)), min_remaining_ratio: Some(0.25) };
        for now in [cert.not_before, cert.not_after.saturating_add(1)] {
            let expiry = decide_expiry(cert, rule, now);
            assert_readable("expiry", &expiry);
            if now > cert.not_after {
                assert_eq!(expiry.verdict, Verdict::Fail, "an expired certificate: {}", expiry.reason);
            }
        }
        let strength = decide_strength(std::slice::from_ref(cert), 2048, 256);
        assert_readable("strength", &strength);
        assert_ne!(strength.verdict, Verdict::Error);
        let complete = decide_chain_complete(std::slice::from_ref(cert), &Default::default());
        assert_readable("chain_complete", &complete);
        assert_eq!(complete.verdict == Verdict::Pass, cert.self_signed(), "{}", complete.reason);
    }
    if !chain.is_empty() {
        assert_readable("strength", &decide_strength(&chain, 2048, 256));
        assert_readable("chain_complete", &decide_chain_complete(&chain, &Default::default()));
    }
}
