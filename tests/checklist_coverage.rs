//! The reference checklist, every line an item: parses
//! `../shared/checklist/production-deployment-checklist.md` (a copy is kept in
//! `tests/fixtures/production-deployment-checklist.md` so a clean checkout tests alone), and
//! fails when a checkbox line has no item in `config/dndstory.toml`, when an item is not a line,
//! when a bold parent line is not the group of exactly its children, and when
//! `docs/checklist-coverage.md` no longer says how each line is decided.
//!
//! `UPDATE_COVERAGE=1 cargo test --test checklist_coverage` rewrites the coverage document.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use checklist_exporter::checks::CheckKind;
// Strips what is decoration rather than words: emoji, `**`, `✅`, surrounding space; `init`
// reads titles the same way.
use checklist_exporter::cli::init::plain;
use checklist_exporter::config::{self, Config, Decider, Item};
use checklist_exporter::support::units::format_duration;

mod common;

const CHECKLIST: &str = "tests/fixtures/production-deployment-checklist.md";
const CONFIG: &str = "config/dndstory.toml";
const COVERAGE: &str = "docs/checklist-coverage.md";

/// One `- [ ]` line of the checklist document.
#[derive(Debug, PartialEq)]
struct Line {
    number: usize,
    section: String,
    text: String,
    /// Leading spaces: children are indented under their bold parent.
    indent: usize,
    bold: bool,
    /// Texts of the indented checkbox lines right under a bold parent.
    children: Vec<String>,
}

fn parse_checklist(document: &str) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    let mut section = String::new();
    for (index, raw) in document.lines().enumerate() {
        if let Some(heading) = raw.strip_prefix("### ").or_else(|| raw.strip_prefix("#### ")) {
            section = plain(heading);
            continue;
        }
        let trimmed = raw.trim_start();
        let Some(rest) = trimmed.strip_prefix("- [ ] ") else { continue };
        let indent = raw.len() - trimmed.len();
        let text = plain(rest);
        if indent > 0 {
            if let Some(parent) = lines.iter_mut().rev().find(|l| l.indent < indent) {
                if parent.bold {
                    parent.children.push(text.clone());
                }
            }
        }
        lines.push(Line {
            number: index + 1,
            section: section.clone(),
            text,
            indent,
            bold: rest.trim_start().starts_with("**"),
            children: Vec::new(),
        });
    }
    lines
}

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn reference_config(env: Vec<(String, String)>) -> Config {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(CONFIG);
    config::parse(&path.display().to_string(), &read(CONFIG), env).unwrap_or_else(|err| panic!("{err}"))
}

fn items_by_title(config: &Config) -> HashMap<&str, (&Decider, &Item)> {
    config.items().map(|(decider, item)| (item.title.as_str(), (decider, item))).collect()
}

#[test]
fn the_parser_reads_sections_parents_and_children() {
    let document = "### 📋 **Infrastructure Readiness**\n\n- [ ] **Server Resources Verified** ✅\n  - [ ] CPU: Minimum 2 cores\n  - [ ] Memory: 4GB  \n\n- [ ] **Directory Structure Created** ✅\n  ```bash\n  /opt/x\n  ```\n#### AWS ECS/Fargate\n**Technical Lead Sign-off:**\n- [ ] Performance benchmarks met ✅  \n";
    let lines = parse_checklist(document);
    let texts: Vec<(&str, &str, usize)> =
        lines.iter().map(|l| (l.section.as_str(), l.text.as_str(), l.children.len())).collect();
    assert_eq!(
        texts,
        vec![
            ("Infrastructure Readiness", "Server Resources Verified", 2),
            ("Infrastructure Readiness", "CPU: Minimum 2 cores", 0),
            ("Infrastructure Readiness", "Memory: 4GB", 0),
            ("Infrastructure Readiness", "Directory Structure Created", 0),
            ("AWS ECS/Fargate", "Performance benchmarks met", 0),
        ]
    );
    assert_eq!(lines[0].children, vec!["CPU: Minimum 2 cores", "Memory: 4GB"]);
}

#[test]
fn the_kept_copy_of_the_checklist_is_the_shared_one() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/checklist/production-deployment-checklist.md");
    // Outside the workplace (a CI clone) the shared folder may be absent; the copy is then the reference.
    if let Ok(shared) = std::fs::read_to_string(shared) {
        assert_eq!(
            read(CHECKLIST),
            shared,
            "copy ../shared/checklist/production-deployment-checklist.md to {CHECKLIST}"
        );
    }
    assert_eq!(parse_checklist(&read(CHECKLIST)).len(), 302);
}

#[test]
fn every_checklist_line_is_exactly_one_item_of_the_reference_config() {
    let lines = parse_checklist(&read(CHECKLIST));
    let config = reference_config(Vec::new());
    let by_title = items_by_title(&config);
    let mut missing = Vec::new();
    for line in &lines {
        match by_title.get(line.text.as_str()) {
            None => missing.push(format!("line {}: {}", line.number, line.text)),
            Some((_, item)) => {
                assert_eq!(
                    &*item.section,
                    line.section.as_str(),
                    "item {} (line {}) is in the wrong section",
                    item.id,
                    line.number
                );
                // The page orders a section's items by `line`: it must be the document's.
                assert_eq!(
                    item.line,
                    Some(line.number as u32),
                    "item {} is at line {} of the document",
                    item.id,
                    line.number
                );
            }
        }
    }
    assert!(missing.is_empty(), "{} checklist lines have no item:\n{}", missing.len(), missing.join("\n"));
    let extra: Vec<&str> = config
        .items()
        .filter(|(_, item)| !lines.iter().any(|l| l.text == item.title))
        .map(|(_, item)| item.id.as_str())
        .collect();
    assert!(extra.is_empty(), "items that are no checklist line: {extra:?}");
    assert_eq!(config.item_count(), lines.len());
}

#[test]
fn every_bold_parent_with_children_is_the_group_of_exactly_its_children() {
    let lines = parse_checklist(&read(CHECKLIST));
    let config = reference_config(Vec::new());
    let by_title = items_by_title(&config);
    for line in lines.iter().filter(|l| !l.children.is_empty()) {
        let (check, item) = by_title[line.text.as_str()];
        let Decider::Group(group) = check else {
            panic!(
                "line {} ({}) has children but item {} is a {} check",
                line.number,
                line.text,
                item.id,
                check.kind_name()
            )
        };
        let mut members: Vec<&str> = group.members.iter().map(String::as_str).collect();
        let mut children: Vec<&str> = line.children.iter().map(|c| by_title[c.as_str()].1.id.as_str()).collect();
        members.sort_unstable();
        children.sort_unstable();
        assert_eq!(members, children, "group {} must have exactly the children of line {}", item.id, line.number);
    }
}

#[test]
fn cloud_platform_lines_are_not_applicable_until_switched_on() {
    let lines = parse_checklist(&read(CHECKLIST));
    let cloud = ["AWS ECS/Fargate", "Google Cloud Run", "Azure Container Instances"];
    let ids_in = |config: &Config| -> Vec<(String, bool)> {
        let by_title = items_by_title(config);
        lines
            .iter()
            .filter(|l| cloud.contains(&l.section.as_str()))
            .map(|l| {
                let (check, item) = by_title[l.text.as_str()];
                (item.id.clone(), check.not_applicable().is_some())
            })
            .collect()
    };
    let default = ids_in(&reference_config(Vec::new()));
    assert_eq!(default.len(), 24, "the AWS, GCP and Azure subsections have 24 lines");
    assert!(default.iter().all(|(_, off)| *off), "cloud lines are switched off by default: {default:?}");
    let switched_on = reference_config(
        ["AWS", "GCP", "AZURE"].iter().map(|p| (format!("CHECKLIST__VARS__ENABLE_{p}"), "true".to_string())).collect(),
    );
    let on = ids_in(&switched_on);
    assert!(on.iter().all(|(_, off)| !*off), "every cloud line can be switched on: {on:?}");
}

/// How an item is decided, in words for the coverage document.
fn how(check: &Decider, item: &Item) -> String {
    let mut how = match check {
        Decider::Group(group) => {
            let members: Vec<String> = group.members.iter().map(|m| format!("`{m}`")).collect();
            format!("group: passes when {} pass", members.join(", "))
        }
        Decider::Check(check) => match &check.kind {
            CheckKind::Attested(attested) => {
                format!(
                    "attested by a person (`checklist-exporter attest {}`), valid {}",
                    item.id,
                    format_duration(attested.validity.0)
                )
            }
            kind => format!("`{}` → `{}` on {}", kind.name(), item.aspect, kind.describe()),
        },
    };
    if let Some(reason) = check.not_applicable() {
        let switch = reason.split("vars.").nth(1).and_then(|rest| rest.split(' ').next());
        match switch {
            Some(var) => write!(how, "; not applicable unless `{var}` is true").unwrap(),
            None => write!(how, "; not applicable by default").unwrap(),
        }
    }
    how
}

fn coverage_document(lines: &[Line], config: &Config) -> String {
    let by_title = items_by_title(config);
    let count = |f: &dyn Fn(&Decider) -> bool| lines.iter().filter(|l| f(by_title[l.text.as_str()].0)).count();
    let groups = count(&|c| matches!(c, Decider::Group(_)));
    let attested = count(&|c| matches!(c, Decider::Check(check) if matches!(check.kind, CheckKind::Attested(_))));
    let automated = lines.len() - groups - attested;
    let switched_off = count(&|c| c.not_applicable().is_some());
    let mut out = String::new();
    writeln!(out, "# Checklist coverage\n").unwrap();
    writeln!(
        out,
        "How each of the {} checkbox lines of the reference checklist \
         (`production-deployment-checklist.md`) is decided by [`config/dndstory.toml`](../config/dndstory.toml). \
         Generated by `UPDATE_COVERAGE=1 cargo test --test checklist_coverage`; the same test fails when a \
         line has no item or this page is out of date.\n",
        lines.len()
    )
    .unwrap();
    writeln!(
        out,
        "- {automated} lines are decided by a program (a check kind and aspect; targets with the config's default `[vars]`),"
    )
    .unwrap();
    writeln!(out, "- {groups} bold parent lines are groups that pass when all their members pass,").unwrap();
    writeln!(out, "- {attested} lines are attested by a person, each for a validity period,").unwrap();
    writeln!(
        out,
        "- {switched_off} of all these are not applicable by default (cloud platforms and \"if used\" lines), \
         each with a switch in `[vars]`.\n"
    )
    .unwrap();
    let mut section = "";
    for line in lines {
        if line.section != section {
            section = &line.section;
            writeln!(out, "\n## {section}\n").unwrap();
            writeln!(out, "| line | checklist line | item | severity | how it is decided |").unwrap();
            writeln!(out, "|---|---|---|---|---|").unwrap();
        }
        let (check, item) = by_title[line.text.as_str()];
        let text = if line.bold { format!("**{}**", line.text) } else { line.text.clone() };
        writeln!(
            out,
            "| {} | {} | `{}` | {} | {} |",
            line.number,
            text.replace('|', "\\|"),
            item.id,
            item.severity,
            how(check, item).replace('|', "\\|")
        )
        .unwrap();
    }
    out
}

#[test]
fn the_coverage_document_says_how_every_line_is_decided() {
    let lines = parse_checklist(&read(CHECKLIST));
    let expected = coverage_document(&lines, &reference_config(Vec::new()));
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(COVERAGE);
    if std::env::var_os("UPDATE_COVERAGE").is_some() {
        std::fs::write(&path, &expected).unwrap();
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{COVERAGE} is out of date: run `UPDATE_COVERAGE=1 cargo test --test checklist_coverage`"
    );
}

#[test]
fn the_reference_config_runs_against_loopback_and_every_line_gets_a_state_with_a_reason() {
    let text = read(CONFIG);
    let overrides = common::loopback_overrides(&text);
    assert!(!overrides.is_empty(), "the reference config names its targets in [vars]");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dndstory.toml");
    std::fs::write(&config, &text).unwrap();
    let output = std::process::Command::new(common::BINARY)
        .args(["check", "--format", "json", "--config.file"])
        .arg(&config)
        .envs(overrides)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(matches!(output.status.code(), Some(0 | 1)), "check exited {:?}: {stderr}", output.status.code());
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let items = document["items"].as_array().unwrap();
    assert_eq!(items.len(), 302);
    for item in items {
        let state = item["state"].as_str().unwrap();
        assert!(["pass", "fail", "error", "not_applicable"].contains(&state), "{item}");
        assert!(!item["reason"].as_str().unwrap_or_default().is_empty(), "no reason: {item}");
        assert_ne!(item["cause"], "panic", "{item}");
    }
}
