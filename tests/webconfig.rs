//! `--web.config.file` and `--web.enable-lifecycle` on the real binary, with real clients:
//! reqwest (rustls) and curl (OpenSSL) over plain HTTP, TLS, TLS with basic auth and mutual TLS,
//! and a real Prometheus scraping over TLS with basic auth. Certificates come from rcgen
//! (`common::pki`); every address is on loopback.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::pki::{Chain, Leaf, Pki};
use common::prometheus::Prometheus;
use common::{item, promtool_complaints, wait_for, Daemon, BINARY};

const PASSWORD: &str = "correct horse battery staple";

fn checklist() -> String {
    format!(
        "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\ninterval = \"1m\"\n{}\n",
        item("infra.cpu", "critical", Some("minimum"))
    )
}

/// A checklist config, a server certificate for 127.0.0.1 and localhost (leaf and intermediate
/// in one file, as certbot writes `fullchain.pem`) and its key, all in one directory.
struct Setup {
    pki: Pki,
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let pki = Pki::new();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("checklist.toml"), checklist()).unwrap();
        let server = pki.chain(&Leaf::valid(&["127.0.0.1", "localhost"]), true);
        std::fs::write(dir.path().join("server.pem"), format!("{}{}", server.leaf_pem, pki.intermediate_pem)).unwrap();
        std::fs::write(dir.path().join("server.key"), &server.key_pem).unwrap();
        std::fs::write(dir.path().join("clients-ca.pem"), &pki.root_pem).unwrap();
        Setup { pki, dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn config(&self) -> PathBuf {
        self.path("checklist.toml")
    }

    /// Writes `web.yml`; paths inside are relative to its directory.
    fn web_config(&self, text: &str) -> PathBuf {
        let path = self.path("web.yml");
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A reqwest client that trusts only the test root, with a client certificate if given.
    fn client_builder(&self, identity: Option<&Chain>) -> reqwest::blocking::ClientBuilder {
        let builder = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .tls_certs_only([reqwest::Certificate::from_pem(self.pki.root_pem.as_bytes()).unwrap()]);
        match identity {
            None => builder,
            Some(chain) => {
                let pem = format!("{}{}", chain.leaf_pem, chain.key_pem);
                builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap())
            }
        }
    }

    fn client(&self, identity: Option<&Chain>) -> reqwest::blocking::Client {
        self.client_builder(identity).build().unwrap()
    }

    /// The daemon over HTTPS; its helper client sends `alice`'s password when `authenticated`.
    fn start_tls(&self, web: &Path, identity: Option<&Chain>, authenticated: bool) -> Daemon {
        let mut builder = self.client_builder(identity);
        if authenticated {
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(reqwest::header::AUTHORIZATION, basic("alice", PASSWORD).parse().unwrap());
            builder = builder.default_headers(headers);
        }
        Daemon::launch(&self.config(), &["--web.config.file", web.to_str().unwrap()], "https", builder.build().unwrap())
    }

    /// A client certificate signed by this PKI's root.
    fn client_cert(&self, name: &str) -> Chain {
        let chain = self.pki.chain(&Leaf { by_root: true, ..Leaf::valid(&[name]) }, false);
        std::fs::write(self.path(&format!("{name}.pem")), &chain.leaf_pem).unwrap();
        std::fs::write(self.path(&format!("{name}.key")), &chain.key_pem).unwrap();
        chain
    }
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine;
    format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}")))
}

/// A bcrypt hash in the `$2y$` form htpasswd writes (the same algorithm as `$2b$`); cost 4
/// keeps the tests quick.
fn htpasswd_hash(password: &str) -> String {
    bcrypt::hash(password, 4).unwrap().replacen("$2b$", "$2y$", 1)
}

/// Runs curl with `args` and returns the HTTP status it printed ("000" when no answer came)
/// and its exit code.
fn curl(args: &[&str]) -> (String, i32) {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "10", "--output", "/dev/null", "--write-out", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed (tests/run.sh installs it)");
    (String::from_utf8_lossy(&output.stdout).into_owned(), output.status.code().unwrap_or(-1))
}

#[test]
fn without_a_web_config_plain_http_serves_and_lifecycle_endpoints_are_refused_by_default() {
    let setup = Setup::new();
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let baseline = setup.path("baseline.json");
    let daemon = Daemon::launch(&setup.config(), &["--baseline.file", baseline.to_str().unwrap()], "http", client);
    daemon.wait_ready();
    assert_eq!(daemon.get("/metrics").status(), 200);
    for (method, path) in [("POST", "/-/reload"), ("PUT", "/-/reload"), ("POST", "/api/v1/baseline")] {
        let response = daemon.client.request(method.parse().unwrap(), daemon.url(path)).send().unwrap();
        assert_eq!(response.status(), 403, "{method} {path}");
        assert_eq!(
            response.text().unwrap(),
            "lifecycle endpoints are disabled; start the daemon with --web.enable-lifecycle to use them (SIGHUP still reloads the config)\n"
        );
    }
    assert!(!baseline.exists(), "a refused baseline request wrote the file");
    assert_eq!(daemon.get("/-/reload").status(), 405, "a wrong method is still a wrong method");
    daemon.signal("HUP");
    wait_for("the SIGHUP reload", Duration::from_secs(30), || {
        daemon.logs().iter().any(|line| line.contains("config reloaded"))
    });
}

#[test]
fn tls_serves_metrics_page_and_api_to_reqwest_and_curl_and_refuses_plain_http() {
    let setup = Setup::new();
    let web = setup.web_config("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
    let daemon = setup.start_tls(&web, None, false);
    daemon.wait_ready();
    for path in ["/metrics", "/", "/api/v1/items", "/-/healthy"] {
        assert_eq!(daemon.get(path).status(), 200, "{path}");
    }
    let exposition = daemon.metrics_text();
    assert_eq!(promtool_complaints(&exposition), None, "{exposition}");
    assert_eq!(daemon.metrics().value("checklist_item_passing", &[("id", "infra.cpu")]), Some(1.0));
    let url = daemon.url("/metrics");
    let root = setup.pki.root_file();
    assert_eq!(curl(&["--cacert", root.to_str().unwrap(), &url]), ("200".to_string(), 0));
    assert_eq!(curl(&["--cacert", root.to_str().unwrap(), "--tls-max", "1.2", &url]).0, "200", "TLS 1.2 by default");
    let plain = reqwest::blocking::Client::new().get(format!("http://{}/metrics", daemon.address)).send();
    assert!(plain.is_err(), "plain HTTP to the TLS port got an answer: {plain:?}");
    let untrusting = Setup::new().client(None).get(&url).send();
    assert!(untrusting.is_err(), "a client that does not trust the CA connected");
    daemon.wait_log("TLS handshake failed");
}

#[test]
fn basic_auth_over_tls_lets_in_only_the_right_password() {
    let setup = Setup::new();
    let web = setup.web_config(&format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  alice: {}\n  bob: {}\n",
        htpasswd_hash(PASSWORD),
        htpasswd_hash("bob's own")
    ));
    let daemon = setup.start_tls(&web, None, true);
    daemon.wait_ready();
    assert_eq!(daemon.get("/metrics").status(), 200);
    assert_eq!(daemon.get("/metrics").status(), 200, "again, from the cache");
    let client = setup.client(None);
    let url = daemon.url("/api/v1/items");
    let bob = client.get(&url).basic_auth("bob", Some("bob's own")).send().unwrap();
    assert_eq!(bob.status(), 200);
    for (what, request) in [
        ("wrong password", client.get(&url).basic_auth("alice", Some("Correct horse battery staple"))),
        ("another user's password", client.get(&url).basic_auth("bob", Some(PASSWORD))),
        ("unknown user", client.get(&url).basic_auth("mallory", Some(PASSWORD))),
        ("no password", client.get(&url)),
        ("not basic auth", client.get(&url).bearer_auth(PASSWORD)),
    ] {
        let response = request.send().unwrap();
        assert_eq!(response.status(), 401, "{what}");
        assert_eq!(
            response.headers()["www-authenticate"],
            "Basic realm=\"checklist-exporter\", charset=\"UTF-8\"",
            "{what}"
        );
        assert_eq!(response.text().unwrap(), "Unauthorized\n");
    }
    let root = setup.pki.root_file();
    let root = root.to_str().unwrap();
    let right = format!("alice:{PASSWORD}");
    assert_eq!(curl(&["--cacert", root, "--user", &right, &url]).0, "200");
    assert_eq!(curl(&["--cacert", root, "--user", "alice:wrong", &url]).0, "401");
    assert_eq!(curl(&["--cacert", root, &url]).0, "401");
    let logs = daemon.logs().join("\n");
    assert!(logs.contains("basic auth refused"));
    assert!(!logs.contains(PASSWORD) && !logs.contains("$2y$"), "a secret reached the log");
}

#[test]
fn mutual_tls_admits_only_certificates_from_the_client_ca() {
    let setup = Setup::new();
    let good = setup.client_cert("scraper.example");
    let web = setup.web_config(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients-ca.pem\n",
    );
    let daemon = setup.start_tls(&web, Some(&good), false);
    daemon.wait_ready();
    assert_eq!(daemon.get("/metrics").status(), 200);
    let url = daemon.url("/metrics");

    assert!(setup.client(None).get(&url).send().is_err(), "no client certificate was let in");
    let stranger = Pki::new().chain(&Leaf { by_root: true, ..Leaf::valid(&["scraper.example"]) }, false);
    assert!(setup.client(Some(&stranger)).get(&url).send().is_err(), "a certificate from another CA was let in");

    let root = setup.pki.root_file();
    let root = root.to_str().unwrap();
    let (cert, key) = (setup.path("scraper.example.pem"), setup.path("scraper.example.key"));
    let with_cert = ["--cacert", root, "--cert", cert.to_str().unwrap(), "--key", key.to_str().unwrap(), &url];
    assert_eq!(curl(&with_cert), ("200".to_string(), 0));
    let (status, code) = curl(&["--cacert", root, &url]);
    assert!(status == "000" && code != 0, "curl without a certificate: {status} exit {code}");
}

#[test]
fn client_allowed_sans_narrow_the_client_ca_to_named_clients() {
    let setup = Setup::new();
    let allowed = setup.client_cert("prometheus.example");
    let other = setup.client_cert("scraper.example");
    let web = setup.web_config(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: RequireAndVerifyClientCert\n  client_ca_file: clients-ca.pem\n  client_allowed_sans: [prometheus.example]\n",
    );
    let daemon = setup.start_tls(&web, Some(&allowed), false);
    daemon.wait_ready();
    assert_eq!(daemon.get("/metrics").status(), 200);
    assert!(setup.client(Some(&other)).get(daemon.url("/metrics")).send().is_err(), "a SAN not on the list got in");
}

#[test]
fn min_version_tls13_refuses_a_tls12_only_client() {
    let setup = Setup::new();
    let web =
        setup.web_config("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_version: TLS13\n");
    let daemon = setup.start_tls(&web, None, false);
    daemon.wait_ready();
    let url = daemon.url("/metrics");
    let root = setup.pki.root_file();
    let root = root.to_str().unwrap();
    assert_eq!(curl(&["--cacert", root, &url]).0, "200");
    let (status, code) = curl(&["--cacert", root, "--tls-max", "1.2", &url]);
    assert!(status == "000" && code != 0, "a TLS 1.2 client got {status} (exit {code})");
    let tls12 = setup.client_builder(None).tls_version_max(reqwest::tls::Version::TLS_1_2).build().unwrap();
    assert!(tls12.get(&url).send().is_err());
}

#[test]
fn configured_headers_appear_on_every_answer_including_refusals() {
    let setup = Setup::new();
    let web = setup.web_config(&format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nhttp_server_config:\n  headers:\n    Strict-Transport-Security: max-age=31536000; includeSubDomains\n    X-Frame-Options: sameorigin\nbasic_auth_users:\n  alice: {}\n",
        htpasswd_hash(PASSWORD)
    ));
    let daemon = setup.start_tls(&web, None, true);
    daemon.wait_ready();
    let unauthenticated = setup.client(None).get(daemon.url("/")).send().unwrap();
    for response in [daemon.get("/"), daemon.get("/metrics"), unauthenticated] {
        let headers = response.headers();
        assert_eq!(headers["strict-transport-security"], "max-age=31536000; includeSubDomains");
        assert_eq!(headers["x-frame-options"], "sameorigin", "the configured value replaces the built-in DENY");
        assert_eq!(headers["x-content-type-options"], "nosniff", "built-in headers stay");
    }
}

#[test]
fn a_reload_applies_a_new_web_config_and_a_broken_one_keeps_the_old() {
    let setup = Setup::new();
    let web = setup.web_config("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
    let daemon = setup.start_tls(&web, None, true);
    daemon.wait_ready();
    let anonymous = setup.client(None);
    let url = daemon.url("/api/v1/items");
    assert_eq!(anonymous.get(&url).send().unwrap().status(), 200);

    setup.web_config(&format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  alice: {}\n",
        htpasswd_hash(PASSWORD)
    ));
    daemon.signal("HUP");
    // The anonymous client keeps its connection open: users apply per request, not per connection.
    wait_for("basic auth after the reload", Duration::from_secs(30), || {
        anonymous.get(&url).send().unwrap().status() == 401
    });
    assert_eq!(daemon.get("/api/v1/items").status(), 200);

    setup.web_config("tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n");
    daemon.signal("HUP");
    wait_for("the refused reload", Duration::from_secs(30), || {
        daemon.metrics().value("checklist_config_last_reload_successful", &[]) == Some(0.0)
    });
    let missing = setup.path("missing.pem");
    let expected = format!(
        "--web.config.file {}: tls_server_config.cert_file: cannot read {}: no such file",
        web.display(),
        missing.display()
    );
    daemon.wait_log(&expected);
    assert_eq!(daemon.get("/metrics").status(), 200, "the previous web config keeps serving");
    assert_eq!(anonymous.get(&url).send().unwrap().status(), 401, "and keeps asking for a password");
}

/// The web config files a person gets wrong, each with the exact message `--config.check`
/// prints (exit 2); the daemon refuses to start on the same files (exit 1).
#[test]
fn bad_web_configs_are_refused_with_the_file_the_key_and_the_reason() {
    let setup = Setup::new();
    let file = setup.path("web.yml");
    let file = file.display();
    let missing = setup.path("missing.pem");
    let cases = [
        (
            "tls_server_config:\n  cert_file: missing.pem\n  key_file: server.key\n".to_string(),
            format!("--web.config.file {file}: tls_server_config.cert_file: cannot read {}: no such file", missing.display()),
        ),
        (
            "basic_auth_users:\n  alice: hunter2\n".to_string(),
            format!(
                "--web.config.file {file}: basic_auth_users.alice: not a bcrypt hash (expected `$2y$`, `$2b$` or `$2a$`, a cost and 53 characters, as `htpasswd -nBC 10 \"\" | tr -d ':\\n'` prints)"
            ),
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  min_versoin: TLS13\n".to_string(),
            format!(
                "--web.config.file {file}: tls_server_config.min_versoin: unknown field `min_versoin`, expected one of `cert`, `key`, `client_ca`, `cert_file`, `key_file`, `client_ca_file`, `client_auth_type`, `client_allowed_sans`, `min_version`, `max_version`, `cipher_suites`, `prefer_server_cipher_suites`, `curve_preferences` (line 4, column 3)"
            ),
        ),
        (
            "http_server_config:\n  headers:\n    Access-Control-Allow-Origin: '*'\n".to_string(),
            format!(
                "--web.config.file {file}: http_server_config.headers.Access-Control-Allow-Origin: this header cannot be configured; allowed: Content-Security-Policy, X-Frame-Options, X-Content-Type-Options, X-XSS-Protection, Strict-Transport-Security"
            ),
        ),
        (
            "tls_server_config:\n  cert_file: server.key\n  key_file: server.key\n".to_string(),
            format!("--web.config.file {file}: tls_server_config.cert_file: {} holds no PEM certificate", setup.path("server.key").display()),
        ),
        (
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.pem\n".to_string(),
            format!(
                "--web.config.file {file}: tls_server_config.key_file: {} holds no PEM private key (PKCS#8, PKCS#1 or SEC1)",
                setup.path("server.pem").display()
            ),
        ),
    ];
    for (text, expected) in &cases {
        let web = setup.web_config(text);
        let check = Command::new(BINARY)
            .args(["--config.check", "--config.file"])
            .arg(setup.config())
            .arg("--web.config.file")
            .arg(&web)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&check.stderr);
        assert_eq!(check.status.code(), Some(2), "{text}: {stderr}");
        assert_eq!(stderr.trim_end(), expected, "for\n{text}");
        assert!(!stderr.contains("hunter2"));

        let start = Command::new(BINARY)
            .args(["--log.format", "json", "--web.listen-address", "127.0.0.1:0", "--config.file"])
            .arg(setup.config())
            .arg("--web.config.file")
            .arg(&web)
            .output()
            .unwrap();
        assert_eq!(start.status.code(), Some(1), "the daemon started on\n{text}");
        let logged: Vec<serde_json::Value> =
            String::from_utf8_lossy(&start.stderr).lines().filter_map(|line| serde_json::from_str(line).ok()).collect();
        assert!(logged.iter().any(|l| l["msg"] == "exiting" && l["error"] == *expected), "{logged:?}");
    }

    let good = setup.web_config("tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n");
    let check = Command::new(BINARY)
        .args(["--config.check", "--config.file"])
        .arg(setup.config())
        .arg("--web.config.file")
        .arg(&good)
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&check.stdout).contains(&format!("{}: valid (TLS)", good.display())));
}

#[test]
fn prometheus_scrapes_over_tls_with_basic_auth() {
    let setup = Setup::new();
    let web = setup.web_config(&format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  prometheus: {}\n",
        htpasswd_hash(PASSWORD)
    ));
    let client = setup.client(None);
    let daemon = Daemon::launch(&setup.config(), &["--web.config.file", web.to_str().unwrap()], "https", client);
    let job = format!(
        "    scheme: https\n    tls_config:\n      ca_file: {}\n    basic_auth:\n      username: prometheus\n      password: \"{PASSWORD}\"\n",
        setup.pki.root_file().display()
    );
    let prometheus = Prometheus::start_with_job(daemon.address, None, &job);
    wait_for("Prometheus to scrape the item over TLS", Duration::from_secs(60), || {
        prometheus.query("checklist_item_passing{id=\"infra.cpu\"}").first().map(|(_, v)| *v) == Some(1.0)
    });
    assert_eq!(prometheus.query("up{job=\"checklist\"}")[0].1, 1.0);
}

/// What each `client_auth_type` admits: no certificate, a certificate from the client CA, and
/// one from another CA.
#[test]
fn each_client_auth_type_admits_what_go_would() {
    let setup = Setup::new();
    let ours = setup.client_cert("scraper.example");
    let stranger = Pki::new().chain(&Leaf { by_root: true, ..Leaf::valid(&["scraper.example"]) }, false);
    // (type, with the CA file, admits: none, ours, stranger)
    let table = [
        ("NoClientCert", false, [true, true, true]),
        ("RequestClientCert", false, [true, true, true]),
        ("RequireAnyClientCert", false, [false, true, true]),
        ("VerifyClientCertIfGiven", true, [true, true, false]),
        ("RequireAndVerifyClientCert", true, [false, true, false]),
    ];
    for (auth_type, with_ca, admits) in table {
        let ca = if with_ca { "  client_ca_file: clients-ca.pem\n" } else { "" };
        let web = setup.web_config(&format!(
            "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\n  client_auth_type: {auth_type}\n{ca}"
        ));
        let daemon = setup.start_tls(&web, Some(&ours), false);
        let warned = daemon.logs().iter().any(|l| l.contains("does not verify client certificates"));
        assert_eq!(
            warned,
            auth_type.starts_with("Re") && !auth_type.contains("Verify"),
            "{auth_type}: warning in the log"
        );
        let url = daemon.url("/-/healthy");
        for (identity, admitted) in [None, Some(&ours), Some(&stranger)].into_iter().zip(admits) {
            let answer = setup.client(identity).get(&url).send().map(|r| r.status().as_u16());
            assert_eq!(
                answer.is_ok(),
                admitted,
                "{auth_type} with {}: {answer:?}",
                identity.map_or("no certificate", |c| if std::ptr::eq(c, &ours) { "our CA's" } else { "another CA's" })
            );
        }
    }
}

#[test]
fn the_rate_limit_answers_429_once_the_burst_is_spent() {
    let setup = Setup::new();
    // One token an hour: nothing refills while the test runs.
    let web = setup.web_config("rate_limit:\n  interval: 1h\n  burst: 3\n");
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let daemon = Daemon::launch(&setup.config(), &["--web.config.file", web.to_str().unwrap()], "http", client);
    let statuses: Vec<u16> = (0..5).map(|_| daemon.get("/-/healthy").status().as_u16()).collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let limited = daemon.get("/metrics");
    assert_eq!(limited.headers()["retry-after"], "1");
    assert_eq!(limited.text().unwrap(), "Too Many Requests\n");
}

/// bcrypt at cost 10 takes a noticeable moment per attempt; wrong passwords queue for two
/// bcrypt slots, while a scraper whose password is cached never waits for them.
#[test]
fn a_flood_of_wrong_passwords_does_not_hold_up_a_scraper_whose_password_is_cached() {
    const FLOOD: usize = 12;
    let setup = Setup::new();
    let hash = bcrypt::hash(PASSWORD, 10).unwrap();
    let web = setup.web_config(&format!(
        "tls_server_config:\n  cert_file: server.pem\n  key_file: server.key\nbasic_auth_users:\n  alice: {hash}\n"
    ));
    let daemon = setup.start_tls(&web, None, true);
    daemon.wait_ready(); // the first request paid bcrypt; the password is cached from here on
    let url = daemon.url("/metrics");
    let flood: Vec<_> = (0..FLOOD)
        .map(|i| {
            let client = setup.client(None);
            let url = url.clone();
            std::thread::spawn(move || {
                client.get(url).basic_auth("alice", Some(format!("guess {i}"))).send().unwrap().status()
            })
        })
        .collect();
    let refusals = || daemon.logs().iter().filter(|l| l.contains("basic auth refused")).count();
    wait_for("the flood to reach bcrypt", Duration::from_secs(60), || refusals() >= 1);
    assert_eq!(daemon.get("/metrics").status(), 200);
    let refused_by_then = refusals();
    assert!(refused_by_then < FLOOD, "the scrape was answered only after all {FLOOD} wrong passwords");
    for attempt in flood {
        assert_eq!(attempt.join().unwrap(), 401);
    }
}

/// The example in the README is a file the daemon accepts.
#[test]
fn the_readme_example_web_config_is_valid() {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let start = readme.find("# /etc/checklist-exporter/web.yml\n").expect("the example in README.md");
    let example = &readme[start..start + readme[start..].find("```").unwrap()];
    let config = checklist_exporter::web::webconfig::parse(Path::new("/etc/checklist-exporter/web.yml"), example)
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(config.summary(), "TLS with client certificates (RequireAndVerifyClientCert), basic auth (1 user)");
    let hash = config.users["prometheus"].expose();
    assert!(bcrypt::verify("change me", hash).unwrap(), "the README says the hash is of \"change me\"");
}
