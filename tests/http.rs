//! The HTTP kinds and the legacy-protocol probe against a real nginx on loopback ports (one
//! server hardened, one configured badly on purpose with TLS 1.0/1.1 enabled), and against small
//! hostile servers: silent, garbage, plain HTTP on a TLS port, a megabyte of headers, one byte a
//! second, a redirect loop.

mod common;

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::{Duration, Instant};

use checklist_exporter::model::{Cause, Verdict};
use common::hostile::{garbage, hostile, read_request, silent};
use common::nginx::Nginx;
use common::pki::{write, Leaf, Pki};
use common::probe::{outcome, run_once};
use common::{closed_port, item, wait_for, Daemon};

const HEADER_ASPECTS: &[&str] =
    &["hsts", "csp", "frame_options", "content_type_options", "xss_protection", "referrer_policy"];

/// Ports of the two nginx servers and the plain-HTTP redirectors.
struct Site {
    nginx: Nginx,
    pki: Pki,
    good: u16,
    bad: u16,
    weak: u16,
    legacy_only: u16,
    redirect: u16,
    temporary: u16,
}

impl Site {
    fn start() -> Site {
        let pki = Pki::new();
        let chain = pki.chain(&Leaf::valid(&["app.test", "127.0.0.1"]), true);
        let weak = pki.openssl_leaf("weak.test", "rsa:1024", "sha256");
        let (good, bad, weak_port, redirect, temporary) =
            (closed_port(), closed_port(), closed_port(), closed_port(), closed_port());
        let legacy_only = closed_port();
        let files = pki.dir.path();
        let fullchain = write(files, "fullchain.pem", &format!("{}{}", chain.leaf_pem, pki.intermediate_pem));
        let key = write(files, "key.pem", &chain.key_pem);
        let weak_cert = write(files, "weak.pem", &weak.leaf_pem);
        let weak_key = write(files, "weak.key", &weak.key_pem);
        let tls = |port: u16, cert: &Path, key: &Path, legacy: bool| {
            let protocols = if legacy {
                // OpenSSL 3 refuses TLS 1.0/1.1 below security level 0 whatever ssl_protocols says.
                "ssl_protocols TLSv1 TLSv1.1 TLSv1.2;\n    ssl_ciphers DEFAULT:@SECLEVEL=0;"
            } else {
                "ssl_protocols TLSv1.2 TLSv1.3;"
            };
            format!(
                "listen 127.0.0.1:{port} ssl;\n    server_name app.test;\n    ssl_certificate {};\n    ssl_certificate_key {};\n    {protocols}",
                cert.display(),
                key.display()
            )
        };
        let servers = format!(
            r##"
  server {{
    {good_tls}
    add_header Strict-Transport-Security "max-age=31536000; includeSubDomains" always;
    add_header Content-Security-Policy "default-src 'self'; frame-ancestors 'none'" always;
    add_header X-Frame-Options DENY always;
    add_header X-Content-Type-Options nosniff always;
    add_header X-XSS-Protection "1; mode=block" always;
    add_header Referrer-Policy strict-origin-when-cross-origin always;
    add_header Access-Control-Allow-Origin https://app.test always;
    location /health {{ default_type application/json; return 200 '{{"status":"ok","checks":{{"database":"ok"}}}}'; }}
    location /admin {{ return 403; }}
    location /missing {{ return 404; }}
    location /gone {{ return 410; }}
    location /portal {{ return 302 /login; }}
    location /broken {{ return 500; }}
    location /metrics {{ default_type text/plain; return 200 "# TYPE up gauge\nup 1\n"; }}
    location / {{ return 200 "home"; }}
  }}
  server {{
    {bad_tls}
    add_header Strict-Transport-Security "max-age=300" always;
    add_header Content-Security-Policy "script-src 'self' 'unsafe-inline'" always;
    add_header X-Frame-Options SAMEORIGIN always;
    add_header X-Frame-Options DENY always;
    add_header X-XSS-Protection 0 always;
    add_header Referrer-Policy unsafe-url always;
    add_header Access-Control-Allow-Origin $http_origin always;
    add_header Access-Control-Allow-Credentials true always;
    location /health {{ default_type application/json; return 503 '{{"status":"degraded","checks":{{"database":"down"}}}}'; }}
    location /admin {{ return 200 "welcome, admin"; }}
    location /metrics {{ default_type text/html; return 200 "<!DOCTYPE html><p>metrics</p>"; }}
    location / {{ return 200 "home"; }}
  }}
  server {{
    {weak_tls}
    location / {{ return 200 "weak"; }}
  }}
  server {{
    listen 127.0.0.1:{legacy_only} ssl;
    ssl_certificate {fullchain};
    ssl_certificate_key {key};
    ssl_protocols TLSv1 TLSv1.1;
    ssl_ciphers DEFAULT:@SECLEVEL=0;
    location / {{ return 200 "old"; }}
  }}
  server {{
    listen 127.0.0.1:{redirect};
    return 301 https://$host:{good}$request_uri;
  }}
  server {{
    listen 127.0.0.1:{temporary};
    return 302 https://$host:{good}$request_uri;
  }}
"##,
            good_tls = tls(good, &fullchain, &key, false),
            bad_tls = tls(bad, &fullchain, &key, true),
            weak_tls = tls(weak_port, &weak_cert, &weak_key, true),
            fullchain = fullchain.display(),
            key = key.display(),
        );
        let nginx = Nginx::start(&servers, &[good, bad, weak_port, legacy_only, redirect, temporary]);
        Site { nginx, pki, good, bad, weak: weak_port, legacy_only, redirect, temporary }
    }

    fn trust(&self) -> String {
        format!("system_roots = false\nca_files = [\"{}\"]", self.pki.root_file().display())
    }

    fn https(&self, port: u16, path: &str) -> String {
        format!("url = \"https://127.0.0.1:{port}{path}\"\n{}", self.trust())
    }
}

#[test]
fn nginx_cases_decide_every_http_item() {
    let site = Site::start();
    let _ = &site.nginx;

    // Security headers, hardened and misconfigured.
    let headers = |port| format!("kind = \"http_headers\"\n{}\nhsts_include_subdomains = true", site.https(port, "/"));
    let good = run_once(&headers(site.good), HEADER_ASPECTS).unwrap();
    for aspect in HEADER_ASPECTS {
        assert_eq!(outcome(&good, aspect).verdict, Verdict::Pass, "{aspect}: {:?}", outcome(&good, aspect));
    }
    let bad = run_once(&headers(site.bad), HEADER_ASPECTS).unwrap();
    assert_eq!(
        outcome(&bad, "hsts").reason,
        "Strict-Transport-Security max-age=300; want max-age at least 31536000s and includeSubDomains"
    );
    let csp = outcome(&bad, "csp");
    assert_eq!(csp.verdict, Verdict::Pass, "present, with warnings");
    assert!(csp.reason.contains("script-src allows 'unsafe-inline', no default-src fallback"), "{}", csp.reason);
    assert_eq!(outcome(&bad, "frame_options").cause, Some(Cause::Invalid), "sent twice with different values");
    assert_eq!(outcome(&bad, "content_type_options").cause, Some(Cause::Missing));
    assert_eq!(outcome(&bad, "xss_protection").reason, "X-XSS-Protection: 0; want 1; mode=block");
    assert_eq!(outcome(&bad, "referrer_policy").cause, Some(Cause::Insecure));
    // Current advice is `0`: configurable.
    let modern = run_once(&format!("{}\nxss_protection = \"0\"", headers(site.bad)), &["xss_protection"]).unwrap();
    assert_eq!(outcome(&modern, "xss_protection").verdict, Verdict::Pass);

    // Health endpoint: status, JSON body, latency.
    let health = |port| {
        format!(
            "kind = \"http\"\n{}\njson_path = \"checks.database\"\njson_equals = \"ok\"\nmax_mean_latency = \"5s\"\nmax_p95_latency = \"5s\"",
            site.https(port, "/health")
        )
    };
    let aspects = ["status", "body", "latency_mean", "latency_p95"];
    let healthy = run_once(&health(site.good), &aspects).unwrap();
    for aspect in aspects {
        assert_eq!(outcome(&healthy, aspect).verdict, Verdict::Pass, "{aspect}: {:?}", outcome(&healthy, aspect));
    }
    let histogram = healthy.samples.iter().find(|s| s.family.name == "checklist_http_request_duration_seconds");
    assert!(histogram.is_some(), "{healthy:?}");
    let degraded = run_once(&health(site.bad), &aspects).unwrap();
    assert_eq!(
        outcome(&degraded, "status").reason,
        format!("https://127.0.0.1:{}/health answered 503; want 200", site.bad)
    );
    assert_eq!(outcome(&degraded, "body").reason, "`checks.database` is \"down\"; want \"ok\"");

    // HTTPS enforced.
    let redirect = |port| format!("kind = \"https_redirect\"\nurl = \"http://127.0.0.1:{port}/\"");
    let enforced = run_once(&redirect(site.redirect), &["enforced"]).unwrap();
    assert_eq!(outcome(&enforced, "enforced").verdict, Verdict::Pass, "{enforced:?}");
    let temporary = run_once(&redirect(site.temporary), &["enforced"]).unwrap();
    assert_eq!(outcome(&temporary, "enforced").cause, Some(Cause::UnexpectedStatus));
    assert!(outcome(&temporary, "enforced").reason.contains("answers 302"), "{temporary:?}");

    // CORS.
    let cors = |port| format!("kind = \"cors\"\n{}\norigin = \"https://evil.example\"", site.https(port, "/api"));
    assert_eq!(outcome(&run_once(&cors(site.good), &["restricted"]).unwrap(), "restricted").verdict, Verdict::Pass);
    let reflected = run_once(&cors(site.bad), &["restricted"]).unwrap();
    assert_eq!(
        outcome(&reflected, "restricted").reason,
        "the foreign origin https://evil.example is echoed in Access-Control-Allow-Origin with credentials"
    );

    // Admin restricted.
    let admin = |port| format!("kind = \"http_restricted\"\n{}", site.https(port, "/admin"));
    assert_eq!(outcome(&run_once(&admin(site.good), &["restricted"]).unwrap(), "restricted").verdict, Verdict::Pass);
    assert_eq!(outcome(&run_once(&admin(site.bad), &["restricted"]).unwrap(), "restricted").cause, Some(Cause::Open));

    // Metrics endpoint.
    let metrics = |port| format!("kind = \"metrics_endpoint\"\n{}", site.https(port, "/metrics"));
    assert_eq!(outcome(&run_once(&metrics(site.good), &["valid"]).unwrap(), "valid").verdict, Verdict::Pass);
    let html = run_once(&metrics(site.bad), &["valid"]).unwrap();
    assert!(
        outcome(&html, "valid").reason.contains("serves an invalid exposition: line 1: bad metric name"),
        "{html:?}"
    );
}

#[test]
fn nginx_with_tls_1_0_and_1_1_enabled_or_only_fails_legacy_refused_and_a_1024_bit_key_is_weak() {
    let site = Site::start();
    let tls = |port: u16, name: &str| {
        format!(
            "kind = \"tls\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"{name}\"\nsystem_roots = false\nca_files = [\"{}\"]",
            site.pki.root_file().display()
        )
    };
    let hardened = run_once(&tls(site.good, "app.test"), &["legacy_refused", "trusted", "chain_complete"]).unwrap();
    for aspect in ["legacy_refused", "trusted", "chain_complete"] {
        assert_eq!(outcome(&hardened, aspect).verdict, Verdict::Pass, "{aspect}: {:?}", outcome(&hardened, aspect));
    }
    let legacy = run_once(&tls(site.bad, "app.test"), &["legacy_refused"]).unwrap();
    let verdict = outcome(&legacy, "legacy_refused");
    assert_eq!(verdict.cause, Some(Cause::Insecure), "{verdict:?}");
    assert!(verdict.reason.starts_with("the server accepts TLS 1.0 and TLS 1.1"), "{}", verdict.reason);

    let only_legacy = run_once(&tls(site.legacy_only, "app.test"), &["legacy_refused", "trusted"]).unwrap();
    let verdict = outcome(&only_legacy, "legacy_refused");
    assert!(verdict.reason.starts_with("the server accepts TLS 1.0 and TLS 1.1 but not TLS 1.2 or 1.3"), "{verdict:?}");
    assert_eq!(outcome(&only_legacy, "trusted").verdict, Verdict::Error);

    let weak = run_once(&tls(site.weak, "weak.test"), &["strength", "trusted"]).unwrap();
    assert_eq!(outcome(&weak, "strength").reason, "weak.test has an RSA key of 1024 bits; want at least 2048");
    assert_eq!(outcome(&weak, "strength").cause, Some(Cause::Weak));
}

#[test]
fn a_1024_bit_rsa_key_fails_strength_alone_and_trusted_says_the_key_is_too_weak() {
    let site = Site::start();
    let check = format!(
        "kind = \"tls\"\naddress = \"127.0.0.1:{}\"\nserver_name = \"weak.test\"\nsystem_roots = false\nca_files = [\"{}\"]",
        site.weak,
        site.pki.root_file().display()
    );
    let report = run_once(&check, &["strength", "trusted"]).unwrap();
    assert_eq!(outcome(&report, "strength").cause, Some(Cause::Weak), "{report:?}");
    let trusted = outcome(&report, "trusted");
    assert_eq!(trusted.verdict, Verdict::Pass, "the chain verifies; the weak key is strength's fault: {trusted:?}");
    assert!(!trusted.reason.contains("BadSignature"), "{}", trusted.reason);
    assert!(trusted.reason.contains("the server's RSA key of 1024 bits is too weak"), "{}", trusted.reason);
}

#[test]
fn restricted_paths_pass_when_refused_missing_gone_or_redirected_and_fail_only_when_served() {
    let site = Site::start();
    let admin = |port, path: &str, extra: &str| {
        let check = format!("kind = \"http_restricted\"\n{}\n{extra}", site.https(port, path));
        run_once(&check, &["restricted"]).unwrap().outcome("restricted").cloned().unwrap()
    };
    let url = |port, path: &str| format!("https://127.0.0.1:{port}{path}");
    let protected = "one of 401, 403, 404, 410, 3xx";
    let login = format!("302 to {}", url(site.good, "/login"));
    for (path, seen) in [("/admin", "403"), ("/missing", "404"), ("/gone", "410"), ("/portal", login.as_str())] {
        let verdict = admin(site.good, path, "");
        assert_eq!(verdict.verdict, Verdict::Pass, "{path}: {verdict:?}");
        assert_eq!(verdict.reason, format!("{} answered {seen}; want {protected} from here", url(site.good, path)));
    }
    let open = admin(site.bad, "/admin", "");
    assert_eq!(open.cause, Some(Cause::Open));
    assert_eq!(
        open.reason,
        format!("{} answered 200: it serves the content; want {protected} from here", url(site.bad, "/admin"))
    );
    let broken = admin(site.good, "/broken", "");
    assert_eq!(broken.cause, Some(Cause::UnexpectedStatus));
    assert_eq!(broken.reason, format!("{} answered 500; want {protected} from here", url(site.good, "/broken")));
    // A stricter site says which statuses count.
    let strict = admin(site.good, "/missing", "protected_statuses = [401, 403]");
    assert_eq!(strict.cause, Some(Cause::UnexpectedStatus));
    assert_eq!(strict.reason, format!("{} answered 404; want one of 401, 403 from here", url(site.good, "/missing")));
}

fn plain_http(mut stream: TcpStream, _: SocketAddr) {
    read_request(&mut stream);
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
}

fn megabyte_of_headers(mut stream: TcpStream, _: SocketAddr) {
    read_request(&mut stream);
    let _ = stream.write_all(b"HTTP/1.1 200 OK\r\n");
    let line = format!("X-Filler: {}\r\n", "a".repeat(1000));
    for _ in 0..1024 {
        if stream.write_all(line.as_bytes()).is_err() {
            return;
        }
    }
    let _ = stream.write_all(b"Content-Length: 0\r\n\r\n");
}

fn trickle(mut stream: TcpStream, _: SocketAddr) {
    read_request(&mut stream);
    for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" {
        if stream.write_all(&[*byte]).is_err() {
            return;
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn redirect_loop(mut stream: TcpStream, address: SocketAddr) {
    read_request(&mut stream);
    let answer = format!("HTTP/1.1 302 Found\r\nLocation: http://{address}/loop\r\nContent-Length: 0\r\n\r\n");
    let _ = stream.write_all(answer.as_bytes());
}

fn health_check(url: &str) -> String {
    format!("kind = \"http\"\nurl = \"{url}\"\nrequest_timeout = \"2s\"\nfollow_redirects = true\nmax_redirects = 4")
}

#[test]
fn hostile_servers_give_error_verdicts_with_clear_reasons_within_the_request_timeout() {
    let cases: [(&str, SocketAddr, &str, Cause, &str); 6] = [
        ("silent", hostile(silent), "http", Cause::Timeout, "gave no complete answer within 2s"),
        ("garbage", hostile(garbage), "http", Cause::Io, "did not give a valid HTTP answer"),
        ("plain HTTP on a TLS port", hostile(plain_http), "https", Cause::Io, "does not speak TLS"),
        ("a megabyte of headers", hostile(megabyte_of_headers), "http", Cause::Io, "did not give a valid HTTP answer"),
        ("one byte a second", hostile(trickle), "http", Cause::Timeout, "gave no complete answer within 2s"),
        ("a redirect loop", hostile(redirect_loop), "http", Cause::Invalid, "redirects more than 4 times (a loop?)"),
    ];
    for (name, address, scheme, cause, words) in cases {
        let started = Instant::now();
        let failure = run_once(&health_check(&format!("{scheme}://{address}/health")), &["status"]).unwrap_err();
        assert_eq!(failure.cause, cause, "{name}: {failure:?}");
        assert!(failure.reason.contains(words), "{name}: {}", failure.reason);
        // The request timeout bounds it; the check's own timeout (20s) never has to.
        assert!(started.elapsed() < Duration::from_secs(10), "{name} took {:?}", started.elapsed());
    }
}

#[test]
fn hostile_servers_do_not_hold_up_other_items_in_the_daemon() {
    let good = hostile(plain_http);
    let mut config = String::new();
    for (id, address) in
        [("h.silent", hostile(silent)), ("h.trickle", hostile(trickle)), ("h.headers", hostile(megabyte_of_headers))]
    {
        config.push_str(&format!(
            "[[checks]]\n{}\ntimeout = \"5s\"\n{}\n",
            health_check(&format!("http://{address}/")),
            item(id, "warning", Some("status"))
        ));
    }
    config.push_str(&format!(
        "[[checks]]\n{}\ntimeout = \"5s\"\n{}\n",
        health_check(&format!("http://{good}/health")),
        item("h.good", "critical", Some("status"))
    ));
    // A second kind on the same URL: its series must not collide with the first one's.
    config.push_str(&format!(
        "[[checks]]\nkind = \"http_headers\"\nurl = \"http://{good}/health\"\n{}\n",
        item("h.good_headers", "warning", Some("hsts"))
    ));
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    wait_for("every item to have a verdict", Duration::from_secs(30), || {
        ["h.silent", "h.trickle", "h.headers", "h.good", "h.good_headers"]
            .iter()
            .all(|id| daemon.item(id)["state"] != "pending")
    });
    assert_eq!(daemon.item("h.good")["state"], "pass");
    let text = daemon.metrics_text();
    assert_eq!(common::promtool_complaints(&text), None, "{text}");
    let metrics = common::Metrics::parse(&text);
    let target = format!("http://{good}/health");
    let count = metrics.value("checklist_http_request_duration_seconds_count", &[("target", &target)]);
    assert!(count.is_some_and(|c| c >= 1.0), "{text}");
    assert_eq!(metrics.value("checklist_http_status_code", &[("target", &target), ("kind", "http")]), Some(200.0));
    assert_eq!(
        metrics.value("checklist_http_status_code", &[("target", &target), ("kind", "http_headers")]),
        Some(200.0)
    );
    assert_eq!(
        metrics.value("checklist_http_request_duration_seconds_bucket", &[("target", &target), ("le", "+Inf")]),
        count
    );
    for id in ["h.silent", "h.trickle", "h.headers"] {
        let item = daemon.item(id);
        assert_eq!(item["state"], "error", "{item}");
        assert!(!item["reason"].as_str().unwrap_or_default().is_empty(), "{item}");
    }
}

#[test]
fn resolve_reaches_a_name_that_does_not_resolve_with_its_sni_and_host() {
    let pki = Pki::new();
    let chain = pki.chain(&Leaf::valid(&["app.test.invalid"]), true);
    let files = pki.dir.path();
    let cert = write(files, "fullchain.pem", &format!("{}{}", chain.leaf_pem, pki.intermediate_pem));
    let key = write(files, "key.pem", &chain.key_pem);
    let port = closed_port();
    // Answers with the SNI name and the Host it saw; any other name gets nginx's default 421.
    let servers = format!(
        r#"
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name app.test.invalid;
    ssl_certificate {cert};
    ssl_certificate_key {key};
    location / {{ default_type application/json; return 200 '{{"seen":"sni=$ssl_server_name host=$http_host"}}'; }}
  }}
"#,
        cert = cert.display(),
        key = key.display()
    );
    let _nginx = Nginx::start(&servers, &[port]);
    // No lookup of the name is made (it would leave loopback): the address is given.
    let check = |resolve: &str| {
        format!(
            "kind = \"http\"\nurl = \"https://app.test.invalid/health\"\n{resolve}\nsystem_roots = false\nca_files = [\"{}\"]\njson_path = \"seen\"\njson_equals = \"sni=app.test.invalid host=app.test.invalid\"",
            pki.root_file().display()
        )
    };
    let report = run_once(&check(&format!("resolve = \"127.0.0.1:{port}\"")), &["status", "body"]).unwrap();
    assert_eq!(outcome(&report, "status").verdict, Verdict::Pass, "{report:?}");
    assert_eq!(outcome(&report, "body").verdict, Verdict::Pass, "{report:?}");
}

#[test]
fn an_http_check_rebuilds_its_client_when_its_ca_file_is_replaced() {
    let pki = Pki::new();
    let server = common::pki::TlsServer::start(&pki.chain(&Leaf::valid(&["127.0.0.1"]), true));
    let dir = tempfile::tempdir().unwrap();
    let ca_file = write(dir.path(), "ca.pem", &pki.root_pem);
    let check = format!(
        "kind = \"http\"\nurl = \"https://{}/\"\nsystem_roots = false\nca_files = [\"{}\"]",
        server.address,
        ca_file.display()
    );
    let repeated = common::probe::Repeated::new(&check, &["status"]);
    assert_eq!(outcome(&repeated.run().unwrap(), "status").verdict, Verdict::Pass);
    // Another root written over the file in place: the next run must not trust the server.
    write(dir.path(), "ca.pem", &Pki::new().root_pem);
    let failure = repeated.run().unwrap_err();
    assert_eq!(failure.cause, Cause::Untrusted, "{failure:?}");
    write(dir.path(), "ca.pem", &pki.root_pem);
    assert_eq!(outcome(&repeated.run().unwrap(), "status").verdict, Verdict::Pass);
    std::fs::remove_file(&ca_file).unwrap();
    let failure = repeated.run().unwrap_err();
    assert_eq!(failure.cause, Cause::NotFound, "{failure:?}");
    assert!(failure.reason.contains(&ca_file.display().to_string()), "{failure:?}");
}
