//! Many environments from one checklist (`[environments.NAME.vars]`): every item exists once per
//! environment with an `environment` label, decided against that environment's targets (here
//! two real rustls servers on loopback, one with a good certificate and one with an expired
//! one, and a port the test opens and closes); the page switches between environments; `check`,
//! `baseline` and regressions work per environment; `attest --environment` (and the API's
//! `environment`) signs off one environment's instance of an item.

mod common;

use std::process::Command;
use std::time::{Duration, SystemTime};

use common::pki::{Leaf, Pki, TlsServer, DAY};
use common::{closed_port, item, promtool_complaints, wait_for, Daemon, BINARY};

/// A secret only the staging environment's database URL carries: it must appear nowhere.
const CANARY: &str = "staging-db-canary-5f1e2d";

/// Two environments over one checklist: a TLS item (production's certificate is good, staging's
/// expired), a port item (production on `port`, staging on a closed port) and a database whose
/// password is a variable staging overrides.
fn config(pki: &Pki, good: &TlsServer, expired: &TlsServer, port: u16) -> String {
    format!(
        "[vars]\nweb = \"{good}\"\napp_port = {port}\ndb_password = \"not-the-canary\"\ndb_port = {db_port}\n\
         [environments.production.vars]\n\
         [environments.staging.vars]\nweb = \"{expired}\"\napp_port = {closed}\ndb_password = \"{CANARY}\"\n\
         [[checks]]\nkind = \"tls\"\naddress = \"${{web}}\"\nserver_name = \"app.test\"\nsystem_roots = false\nca_files = [\"{root}\"]\ninterval = \"1h\"\n{tls}\n\
         [[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:${{app_port}}\"\nexpect = \"open\"\ninterval = \"300ms\"\ntimeout = \"250ms\"\nconnect_timeout = \"200ms\"\n{port_item}\n\
         [[checks]]\nkind = \"postgres\"\nurl = \"postgres://app:${{db_password}}@127.0.0.1:${{db_port}}/app?sslmode=disable\"\nconnect_timeout = \"500ms\"\ninterval = \"1h\"\n{db}\n",
        good = good.address,
        expired = expired.address,
        closed = closed_port(),
        db_port = closed_port(),
        root = pki.root_file().display(),
        tls = item("web.tls", "critical", Some("trusted")),
        port_item = item("app.port", "critical", None),
        db = item("db.running", "warning", Some("running")),
    )
}

struct Setup {
    _pki: Pki,
    _good: TlsServer,
    _expired: TlsServer,
    listener: Option<std::net::TcpListener>,
    dir: tempfile::TempDir,
    config: std::path::PathBuf,
}

fn setup() -> Setup {
    let pki = Pki::new();
    let good = TlsServer::start(&pki.chain(&Leaf::valid(&["app.test"]), true));
    let mut old = Leaf::valid(&["app.test"]);
    old.not_before = SystemTime::now() - 100 * DAY;
    old.not_after = SystemTime::now() - 10 * DAY;
    let expired = TlsServer::start(&pki.chain(&old, true));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config(&pki, &good, &expired, listener.local_addr().unwrap().port())).unwrap();
    Setup { _pki: pki, _good: good, _expired: expired, listener: Some(listener), dir, config: path }
}

fn run(setup: &Setup, args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(BINARY).args(args).arg("--config.file").arg(&setup.config).output().unwrap();
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

#[test]
fn each_environment_has_the_item_once_with_its_own_verdict_label_and_page() {
    let setup = setup();
    let daemon = Daemon::start_with(&setup.config, &[]);
    daemon.wait_ready();
    let exposition = daemon.metrics_text();
    let metrics = daemon.metrics();
    let passing = |id: &str, environment: &str| {
        metrics.value("checklist_item_passing", &[("id", id), ("environment", environment)])
    };
    assert_eq!(passing("web.tls", "production"), Some(1.0), "{exposition}");
    assert_eq!(passing("web.tls", "staging"), Some(0.0));
    assert_eq!(passing("app.port", "production"), Some(1.0));
    assert_eq!(passing("app.port", "staging"), Some(0.0));
    assert_eq!(metrics.count("checklist_item_info"), 6, "three items in each of two environments");
    let environments = |family: &str| {
        let mut values = metrics.label_values(family, "environment");
        values.sort();
        values
    };
    assert_eq!(
        environments("checklist_item_info"),
        ["production", "production", "production", "staging", "staging", "staging"]
    );
    // The same check in two environments exports its value series once per environment.
    assert_eq!(
        environments("checklist_tls_cert_not_after_timestamp_seconds"),
        ["production", "staging"],
        "{exposition}"
    );
    assert_eq!(promtool_complaints(&exposition), None, "the exposition lints clean");

    let staging: serde_json::Value = daemon.get("/api/v1/items?environment=staging").json().unwrap();
    let items = staging["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(items.iter().all(|item| item["environment"] == "staging"), "{staging}");
    let tls = items.iter().find(|item| item["id"] == "web.tls").unwrap();
    assert!(tls["reason"].as_str().unwrap().starts_with("the certificate expired 10 days ago"), "{tls}");
    assert_eq!(daemon.items()["items"].as_array().unwrap().len(), 6, "without a choice, every environment");

    // The page shows one environment at a time (the first by default) with links to the others.
    let page = daemon.get("/").text().unwrap();
    assert!(page.contains("<a href=\"./?environment=production\" aria-current=\"page\">production</a>"), "{page}");
    assert!(page.contains("<a href=\"./?environment=staging\">staging</a>"), "{page}");
    assert!(page.contains("data-environment=\"production\""));
    assert!(!page.contains("the certificate expired"), "production's page shows no staging reason");
    let page = daemon.get("/?environment=staging").text().unwrap();
    assert!(page.contains("the certificate expired 10 days ago"), "{page}");
    assert!(page.contains("<a href=\"./?filter=attention&#38;environment=staging\">"), "{page}");
    assert_eq!(page.matches("data-id=\"web.tls\"").count(), 1, "one instance of the item per page");
    let unknown = daemon.get("/?environment=qa");
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.text().unwrap(),
        "environment=qa: the config declares no such environment; declared: production, staging\n"
    );
    let report = daemon.get("/api/v1/report?format=markdown&environment=staging").text().unwrap();
    assert!(report.contains("(staging)") && !report.contains("(production)"), "{report}");

    // The staging password is in nothing the daemon shows or logs.
    let shown = [
        exposition,
        daemon.items().to_string(),
        daemon.get("/?environment=staging").text().unwrap(),
        daemon.get("/api/v1/report?format=json").text().unwrap(),
        daemon.logs().join("\n"),
    ];
    for text in shown {
        assert!(!text.contains(CANARY), "the canary leaked: {text}");
    }
    let db = items.iter().find(|item| item["id"] == "db.running").unwrap();
    assert_eq!(db["state"], "fail", "{db}");
}

#[test]
fn check_evaluates_one_environment_or_all_grouped() {
    let setup = setup();
    let (code, stdout, stderr) = run(&setup, &["check", "--format", "json", "--environment", "production"]);
    assert_eq!(code, Some(0), "production's critical items pass: {stdout}{stderr}");
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let environments: Vec<&str> =
        document["items"].as_array().unwrap().iter().map(|item| item["environment"].as_str().unwrap()).collect();
    assert_eq!(environments, ["production"; 3]);

    let (code, stdout, _) = run(&setup, &["check", "--environment", "staging"]);
    assert_eq!(code, Some(1), "staging's certificate expired: {stdout}");

    let (code, stdout, _) = run(&setup, &["check"]);
    assert_eq!(code, Some(1), "one environment is not ready, so the whole is not: {stdout}");
    // The root causes lead, naming each item with its environment; then the table.
    assert!(stdout.starts_with("Fix these first"), "{stdout}");
    assert!(stdout.contains("clears 2 items: db.running (production), db.running (staging)"), "{stdout}");
    assert!(stdout.contains("\nENVIRONMENT  VERDICT"), "{stdout}");
    assert!(
        stdout.contains("\nproduction: 3 items, 2 pass, 1 fail, 0 error. Critical items passing: 2 of 2. Ready: yes."),
        "{stdout}"
    );
    assert!(
        stdout.contains("\nstaging: 3 items, 0 pass, 3 fail, 0 error. Critical items passing: 0 of 2. Ready: no."),
        "{stdout}"
    );
    assert!(!stdout.contains(CANARY));

    let (code, _, stderr) = run(&setup, &["check", "--environment", "qa"]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.ends_with("--environment qa: the config declares no such environment; declared: production, staging\n"),
        "{stderr}"
    );
}

#[test]
fn baselines_are_kept_per_environment_and_regressions_compare_within_one() {
    let mut setup = setup();
    let baseline = setup.dir.path().join("baseline.json");
    let baseline_arg = baseline.display().to_string();
    let (code, stdout, stderr) =
        run(&setup, &["baseline", "--environment", "production", "--baseline.file", &baseline_arg]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(": 2 of 3 applicable items pass"), "{stdout}");
    // Another environment signed off later joins the same file; a second run of one is refused.
    let (code, stdout, stderr) =
        run(&setup, &["baseline", "--environment", "staging", "--baseline.file", &baseline_arg]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let (code, _, stderr) = run(&setup, &["baseline", "--environment", "staging", "--baseline.file", &baseline_arg]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("refusing to replace it"), "{stderr}");
    let recorded = checklist_exporter::persist::baseline::load(&baseline).unwrap().unwrap();
    assert_eq!(recorded.items.len(), 6);
    assert_eq!(recorded.passed_in(Some("production"), "app.port"), Some(true));
    assert_eq!(recorded.passed_in(Some("staging"), "app.port"), Some(false));
    assert_eq!(recorded.passed("app.port"), None, "no item without an environment");

    let daemon = Daemon::start_with(&setup.config, &["--baseline.file", &baseline_arg]);
    daemon.wait_ready();
    let regressed = |daemon: &Daemon, environment: &str| {
        daemon.metrics().value("checklist_item_regressed", &[("id", "app.port"), ("environment", environment)])
    };
    assert_eq!(regressed(&daemon, "production"), Some(0.0));
    drop(setup.listener.take());
    wait_for("production's port to regress", Duration::from_secs(30), || regressed(&daemon, "production") == Some(1.0));
    assert_eq!(regressed(&daemon, "staging"), Some(0.0), "staging's port never passed: no regression there");
    let page = daemon.get("/?environment=production").text().unwrap();
    assert!(page.contains("<span class=\"badge regressed\">Regressed</span>"), "{page}");
    let page = daemon.get("/?environment=staging").text().unwrap();
    assert!(!page.contains("<span class=\"badge regressed\">Regressed</span>"), "{page}");
}

#[test]
fn the_state_file_keeps_each_environments_verdict_apart_and_restores_it() {
    let setup = setup();
    let state = setup.dir.path().join("state.json");
    let state_arg = state.display().to_string();
    let mut daemon = Daemon::start_with(&setup.config, &["--state.file", &state_arg]);
    daemon.wait_ready();
    daemon.signal("TERM");
    let _ = daemon.child.wait();
    let saved: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let text = saved.to_string();
    assert!(!text.contains(CANARY), "{text}");
    let verdict_of = |environment: &str| {
        let items = saved["items"].as_array().unwrap_or_else(|| panic!("{saved}"));
        let tls = items.iter().find(|item| item["id"] == "web.tls" && item["environment"] == environment);
        tls.unwrap_or_else(|| panic!("no web.tls of {environment}: {saved}"))["verdict"].as_str().unwrap().to_string()
    };
    assert_eq!(verdict_of("production"), "pass");
    assert_eq!(verdict_of("staging"), "fail");

    let restarted = Daemon::start_with(&setup.config, &["--state.file", &state_arg]);
    let restored = restarted.get("/api/v1/items?environment=staging").json::<serde_json::Value>().unwrap();
    let tls = restored["items"].as_array().unwrap().iter().find(|item| item["id"] == "web.tls").unwrap().clone();
    assert_eq!(tls["state"], "fail", "restored or evaluated again, staging's item keeps its own verdict: {tls}");
}

#[test]
fn the_configuration_reference_example_loads_with_each_environments_values() {
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/configuration.md")).unwrap();
    let section = &reference[reference.find("## `[environments]`").expect("the environments section")..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let config = checklist_exporter::config::parse("docs/configuration.md (environments)", example, Vec::new())
        .unwrap_or_else(|err| panic!("{err}"));
    assert_eq!(config.environments, ["production", "staging"]);
    assert_eq!(config.item_count(), 4);
    let targets: Vec<String> = config.checks.iter().map(|check| check.kind.target()).collect();
    assert!(targets[1].contains("/opt/dndstory/config/.env"), "{targets:?}");
    assert!(targets[3].contains("/opt/dndstory-staging/config/.env"), "{targets:?}");
}

/// Two environments attesting per environment: `ops.rollback` reads each environment's own file
/// (a variable), `ops.dr_test` one file the config chose for both.
fn attested_config(dir: &std::path::Path) -> String {
    format!(
        "[vars]\nattestations = \"{production}\"\n\
         [environments.production.vars]\n\
         [environments.staging.vars]\nattestations = \"{staging}\"\n\
         [[checks]]\nkind = \"attested\"\nfile = \"${{attestations}}\"\nvalidity = \"30d\"\ninterval = \"1h\"\n{rollback}\n\
         [[checks]]\nkind = \"attested\"\nfile = \"{shared}\"\nvalidity = \"90d\"\ninterval = \"1h\"\n{dr}\n",
        production = dir.join("production.json").display(),
        staging = dir.join("staging.json").display(),
        shared = dir.join("shared.json").display(),
        rollback = item("ops.rollback", "critical", None),
        dr = item("ops.dr_test", "warning", None),
    )
}

/// The lines of the audit log beside `file`, as JSON.
fn audit_entries(file: &std::path::Path) -> Vec<serde_json::Value> {
    let log = std::fs::read_to_string(file.with_extension("audit.jsonl")).unwrap_or_default();
    log.lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

#[test]
fn attesting_one_environment_passes_that_environment_only() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checklist.toml");
    std::fs::write(&config, attested_config(dir.path())).unwrap();
    let attest = |args: &[&str]| {
        let output = Command::new(BINARY).arg("attest").args(args).arg("--config.file").arg(&config).output().unwrap();
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };

    // Each environment keeps its own file, so which one is signed off must be said.
    let (code, stdout, stderr) = attest(&["ops.rollback", "--by", "alice"]);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    let production = dir.path().join("production.json");
    let staging = dir.path().join("staging.json");
    assert_eq!(
        stderr,
        format!(
            "item ops.rollback is attested per environment, each in its own file: production ({}), staging ({}); \
             name the one signed off with --environment production or --environment staging\n",
            production.display(),
            staging.display()
        )
    );
    let (code, _, stderr) = attest(&["ops.rollback", "--by", "alice", "--environment", "qa"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr, "--environment qa: the config declares no such environment; declared: production, staging\n");
    assert!(!production.exists() && !staging.exists(), "a refusal records nothing");

    let (code, stdout, stderr) = attest(&["ops.rollback", "--by", "alice", "--environment", "staging"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("recorded: ops.rollback (staging) attested by alice at "), "{stdout}");
    assert!(!production.exists(), "staging's sign-off never touches production's file");
    let entries = audit_entries(&staging);
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (&entries[0]["item"], &entries[0]["environments"]),
        (&"ops.rollback".into(), &serde_json::json!(["staging"]))
    );

    // One file for both: recorded once, and the answer says whom it serves.
    let (code, stdout, stderr) = attest(&["ops.dr_test", "--by", "bob"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        stdout.starts_with(
            "recorded: ops.dr_test (for production, staging, which share one attestation file) attested by bob"
        ),
        "{stdout}"
    );
    let shared = dir.path().join("shared.json");
    assert_eq!(audit_entries(&shared)[0]["environments"], serde_json::json!(["production", "staging"]));

    let daemon = Daemon::start_with(&config, &["--web.enable-attestation-api"]);
    let state = |environment: &str, id: &str| {
        let items: serde_json::Value = daemon.get(&format!("/api/v1/items?environment={environment}")).json().unwrap();
        let found = items["items"].as_array().unwrap().iter().find(|item| item["id"] == id).cloned();
        found.unwrap_or_else(|| panic!("no {id} in {environment}: {items}"))["state"].as_str().unwrap().to_string()
    };
    wait_for("the first evaluations", Duration::from_secs(20), || {
        ["production", "staging"]
            .iter()
            .all(|environment| ["ops.rollback", "ops.dr_test"].iter().all(|id| state(environment, id) != "pending"))
    });
    assert_eq!(state("staging", "ops.rollback"), "pass");
    assert_eq!(state("production", "ops.rollback"), "fail", "staging's sign-off must not pass production");
    let items: serde_json::Value = daemon.get("/api/v1/items?environment=production").json().unwrap();
    let rollback = items["items"].as_array().unwrap().iter().find(|item| item["id"] == "ops.rollback").unwrap();
    let reason = rollback["reason"].as_str().unwrap();
    assert!(
        reason.contains("`checklist-exporter attest ops.rollback --by NAME --environment production --config.file "),
        "{reason}"
    );
    assert_eq!((state("production", "ops.dr_test"), state("staging", "ops.dr_test")), ("pass".into(), "pass".into()));

    let post = |body: &str| {
        let response = daemon.client.post(daemon.url("/api/v1/attestations")).body(body.to_string()).send().unwrap();
        (response.status().as_u16(), response.json::<serde_json::Value>().unwrap())
    };
    let (status, answer) = post(r#"{"item": "ops.rollback", "by": "ci"}"#);
    assert_eq!((status, &answer["field"]), (422, &"environment".into()), "{answer}");
    assert!(
        answer["error"].as_str().unwrap().contains("name the one signed off with environment production"),
        "{answer}"
    );
    let (status, answer) = post(r#"{"item": "ops.rollback", "environment": "qa", "by": "ci"}"#);
    assert_eq!(status, 404, "{answer}");
    assert_eq!(
        answer["error"],
        "environment qa: the config declares no such environment; declared: production, staging"
    );
    let (status, answer) = post(r#"{"item": "ops.rollback", "environment": "production", "by": "ci"}"#);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["environments"], serde_json::json!(["production"]));
    wait_for("production's item to pass", Duration::from_secs(20), || state("production", "ops.rollback") == "pass");
    let entries = audit_entries(&production);
    assert_eq!((&entries[0]["environments"], &entries[0]["via"]), (&serde_json::json!(["production"]), &"api".into()));
    assert_eq!(audit_entries(&staging).len(), 1, "production's sign-off leaves staging's log alone");
}

#[test]
fn without_environments_attest_refuses_an_environment() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checklist.toml");
    let store = dir.path().join("attestations.json");
    let text = format!(
        "[[checks]]\nkind = \"attested\"\nfile = \"{}\"\nvalidity = \"30d\"\n{}\n",
        store.display(),
        item("ops.rollback", "critical", None)
    );
    std::fs::write(&config, text).unwrap();
    let attest = |args: &[&str]| {
        Command::new(BINARY).arg("attest").args(args).arg("--config.file").arg(&config).output().unwrap()
    };
    let refused = attest(&["ops.rollback", "--by", "alice", "--environment", "staging"]);
    assert_eq!(refused.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&refused.stderr),
        "--environment staging: the config declares no environments; attest ops.rollback without it\n"
    );
    assert!(!store.exists());
    let recorded = attest(&["ops.rollback", "--by", "alice"]);
    assert_eq!(recorded.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&recorded.stdout);
    assert!(stdout.starts_with("recorded: ops.rollback attested by alice at "), "{stdout}");
    let entry = &audit_entries(&store)[0];
    assert!(entry.get("environments").is_none(), "no environments, no field: {entry}");
}
