//! The `tls` and `tls_cert_file` kinds against real rustls servers on loopback presenting chains
//! made for each case (rcgen, and openssl for SHA-1 and small RSA keys), hostile servers, the real
//! daemon's exposition, and a cross-check of the expiry timestamp with blackbox_exporter.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use checklist_exporter::model::{Cause, Report, Verdict};
use common::pki::{write, Leaf, Pki, TlsServer, DAY};
use common::probe::{outcome, run_once};
use common::{item, promtool_complaints, wait_for, Daemon};

const ALL: &[&str] = &["trusted", "chain_complete", "covers_names", "expiry", "legacy_refused", "strength"];

fn tls_check(server: &TlsServer, pki: &Pki, extra: &str) -> String {
    format!(
        "kind = \"tls\"\naddress = \"{}\"\nserver_name = \"app.test\"\nsystem_roots = false\nca_files = [\"{}\"]\nmin_remaining = \"14d\"\nmin_remaining_ratio = 0.2\n{extra}",
        server.address,
        pki.root_file().display()
    )
}

fn gauge(report: &Report, family: &str) -> f64 {
    report.samples.iter().find(|s| s.family.name == family).and_then(|s| s.gauge_value()).unwrap()
}

fn unix(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).unwrap().as_secs() as f64
}

#[test]
fn a_good_chain_passes_every_aspect_and_exports_its_dates() {
    let pki = Pki::new();
    let leaf = Leaf::valid(&["app.test", "www.app.test"]);
    let server = TlsServer::start(&pki.chain(&leaf, true));
    let check = tls_check(&server, &pki, "names = [\"app.test\", \"www.app.test\"]");
    let report = run_once(&check, ALL).unwrap();
    for aspect in ALL {
        assert_eq!(outcome(&report, aspect).verdict, Verdict::Pass, "{aspect}: {:?}", outcome(&report, aspect));
    }
    assert!(outcome(&report, "legacy_refused").reason.contains("refuses TLS 1.0"), "{report:?}");
    assert_eq!(gauge(&report, "checklist_tls_cert_not_after_timestamp_seconds"), unix(leaf.not_after).floor());
    assert_eq!(gauge(&report, "checklist_tls_cert_not_before_timestamp_seconds"), unix(leaf.not_before).floor());
    assert_eq!(
        gauge(&report, "checklist_tls_chain_earliest_not_after_timestamp_seconds"),
        unix(leaf.not_after).floor()
    );
    let version = report.samples.iter().find(|s| s.family.name == "checklist_tls_version_info").unwrap();
    assert!(version.labels.contains(&("version", "TLS 1.3".to_string())), "{version:?}");
    assert!(version.labels.contains(&("target", format!("app.test@{}", server.address))), "{version:?}");
}

#[test]
fn an_expired_certificate_fails_with_its_dates_and_still_exports_them() {
    let pki = Pki::new();
    let mut leaf = Leaf::valid(&["app.test"]);
    leaf.not_before = SystemTime::now() - 100 * DAY;
    leaf.not_after = SystemTime::now() - 10 * DAY;
    let server = TlsServer::start(&pki.chain(&leaf, true));
    let report = run_once(&tls_check(&server, &pki, ""), ALL).unwrap();
    let trusted = outcome(&report, "trusted");
    assert_eq!(trusted.cause, Some(Cause::Expired));
    assert!(trusted.reason.starts_with("the certificate expired 10 days ago; valid "), "{}", trusted.reason);
    assert_eq!(outcome(&report, "expiry").cause, Some(Cause::Expired));
    assert_eq!(outcome(&report, "chain_complete").verdict, Verdict::Pass);
    assert_eq!(gauge(&report, "checklist_tls_cert_not_after_timestamp_seconds"), unix(leaf.not_after).floor());
}

#[test]
fn a_certificate_not_yet_valid_fails() {
    let pki = Pki::new();
    let mut leaf = Leaf::valid(&["app.test"]);
    leaf.not_before = SystemTime::now() + 3 * DAY;
    leaf.not_after = SystemTime::now() + 90 * DAY;
    let server = TlsServer::start(&pki.chain(&leaf, true));
    let trusted = run_once(&tls_check(&server, &pki, ""), &["trusted"]).unwrap().outcome("trusted").cloned().unwrap();
    assert_eq!(trusted.cause, Some(Cause::NotYetValid));
    assert!(trusted.reason.starts_with("the certificate is not valid for another 3.0 days"), "{}", trusted.reason);
}

#[test]
fn a_certificate_for_another_host_fails_only_covers_names() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki.chain(&Leaf::valid(&["other.test", "*.other.test"]), true));
    let report = run_once(&tls_check(&server, &pki, ""), ALL).unwrap();
    let covers = outcome(&report, "covers_names");
    assert_eq!(covers.cause, Some(Cause::Mismatch));
    assert_eq!(covers.reason, "the certificate does not cover app.test; it names other.test, *.other.test");
    for aspect in ALL.iter().filter(|a| **a != "covers_names") {
        assert_eq!(outcome(&report, aspect).verdict, Verdict::Pass, "{aspect}: {:?}", outcome(&report, aspect));
    }
}

#[test]
fn a_self_signed_certificate_is_untrusted_and_says_so() {
    let pki = Pki::new();
    let mut leaf = Leaf::valid(&["app.test"]);
    leaf.self_signed = true;
    let server = TlsServer::start(&pki.chain(&leaf, false));
    let report = run_once(&tls_check(&server, &pki, ""), ALL).unwrap();
    let trusted = outcome(&report, "trusted");
    assert_eq!(trusted.cause, Some(Cause::Untrusted), "{report:?}");
    assert_eq!(trusted.reason, "the certificate of app.test is self-signed, and not a trusted root");
    assert_eq!(outcome(&report, "covers_names").verdict, Verdict::Pass);
}

#[test]
fn replacing_or_removing_the_ca_file_changes_trusted_at_the_next_run() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki.chain(&Leaf::valid(&["app.test"]), true));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &pki.root_pem);
    let check =
        tls_check(&server, &pki, "").replace(&pki.root_file().display().to_string(), &ca_file.display().to_string());
    let trusted = || run_once(&check, &["trusted"]).map(|report| outcome(&report, "trusted").clone());
    assert_eq!(trusted().unwrap().verdict, Verdict::Pass);
    // Another root written over the file in place (same inode).
    write(dir.path(), "ca.pem", &Pki::new().root_pem);
    assert_eq!(trusted().unwrap().cause, Some(Cause::Untrusted));
    write(dir.path(), "ca.pem", &pki.root_pem);
    assert_eq!(trusted().unwrap().verdict, Verdict::Pass);
    std::fs::remove_file(&ca_file).unwrap();
    let failure = trusted().unwrap_err();
    assert_eq!(failure.cause, Cause::NotFound);
    assert!(failure.reason.starts_with(&format!("cannot read CA file {}", ca_file.display())), "{failure:?}");
}

#[test]
fn a_server_sending_only_the_leaf_has_an_incomplete_chain_even_when_the_ca_file_has_the_intermediate() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki.chain(&Leaf::valid(&["app.test"]), false));
    let check = tls_check(&server, &pki, "")
        .replace(&pki.root_file().display().to_string(), &pki.root_and_intermediate_file().display().to_string());
    let report = run_once(&check, ALL).unwrap();
    assert_eq!(outcome(&report, "trusted").verdict, Verdict::Pass, "a client with the intermediate trusts it");
    let chain = outcome(&report, "chain_complete");
    assert_eq!(chain.cause, Some(Cause::IncompleteChain));
    assert_eq!(
        chain.reason,
        "the server sends 1 certificate(s); the issuer of app.test is neither sent nor a trusted root: an intermediate is missing"
    );
    // Without the intermediate anywhere, the chain does not even verify.
    let untrusted = run_once(&tls_check(&server, &pki, ""), &["trusted"]).unwrap();
    assert_eq!(outcome(&untrusted, "trusted").cause, Some(Cause::Untrusted));
}

#[test]
fn a_certificate_expiring_in_five_days_fails_expiry_but_is_trusted() {
    let pki = Pki::new();
    let mut leaf = Leaf::valid(&["app.test"]);
    leaf.not_before = SystemTime::now() - 85 * DAY;
    leaf.not_after = SystemTime::now() + 5 * DAY;
    let server = TlsServer::start(&pki.chain(&leaf, true));
    let report = run_once(&tls_check(&server, &pki, ""), ALL).unwrap();
    assert_eq!(outcome(&report, "trusted").verdict, Verdict::Pass);
    let expiry = outcome(&report, "expiry");
    assert_eq!(expiry.cause, Some(Cause::BelowMinimum));
    assert!(
        expiry.reason.contains(
            "in 5.0 days (5.6% of its 90 days lifetime); want at least 14 days and at least 20% of its lifetime"
        ),
        "{}",
        expiry.reason
    );
}

#[test]
fn a_sha1_signed_leaf_is_weak_and_untrusted() {
    let pki = Pki::new();
    let server = TlsServer::start(&pki.openssl_leaf("app.test", "ec", "sha1"));
    let report = run_once(&tls_check(&server, &pki, ""), ALL).unwrap();
    let strength = outcome(&report, "strength");
    assert_eq!(strength.cause, Some(Cause::Weak));
    assert_eq!(strength.reason, "app.test is signed with ecdsa-with-SHA1");
    assert_eq!(outcome(&report, "trusted").cause, Some(Cause::Untrusted));
}

#[test]
fn certificate_files_are_judged_on_dates_names_strength_and_their_key() {
    let pki = Pki::new();
    let dir = pki.dir.path();
    let weak = pki.openssl_leaf("weak.test", "rsa:1024", "sha256");
    let weak_cert = write(dir, "weak-cert.pem", &weak.leaf_pem);
    let good = pki.chain(&Leaf::valid(&["app.test"]), true);
    let good_cert = write(dir, "good-cert.pem", &format!("{}{}", good.leaf_pem, pki.intermediate_pem));
    let good_key = write(dir, "good-key.pem", &good.key_pem);
    set_mode(&good_key, 0o600);
    let other_key = write(dir, "other-key.pem", &pki.chain(&Leaf::valid(&["x.test"]), false).key_pem);
    set_mode(&other_key, 0o644);
    let check = |cert: &Path, key: &Path, name: &str| {
        format!(
            "kind = \"tls_cert_file\"\ncert_file = \"{}\"\nkey_file = \"{}\"\nnames = [\"{name}\"]\nmin_remaining = \"7d\"\nreadable_by = \"root\"",
            cert.display(),
            key.display()
        )
    };
    let aspects = ["valid", "expiry", "covers_names", "key_matches", "key_private", "readable_by", "strength"];
    let report = run_once(&check(&good_cert, &good_key, "app.test"), &aspects).unwrap();
    for aspect in aspects {
        assert_eq!(outcome(&report, aspect).verdict, Verdict::Pass, "{aspect}: {:?}", outcome(&report, aspect));
    }
    assert!(outcome(&report, "valid").reason.contains("(2 certificate(s))"), "{report:?}");

    let mismatched = run_once(&check(&good_cert, &other_key, "www.app.test"), &aspects).unwrap();
    assert_eq!(outcome(&mismatched, "key_matches").cause, Some(Cause::Mismatch));
    assert_eq!(
        outcome(&mismatched, "key_private").reason,
        "the key file has mode 0644; want no access for group or others (like 0600)"
    );
    assert_eq!(outcome(&mismatched, "covers_names").cause, Some(Cause::Mismatch));

    let weak_report = run_once(&check(&weak_cert, &good_key, "weak.test"), &["strength"]).unwrap();
    let strength = outcome(&weak_report, "strength");
    assert_eq!(strength.reason, "weak.test has an RSA key of 1024 bits; want at least 2048");
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

#[test]
fn a_missing_or_garbled_certificate_file_is_an_error_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.pem");
    let check = |path: &Path| format!("kind = \"tls_cert_file\"\ncert_file = \"{}\"", path.display());
    let failure = run_once(&check(&missing), &["valid"]).unwrap_err();
    assert_eq!(failure.cause, Cause::NotFound);
    assert!(
        failure.reason.starts_with(&format!("cannot read certificate file {}", missing.display())),
        "{}",
        failure.reason
    );
    let garbage =
        write(dir.path(), "garbage.pem", "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n");
    let failure = run_once(&check(&garbage), &["valid"]).unwrap_err();
    assert_eq!(failure.cause, Cause::Invalid, "{failure:?}");
    let empty = write(dir.path(), "empty.pem", "hello\n");
    let failure = run_once(&check(&empty), &["valid"]).unwrap_err();
    assert_eq!(failure.reason, format!("certificate file {} holds no certificate", empty.display()));
}

/// A TCP server on 127.0.0.1:0 that does `behave` with each connection, in its own thread.
fn hostile(behave: fn(std::net::TcpStream)) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(16).flatten() {
            std::thread::spawn(move || behave(stream));
        }
    });
    address
}

fn plain_tls_check(address: std::net::SocketAddr) -> String {
    format!("kind = \"tls\"\naddress = \"{address}\"\nserver_name = \"app.test\"\nio_timeout = \"1s\"")
}

#[test]
fn hostile_servers_give_errors_with_reasons_within_the_io_timeout() {
    let silent = hostile(|mut stream| {
        let mut sink = [0u8; 1024];
        while stream.read(&mut sink).is_ok_and(|n| n > 0) {}
    });
    let http = hostile(|mut stream| {
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer);
        let _ = stream.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
    });
    let garbage = hostile(|mut stream| {
        let _ = stream.write_all(&[0x16, 0x03, 0x03, 0xff, 0xff, 0x99, 0x42, 0x00, 0x13]);
        std::thread::sleep(Duration::from_millis(200));
    });
    let cases = [
        (silent, Cause::Timeout, "no TLS handshake with"),
        (http, Cause::Io, "does not speak TLS"),
        (garbage, Cause::Io, "TLS handshake with"),
    ];
    for (address, cause, words) in cases {
        let started = Instant::now();
        let failure = run_once(&plain_tls_check(address), &["trusted"]).unwrap_err();
        assert_eq!(failure.cause, cause, "{failure:?}");
        assert!(failure.reason.contains(words), "{failure:?}");
        assert!(started.elapsed() < Duration::from_secs(15), "bounded by io_timeout, not the check timeout");
    }
    let refused =
        run_once(&plain_tls_check(format!("127.0.0.1:{}", common::closed_port()).parse().unwrap()), &["trusted"]);
    assert_eq!(refused.unwrap_err().cause, Cause::Refused);
}

#[test]
fn the_daemon_exports_tls_gauges_that_pass_promtool() {
    let pki = Pki::new();
    let leaf = Leaf::valid(&["app.test"]);
    let server = TlsServer::start(&pki.chain(&leaf, true));
    let items: String = ALL.iter().map(|a| item(&format!("tls.{a}"), "critical", Some(a))).collect();
    let config = format!("[[checks]]\n{}\n{items}", tls_check(&server, &pki, ""));
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    wait_for("the TLS verdicts", Duration::from_secs(30), || {
        daemon.metrics().value("checklist_item_passing", &[("id", "tls.trusted")]).is_some()
    });
    let text = daemon.metrics_text();
    assert_eq!(promtool_complaints(&text), None, "{text}");
    let metrics = common::Metrics::parse(&text);
    let target = format!("app.test@{}", server.address);
    assert_eq!(
        metrics.value("checklist_tls_cert_not_after_timestamp_seconds", &[("target", &target)]),
        Some(unix(leaf.not_after).floor())
    );
    assert_eq!(metrics.value("checklist_tls_version_info", &[("target", &target), ("version", "TLS 1.3")]), Some(1.0));
    for aspect in ALL {
        assert_eq!(metrics.value("checklist_item_passing", &[("id", &format!("tls.{aspect}"))]), Some(1.0), "{aspect}");
    }
}

/// blackbox_exporter (Debian package) on a loopback port with its own config, stopped on drop.
struct Blackbox {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Blackbox {
    fn start(ca_file: &Path, server_name: &str) -> Blackbox {
        let dir = tempfile::tempdir().unwrap();
        let config = write(
            dir.path(),
            "blackbox.yml",
            &format!(
                "modules:\n  tls:\n    prober: tcp\n    timeout: 5s\n    tcp:\n      tls: true\n      tls_config:\n        ca_file: {}\n        server_name: {server_name}\n",
                ca_file.display()
            ),
        );
        let port = common::closed_port();
        let child = std::process::Command::new("/usr/bin/prometheus-blackbox-exporter")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("prometheus-blackbox-exporter is installed (tests/run.sh installs it)");
        Blackbox { child, port, _dir: dir }
    }
}

impl Drop for Blackbox {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_expiry_timestamp_equals_the_one_blackbox_exporter_reports() {
    let pki = Pki::new();
    let mut leaf = Leaf::valid(&["app.test"]);
    leaf.not_after = SystemTime::now() + 47 * DAY + Duration::from_secs(1234);
    let server = TlsServer::start(&pki.chain(&leaf, true));
    let blackbox = Blackbox::start(&pki.root_file(), "app.test");
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let probe = format!("http://127.0.0.1:{}/probe?module=tls&target={}", blackbox.port, server.address);
    let mut body = String::new();
    wait_for("blackbox_exporter to answer a probe", Duration::from_secs(30), || {
        body = client.get(&probe).send().and_then(|r| r.text()).unwrap_or_default();
        body.contains("probe_success")
    });
    let blackbox_metrics = common::Metrics::parse(&body);
    assert_eq!(blackbox_metrics.value("probe_success", &[]), Some(1.0), "{body}");
    let theirs = blackbox_metrics.value("probe_ssl_earliest_cert_expiry", &[]).unwrap();

    let report = run_once(&tls_check(&server, &pki, ""), &["expiry"]).unwrap();
    assert_eq!(gauge(&report, "checklist_tls_chain_earliest_not_after_timestamp_seconds"), theirs);
    assert_eq!(gauge(&report, "checklist_tls_cert_not_after_timestamp_seconds"), theirs);
}
