//! The go-live baseline: recorded by the `baseline` command and by `POST /api/v1/baseline`,
//! kept across restarts, and turned into `checklist_item_regressed` when an item that passed at
//! go-live stops passing.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{closed_port, item, wait_for, Daemon};

/// Two port items: one on a listener the test controls (passes until the test closes it), one on
/// a port where nothing listens (never passes).
fn config(listener_port: u16) -> String {
    format!(
        "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{listener_port}\"\nexpect = \"open\"\ninterval = \"300ms\"\ntimeout = \"250ms\"\nconnect_timeout = \"200ms\"\n{}\n\
         [[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\ninterval = \"300ms\"\ntimeout = \"250ms\"\nconnect_timeout = \"200ms\"\n{}\n",
        item("app.port", "critical", None),
        closed_port(),
        item("never.port", "warning", None),
    )
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> std::path::PathBuf {
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn a_regression_after_the_baseline_is_reported_and_survives_a_restart() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(&dir, &config(listener.local_addr().unwrap().port()));
    let baseline_path = dir.path().join("state/baseline.json");
    let baseline_arg = baseline_path.display().to_string();
    let daemon = Daemon::start_with(&config_path, &["--baseline.file", &baseline_arg]);
    daemon.wait_ready();
    let metrics = daemon.metrics();
    assert_eq!(metrics.count("checklist_item_regressed"), 0, "no baseline, no regression series");
    assert_eq!(metrics.value("checklist_baseline_timestamp_seconds", &[]), None);

    let taken = daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap();
    assert_eq!(taken.status(), 200);
    assert_eq!(taken.text().unwrap(), "baseline recorded: 1 of 2 applicable items pass\n");
    let metrics = daemon.metrics();
    assert!(metrics.value("checklist_baseline_timestamp_seconds", &[]).unwrap() > 1.7e9);
    assert_eq!(metrics.value("checklist_item_regressed", &[("id", "app.port")]), Some(0.0));
    assert_eq!(metrics.value("checklist_item_regressed", &[("id", "never.port"), ("severity", "warning")]), Some(0.0));

    drop(listener);
    wait_for("app.port to regress", Duration::from_secs(30), || {
        daemon.metrics().value("checklist_item_regressed", &[("id", "app.port")]) == Some(1.0)
    });
    assert_eq!(
        daemon.metrics().value("checklist_item_regressed", &[("id", "never.port")]),
        Some(0.0),
        "an item that never passed is not a regression"
    );
    assert_eq!(daemon.item("app.port")["regressed"], true);
    let page = daemon.get("/").text().unwrap();
    assert!(page.contains("<span class=\"badge regressed\">Regressed</span>"), "{page}");
    assert!(page.contains("Go-live baseline taken"));
    drop(daemon);

    // A new process reads the same file: the regression is still a regression.
    let restarted = Daemon::start_with(&config_path, &["--baseline.file", &baseline_arg]);
    wait_for("the regression after a restart", Duration::from_secs(30), || {
        restarted.metrics().value("checklist_item_regressed", &[("id", "app.port")]) == Some(1.0)
    });
}

#[test]
fn a_corrupt_baseline_is_reported_and_never_replaced_silently() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(&dir, &config(listener.local_addr().unwrap().port()));
    let baseline_path = dir.path().join("baseline.json");
    std::fs::write(&baseline_path, b"{ not json").unwrap();
    let baseline_arg = baseline_path.display().to_string();

    let daemon = Daemon::start_with(&config_path, &["--baseline.file", &baseline_arg]);
    daemon.wait_ready();
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_baseline_file_readable", &[]), Some(0.0));
    assert_eq!(metrics.count("checklist_item_regressed"), 0);
    assert!(
        daemon.logs().iter().any(|l| l.contains("the baseline cannot be used") && l.contains(&baseline_arg)),
        "{:?}",
        daemon.logs()
    );
    let refused = daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap();
    assert_eq!(refused.status(), 409);
    assert!(refused.text().unwrap().contains("add ?force=true"));
    assert_eq!(std::fs::read(&baseline_path).unwrap(), b"{ not json", "the corrupt file is untouched");

    let forced = daemon.client.post(daemon.url("/api/v1/baseline?force=true")).send().unwrap();
    assert_eq!(forced.status(), 200);
    assert_eq!(daemon.metrics().value("checklist_baseline_file_readable", &[]), Some(1.0));
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(&baseline_path).unwrap()).unwrap();
    assert_eq!(saved["version"], 1);
    assert_eq!(saved["items"].as_array().unwrap().len(), 2);
}

#[test]
fn the_baseline_command_records_and_refuses_to_replace_a_corrupt_file() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config_path = write_config(&dir, &config(listener.local_addr().unwrap().port()));
    let baseline_path = dir.path().join("baseline.json");
    let run = |extra: &[&str]| {
        Command::new(common::BINARY)
            .arg("baseline")
            .arg("--config.file")
            .arg(&config_path)
            .arg("--baseline.file")
            .arg(&baseline_path)
            .args(extra)
            .output()
            .unwrap()
    };
    let output = run(&[]);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains(": 1 of 2 applicable items pass"));
    let recorded = checklist_exporter::persist::baseline::load(&baseline_path).unwrap().unwrap();
    assert_eq!(recorded.passed("app.port"), Some(true));
    assert_eq!(recorded.passed("never.port"), Some(false));

    std::fs::write(&baseline_path, b"garbage").unwrap();
    let refused = run(&[]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("refusing to replace it"));
    assert_eq!(std::fs::read(&baseline_path).unwrap(), b"garbage");
    assert_eq!(run(&["--force"]).status.code(), Some(0));
    assert!(checklist_exporter::persist::baseline::load(&baseline_path).unwrap().is_some());
}

#[test]
fn the_baseline_counts_applicable_items_as_the_page_does() {
    let dir = tempfile::tempdir().unwrap();
    let text = format!(
        "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n\
         [[checks]]\nkind = \"memory\"\nmin_total_bytes = \"1MB\"\nenabled = false\n{}\n",
        item("infra.cpu", "critical", Some("minimum")),
        item("cloud.memory", "critical", Some("minimum"))
    );
    let config_path = write_config(&dir, &text);
    let output = Command::new(common::BINARY)
        .arg("baseline")
        .arg("--config.file")
        .arg(&config_path)
        .arg("--baseline.file")
        .arg(dir.path().join("baseline.json"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(0), "{}", String::from_utf8_lossy(&output.stderr));
    // The switched-off item is in the file (never a regression) but not among the applicable.
    assert!(stdout.contains(": 1 of 1 applicable items pass"), "{stdout}");
}
