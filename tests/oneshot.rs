//! `checklist-exporter check`: the go-live gate for CI.

mod common;

use std::process::Command;

use common::{closed_port, item};

fn run_check(config: &str, format: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config).unwrap();
    let output =
        Command::new(common::BINARY).args(["check", "--format", format, "--config.file"]).arg(&path).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn passing_cpu() -> String {
    format!("[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n", item("infra.cpu", "critical", Some("minimum")))
}

fn refused_port(severity: &str) -> String {
    format!(
        "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\nconnect_timeout = \"1s\"\n{}\n",
        closed_port(),
        item("app.port", severity, None)
    )
}

#[test]
fn all_critical_items_passing_exits_0_with_a_table() {
    let (code, stdout, _) = run_check(&format!("{}{}", passing_cpu(), refused_port("warning")), "text");
    assert_eq!(code, Some(0), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("VERDICT  SEVERITY  ID"), "{stdout}");
    assert!(lines[1].starts_with("pass     critical  infra.cpu  ") && lines[1].contains("CPU cores; want at least 1"));
    assert!(lines[2].starts_with("fail     warning   app.port   ") && lines[2].contains("refused the connection"));
    assert_eq!(lines.last().unwrap(), &"2 items: 1 pass, 1 fail, 0 error. Critical items passing: 1 of 1. Ready: yes.");
}

#[test]
fn a_failing_critical_item_exits_1() {
    let (code, stdout, _) = run_check(&format!("{}{}", passing_cpu(), refused_port("critical")), "text");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.ends_with("Critical items passing: 1 of 2. Ready: no.\n"), "{stdout}");
}

#[test]
fn json_output_is_the_api_document() {
    let (code, stdout, _) = run_check(&format!("{}{}", passing_cpu(), refused_port("critical")), "json");
    assert_eq!(code, Some(1));
    let document: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(document["summary"]["items"], 2);
    assert_eq!(document["summary"]["fail"], 1);
    assert_eq!(document["items"][1]["id"], "app.port");
    assert_eq!(document["items"][1]["state"], "fail");
    assert_eq!(document["items"][1]["cause"], "refused");
}

#[test]
fn a_bad_config_exits_2_naming_the_problem() {
    let (code, stdout, stderr) = run_check("[[checks]]\nkind = \"cpu\"\n", "text");
    assert_eq!(code, Some(2));
    assert!(stdout.is_empty());
    assert!(stderr.contains("checks[0]: has no items"), "{stderr}");
}

#[test]
fn a_config_without_items_is_refused_as_a_bad_config_not_passed_as_ready() {
    for text in ["", "[settings]\ndefault_interval = \"30s\"\n"] {
        let (code, stdout, stderr) = run_check(text, "text");
        assert_eq!(code, Some(2), "{text:?}: {stdout}{stderr}");
        assert!(!stdout.contains("Ready: yes"), "{text:?}: {stdout}");
        assert!(stderr.contains("checklist.toml: checks: the file declares no items"), "{text:?}: {stderr}");
    }
}

#[test]
fn the_default_config_evaluates_on_this_machine() {
    let path = format!("{}/config/checklist.toml", env!("CARGO_MANIFEST_DIR"));
    let output =
        Command::new(common::BINARY).args(["check", "--format", "json", "--config.file", &path]).output().unwrap();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(document["summary"]["items"], 7);
    assert_eq!(document["summary"]["pending"], 0);
    for item in document["items"].as_array().unwrap() {
        assert_ne!(item["state"], "error", "the default config decides every item on any machine: {item}");
        assert!(!item["reason"].as_str().unwrap().is_empty());
    }
}
