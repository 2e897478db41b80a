//! Trust material: the roots (the system store and the self-signed certificates of CA files),
//! the other certificates of CA files as extra intermediates, and a cache so that every check
//! naming the same files shares one parse. The HTTP checks build their clients from the same
//! material, so a CA file means the same to a `tls` and an `http` check.
//!
//! The cache is kept only while the files are the same: every call reads the CA files (a few
//! KiB; comparing their bytes is exact where timestamps may be coarse) and stats the system
//! store's files (device, inode, size, modification and change times: `update-ca-certificates`
//! replaces them), and a difference rebuilds the material. So replacing, editing or removing a
//! CA file, or a change of the system store, changes the verdict at the next run without a
//! restart, at the cost of a small read and a few `stat`s per run instead of a parse of some 150
//! roots (docs/benchmarks.md has the figures).

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use rustls::pki_types::CertificateDer;
use rustls::RootCertStore;

use super::cert::{parse_cert, pem_certs};
use crate::model::{Cause, ProbeFailure};
use crate::support::file_identity::FileIdentity;

/// Roots and extra intermediates for one set of CA files, shared by every check that names the
/// same files (the system roots alone are some 150 certificates: parse them once).
pub(crate) struct Trust {
    pub roots: Arc<RootCertStore>,
    pub root_subjects: HashSet<Vec<u8>>,
    /// Non-self-signed certificates from CA files: they help a client build a path, but a server
    /// that relies on them still has an incomplete chain.
    pub extra_intermediates: Vec<CertificateDer<'static>>,
}

type TrustKey = (bool, Vec<PathBuf>);

/// The identity of every file and directory the system store is read from (the `SSL_CERT_FILE`
/// and `SSL_CERT_DIR` overrides, else what OpenSSL would use), as rustls-native-certs finds them.
/// A directory's times change when `update-ca-certificates` adds or removes a link in it.
fn system_store_identity() -> Vec<(PathBuf, Option<FileIdentity>)> {
    let mut paths: Vec<PathBuf> = Vec::new();
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        paths.push(file.into());
    }
    if let Some(dirs) = std::env::var_os("SSL_CERT_DIR") {
        paths.extend(std::env::split_paths(&dirs));
    }
    let probed = openssl_probe::probe();
    paths.extend(probed.cert_file);
    paths.extend(probed.cert_dir);
    paths.dedup();
    paths
        .into_iter()
        .map(|path| {
            let identity = FileIdentity::of_path(&path).ok();
            (path, identity)
        })
        .collect()
}

/// The system roots, loaded again whenever the store's files change.
fn system_roots() -> Arc<Vec<CertificateDer<'static>>> {
    type Loaded = (Vec<(PathBuf, Option<FileIdentity>)>, Arc<Vec<CertificateDer<'static>>>);
    static LOADED: Mutex<Option<Loaded>> = Mutex::new(None);
    let identity = system_store_identity();
    let mut loaded = LOADED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    match &*loaded {
        Some((seen, roots)) if *seen == identity => roots.clone(),
        _ => {
            let roots = Arc::new(rustls_native_certs::load_native_certs().certs);
            *loaded = Some((identity, roots.clone()));
            roots
        }
    }
}

/// Reads a CA file; the error names it.
fn read_ca_file(path: &Path) -> Result<Vec<u8>, ProbeFailure> {
    std::fs::read(path).map_err(|err| {
        ProbeFailure::new(Cause::from_io(&err), format!("cannot read CA file {}: {err}", path.display()))
            .about(crate::checks::subject::path(path))
    })
}

/// Every certificate of a CA file's text; the error names the file.
fn ca_file_certs(path: &Path, text: &[u8]) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    let certs = pem_certs(text)
        .map_err(|err| ProbeFailure::new(Cause::Invalid, format!("CA file {} is not PEM: {err}", path.display())))?;
    if certs.is_empty() {
        return Err(ProbeFailure::new(Cause::Invalid, format!("CA file {} holds no certificate", path.display())));
    }
    Ok(certs)
}

/// Reads every certificate of a PEM file; the error names the file.
pub(crate) fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, ProbeFailure> {
    ca_file_certs(path, &read_ca_file(path)?)
}

/// Builds (or reuses) the trust material for `system` roots plus `ca_files`: reused only while
/// none of the files changed. Blocking: reads and stats files.
pub(crate) fn trust_for(system: bool, ca_files: &[PathBuf]) -> Result<Arc<Trust>, ProbeFailure> {
    type SystemCerts = Option<Arc<Vec<CertificateDer<'static>>>>;
    type Stamped = (Vec<Vec<u8>>, SystemCerts, Arc<Trust>);
    let same_system = |a: &SystemCerts, b: &SystemCerts| match (a, b) {
        (Some(a), Some(b)) => Arc::ptr_eq(a, b),
        (a, b) => a.is_none() && b.is_none(),
    };
    static CACHE: OnceLock<Mutex<HashMap<TrustKey, Stamped>>> = OnceLock::new();
    let key = (system, ca_files.to_vec());
    let contents = ca_files.iter().map(|path| read_ca_file(path)).collect::<Result<Vec<_>, _>>()?;
    let system_certs = system.then(system_roots);
    let cache = CACHE.get_or_init(Default::default);
    if let Some(found) = cache.lock().ok().and_then(|map| {
        map.get(&key)
            .filter(|(seen, certs, _)| *seen == contents && same_system(certs, &system_certs))
            .map(|(_, _, trust)| trust.clone())
    }) {
        return Ok(found);
    }
    let trust = build_trust(system_certs.as_deref().map_or(&[], Vec::as_slice), ca_files, &contents)?;
    if let Ok(mut map) = cache.lock() {
        map.insert(key, (contents, system_certs, trust.clone()));
    }
    Ok(trust)
}

fn build_trust(
    system_certs: &[CertificateDer<'static>],
    ca_files: &[PathBuf],
    contents: &[Vec<u8>],
) -> Result<Arc<Trust>, ProbeFailure> {
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
    for der in system_certs {
        add_root(der, &mut roots);
    }
    for (path, text) in ca_files.iter().zip(contents) {
        for der in ca_file_certs(path, text)? {
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
    Ok(Arc::new(Trust { roots: Arc::new(roots), root_subjects, extra_intermediates }))
}
