//! The alerting rules in `alerts/` load in Prometheus (`promtool check rules`), behave as their
//! unit tests say (`promtool test rules`), and every alert is documented and tested both ways.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use yaml_serde::Value;

const RULES: &str = "alerts/checklist.rules.yml";
const RULE_TESTS: &str = "alerts/tests/checklist.rules.test.yml";
const RUNBOOKS: &str = "docs/runbooks.md";

/// The alerts the issue asks for; a rename or a dropped alert fails here.
const WANTED_ALERTS: [&str; 11] = [
    "ChecklistItemRegressed",
    "ChecklistCriticalItemFailing",
    "ChecklistItemUndecidable",
    "ChecklistEvaluationStale",
    "ChecklistExporterDown",
    "CertificateExpiringSoon",
    "CertificateExpiryCritical",
    "BackupTooOld",
    "DiskSpaceLow",
    "MemoryUsageHigh",
    "HealthEndpointSlow",
];

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn yaml(relative: &str) -> Value {
    let text = std::fs::read_to_string(repo_path(relative)).unwrap();
    yaml_serde::from_str(&text).unwrap_or_else(|e| panic!("{relative} is not YAML: {e}"))
}

/// Runs promtool and returns its complaint, or None when it exits 0.
fn promtool(args: &[&str]) -> Option<String> {
    let output = Command::new("promtool")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("promtool is missing: run bash tests/run.sh, which installs the Debian prometheus package");
    if output.status.success() {
        return None;
    }
    Some(format!(
        "promtool {} exited with {}:\n{}{}",
        args.join(" "),
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn alert_rules() -> Vec<Value> {
    let rules = yaml(RULES);
    let groups = rules["groups"].as_sequence().expect("groups");
    groups
        .iter()
        .flat_map(|group| group["rules"].as_sequence().expect("rules").iter().cloned())
        .filter(|rule| rule.get("alert").is_some())
        .collect()
}

/// The anchor GitHub gives a Markdown heading: lower case, spaces to dashes, punctuation dropped.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

#[test]
fn promtool_check_rules_accepts_the_rules() {
    if let Some(complaint) = promtool(&["check", "rules", RULES]) {
        panic!("{complaint}");
    }
}

#[test]
fn promtool_unit_tests_of_the_rules_pass() {
    if let Some(complaint) = promtool(&["test", "rules", RULE_TESTS]) {
        panic!("{complaint}");
    }
}

#[test]
fn every_alert_the_issue_names_exists_with_a_routing_severity() {
    let alerts: BTreeMap<String, Value> =
        alert_rules().into_iter().map(|rule| (rule["alert"].as_str().unwrap().to_string(), rule)).collect();
    for name in WANTED_ALERTS {
        let rule = alerts.get(name).unwrap_or_else(|| panic!("{RULES} has no alert {name}"));
        let severity = rule["labels"]["severity"].as_str().unwrap_or_default();
        assert!(["critical", "warning"].contains(&severity), "{name} has severity {severity:?}");
    }
    assert_eq!(alerts["ChecklistItemRegressed"]["labels"]["severity"].as_str(), Some("critical"), "regressions page");
}

#[test]
fn every_alert_has_a_summary_a_description_and_a_runbook_section() {
    let runbooks = std::fs::read_to_string(repo_path(RUNBOOKS)).unwrap();
    let anchors: BTreeSet<String> = runbooks.lines().filter_map(|line| line.strip_prefix("## ")).map(anchor).collect();
    for rule in alert_rules() {
        let name = rule["alert"].as_str().unwrap();
        let annotations = &rule["annotations"];
        for key in ["summary", "description"] {
            let text = annotations[key].as_str().unwrap_or_default();
            assert!(text.contains("{{"), "{name}: {key} does not name the item or target from labels: {text:?}");
        }
        let url = annotations["runbook_url"].as_str().unwrap_or_else(|| panic!("{name} has no runbook_url"));
        let (document, fragment) = url.split_once('#').unwrap_or_else(|| panic!("{name}: {url} has no anchor"));
        assert!(document.ends_with(RUNBOOKS), "{name}: runbook_url {url} is not in {RUNBOOKS}");
        assert_eq!(fragment, anchor(name), "{name}: anchor of {url}");
        assert!(anchors.contains(fragment), "{RUNBOOKS} has no section for {name} (#{fragment})");
    }
}

#[test]
fn every_alert_is_unit_tested_firing_and_not_firing() {
    let tests = yaml(RULE_TESTS);
    let mut firing = BTreeSet::new();
    let mut silent = BTreeSet::new();
    for group in tests["tests"].as_sequence().expect("tests") {
        for case in group.get("alert_rule_test").and_then(Value::as_sequence).into_iter().flatten() {
            let name = case["alertname"].as_str().unwrap().to_string();
            let expected = case.get("exp_alerts").and_then(Value::as_sequence).map_or(0, Vec::len);
            if expected == 0 {
                silent.insert(name);
            } else {
                firing.insert(name);
            }
        }
    }
    for rule in alert_rules() {
        let name = rule["alert"].as_str().unwrap();
        assert!(firing.contains(name), "{RULE_TESTS} never expects {name} to fire");
        assert!(silent.contains(name), "{RULE_TESTS} never expects {name} to stay silent");
    }
}

#[test]
fn the_rules_use_only_metric_names_the_metrics_reference_documents() {
    let reference = std::fs::read_to_string(repo_path("docs/metrics.md")).unwrap();
    // Series the lead's baseline work and the files family add; documented when they land.
    let arriving = ["checklist_item_regressed", "checklist_backup_newest_age_seconds"];
    let rules = std::fs::read_to_string(repo_path(RULES)).unwrap();
    let names: BTreeSet<&str> = rules
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("checklist_"))
        .map(|word| word.trim_end_matches("_bucket"))
        .collect();
    assert!(!names.is_empty());
    for name in names {
        assert!(
            reference.contains(&format!("`{name}`")) || arriving.contains(&name),
            "{RULES} uses {name}, which docs/metrics.md does not document"
        );
    }
}
