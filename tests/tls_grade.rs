//! The `grade` aspect of `kind = "tls"` against real nginx servers on loopback, each configured
//! as admins do (modern, intermediate, legacy protocols, weak key, missing intermediate, short
//! HSTS), compared with testssl.sh (Debian package `testssl.sh`) on the same servers.
//!
//! Debian's testssl.sh 3.0 has no rating of its own (`--rating` came in 3.1), so its findings
//! (protocols, cipher categories, forward secrecy, key, signature, chain of trust against the
//! test root, HSTS) are rated here by the same guide: the comparison is of what each one sees,
//! through its own handshakes (ours: rustls and hand-built hellos; testssl: its sockets and
//! OpenSSL), and both must give the grade an SSL Labs reader expects of that configuration.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use checklist_exporter::checks::tls::cert::KeyFacts;
use checklist_exporter::checks::tls::grade::{hsts_max_age, rate, Grade, GradeFacts};
use checklist_exporter::model::{Report, Verdict};
use common::closed_port;
use common::nginx::Nginx;
use common::pki::{write, Leaf, Pki};
use common::probe::{outcome, run_once, Repeated};

/// Mozilla's "intermediate" TLS 1.2 suites: forward secret AEAD only.
const INTERMEDIATE_CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";
const LONG_HSTS: &str = "add_header Strict-Transport-Security \"max-age=63072000\" always;";

/// Bound on one testssl run (about 40 s each on a quiet machine).
const TESTSSL_LIMIT: &str = "300";

struct Case {
    name: &'static str,
    port: u16,
    want: Grade,
}

fn gauge(report: &Report) -> f64 {
    report
        .samples
        .iter()
        .find(|s| s.family.name == "checklist_tls_grade")
        .and_then(|s| s.gauge_value())
        .unwrap_or_else(|| panic!("no checklist_tls_grade sample: {report:?}"))
}

/// One nginx server block on `port` presenting `cert`, with `tls` and `extra` directives.
fn server_block(port: u16, cert: &Path, key: &Path, tls: &str, extra: &str) -> String {
    format!(
        "  server {{\n    listen 127.0.0.1:{port} ssl;\n    server_name app.test;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    {tls}\n    {extra}\n    location / {{ return 200 \"ok\"; }}\n  }}\n",
        cert.display(),
        key.display()
    )
}

fn check(port: u16, root: &Path) -> String {
    format!(
        "kind = \"tls\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"app.test\"\nsystem_roots = false\nca_files = [\"{}\"]\n",
        root.display()
    )
}

/// testssl's JSON findings by id.
fn findings(json: &str) -> std::collections::HashMap<String, String> {
    let list: Vec<serde_json::Value> = serde_json::from_str(json).unwrap_or_else(|err| panic!("{err}: {json}"));
    list.iter().filter_map(|f| Some((f["id"].as_str()?.to_string(), f["finding"].as_str()?.to_string()))).collect()
}

/// testssl's findings as the facts the guide rates.
fn testssl_facts(found: &std::collections::HashMap<String, String>) -> GradeFacts {
    let get =
        |id: &str| found.get(id).map(String::as_str).unwrap_or_else(|| panic!("testssl found no {id}: {found:?}"));
    let offered = |id: &str| get(id).starts_with("offered");
    let key = get("cert_keySize");
    let bits = key.split_whitespace().nth(1).and_then(|b| b.parse::<u32>().ok()).unwrap_or_else(|| panic!("{key}"));
    let key = if key.starts_with("RSA") { KeyFacts::Rsa(bits) } else { KeyFacts::Ec(bits) };
    let signature = get("cert_signatureAlgorithm");
    let weak = signature.contains("SHA1") || signature.contains("MD5");
    let fs_ciphers = found.get("PFS_ciphers").cloned().unwrap_or_default();
    let hsts = match found.get("HSTS_time") {
        Some(time) => {
            let seconds = time.split("(=").nth(1).and_then(|t| t.split(' ').next()).unwrap_or_default();
            hsts_max_age(&format!("max-age={seconds}"))
        }
        None => Err(format!("testssl: {}", found.get("HSTS").cloned().unwrap_or_default())),
    };
    GradeFacts {
        ssl3: offered("SSLv3"),
        tls10: offered("TLS1"),
        tls11: offered("TLS1_1"),
        tls12: offered("TLS1_2"),
        tls13: offered("TLS1_3"),
        key,
        weak_signature: weak.then(|| signature.to_string()),
        chain_complete: get("cert_chain_of_trust").starts_with("passed"),
        forward_secret: offered("PFS"),
        aead: offered("cipherlist_STRONG"),
        bits256: fs_ciphers.contains("256") || fs_ciphers.contains("CHACHA20"),
        bits128: offered("cipherlist_AVERAGE") || fs_ciphers.contains("128"),
        triple_des: offered("cipherlist_3DES_IDEA"),
        rc4: !get("RC4").starts_with("not vulnerable"),
        insecure: ["cipherlist_NULL", "cipherlist_aNULL", "cipherlist_EXPORT", "cipherlist_LOW"]
            .iter()
            .any(|id| offered(id)),
        hsts,
    }
}

/// Runs testssl against `port` (loopback only), bounded; returns its findings and run time.
fn testssl(port: u16, root: &Path, dir: &Path) -> (std::collections::HashMap<String, String>, Duration) {
    let json = dir.join(format!("testssl-{port}.json"));
    let started = Instant::now();
    let output = Command::new("timeout")
        .args([TESTSSL_LIMIT, "testssl", "--quiet", "--color", "0", "--warnings", "off", "--nodns", "none"])
        .arg("--add-ca")
        .arg(root)
        .arg("--jsonfile")
        .arg(&json)
        .args(["-p", "-S", "-s", "-f", "-h", "-4", &format!("127.0.0.1:{port}")])
        .output()
        .expect("testssl is installed (tests/run.sh installs testssl.sh)");
    let took = started.elapsed();
    let text = std::fs::read_to_string(&json).unwrap_or_else(|err| {
        panic!(
            "testssl wrote no JSON ({err}); status {}: {}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (findings(&text), took)
}

/// Runs the check five times (after one warm-up run) and returns the last report and the median
/// time of a run: the figure docs/benchmarks.md quotes.
fn median_run(check: &str, aspect: &str) -> (Report, Duration) {
    let repeated = Repeated::new(check, &[aspect]);
    let mut report = repeated.run().unwrap_or_else(|f| panic!("{f:?}"));
    let mut times = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        report = repeated.run().unwrap_or_else(|f| panic!("{f:?}"));
        times.push(started.elapsed());
    }
    times.sort();
    (report, times[2])
}

#[test]
fn grades_match_testssl_on_six_nginx_configurations() {
    let pki = Pki::new();
    let files = pki.dir.path();
    let chain = pki.chain(&Leaf::valid(&["app.test"]), true);
    let weak = pki.openssl_leaf("app.test", "rsa:1024", "sha256");
    let fullchain = write(files, "fullchain.pem", &format!("{}{}", chain.leaf_pem, pki.intermediate_pem));
    let leaf_only = write(files, "leaf.pem", &chain.leaf_pem);
    let key = write(files, "key.pem", &chain.key_pem);
    let weak_cert = write(files, "weak.pem", &weak.leaf_pem);
    let weak_key = write(files, "weak.key", &weak.key_pem);
    let modern = format!("ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers {INTERMEDIATE_CIPHERS};");
    // OpenSSL 3 refuses TLS 1.0/1.1 and 1024-bit keys below security level 0.
    let legacy = "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n    ssl_ciphers DEFAULT:@SECLEVEL=0;".to_string();
    let low_level = "ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers DEFAULT:@SECLEVEL=0;".to_string();
    let nginx_default = "ssl_protocols TLSv1.2 TLSv1.3;".to_string();
    let short_hsts = "add_header Strict-Transport-Security \"max-age=86400\" always;";
    let setups: [(&str, &Path, &Path, String, &str, Grade); 6] = [
        ("modern, HSTS 2 years", &fullchain, &key, modern.clone(), LONG_HSTS, Grade::APlus),
        ("intermediate, no HSTS", &fullchain, &key, modern.clone(), "", Grade::A),
        ("TLS 1.0 and 1.1 on", &fullchain, &key, legacy, LONG_HSTS, Grade::B),
        ("1024-bit RSA key", &weak_cert, &weak_key, low_level, LONG_HSTS, Grade::B),
        ("missing intermediate", &leaf_only, &key, modern, LONG_HSTS, Grade::B),
        ("nginx default ciphers, HSTS 1 day", &fullchain, &key, nginx_default, short_hsts, Grade::A),
    ];
    let mut servers = String::new();
    let mut cases = Vec::new();
    for (name, cert, key, tls, hsts, want) in setups {
        let port = closed_port();
        servers.push_str(&server_block(port, cert, key, &tls, hsts));
        cases.push(Case { name, port, want });
    }
    let ports: Vec<u16> = cases.iter().map(|c| c.port).collect();
    let _nginx = Nginx::start(&servers, &ports);
    let root = pki.root_file();

    // Our runs first, each on a quiet machine; then testssl's, three at a time (a testssl run is
    // about 30 s of mostly one core; six in a row were most of CI's test time). Its wall times
    // are figures only with TESTSSL_SERIAL=1, one run at a time (docs/benchmarks.md).
    let ours: Vec<(Report, Duration, Duration)> = cases
        .iter()
        .map(|case| {
            let (without, base) = median_run(&check(case.port, &root), "trusted");
            assert!(without.outcome("grade").is_none(), "no grade probes without a grade item: {without:?}");
            let (report, graded) = median_run(&check(case.port, &root), "grade");
            (report, graded, base)
        })
        .collect();
    let at_once = if std::env::var_os("TESTSSL_SERIAL").is_some() { 1 } else { 3 };
    let mut theirs_found = Vec::new();
    for batch in cases.chunks(at_once) {
        theirs_found.extend(std::thread::scope(|scope| {
            let runs: Vec<_> = batch.iter().map(|case| scope.spawn(|| testssl(case.port, &root, files))).collect();
            runs.into_iter().map(|run| run.join().expect("a testssl run panicked")).collect::<Vec<_>>()
        }));
    }

    let mut mismatches = Vec::new();
    for ((case, (report, graded, base)), (found, testssl_took)) in cases.iter().zip(ours).zip(theirs_found) {
        let ours = outcome(&report, "grade");
        let our_grade = Grade::ALL.into_iter().find(|g| g.gauge() == gauge(&report)).unwrap();
        let theirs = rate(&testssl_facts(&found));
        eprintln!(
            "{}: ours {} in {:?} ({:?} without the grade); testssl {} in {:?}\n  ours: {}\n  testssl: {}",
            case.name,
            our_grade,
            graded,
            base,
            theirs.grade,
            testssl_took,
            ours.reason,
            theirs.describe()
        );
        let versions = format!("accepts {})", theirs.protocols.join(", "));
        assert!(ours.reason.contains(&versions), "{}: testssl {versions}; ours: {}", case.name, ours.reason);
        if our_grade != case.want || theirs.grade != case.want {
            mismatches.push(format!(
                "{}: want {}, ours {} ({}), testssl {} ({})",
                case.name,
                case.want,
                our_grade,
                ours.reason,
                theirs.grade,
                theirs.describe()
            ));
        }
        let passes = our_grade >= Grade::A;
        assert_eq!(ours.verdict == Verdict::Pass, passes, "{}: min_grade A: {}", case.name, ours.reason);
    }
    assert!(mismatches.is_empty(), "{}", mismatches.join("\n"));
}

#[test]
fn the_reason_names_each_cap_and_min_grade_decides() {
    let pki = Pki::new();
    let files = pki.dir.path();
    let chain = pki.chain(&Leaf::valid(&["app.test"]), false);
    let leaf_only = write(files, "leaf.pem", &chain.leaf_pem);
    let key = write(files, "key.pem", &chain.key_pem);
    let port = closed_port();
    let servers = server_block(
        port,
        &leaf_only,
        &key,
        "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n    ssl_ciphers DEFAULT:@SECLEVEL=0;",
        "",
    );
    let _nginx = Nginx::start(&servers, &[port]);
    let root = pki.root_file();
    let report = run_once(&check(port, &root), &["grade"]).unwrap_or_else(|f| panic!("{f:?}"));
    let grade = outcome(&report, "grade");
    assert_eq!(grade.verdict, Verdict::Fail, "{grade:?}");
    assert!(grade.reason.starts_with("grade B (score "), "{}", grade.reason);
    assert!(grade.reason.contains("capped at B: the server accepts TLS 1.0 and TLS 1.1"), "{}", grade.reason);
    assert!(grade.reason.contains("capped at B: the chain is incomplete"), "{}", grade.reason);
    assert!(grade.reason.ends_with("want at least A"), "{}", grade.reason);
    let lenient = format!("{}min_grade = \"B\"\n", check(port, &root));
    let report = run_once(&lenient, &["grade"]).unwrap_or_else(|f| panic!("{f:?}"));
    assert_eq!(outcome(&report, "grade").verdict, Verdict::Pass, "{report:?}");
}

#[test]
fn a_server_offering_anonymous_and_null_suites_fails_with_that_cap() {
    let pki = Pki::new();
    let files = pki.dir.path();
    let chain = pki.chain(&Leaf::valid(&["app.test"]), true);
    let fullchain = write(files, "fullchain.pem", &format!("{}{}", chain.leaf_pem, pki.intermediate_pem));
    let key = write(files, "key.pem", &chain.key_pem);
    let port = closed_port();
    // Debian's OpenSSL has no RC4, 3DES or export suites left, but still anonymous and NULL ones.
    let tls = "ssl_protocols TLSv1.2 TLSv1.3;\n    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:aNULL:eNULL:@SECLEVEL=0;";
    let servers = server_block(port, &fullchain, &key, tls, LONG_HSTS);
    let _nginx = Nginx::start(&servers, &[port]);
    let report = run_once(&check(port, &pki.root_file()), &["grade"]).unwrap_or_else(|f| panic!("{f:?}"));
    let grade = outcome(&report, "grade");
    assert_eq!(gauge(&report), Grade::F.gauge(), "{}", grade.reason);
    assert!(
        grade.reason.contains("capped at F: the server accepts suites under 112 bits (DES, export, anonymous, NULL)"),
        "{}",
        grade.reason
    );
}
