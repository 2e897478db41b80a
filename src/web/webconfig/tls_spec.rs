//! `tls_server_config`, validated into a [`TlsSpec`] without reading a file: where the
//! certificate and key come from, the client-certificate mode, and the TLS versions, cipher
//! suites and curves mapped to what rustls implements (refused, with the reason, where it
//! cannot honour a key exactly).

use std::fmt;
use std::path::{Path, PathBuf};

use rustls::crypto::CryptoProvider;
use rustls::NamedGroup;

use super::client_auth::{ClientAuth, CLIENT_AUTH_TYPES};
use super::yaml::RawTls;
use super::Refusal;

/// The crypto provider of the server's TLS; validation names the suites and curves it offers.
pub(super) fn provider() -> CryptoProvider {
    crate::support::tls::provider()
}

/// The curves `curve_preferences` may name, by Go's names, with their groups in rustls.
const CURVES: [(&str, NamedGroup); 5] = [
    ("CurveP256", NamedGroup::secp256r1),
    ("CurveP384", NamedGroup::secp384r1),
    ("CurveP521", NamedGroup::secp521r1),
    ("X25519", NamedGroup::X25519),
    ("X25519MLKEM768", NamedGroup::X25519MLKEM768),
];

/// The TLS 1.2 suites rustls offers, by their IANA (and Go) names.
pub(super) fn tls12_suite_names() -> Vec<String> {
    provider().cipher_suites.iter().filter(|s| s.tls13().is_none()).map(|s| format!("{:?}", s.suite())).collect()
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

/// A refusal of a `tls_server_config` key.
pub(super) fn refuse(key: &str, reason: impl Into<String>) -> Refusal {
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

pub(super) fn validate_tls(raw: RawTls, base: &Path, warnings: &mut Vec<String>) -> Result<Option<TlsSpec>, Refusal> {
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
        // Go's names for what rustls may implement; whether this build has it is the provider's
        // to say, as for the suites above.
        let implemented = provider().kx_groups;
        let offered: Vec<&str> = CURVES
            .iter()
            .filter(|(_, group)| implemented.iter().any(|offered| offered.name() == *group))
            .map(|(name, _)| *name)
            .collect();
        let use_instead = match offered.split_last() {
            Some((last, [])) => last.to_string(),
            Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
            None => "none".to_string(),
        };
        let mut groups = Vec::new();
        for name in &raw.curve_preferences {
            let group = match CURVES.iter().find(|(known, _)| known == name) {
                Some((_, group)) if offered.contains(&name.as_str()) => *group,
                Some(_) => {
                    return Err(refuse(
                        "curve_preferences",
                        format!(
                            "{name} is not available in this build's rustls ({}); use {use_instead}",
                            crate::support::tls::CRYPTO_LIBRARY
                        ),
                    ))
                }
                None => return Err(refuse("curve_preferences", format!("`{name}` is not a curve; use {use_instead}"))),
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

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse_text, refusal, TLS_BASE};
    use super::*;

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
            .contains("CurveP521 is not available in this build's rustls (ring)"));
        assert!(refusal(&format!("{TLS_BASE}  curve_preferences: [X25519, X25519MLKEM768]\n"))
            .contains("X25519MLKEM768 is not available in this build's rustls (ring)"));
    }
}
