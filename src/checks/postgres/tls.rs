//! TLS for a `postgres` check, as libpq's `sslmode` asks: the connector for the URL's mode, and
//! the certificate policies for the levels below `verify-full` ([`AcceptAnyCertificate`] for
//! `prefer`/`require`, [`ChainOnly`] for `verify-ca`), which plug into the crate's one rustls
//! verifier ([`Verifier`]). `verify-full` is rustls' own WebPKI verifier.

use std::sync::Arc;

use rustls::client::danger::ServerCertVerified;
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::{CertificateError, Error, RootCertStore};

use super::io_reason;
use super::url::{PgUrl, TlsMode};
use crate::checks::CheckContext;
use crate::model::{Cause, ProbeFailure};
use crate::support::tls::{client_provider, ServerCert, ServerPolicy, Verifier};

/// The TLS connector for the URL's `sslmode`. The crypto provider is named explicitly, so no
/// process-wide default is needed.
pub(in crate::checks) async fn tls_connector(
    ctx: &CheckContext,
    url: &PgUrl,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect, ProbeFailure> {
    let provider = client_provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|err| ProbeFailure::new(Cause::Io, format!("TLS setup: {err}")))?;
    let config = match url.tls {
        TlsMode::Disable | TlsMode::Prefer | TlsMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Verifier::new(AcceptAnyCertificate, &provider))
            .with_no_client_auth(),
        TlsMode::VerifyCa | TlsMode::VerifyFull => {
            let root_cert = url.root_cert.clone();
            let roots = ctx.blocking().run(move || load_roots(root_cert.as_deref())).await??;
            let verifier =
                rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .map_err(|err| ProbeFailure::new(Cause::Untrusted, format!("TLS roots: {err}")))?;
            if url.tls == TlsMode::VerifyCa {
                builder
                    .dangerous()
                    .with_custom_certificate_verifier(Verifier::new(ChainOnly(verifier), &provider))
                    .with_no_client_auth()
            } else {
                builder.with_webpki_verifier(verifier).with_no_client_auth()
            }
        }
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

/// `sslmode=require` (and `prefer`): encrypted, certificate not checked, as libpq does.
#[derive(Debug)]
pub struct AcceptAnyCertificate;

impl ServerPolicy for AcceptAnyCertificate {
    fn verify(&self, _presented: &ServerCert<'_>) -> Result<ServerCertVerified, Error> {
        Ok(ServerCertVerified::assertion())
    }
}

/// `sslmode=verify-ca`: the chain must lead to a trusted root; the host name is not checked.
#[derive(Debug)]
pub struct ChainOnly(pub Arc<WebPkiServerVerifier>);

impl ServerPolicy for ChainOnly {
    fn verify(&self, presented: &ServerCert<'_>) -> Result<ServerCertVerified, Error> {
        match presented.verify_with(self.0.as_ref()) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }
}

/// The roots from `sslrootcert` when given, else the system's.
pub fn load_roots(path: Option<&std::path::Path>) -> Result<RootCertStore, ProbeFailure> {
    let mut roots = RootCertStore::empty();
    match path {
        Some(path) => {
            let pem = std::fs::read(path).map_err(|err| {
                ProbeFailure::new(Cause::from_io(&err), format!("sslrootcert {}: {}", path.display(), io_reason(&err)))
            })?;
            let mut reader = std::io::Cursor::new(pem);
            for cert in parsable_certificates(&mut reader) {
                roots.add(cert).map_err(|err| {
                    ProbeFailure::new(Cause::Invalid, format!("sslrootcert {}: {err}", path.display()))
                })?;
            }
        }
        None => {
            let found = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(found.certs);
        }
    }
    if roots.is_empty() {
        return Err(ProbeFailure::new(Cause::Untrusted, "no trusted root certificate to verify the server with"));
    }
    Ok(roots)
}

/// The certificates of a PEM file; blocks that do not parse are passed over.
fn parsable_certificates(reader: &mut std::io::Cursor<Vec<u8>>) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_reader_iter(reader).filter_map(Result::ok).collect()
}
