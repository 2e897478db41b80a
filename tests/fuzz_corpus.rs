//! The fuzz targets' inputs under plain `cargo test`: every committed corpus file
//! (`fuzz/corpus/<target>/`) and every crash regression (`fuzz/regressions/<target>/`) goes
//! through the same harness the libFuzzer targets run (`fuzz/harness.rs`), properties included,
//! followed by a bounded number of inputs mutated from them.
//!
//! The seeds that come from real components are made here too: ServerHello bytes and response
//! headers recorded from a real nginx on loopback, certificates from rcgen and openssl. The test
//! runs them through the harness and checks they are what they claim to be; with
//! `CHECKLIST_WRITE_FUZZ_SEEDS=1` it also writes them into the corpus directories.

mod common;
#[path = "../fuzz/harness.rs"]
mod harness;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use checklist_exporter::checks::tls::cert::parse_cert;
use checklist_exporter::checks::tls::hello::{classify, client_hello, HelloAnswer, LegacyVersion};
use common::nginx::Nginx;
use common::pki::{write, Leaf, Pki, DAY};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// Mutated inputs per target in `cargo test` (`CHECKLIST_FUZZ_MUTATIONS` overrides): a blind,
/// bounded stand-in for libFuzzer where building the instrumented targets would cost CI
/// minutes (see docs/benchmarks.md, Fuzzing).
const MUTATIONS: usize = 20_000;

/// Bytes that mean something to one of the parsers, for the mutator to insert.
const TOKENS: &[&[u8]] = &[
    b";",
    b"=",
    b"\"",
    b"'",
    b"\\",
    b"\n",
    b"\r\n",
    b"\0",
    b" #",
    b"export ",
    b"[[checks]]\n",
    b"[[checks.items]]\n",
    b"kind = ",
    b"max-age=",
    b"includeSubDomains",
    b"'none'",
    b"\xef\xbb\xbf",
    b"\xff",
    b"\x16\x03\x01",
    b"\x15\x03",
    b"-----BEGIN CERTIFICATE-----\n",
    b"-----END CERTIFICATE-----\n",
    b"\x30\x82",
];

/// Runs every corpus and regression file of `target` through `run`, then `MUTATIONS` inputs
/// mutated from them (bit flips, inserted and deleted bytes, tokens, splices). Fails naming each
/// committed file that breaks a property, or the first mutated input that does (written to
/// `target/fuzz-failures/`, to be minimised and committed under `fuzz/regressions/`).
fn replay(target: &str, run: fn(&[u8])) {
    let mut inputs = Vec::new();
    let mut failures = Vec::new();
    for kind in ["corpus", "regressions"] {
        let dir = fuzz_dir().join(kind).join(target);
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        let mut paths: Vec<PathBuf> = entries.map(|entry| entry.unwrap().path()).collect();
        paths.sort();
        for path in paths {
            let data = std::fs::read(&path).unwrap();
            if std::panic::catch_unwind(|| run(&data)).is_err() {
                failures.push(path.display().to_string());
            }
            inputs.push(data);
        }
    }
    assert!(failures.is_empty(), "{target}: {} input(s) break a property:\n{}", failures.len(), failures.join("\n"));
    assert!(
        inputs.len() >= 10,
        "{target}: only {} committed inputs under fuzz/corpus and fuzz/regressions",
        inputs.len()
    );

    let seed = std::env::var("CHECKLIST_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let mut rng = StdRng::seed_from_u64(seed);
    let rounds = std::env::var("CHECKLIST_FUZZ_MUTATIONS").ok().and_then(|s| s.parse().ok()).unwrap_or(MUTATIONS);
    for round in 0..rounds {
        let data = mutate(&mut rng, &inputs);
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("fuzz-failures");
            std::fs::create_dir_all(&dir).unwrap();
            let file = dir.join(format!("{target}-seed{seed}-{round}"));
            std::fs::write(&file, &data).unwrap();
            panic!(
                "{target}: mutation {round} (CHECKLIST_FUZZ_SEED={seed}) breaks a property; input in {}",
                file.display()
            );
        }
    }
}

fn mutate(rng: &mut StdRng, inputs: &[Vec<u8>]) -> Vec<u8> {
    let mut data = inputs[rng.random_range(0..inputs.len())].clone();
    for _ in 0..rng.random_range(1..=4) {
        let at = rng.random_range(0..=data.len());
        match rng.random_range(0..5) {
            0 if at < data.len() => data[at] ^= 1 << rng.random_range(0..8),
            1 => data.insert(at, rng.random()),
            2 => {
                let end = (at + rng.random_range(1..=8)).min(data.len());
                data.drain(at..end);
            }
            3 => {
                let token = TOKENS[rng.random_range(0..TOKENS.len())];
                data.splice(at..at, token.iter().copied());
            }
            _ => {
                let other = &inputs[rng.random_range(0..inputs.len())];
                let start = rng.random_range(0..=other.len());
                let end = (start + rng.random_range(0..=64)).min(other.len());
                data.splice(at..at, other[start..end].iter().copied());
            }
        }
    }
    data
}

#[test]
fn the_config_corpus_and_regressions_hold_every_property() {
    replay("config", harness::config);
}

#[test]
fn the_dotenv_corpus_and_regressions_hold_every_property() {
    replay("dotenv", harness::dotenv);
}

#[test]
fn the_http_headers_corpus_and_regressions_hold_every_property() {
    replay("http_headers", harness::http_headers);
}

#[test]
fn the_tls_hello_corpus_and_regressions_hold_every_property() {
    replay("tls_hello", harness::tls_hello);
}

#[test]
fn the_certificate_corpus_and_regressions_hold_every_property() {
    replay("certificate", harness::certificate);
}

/// Writes a seed when asked to (`CHECKLIST_WRITE_FUZZ_SEEDS=1`).
fn keep_seed(target: &str, name: &str, data: &[u8]) {
    if std::env::var_os("CHECKLIST_WRITE_FUZZ_SEEDS").is_some() {
        let dir = fuzz_dir().join("corpus").join(target);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("seed-{name}")), data).unwrap();
    }
}

/// Whether a recorded answer is the one the server's configuration calls for.
type IsExpected = fn(&HelloAnswer) -> bool;

/// Sends the legacy ClientHello and reads until the classifier decides or the server closes.
fn record_answer(port: u16, version: LegacyVersion) -> (Vec<u8>, bool) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(&client_hello(version, Some("app.test"), [7; 32])).unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let read = stream.read(&mut buffer).expect("the server answers within 10 s");
        if read == 0 {
            return (answer, true);
        }
        answer.extend_from_slice(&buffer[..read]);
        if classify(version, &answer, false) != HelloAnswer::Incomplete {
            // Enough to decide; a little more keeps the seed close to a real stream.
            answer.truncate(512);
            return (answer, false);
        }
    }
}

/// Sends a plain HTTP request and returns the response's header lines.
fn record_headers(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\nHost: app.test\r\n\r\n").unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let head = response.split("\r\n\r\n").next().unwrap();
    head.lines().skip(1).map(|line| format!("{line}\n")).collect()
}

#[test]
fn seeds_recorded_from_real_nginx_and_real_certificates_classify_as_expected() {
    let pki = Pki::new();
    let chain = pki.chain(&Leaf::valid(&["app.test", "127.0.0.1"]), true);
    let files = pki.dir.path();
    let fullchain = write(files, "fullchain.pem", &format!("{}{}", chain.leaf_pem, pki.intermediate_pem));
    let key = write(files, "key.pem", &chain.key_pem);
    let (legacy, modern, plain, hardened, careless) = (
        common::closed_port(),
        common::closed_port(),
        common::closed_port(),
        common::closed_port(),
        common::closed_port(),
    );
    let tls = |port: u16, protocols: &str| {
        format!(
            "server {{\n listen 127.0.0.1:{port} ssl;\n ssl_certificate {};\n ssl_certificate_key {};\n {protocols}\n location / {{ return 200 ok; }}\n}}\n",
            fullchain.display(),
            key.display()
        )
    };
    let servers = format!(
        r#"{legacy_server}{modern_server}
  server {{ listen 127.0.0.1:{plain}; location / {{ return 200 ok; }} }}
  server {{
    listen 127.0.0.1:{hardened};
    add_header Strict-Transport-Security "max-age=63072000; includeSubDomains; preload" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'; object-src 'none'" always;
    add_header X-Frame-Options DENY always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-XSS-Protection 0 always;
    add_header Referrer-Policy "no-referrer, strict-origin-when-cross-origin" always;
    location / {{ return 200 ok; }}
  }}
  server {{
    listen 127.0.0.1:{careless};
    add_header Strict-Transport-Security "max-age=300" always;
    add_header Strict-Transport-Security "max-age=31536000" always;
    add_header Content-Security-Policy "script-src 'self' 'unsafe-inline' 'unsafe-eval'" always;
    add_header X-Frame-Options SAMEORIGIN always;
    add_header X-XSS-Protection "1; mode=block" always;
    add_header Referrer-Policy unsafe-url always;
    location / {{ return 200 ok; }}
  }}
"#,
        // OpenSSL 3 refuses TLS 1.0/1.1 below security level 0 whatever ssl_protocols says.
        legacy_server = tls(legacy, "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n ssl_ciphers DEFAULT:@SECLEVEL=0;"),
        modern_server = tls(modern, "ssl_protocols TLSv1.2 TLSv1.3;"),
    );
    let _nginx = Nginx::start(&servers, &[legacy, modern, plain, hardened, careless]);

    let cases: [(u16, &str, IsExpected); 3] = [
        (legacy, "accepts", |answer: &HelloAnswer| *answer == HelloAnswer::Accepted),
        (modern, "refuses", |answer: &HelloAnswer| matches!(answer, HelloAnswer::Refused(_))),
        (plain, "plain-http", |answer: &HelloAnswer| matches!(answer, HelloAnswer::NotTls(_))),
    ];
    for (port, name, expected) in cases {
        for (flag, version) in [(0u8, LegacyVersion::Tls10), (1, LegacyVersion::Tls11)] {
            let (bytes, closed) = record_answer(port, version);
            let answer = classify(version, &bytes, closed);
            assert!(expected(&answer), "nginx that {name} answered {} with {answer:?}", version.name());
            let mut seed = vec![flag | if closed { 2 } else { 0 }];
            seed.extend_from_slice(&bytes);
            harness::tls_hello(&seed);
            keep_seed("tls_hello", &format!("nginx-{name}-{}", version.name().replace(' ', "")), &seed);
        }
    }

    for (port, name) in [(hardened, "hardened"), (careless, "careless")] {
        let headers = record_headers(port);
        assert!(headers.contains("Strict-Transport-Security:"), "{headers}");
        harness::http_headers(headers.as_bytes());
        keep_seed("http_headers", &format!("nginx-{name}"), headers.as_bytes());
    }

    let mut certificates: Vec<(String, Vec<u8>)> = vec![
        ("rcgen-leaf.der".into(), chain.certs[0].to_vec()),
        ("rcgen-intermediate.der".into(), pki.intermediate_der.to_vec()),
        ("rcgen-root.pem".into(), pki.root_pem.clone().into_bytes()),
        ("rcgen-fullchain.pem".into(), std::fs::read(&fullchain).unwrap()),
        ("openssl-rsa1024-sha1.pem".into(), pki.openssl_leaf("weak.test", "rsa:1024", "sha1").leaf_pem.into_bytes()),
        ("openssl-ec-sha256.pem".into(), pki.openssl_leaf("ec.test", "ec", "sha256").leaf_pem.into_bytes()),
    ];
    let mut expired = Leaf::valid(&["old.test", "*.old.test", "::1"]);
    expired.not_before = std::time::SystemTime::now() - 400 * DAY;
    expired.not_after = std::time::SystemTime::now() - 30 * DAY;
    expired.self_signed = true;
    certificates.push(("rcgen-expired-self-signed.der".into(), pki.chain(&expired, false).certs[0].to_vec()));
    for (algorithm, name) in [
        (&rcgen::PKCS_ED25519, "ed25519"),
        (&rcgen::PKCS_ECDSA_P384_SHA384, "p384"),
        (&rcgen::PKCS_RSA_SHA256, "rsa2048"),
    ] {
        let key = rcgen::KeyPair::generate_for(algorithm).unwrap();
        let params = rcgen::CertificateParams::new(vec![format!("{name}.test")]).unwrap();
        certificates.push((format!("rcgen-{name}.der"), params.self_signed(&key).unwrap().der().to_vec()));
    }
    for (name, data) in &certificates {
        if name.ends_with(".der") {
            parse_cert(data).unwrap_or_else(|why| panic!("{name}: {why}"));
        }
        harness::certificate(data);
        keep_seed("certificate", name, data);
    }

    // The config seeds are the bad-config fixtures and the shipped configs.
    for dir in ["tests/fixtures/bad", "config"] {
        for entry in std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join(dir)).unwrap() {
            let path = entry.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            harness::config(&data);
            keep_seed("config", &path.file_name().unwrap().to_string_lossy(), &data);
        }
    }
}
