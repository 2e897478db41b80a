//! The monitoring mixin in `mixin/` is the source of the shipped alerts, Alertmanager routing
//! and dashboard: the committed files equal a fresh generation with Debian's `jsonnet`, the
//! generated rules load in promtool and the routing in amtool, and the mixin's `_config`
//! reaches every alert (a job selector of your own replaces `job="checklist"` everywhere).

use std::path::Path;
use std::process::Command;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// What `mixin/generate.sh` writes, and the jsonnet program that writes each.
const OUTPUTS: [(&str, &str, bool); 3] = [
    ("alerts/checklist.rules.yml", "mixin/build/rules.jsonnet", true),
    ("deploy/alertmanager.yml", "mixin/build/alertmanager.jsonnet", true),
    ("dashboards/checklist.json", "mixin/build/dashboard.jsonnet", false),
];

/// Runs jsonnet on `program` (a string output with `-S`), with `config` as the mixin overrides.
fn jsonnet(program: &str, string_output: bool, config: &str) -> String {
    let mut command = Command::new("jsonnet");
    command.current_dir(ROOT);
    if string_output {
        command.arg("-S");
    }
    let output = command
        .args(["--tla-code", &format!("config={config}"), program])
        .output()
        .expect("jsonnet is missing: run bash tests/run.sh, which installs the Debian jsonnet package");
    assert!(output.status.success(), "jsonnet {program} failed: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn checked(tool: &str, args: &[&str]) {
    let output = Command::new(tool).args(args).current_dir(ROOT).output().unwrap_or_else(|e| panic!("{tool}: {e}"));
    assert!(
        output.status.success(),
        "{tool} {} failed:\n{}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_committed_rules_routing_and_dashboard_equal_a_fresh_generation() {
    for (committed, program, string_output) in OUTPUTS {
        let fresh = jsonnet(program, string_output, "{}");
        let on_disk = std::fs::read_to_string(Path::new(ROOT).join(committed)).unwrap();
        assert!(
            fresh == on_disk,
            "{committed} differs from `jsonnet {program}`: edit mixin/ and run mixin/generate.sh instead of editing it"
        );
    }
}

#[test]
fn the_generated_rules_and_routing_load_in_promtool_and_amtool() {
    checked("promtool", &["check", "rules", "alerts/checklist.rules.yml"]);
    checked("amtool", &["check-config", "deploy/alertmanager.yml"]);
}

#[test]
fn the_config_reaches_every_alert_and_the_dashboard() {
    let rules = jsonnet(
        "mixin/build/rules.json.jsonnet",
        false,
        "{ jobSelector: 'job=\"deploy-checklist\"', runbookURLBase: 'https://runbooks.example/checklist', forRegressed: '7m' }",
    );
    let document: serde_json::Value = serde_json::from_str(&rules).unwrap();
    let all_rules: Vec<&serde_json::Value> =
        document["groups"].as_array().unwrap().iter().flat_map(|g| g["rules"].as_array().unwrap()).collect();
    for rule in &all_rules {
        let expr = rule["expr"].as_str().unwrap();
        assert!(!expr.contains("job=\"checklist\""), "a hard-coded job selector is left: {expr}");
        if let Some(alert) = rule["alert"].as_str() {
            let url = rule["annotations"]["runbook_url"].as_str().unwrap();
            assert_eq!(url, format!("https://runbooks.example/checklist#{}", alert.to_lowercase()));
        }
    }
    let alert = |name: &str| *all_rules.iter().find(|r| r["alert"] == name).unwrap();
    assert!(alert("ChecklistExporterDown")["expr"].as_str().unwrap().contains("up{job=\"deploy-checklist\"} == 0"));
    assert_eq!(alert("ChecklistItemRegressed")["for"], "7m");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("rules.yml");
    std::fs::write(&file, &rules).unwrap();
    checked("promtool", &["check", "rules", &file.display().to_string()]);

    let dashboard = jsonnet("mixin/build/dashboard.jsonnet", false, "{ jobSelector: 'job=\"deploy-checklist\"' }");
    assert!(dashboard.contains(r#"label_values(checklist_build_info{job=\"deploy-checklist\"}, job)"#), "{dashboard}");
}
