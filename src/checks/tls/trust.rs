//! Trust material: the roots (the system store and the self-signed certificates of CA files),
//! the other certificates of CA files as extra intermediates, and a cache so that every check
//! naming the same files shares one parse. The HTTP checks build their clients from the same
//! material, so a CA file means the same to a `tls` and an `http` check.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use super::cert::{parse_cert, pem_certs};
use crate::model::{Cause, ProbeFailure};
use crate::support::tls::client_provider;

/// Roots and extra intermediates for one set of CA files, shared by every check that names the
/// same files (the system roots alone are some 150 certificates: parse them once).
pub(crate) struct Trust {
    pub roots: Arc<RootCertStore>,
    pub verifier: Arc<WebPkiServerVerifier>,
    pub root_subjects: HashSet<Vec<u8>>,
    /// Non-self-signed certificates from CA files: they help a client build a path, but a server
    /// that relies on them still has an incomplete chain.
    pub extra_intermediates: Vec<CertificateDer<'static>>,
}

type TrustKey = (bool, Vec<PathBuf>);

fn system_roots() -> &'static [CertificateDer<'static>] {
    static ROOTS: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| rustls_native_certs::load_native_certs().certs)
}

/// Reads every certificate of a PEM file; the error names the file.
pub(crate) fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    let text = std::fs::read(path).map_err(|err| {
        ProbeFailure::new(Cause::from_io(&err), format!("cannot read CA file {}: {err}", path.display()))
    })?;
    let certs = pem_certs(&text)
        .map_err(|err| ProbeFailure::new(Cause::Invalid, format!("CA file {} is not PEM: {err}", path.display())))?;
    if certs.is_empty() {
        return Err(ProbeFailure::new(Cause::Invalid, format!("CA file {} holds no certificate", path.display())));
    }
    Ok(certs)
}

/// Builds (or reuses) the trust material for `system` roots plus `ca_files`. Blocking: reads files.
pub(crate) fn trust_for(system: bool, ca_files: &[PathBuf]) -> Result<Arc<Trust>, ProbeFailure> {
    static CACHE: OnceLock<Mutex<HashMap<TrustKey, Arc<Trust>>>> = OnceLock::new();
    let key = (system, ca_files.to_vec());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|map| map.get(&key).cloned()) {
        return Ok(found);
    }
    let mut roots = RootCertStore::empty();
    let mut root_subjects = HashSet::new();
    let mut extra_intermediates = Vec::new();
    let mut add_root = |der: &CertificateDer<'static>, roots: &mut RootCertStore| {
        if roots.add(der.clone()).is_ok() {
            if let Ok(facts) = parse_cert(der) {
                root_subjects.insert(facts.subject_raw);
            }
        }
    };
    if system {
        for der in system_roots() {
            add_root(der, &mut roots);
        }
    }
    for path in ca_files {
        for der in read_pem_certs(path)? {
            let facts = parse_cert(&der).map_err(|why| {
                ProbeFailure::new(Cause::Invalid, format!("CA file {} holds a bad certificate: {why}", path.display()))
            })?;
            if facts.self_signed() {
                add_root(&der, &mut roots);
            } else {
                extra_intermediates.push(der);
            }
        }
    }
    if roots.is_empty() {
        return Err(ProbeFailure::new(
            Cause::Missing,
            "no trusted root: the system store is empty or off, and the CA files hold no self-signed root",
        ));
    }
    let roots = Arc::new(roots);
    let verifier = WebPkiServerVerifier::builder_with_provider(roots.clone(), client_provider())
        .build()
        .map_err(|err| ProbeFailure::new(Cause::Io, format!("cannot build a certificate verifier: {err}")))?;
    let trust = Arc::new(Trust { roots, verifier, root_subjects, extra_intermediates });
    if let Ok(mut map) = cache.lock() {
        map.insert(key, trust.clone());
    }
    Ok(trust)
}
