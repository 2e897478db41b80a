//! A [`TlsSpec`] made into the rustls server config: the certificates and key read from their
//! files (or the inline text), the cipher suites and curves restricted, and the client
//! certificate verifier chosen from the [`ClientAuth`] mode.

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::SupportedProtocolVersion;

use super::client_auth::{AllowedSans, ClientAuth, UnverifiedClientCert};
use super::tls_spec::{provider, refuse, Pem, TlsSpec};
use super::{io_reason, Refusal};
use crate::support::tls::Verifier;

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

pub(super) fn server_config(spec: &TlsSpec) -> Result<rustls::ServerConfig, Refusal> {
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
