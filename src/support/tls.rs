//! One home for rustls verifier boilerplate. rustls asks every custom verifier for the same
//! three handshake-signature methods; here they are written once, checked with the crypto
//! provider's algorithms, and a verifier of ours only says what it decides about the
//! certificate: a [`ServerPolicy`] (the `tls` kind's capture of any chain, libpq's `sslmode`
//! levels) or a [`ClientPolicy`] (the web config's client-certificate modes).

use std::fmt;
use std::sync::{Arc, OnceLock};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

/// The crypto library under every TLS connection of the process, as messages name it. ring,
/// not aws-lc-rs: a 2.1 MB smaller binary at the same CPU per probe (docs/benchmarks.md,
/// "Scale", round 6); reqwest is built without a provider of its own, so there is one.
pub const CRYPTO_LIBRARY: &str = "ring";

/// A crypto provider of [`CRYPTO_LIBRARY`] with everything it implements.
pub fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}

/// The crypto provider of every TLS client of the process, made once. The web server builds its
/// own from [`provider`], because the web config narrows its suites and curves.
pub fn client_provider() -> Arc<CryptoProvider> {
    static PROVIDER: OnceLock<Arc<CryptoProvider>> = OnceLock::new();
    PROVIDER.get_or_init(|| Arc::new(provider())).clone()
}

/// What a server presented, as rustls hands it to a verifier.
pub struct ServerCert<'a> {
    pub end_entity: &'a CertificateDer<'a>,
    pub intermediates: &'a [CertificateDer<'a>],
    pub server_name: &'a ServerName<'a>,
    pub ocsp_response: &'a [u8],
    pub now: UnixTime,
}

impl ServerCert<'_> {
    /// What `verifier` (a webpki verifier, say) decides about it.
    pub fn verify_with(&self, verifier: &dyn ServerCertVerifier) -> Result<ServerCertVerified, Error> {
        verifier.verify_server_cert(self.end_entity, self.intermediates, self.server_name, self.ocsp_response, self.now)
    }
}

/// What a client presented, as rustls hands it to a verifier.
pub struct ClientCert<'a> {
    pub end_entity: &'a CertificateDer<'a>,
    pub intermediates: &'a [CertificateDer<'a>],
    pub now: UnixTime,
}

impl ClientCert<'_> {
    /// What `verifier` (a webpki client verifier, say) decides about it.
    pub fn verify_with(&self, verifier: &dyn ClientCertVerifier) -> Result<ClientCertVerified, Error> {
        verifier.verify_client_cert(self.end_entity, self.intermediates, self.now)
    }
}

/// What a server-certificate verifier decides; the handshake signatures are checked for it.
pub trait ServerPolicy: fmt::Debug + Send + Sync {
    fn verify(&self, presented: &ServerCert<'_>) -> Result<ServerCertVerified, Error>;

    /// Sees the result of each handshake-signature check and says what rustls gets; a policy
    /// that only observes a handshake may note a bad signature and let it complete.
    fn signature_checked(
        &self,
        result: Result<HandshakeSignatureValid, Error>,
    ) -> Result<HandshakeSignatureValid, Error> {
        result
    }
}

/// What a client-certificate verifier decides; the handshake signatures are checked for it.
pub trait ClientPolicy: fmt::Debug + Send + Sync {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool;

    fn root_hint_subjects(&self) -> &[DistinguishedName];

    fn verify(&self, presented: &ClientCert<'_>) -> Result<ClientCertVerified, Error>;

    /// As [`ServerPolicy::signature_checked`].
    fn signature_checked(
        &self,
        result: Result<HandshakeSignatureValid, Error>,
    ) -> Result<HandshakeSignatureValid, Error> {
        result
    }
}

/// A rustls verifier made of a policy and the provider's signature algorithms.
#[derive(Debug)]
pub struct Verifier<P> {
    policy: P,
    algorithms: WebPkiSupportedAlgorithms,
}

impl<P> Verifier<P> {
    pub fn new(policy: P, provider: &CryptoProvider) -> Arc<Self> {
        Arc::new(Verifier { policy, algorithms: provider.signature_verification_algorithms })
    }

    pub fn policy(&self) -> &P {
        &self.policy
    }
}

type SignatureResult = Result<HandshakeSignatureValid, Error>;

/// The handshake-signature methods both verifier traits ask for, written once: checked with the
/// provider's algorithms, and the result passed through the policy's `signature_checked`.
macro_rules! signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> SignatureResult {
            let result = rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms);
            self.policy.signature_checked(result)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &DigitallySignedStruct,
        ) -> SignatureResult {
            let result = rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms);
            self.policy.signature_checked(result)
        }

        fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
            self.algorithms.supported_schemes()
        }
    };
}

impl<P: ServerPolicy> ServerCertVerifier for Verifier<P> {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        self.policy.verify(&ServerCert { end_entity, intermediates, server_name, ocsp_response, now })
    }

    signature_methods!();
}

impl<P: ClientPolicy> ClientCertVerifier for Verifier<P> {
    fn offer_client_auth(&self) -> bool {
        self.policy.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.policy.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.policy.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        self.policy.verify(&ClientCert { end_entity, intermediates, now })
    }

    signature_methods!();
}
