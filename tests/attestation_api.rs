//! `POST /api/v1/attestations` on the real binary: off by default, behind the web config's
//! basic auth, records like `attest` does (the item passes at once, with its evidence link on
//! the API and the report), appends every attestation (API and CLI) to the audit log without
//! rewriting it, and refuses bad requests with a JSON error naming the field.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{item, wait_for, Daemon};

const PASSWORD: &str = "canary-pw-7f3a9c";
const EVIDENCE: &str = "https://github.com/example/dndstory/actions/runs/123456";

fn config(store: &Path) -> String {
    format!(
        "[[checks]]\nkind = \"attested\"\nfile = \"{f}\"\nvalidity = \"30d\"\ninterval = \"1h\"\n{}\n\
         [[checks]]\nkind = \"attested\"\nfile = \"{f}\"\nvalidity = \"90d\"\ninterval = \"1h\"\n{}\n\
         [[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n",
        item("perf.load_test", "critical", None),
        item("ops.dr_test", "warning", None),
        item("infra.cpu", "critical", Some("minimum")),
        f = store.display()
    )
}

struct Setup {
    dir: tempfile::TempDir,
}

impl Setup {
    fn new() -> Setup {
        let setup = Setup { dir: tempfile::tempdir().unwrap() };
        std::fs::write(setup.config(), config(&setup.store())).unwrap();
        let hash = bcrypt::hash(PASSWORD, 4).unwrap().replacen("$2b$", "$2y$", 1);
        std::fs::write(setup.dir.path().join("web.yml"), format!("basic_auth_users:\n  ci: {hash}\n")).unwrap();
        setup
    }

    fn config(&self) -> std::path::PathBuf {
        self.dir.path().join("checklist.toml")
    }

    fn store(&self) -> std::path::PathBuf {
        self.dir.path().join("attestations.json")
    }

    fn audit_log(&self) -> std::path::PathBuf {
        self.dir.path().join("attestations.audit.jsonl")
    }

    /// The daemon with the API on and basic auth; the helpers' client sends the password.
    fn start(&self) -> Daemon {
        let web = self.dir.path().join("web.yml");
        let args = ["--web.enable-attestation-api", "--web.config.file", web.to_str().unwrap()];
        let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let daemon = Daemon::launch(&self.config(), &args, "http", client);
        wait_for("/-/ready", Duration::from_secs(60), || {
            daemon.client.get(daemon.url("/-/ready")).basic_auth("ci", Some(PASSWORD)).send().unwrap().status() == 200
        });
        daemon
    }
}

/// POSTs `body` as the `ci` user (or without credentials); returns the status and the JSON.
fn post(daemon: &Daemon, body: &str, authenticated: bool) -> (u16, serde_json::Value) {
    let mut request = daemon.client.post(daemon.url("/api/v1/attestations")).body(body.to_string());
    if authenticated {
        request = request.basic_auth("ci", Some(PASSWORD));
    }
    let response = request.send().unwrap();
    let status = response.status().as_u16();
    let text = response.text().unwrap();
    (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
}

fn item_state(daemon: &Daemon, id: &str) -> serde_json::Value {
    let items: serde_json::Value =
        daemon.client.get(daemon.url("/api/v1/items")).basic_auth("ci", Some(PASSWORD)).send().unwrap().json().unwrap();
    items["items"].as_array().unwrap().iter().find(|i| i["id"] == id).cloned().unwrap()
}

#[test]
fn the_api_is_off_unless_its_flag_is_given() {
    let setup = Setup::new();
    let daemon = Daemon::start_with(&setup.config(), &[]);
    let (status, body) = post(&daemon, r#"{"item": "perf.load_test", "by": "ci"}"#, false);
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["error"],
        "the attestation API is disabled; start the daemon with --web.enable-attestation-api to use it"
    );
    assert!(!setup.store().exists() && !setup.audit_log().exists());
    assert_eq!(daemon.client.get(daemon.url("/api/v1/attestations")).send().unwrap().status(), 405);
}

#[test]
fn a_pipeline_attests_and_the_item_passes_at_once_with_its_evidence() {
    let setup = Setup::new();
    let daemon = setup.start();
    assert_eq!(item_state(&daemon, "perf.load_test")["state"], "fail");

    let body = format!(
        r#"{{"item": "perf.load_test", "by": "github-actions", "note": "k6: p95 182ms, 0.0% errors", "valid_for": "7d", "evidence_url": "{EVIDENCE}"}}"#
    );
    let (status, _) = post(&daemon, &body, false);
    assert_eq!(status, 401, "without credentials the web config's basic auth refuses");
    assert!(!setup.store().exists());

    let (status, answer) = post(&daemon, &body, true);
    assert_eq!(status, 201, "{answer}");
    assert_eq!(answer["item"], "perf.load_test");
    assert_eq!(answer["by"], "github-actions");
    assert_eq!(answer["evidence_url"], EVIDENCE);
    let at = humantime::parse_rfc3339(answer["at"].as_str().unwrap()).unwrap();
    let until = humantime::parse_rfc3339(answer["valid_until"].as_str().unwrap()).unwrap();
    assert_eq!(until.duration_since(at).unwrap(), Duration::from_secs(7 * 86400), "valid_for shortens the 30d");

    // The check runs every hour: only the API's "run it now" can make it pass this soon.
    wait_for("the attested item to pass", Duration::from_secs(20), || {
        item_state(&daemon, "perf.load_test")["state"] == "pass"
    });
    let reason = item_state(&daemon, "perf.load_test")["reason"].as_str().unwrap().to_string();
    assert!(
        reason.starts_with("attested by github-actions on ")
            && reason.contains("(k6: p95 182ms, 0.0% errors)")
            && reason.ends_with(&format!("; evidence: {EVIDENCE}")),
        "{reason}"
    );
    let report = daemon
        .client
        .get(daemon.url("/api/v1/report?format=markdown"))
        .basic_auth("ci", Some(PASSWORD))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(report.contains(EVIDENCE), "the sign-off report shows the evidence link:\n{report}");

    let logs = daemon.logs().join("\n");
    let stored = std::fs::read_to_string(setup.store()).unwrap();
    let audit = std::fs::read_to_string(setup.audit_log()).unwrap();
    for (what, text) in [("logs", &logs), ("attestation file", &stored), ("audit log", &audit)] {
        assert!(!text.contains(PASSWORD), "the basic auth password reached the {what}");
    }
}

#[test]
fn every_attestation_is_appended_to_the_audit_log_and_the_first_line_stays() {
    let setup = Setup::new();
    let daemon = setup.start();
    let (status, answer) = post(
        &daemon,
        &format!(r#"{{"item": "perf.load_test", "by": "gitlab-ci", "evidence_url": "{EVIDENCE}"}}"#),
        true,
    );
    assert_eq!(status, 201, "{answer}");
    let first = std::fs::read_to_string(setup.audit_log()).unwrap();
    assert_eq!(first.lines().count(), 1, "{first}");
    let entry: serde_json::Value = serde_json::from_str(first.lines().next().unwrap()).unwrap();
    assert_eq!(
        (&entry["item"], &entry["by"], &entry["via"], &entry["evidence_url"], &entry["at"]),
        (&"perf.load_test".into(), &"gitlab-ci".into(), &"api".into(), &EVIDENCE.into(), &answer["at"])
    );

    // A person attests the same item from the command line: the file keeps the latest, the log both.
    let output = Command::new(common::BINARY)
        .args(["attest", "perf.load_test", "--by", "alice", "--note", "re-ran k6 by hand", "--config.file"])
        .arg(setup.config())
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let both = std::fs::read_to_string(setup.audit_log()).unwrap();
    assert!(both.starts_with(&first), "the first line was rewritten:\n{first}\n---\n{both}");
    let second: serde_json::Value = serde_json::from_str(both.lines().nth(1).unwrap()).unwrap();
    assert_eq!((&second["by"], &second["via"]), (&"alice".into(), &"cli".into()));
    assert_eq!(both.lines().count(), 2);
    let stored: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(setup.store()).unwrap()).unwrap();
    assert_eq!(stored["attestations"]["perf.load_test"]["by"], "alice");
}

#[test]
fn bad_requests_are_refused_with_the_field_named() {
    let setup = Setup::new();
    let daemon = setup.start();
    let cases: [(&str, u16, Option<&str>, &str); 7] = [
        (r#"{"item": "perf.nope", "by": "ci"}"#, 404, Some("item"), "no item has the id `perf.nope`"),
        (
            r#"{"item": "infra.cpu", "by": "ci"}"#,
            422,
            Some("item"),
            "item infra.cpu is decided by a cpu check, not by attestation; only items of `attested` checks can be attested",
        ),
        (r#"{"item": "perf.load_test", "by": "ci", "valid_for": "soon"}"#, 400, Some("valid_for"), "`soon` is not a duration"),
        (
            r#"{"item": "perf.load_test", "by": "ci", "valid_for": "60d"}"#,
            422,
            Some("valid_for"),
            "60d is longer than the validity of perf.load_test's check (30d); an attestation may only shorten it",
        ),
        (r#"{"item": "perf.load_test"}"#, 400, Some("by"), "is missing"),
        (
            r#"{"item": "perf.load_test", "by": "ci", "evidence_url": "https://ci:token@ci.example.org/runs/1"}"#,
            400,
            Some("evidence_url"),
            "must not carry a user name or password",
        ),
        (r#"{"item": "perf.load_test", "by": "#, 400, None, "the body is not JSON"),
    ];
    for (body, want_status, want_field, want_error) in cases {
        let (status, answer) = post(&daemon, body, true);
        assert_eq!(status, want_status, "{body}: {answer}");
        assert_eq!(answer["field"].as_str(), want_field, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(want_error), "{body}: {answer}");
    }
    assert!(!setup.store().exists() && !setup.audit_log().exists(), "a refused request records nothing");
    // The daemon keeps running and answering.
    assert_eq!(post(&daemon, r#"{"item": "ops.dr_test", "by": "ci"}"#, true).0, 201);
}
