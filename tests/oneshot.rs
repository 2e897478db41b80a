//! `checklist-exporter check`: the go-live gate for CI.

mod common;

use std::process::Command;

use common::{closed_port, item};

fn run_check(config: &str, format: &str) -> (Option<i32>, String, String) {
    run_check_with(config, &["--format", format])
}

fn run_check_with(config: &str, args: &[&str]) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config).unwrap();
    let output = Command::new(common::BINARY).arg("check").args(args).arg("--config.file").arg(&path).output().unwrap();
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
    assert!(lines[0].starts_with("VERDICT         SEVERITY  ID"), "{stdout}");
    assert!(
        lines[1].starts_with("pass            critical  infra.cpu  ")
            && lines[1].contains("CPU cores; want at least 1")
    );
    assert!(
        lines[2].starts_with("fail            warning   app.port   ") && lines[2].contains("refused the connection")
    );
    assert_eq!(
        lines.last().unwrap(),
        &"2 items, 2 applicable: 1 pass, 1 fail, 0 error. Critical items passing: 1 of 1 applicable. Ready: yes."
    );
}

#[test]
fn a_failing_critical_item_exits_1() {
    let (code, stdout, _) = run_check(&format!("{}{}", passing_cpu(), refused_port("critical")), "text");
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.ends_with("Critical items passing: 1 of 2 applicable. Ready: no.\n"), "{stdout}");
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

fn switched_off_memory() -> String {
    format!(
        "[[checks]]\nkind = \"memory\"\nmin_total_bytes = \"1MB\"\nenabled = false\n{}\n",
        item("cloud.memory", "critical", Some("minimum"))
    )
}

#[test]
fn the_state_column_holds_not_applicable_and_the_columns_stay_aligned() {
    let config = format!("{}{}{}", passing_cpu(), switched_off_memory(), refused_port("warning"));
    let (code, stdout, _) = run_check(&config, "text");
    assert_eq!(code, Some(0), "{stdout}");
    let table: Vec<&str> = stdout.lines().take(4).collect();
    // Every row's SEVERITY, ID and REASON start where the header's do.
    let header = table[0];
    for column in ["SEVERITY", "ID", "REASON"] {
        let at = header.find(column).unwrap();
        for row in &table[1..] {
            let before = &row[..at];
            assert!(
                before.ends_with("  ") && !row[at..].starts_with(' '),
                "column {column} moved in {row:?}\n{stdout}"
            );
        }
    }
    assert!(table[2].starts_with("not_applicable  critical  cloud.memory  not applicable"), "{stdout}");
    assert!(stdout.ends_with("3 items, 2 applicable: 1 pass, 1 fail, 0 error, 1 not applicable. Critical items passing: 1 of 1 applicable. Ready: yes.\n"), "{stdout}");
}

#[test]
fn only_attention_lists_what_needs_a_person_and_keeps_the_whole_summary() {
    let config = format!("{}{}{}", passing_cpu(), switched_off_memory(), refused_port("critical"));
    let (code, stdout, _) = run_check_with(&config, &["--only", "attention"]);
    assert_eq!(code, Some(1), "the exit code still counts every item: {stdout}");
    let ids: Vec<&str> =
        stdout.lines().skip(1).take_while(|l| !l.is_empty()).map(|l| l.split_whitespace().nth(2).unwrap()).collect();
    assert_eq!(ids, ["app.port"], "{stdout}");
    assert!(stdout.contains("1 of 3 items need attention (failing, undecidable or stale)."), "{stdout}");
    assert!(stdout.contains("3 items, 2 applicable: 1 pass, 1 fail"), "{stdout}");

    let (code, stdout, _) = run_check_with(&passing_cpu(), &["--only", "attention"]);
    assert_eq!(code, Some(0));
    assert!(stdout.starts_with("No item needs attention.\n"), "{stdout}");

    let (code, stdout, stderr) = run_check_with(&passing_cpu(), &["--only", "attention", "--format", "json"]);
    assert_eq!((code, stdout.as_str()), (Some(2), ""));
    assert!(stderr.contains("--only applies to --format text"), "{stderr}");
}

#[test]
fn baseline_never_replaces_an_existing_baseline_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("checklist.toml");
    std::fs::write(&config, passing_cpu()).unwrap();
    let baseline = dir.path().join("baseline.json");
    let run = |extra: &[&str]| {
        let output = Command::new(common::BINARY)
            .arg("baseline")
            .args(extra)
            .arg("--config.file")
            .arg(&config)
            .arg("--baseline.file")
            .arg(&baseline)
            .output()
            .unwrap();
        (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    assert_eq!(run(&[]).0, Some(0));
    let first = std::fs::read(&baseline).unwrap();
    let taken = checklist_exporter::persist::baseline::load(&baseline).unwrap().unwrap().taken_at();
    let (code, stderr) = run(&[]);
    assert_eq!(code, Some(1), "{stderr}");
    let date = humantime::format_rfc3339_seconds(taken).to_string();
    assert!(
        stderr.contains(&format!(
            "{} already holds the go-live baseline taken {date} (1 of 1 items passing); refusing to replace it. Run again with --force",
            baseline.display()
        )),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&baseline).unwrap(), first, "the baseline is untouched");
    let (code, stderr) = run(&["--force"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("replacing the baseline taken {date}")), "{stderr}");
}

#[test]
fn the_daemon_exits_2_on_a_missing_config_as_check_does() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("absent.toml");
    for args in [vec!["--web.listen-address", "127.0.0.1:0"], vec!["check"]] {
        let output = Command::new(common::BINARY).args(&args).arg("--config.file").arg(&missing).output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains("no such file"), "{args:?}: {stderr}");
    }
}
