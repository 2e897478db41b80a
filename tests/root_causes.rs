//! Root causes end to end: the shipped D&D config on this (fresh) host with every network target
//! on loopback, as `check` runs it, leads with at most a dozen causes that account for most
//! failing items; and `/api/v1/items` of a running daemon carries them, gathered across check
//! families by the thing they are about, with no secret in them.

mod common;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{closed_port, item, wait_for, Daemon};
use serde_json::Value;

/// Runs `check` on the shipped D&D config with loopback overrides and `DND_DB_PASSWORD` unset.
fn check_dndstory(format: &str) -> String {
    let config = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/dndstory.toml");
    let overrides = common::loopback_overrides(&std::fs::read_to_string(&config).unwrap());
    let output = Command::new(common::BINARY)
        .args(["check", "--format", format, "--config.file"])
        .arg(&config)
        .envs(overrides)
        .env_remove("DND_DB_PASSWORD")
        .output()
        .unwrap();
    assert!(matches!(output.status.code(), Some(0 | 1)), "stderr: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn ids(list: &Value) -> Vec<&str> {
    list.as_array().unwrap().iter().map(|id| id.as_str().unwrap()).collect()
}

#[test]
fn the_dndstory_config_on_a_fresh_host_leads_with_a_dozen_causes_that_cover_most_failing_items() {
    let env_file = Path::new("/opt/dndstory/config/.env.production");
    assert!(!env_file.exists(), "this test wants a fresh host, without the app deployed, but {env_file:?} exists");

    let document: Value = serde_json::from_str(&check_dndstory("json")).unwrap();
    let items: HashMap<&str, &Value> =
        document["items"].as_array().unwrap().iter().map(|i| (i["id"].as_str().unwrap(), i)).collect();
    let failing: HashSet<&str> = items
        .iter()
        .filter(|(_, i)| i["kind"] != "group" && (i["state"] == "fail" || i["state"] == "error"))
        .map(|(id, _)| *id)
        .collect();
    assert!(failing.len() > 100, "a fresh host fails most of the checklist: {}", failing.len());

    let causes = document["root_causes"].as_array().unwrap();
    // No item under two causes, and every item of a cause is failing and names its subject.
    let mut seen = HashSet::new();
    for cause in causes {
        for id in ids(&cause["items"]) {
            assert!(seen.insert(id), "{id} is under two causes");
            assert!(failing.contains(id), "{id} is not a failing item: {cause}");
            let subject = &items[id]["subject"];
            if cause["kind"] == "attestations" {
                assert_eq!(subject["kind"], "attestation", "{id}");
            } else {
                assert_eq!((&subject["kind"], &subject["name"]), (&cause["kind"], &cause["name"]), "{id}");
            }
        }
    }
    // Ranked by weight, the gathered attestations after the causes a fix on the host clears.
    // As (attestations, -weight) the list ascends.
    let order: Vec<(bool, i64)> =
        causes.iter().map(|c| (c["kind"] == "attestations", -c["weight"].as_i64().unwrap())).collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");

    let named = |kind: &str, name: &str| causes.iter().filter(|c| c["kind"] == kind && c["name"] == name).count();
    assert_eq!(named("variable", "DND_DB_PASSWORD"), 1, "{causes:#?}");
    assert_eq!(named("path", "/opt/dndstory/config/.env.production"), 1, "{causes:#?}");
    let password = causes.iter().find(|c| c["name"] == "DND_DB_PASSWORD").unwrap();
    assert_eq!(password["summary"], "environment variable DND_DB_PASSWORD is not set");
    assert!(ids(&password["items"]).len() >= 10, "every PostgreSQL item waits for the password: {password}");
    assert!(causes.iter().all(|c| c["summary"].as_str().unwrap().len() <= 200), "a summary is one line a person reads");
    // Group reasons name their members, never nest the members' reasons.
    let longest_group_reason = items
        .values()
        .filter(|i| i["kind"] == "group")
        .map(|i| i["reason"].as_str().unwrap_or_default().chars().count())
        .max()
        .unwrap();
    assert!(longest_group_reason <= 301, "{longest_group_reason} characters");

    // `check` leads with them, before the item list.
    let text = check_dndstory("text");
    let (lead, table) = text.split_once("\nVERDICT ").expect("an item table");
    let mut lines = lead.lines();
    let heading = lines.next().unwrap();
    assert!(heading.starts_with("Fix these first"), "{text}");
    let listed: Vec<&str> = lines.filter(|l| !l.is_empty()).collect();
    assert!(!listed.is_empty() && listed.len() <= 12, "{lead}");
    assert!(listed.iter().any(|l| l.contains("environment variable DND_DB_PASSWORD is not set — clears ")), "{lead}");
    // "clears N items: a, b, c and M more" names or counts every one of the N.
    for line in &listed {
        let clears: usize = line.split("— clears ").nth(1).unwrap().split(' ').next().unwrap().parse().unwrap();
        let named = line.split(": ").last().unwrap().split(" and ").next().unwrap().split(", ").count();
        let more: usize =
            line.rsplit_once(" and ").map_or(0, |(_, rest)| rest.trim_end_matches(" more").parse().unwrap_or(0));
        assert_eq!(named + more, clears, "{line}");
    }
    assert_eq!(
        listed.iter().filter(|l| l.contains("/opt/dndstory/config/.env.production does not exist")).count(),
        1,
        "{lead}"
    );
    // "they block N of M failing or undecidable items": most.
    let numbers: Vec<usize> =
        heading.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()).map(|w| w.parse().unwrap()).collect();
    let (covered, of) = (numbers[numbers.len() - 2], numbers[numbers.len() - 1]);
    assert_eq!(of, failing.len(), "{heading}");
    assert!(covered * 2 > of, "the leading causes cover most failing items: {heading}");
    assert!(table.contains("DND_DB_PASSWORD"), "the items keep their own reasons");
}

#[test]
fn the_items_api_carries_root_causes_gathered_across_families_without_secrets() {
    let port = closed_port();
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    let canary = "canary-5d0c3f1e-secret-value";
    std::fs::write(&env_file, format!("TOKEN={canary}\n")).unwrap();
    let config = format!(
        r#"
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:{port}"
expect = "open"
connect_timeout = "1s"
{port_item}
[[checks]]
kind = "http"
url = "http://127.0.0.1:{port}/health"
{health_item}
[[checks]]
kind = "env_rule"
file = "{env_file}"
key = "TOKEN"
matches = "^tok-"
{token_item}
[[checks]]
kind = "group"
members = ["app.port", "app.health"]
{group_item}
"#,
        port_item = item("app.port", "critical", None),
        health_item = item("app.health", "warning", Some("status")),
        env_file = env_file.display(),
        token_item = item("app.token", "info", None),
        group_item = item("app.ready", "critical", None),
    );
    let daemon = Daemon::start(&config);
    wait_for("every item evaluated", Duration::from_secs(30), || {
        daemon.items()["items"].as_array().unwrap().iter().all(|i| i["state"] != "pending")
    });
    let body = daemon.get("/api/v1/items").text().unwrap();
    assert!(!body.contains(canary), "a secret value in the API: {body}");
    let document: Value = serde_json::from_str(&body).unwrap();
    let causes = document["root_causes"].as_array().unwrap();
    let endpoint = format!("127.0.0.1:{port}");
    assert_eq!(causes.len(), 2, "{causes:#?}");
    assert_eq!(causes[0]["kind"], "endpoint");
    assert_eq!(causes[0]["name"], endpoint.as_str());
    assert_eq!(causes[0]["summary"], format!("{endpoint} refuses connections"));
    assert_eq!(ids(&causes[0]["items"]), ["app.port", "app.health"], "a TCP and an HTTP check, one endpoint");
    assert_eq!(ids(&causes[0]["groups"]), ["app.ready"]);
    assert_eq!(causes[0]["weight"], 5, "critical 3 + warning 2; the group adds nothing");
    assert_eq!(causes[1]["kind"], "variable");
    assert_eq!(causes[1]["name"], "TOKEN");
    assert_eq!(ids(&causes[1]["items"]), ["app.token"]);
    assert_eq!(daemon.item("app.health")["subject"]["name"], endpoint.as_str());
    for path in ["/metrics", "/"] {
        assert!(!daemon.get(path).text().unwrap().contains(canary), "a secret value in {path}");
    }
}
