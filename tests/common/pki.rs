//! Throwaway PKI for the TLS tests: a root, an intermediate and leaves made by rcgen (and by the
//! openssl command for what rcgen refuses to make: SHA-1 signatures, 1024-bit RSA), plus small
//! rustls servers on 127.0.0.1:0 that present a chosen chain.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const DAY: Duration = Duration::from_secs(86_400);

pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A root CA and an intermediate under it, with their PEM files in a temp dir.
pub struct Pki {
    pub dir: tempfile::TempDir,
    root_key: KeyPair,
    root_params: CertificateParams,
    pub root_pem: String,
    intermediate_key: KeyPair,
    intermediate_params: CertificateParams,
    pub intermediate_der: CertificateDer<'static>,
    pub intermediate_pem: String,
}

/// What a leaf should look like.
pub struct Leaf {
    pub names: Vec<String>,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    /// Signed by the root directly instead of the intermediate.
    pub by_root: bool,
    pub self_signed: bool,
}

impl Leaf {
    pub fn valid(names: &[&str]) -> Leaf {
        Leaf {
            names: names.iter().map(|n| n.to_string()).collect(),
            not_before: SystemTime::now() - 10 * DAY,
            not_after: SystemTime::now() + 80 * DAY,
            by_root: false,
            self_signed: false,
        }
    }
}

/// A chain to serve: certificates as sent (leaf first) and the leaf's key.
pub struct Chain {
    pub certs: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
    pub leaf_pem: String,
    pub key_pem: String,
}

fn ca_params(name: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    params.distinguished_name.push(DnType::CommonName, name);
    params.not_before = (SystemTime::now() - 365 * DAY).into();
    params.not_after = (SystemTime::now() + 3650 * DAY).into();
    params
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let root_key = KeyPair::generate().unwrap();
        let root_params = ca_params("checklist test root");
        let root = root_params.self_signed(&root_key).unwrap();
        let intermediate_key = KeyPair::generate().unwrap();
        let intermediate_params = ca_params("checklist test intermediate");
        let intermediate =
            intermediate_params.signed_by(&intermediate_key, &Issuer::from_params(&root_params, &root_key)).unwrap();
        let pki = Pki {
            dir,
            root_pem: root.pem(),
            root_key,
            root_params,
            intermediate_der: intermediate.der().clone(),
            intermediate_pem: intermediate.pem(),
            intermediate_key,
            intermediate_params,
        };
        std::fs::write(pki.root_file(), &pki.root_pem).unwrap();
        std::fs::write(pki.root_key_file(), pki.root_key.serialize_pem()).unwrap();
        std::fs::write(
            pki.dir.path().join("root-and-intermediate.pem"),
            format!("{}{}", pki.root_pem, pki.intermediate_pem),
        )
        .unwrap();
        pki
    }

    pub fn root_file(&self) -> PathBuf {
        self.dir.path().join("root.pem")
    }

    pub fn root_key_file(&self) -> PathBuf {
        self.dir.path().join("root.key")
    }

    /// The root and the intermediate in one CA file, as an admin might configure it.
    pub fn root_and_intermediate_file(&self) -> PathBuf {
        self.dir.path().join("root-and-intermediate.pem")
    }

    /// A leaf as described; the chain sent holds the intermediate when `send_intermediate`.
    pub fn chain(&self, leaf: &Leaf, send_intermediate: bool) -> Chain {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(leaf.names.clone()).unwrap();
        params.distinguished_name.push(DnType::CommonName, leaf.names.first().cloned().unwrap_or_default());
        params.not_before = leaf.not_before.into();
        params.not_after = leaf.not_after.into();
        let cert = if leaf.self_signed {
            params.self_signed(&key).unwrap()
        } else if leaf.by_root {
            params.signed_by(&key, &Issuer::from_params(&self.root_params, &self.root_key)).unwrap()
        } else {
            params.signed_by(&key, &Issuer::from_params(&self.intermediate_params, &self.intermediate_key)).unwrap()
        };
        let mut certs = vec![cert.der().clone()];
        if send_intermediate && !leaf.self_signed && !leaf.by_root {
            certs.push(self.intermediate_der.clone());
        }
        let key_pem = key.serialize_pem();
        Chain { certs, key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap(), leaf_pem: cert.pem(), key_pem }
    }

    /// A leaf signed by the root with openssl, for what rcgen cannot make: `digest` `sha1`, or
    /// `key_spec` `rsa:1024`. Returns the chain (leaf only) with the key.
    pub fn openssl_leaf(&self, name: &str, key_spec: &str, digest: &str) -> Chain {
        let dir = self.dir.path();
        let key = dir.join(format!("{name}.key"));
        let csr = dir.join(format!("{name}.csr"));
        let ext = dir.join(format!("{name}.ext"));
        let pem = dir.join(format!("{name}.pem"));
        let (algorithm, option) = match key_spec.split_once(':') {
            Some(("rsa", bits)) => ("RSA", format!("rsa_keygen_bits:{bits}")),
            _ => ("EC", "ec_paramgen_curve:P-256".to_string()),
        };
        run(Command::new("openssl").args(["genpkey", "-algorithm", algorithm, "-pkeyopt", &option, "-out"]).arg(&key));
        run(Command::new("openssl")
            .args(["req", "-new", "-subj", &format!("/CN={name}"), "-key"])
            .arg(&key)
            .arg("-out")
            .arg(&csr));
        std::fs::write(&ext, format!("subjectAltName=DNS:{name}\nbasicConstraints=CA:FALSE\n")).unwrap();
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "30", &format!("-{digest}"), "-set_serial", "7", "-in"])
            .arg(&csr)
            .arg("-CA")
            .arg(self.root_file())
            .arg("-CAkey")
            .arg(self.root_key_file())
            .arg("-extfile")
            .arg(&ext)
            .arg("-out")
            .arg(&pem));
        let leaf_pem = std::fs::read_to_string(&pem).unwrap();
        let key_pem = std::fs::read_to_string(&key).unwrap();
        Chain {
            certs: vec![CertificateDer::from_pem_slice(leaf_pem.as_bytes()).unwrap()],
            key: PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).unwrap(),
            leaf_pem,
            key_pem,
        }
    }
}

fn run(command: &mut Command) {
    let output = command.output().expect("openssl is installed");
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
}

/// Writes `text` to `dir/name` and returns the path.
pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// A rustls server on 127.0.0.1:0 presenting `chain`; it answers every request with
/// `200 ok` and runs until dropped.
pub struct TlsServer {
    pub address: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl TlsServer {
    pub fn start(chain: &Chain) -> TlsServer {
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain.certs.clone(), chain.key.clone_key())
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            let Ok((stream, _)) = accepted else { continue };
                            let acceptor = acceptor.clone();
                            tokio::spawn(async move {
                                let Ok(Ok(mut tls)) = tokio::time::timeout(Duration::from_secs(5), acceptor.accept(stream)).await else { return };
                                let mut buffer = [0u8; 4096];
                                let _ = tokio::time::timeout(Duration::from_secs(2), tls.read(&mut buffer)).await;
                                let _ = tls.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok").await;
                                let _ = tls.shutdown().await;
                            });
                        }
                    }
                }
            });
        });
        TlsServer { address, stop: Some(stop) }
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
