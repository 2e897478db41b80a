//! `checklist-exporter init --from CHECKLIST.md`: the config it writes for the reference checklist
//! loads with all 302 lines under the document's sections, with the same groups as
//! `config/dndstory.toml`; the commented-out checks it suggests load when switched on; other
//! Markdown styles (numbered lists, `*`/`+` bullets, deep headings, tabs) load too.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use checklist_exporter::config::{self, Config, Decider};

mod common;

const REFERENCE: &str = "tests/fixtures/production-deployment-checklist.md";

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Runs `init --from checklist --output DIR/generated.toml`; the path and the text written.
fn init(checklist: &str, dir: &Path) -> (PathBuf, String) {
    let output_path = dir.join("generated.toml");
    let output = init_into(checklist, &output_path);
    assert_eq!(output.status.code(), Some(0), "init failed: {}", String::from_utf8_lossy(&output.stderr));
    let text = std::fs::read_to_string(&output_path).unwrap();
    (output_path, text)
}

fn load(path: &Path) -> Config {
    config::load(path).unwrap_or_else(|err| panic!("{err}"))
}

fn init_into(checklist: &str, output: &Path) -> std::process::Output {
    Command::new(common::BINARY)
        .args(["init", "--from"])
        .arg(repo(checklist))
        .arg("--output")
        .arg(output)
        .output()
        .unwrap()
}

/// (section, title) of every item in file order.
fn lines_of(config: &Config) -> Vec<(String, String)> {
    config.items().map(|(_, item)| (item.section.to_string(), item.title.clone())).collect()
}

/// Each group's title → its members' titles, sorted.
fn groups_of(config: &Config) -> BTreeMap<String, Vec<String>> {
    let titles: BTreeMap<&str, &str> = config.items().map(|(_, i)| (i.id.as_str(), i.title.as_str())).collect();
    config
        .items()
        .filter_map(|(decider, item)| match decider {
            Decider::Group(group) => {
                let mut members: Vec<String> = group.members.iter().map(|m| titles[m.as_str()].to_string()).collect();
                members.sort();
                Some((item.title.clone(), members))
            }
            Decider::Check(_) => None,
        })
        .collect()
}

#[test]
fn the_reference_checklist_becomes_a_config_with_its_lines_sections_and_groups() {
    let dir = tempfile::tempdir().unwrap();
    let (path, _) = init(REFERENCE, dir.path());
    let generated = load(&path);
    let reference = load(&repo("config/dndstory.toml"));
    assert_eq!(generated.item_count(), 302);

    // The same lines under the same sections; the generated config keeps the document's order.
    let mut generated_lines = lines_of(&generated);
    let mut reference_lines = lines_of(&reference);
    let sections = |lines: &[(String, String)]| {
        let mut sections: Vec<String> = lines.iter().map(|(s, _)| s.clone()).collect();
        sections.dedup();
        sections
    };
    let generated_sections = sections(&generated_lines);
    assert_eq!(generated_sections.first().map(String::as_str), Some("Infrastructure Readiness"));
    assert_eq!(generated_sections.last().map(String::as_str), Some("Sign-Off Checklist"));
    let mut unique = generated_sections.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), generated_sections.len(), "each section is one run of lines: {generated_sections:?}");
    generated_lines.sort();
    reference_lines.sort();
    assert_eq!(generated_lines, reference_lines);

    // Every line with lines indented under it is the group of exactly those, as in the reference.
    let generated_groups = groups_of(&generated);
    let reference_groups = groups_of(&reference);
    for (title, members) in &generated_groups {
        assert_eq!(Some(members), reference_groups.get(title), "group {title}");
    }
    // The reference also makes groups of sign-off lines ("Security requirements satisfied" over
    // the security sections): a choice of its authors, not nesting in the document, so init
    // leaves those lines attested.
    let by_title: BTreeMap<&str, (&Decider, &str)> =
        generated.items().map(|(d, i)| (i.title.as_str(), (d, &*i.section))).collect();
    let authored: Vec<&String> = reference_groups.keys().filter(|t| !generated_groups.contains_key(*t)).collect();
    assert_eq!(authored.len(), 10, "{authored:?}");
    for title in authored {
        let (decider, section) = by_title[title.as_str()];
        assert_eq!((decider.kind_name(), section), ("attested", "Sign-Off Checklist"), "{title}");
    }
}

#[test]
fn ids_are_stable_and_the_output_is_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let (path, first) = init(REFERENCE, dir.path());
    let again = Command::new(common::BINARY).args(["init", "--from"]).arg(repo(REFERENCE)).output().unwrap();
    assert_eq!(again.status.code(), Some(0));
    assert_eq!(String::from_utf8(again.stdout).unwrap(), first, "the same document gives the same config");

    std::fs::write(&path, "# edited by hand\n").unwrap();
    let refused = init_into(REFERENCE, &path);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains(&format!("{}: exists already; not replacing it", path.display())), "{stderr}");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "# edited by hand\n");
}

/// Each commented-out check, uncommented, in place of the attested check above it.
fn suggestions(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        match (&mut current, line) {
            (None, "# [[checks]]") => current = Some("[[checks]]\n".to_string()),
            (Some(block), line) if line.starts_with('#') => {
                block.push_str(line.strip_prefix("# ").unwrap_or(""));
                block.push('\n');
            }
            (Some(_), _) => blocks.push(current.take().unwrap()),
            (None, _) => {}
        }
    }
    blocks.extend(current);
    blocks
}

#[test]
fn every_suggested_check_loads_when_switched_on() {
    let dir = tempfile::tempdir().unwrap();
    let (_, text) = init(REFERENCE, dir.path());
    let vars_start = text.find("\n[vars]\n").unwrap() + 1;
    let vars_end = text[vars_start..].find("\n\n").unwrap() + vars_start;
    let vars = &text[vars_start..vars_end];
    let blocks = suggestions(&text);
    let mut kinds: Vec<String> = Vec::new();
    for block in &blocks {
        let config = config::parse("suggestion.toml", &format!("{vars}\n\n{block}"), Vec::new())
            .unwrap_or_else(|err| panic!("{err}\n{block}"));
        let (decider, _) = config.items().next().unwrap();
        kinds.push(decider.kind_name().to_string());
    }
    kinds.sort();
    kinds.dedup();
    assert_eq!(kinds, ["backup", "cpu", "disk", "env_rule", "http_headers", "memory", "postgres", "tcp_port", "tls"]);
    assert!(blocks.len() >= 50, "{} suggestions", blocks.len());
}

#[test]
fn numbered_and_starred_checklists_load_with_their_nesting() {
    let dir = tempfile::tempdir().unwrap();
    let (path, text) = init("tests/fixtures/checklists/numbered-release.md", dir.path());
    let numbered = load(&path);
    assert_eq!(
        lines_of(&numbered).iter().map(|(s, t)| format!("{s} / {t}")).collect::<Vec<_>>(),
        [
            "1. Before the release / Changelog updated",
            "1. Before the release / Staging verified",
            "1. Before the release / Smoke tests pass on staging",
            "1. Before the release / `DEBUG=false` in the staging env",
            "1. Before the release / Database migrations applied (`max_connections` unchanged)",
            "1. Before the release / Security headers reviewed",
            "1. Before the release / HSTS enabled with a one-year max-age",
            "1. Before the release / X-Frame-Options is DENY",
            "2. During the release / Announce the maintenance window",
            "2. During the release / Announce the maintenance window",
            "2. During the release / Port 443 open on the load balancer",
            "3. After the release / TLS certificate expiry more than 30 days away",
            "3. After the release / Nightly backup ran after the release",
        ]
    );
    assert_eq!(groups_of(&numbered).len(), 2);
    assert!(text.contains("id = \"2_during_the_release.announce_the_maintenance_window_2\""), "{text}");
    assert!(text.contains("(ticked in the document: record who did it"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let (path, _) = init("tests/fixtures/checklists/ops-handbook.md", dir.path());
    let handbook = load(&path);
    let sections: Vec<String> = lines_of(&handbook).into_iter().map(|(s, _)| s).collect();
    assert_eq!(
        sections,
        [
            "Resources",
            "Resources",
            "Resources",
            "Resources",
            "Resources",
            "SSH",
            "SSH",
            "Database",
            "Database",
            "Database",
            "Database"
        ]
    );
    assert_eq!(
        groups_of(&handbook),
        BTreeMap::from([(
            "Kernel".to_string(),
            vec!["Reboot scheduled after kernel updates".to_string(), "Unattended upgrades enabled".to_string()]
        )])
    );
}

#[test]
fn a_document_without_checkbox_lines_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let document = dir.path().join("prose.md");
    std::fs::write(&document, "# Notes\n\nNothing to tick here.\n- a plain bullet\n").unwrap();
    let output = Command::new(common::BINARY).args(["init", "--from"]).arg(&document).output().unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("{}: no checkbox lines", document.display())), "{stderr}");
}
