//! Group items, switched-off (not applicable) items and config variables, through the daemon's
//! real outputs: a group follows its members as a port opens and closes, and items a variable
//! switched off show as not applicable everywhere without holding up readiness.

use std::net::TcpListener;
use std::time::Duration;

mod common;
use common::{item, wait_for, Daemon};

fn config(port: u16, disk_root: &str) -> String {
    format!(
        r#"
[vars]
app_port = "127.0.0.1:{port}"
disk_root = "{disk_root}"
enable_aws = false

[[checks]]
kind = "tcp_port"
address = "${{app_port}}"
expect = "open"
connect_timeout = "100ms"
interval = "200ms"
{app}
[[checks]]
kind = "disk"
path = "${{disk_root}}"
min_free_bytes = 1
interval = "200ms"
{disk}
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:1"
expect = "open"
enabled = "${{enable_aws}}"
{aws}
[[checks]]
kind = "group"
members = ["net.app_port", "infra.disk", "aws.alb"]
{group}
[[checks]]
kind = "group"
members = ["aws.alb"]
{aws_group}"#,
        app = item("net.app_port", "critical", None),
        disk = item("infra.disk", "critical", Some("minimum")),
        aws = item("aws.alb", "critical", None),
        group = item("infra.ready", "critical", None),
        aws_group = item("aws.resources", "warning", None),
    )
}

#[test]
fn a_group_follows_its_members_and_switched_off_items_are_not_applicable_everywhere() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let daemon = Daemon::start(&config(port, "/"));
    // Ready means every applicable item has a verdict; the switched-off ones are not waited for.
    daemon.wait_ready();
    wait_for("the group to pass", Duration::from_secs(30), || daemon.item("infra.ready")["state"] == "pass");
    let group = daemon.item("infra.ready");
    assert_eq!(group["reason"], "all 2 items pass", "the switched-off member is left out: {group}");
    assert_eq!(group["kind"], "group");

    // Close the port: the member fails, and the group fails naming it, without its own probe.
    drop(listener);
    wait_for("the group to fail", Duration::from_secs(30), || daemon.item("infra.ready")["state"] == "fail");
    let group = daemon.item("infra.ready");
    assert_eq!(group["cause"], "refused");
    let reason = group["reason"].as_str().unwrap();
    assert_eq!(reason, "1 of 2 members do not pass: net.app_port (fail: refused)");

    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "infra.ready")]), Some(0.0));
    assert_eq!(
        metrics.value("checklist_item_failure_cause", &[("id", "infra.ready"), ("cause", "refused")]),
        Some(1.0)
    );
    for id in ["aws.alb", "aws.resources"] {
        assert_eq!(metrics.value("checklist_item_not_applicable", &[("id", id)]), Some(1.0), "{id}");
        assert_eq!(metrics.value("checklist_item_passing", &[("id", id)]), None, "{id} has no verdict series");
        assert_eq!(metrics.value("checklist_item_info", &[("id", id)]), Some(1.0), "{id} is still an item");
    }
    assert_eq!(metrics.value("checklist_item_not_applicable", &[("id", "infra.ready")]), None);
    assert!(common::promtool_complaints(&daemon.metrics_text()).is_none());

    let alb = daemon.item("aws.alb");
    assert_eq!(alb["state"], "not_applicable");
    assert_eq!(
        alb["reason"],
        "not applicable: switched off by vars.enable_aws = false (set it to true, or CHECKLIST__VARS__ENABLE_AWS=true, to check it)"
    );
    assert_eq!(daemon.items()["summary"]["not_applicable"], 2);

    let junit = daemon.get("/api/v1/report?format=junit").text().unwrap();
    assert!(junit.contains("<skipped message=\"not applicable: switched off by vars.enable_aws = false"), "{junit}");
    let markdown = daemon.get("/api/v1/report?format=markdown").text().unwrap();
    assert!(
        markdown.contains("| not_applicable | critical | Item aws.alb (`aws.alb`) | not applicable:"),
        "{markdown}"
    );
    let page = daemon.get("/").text().unwrap();
    assert!(page.contains("data-id=\"aws.alb\" data-state=\"not_applicable\""), "{page}");
    assert!(page.contains("Not applicable <span id=\"count-not_applicable\">2</span>"));

    // In a real browser, after the script refreshed the page from /api/v1/items.
    let output = common::chromium(&["--dump-dom"], &daemon.url("/"));
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(dom.contains("<span id=\"live-status\"> · live</span>"), "the refresh script did not run: {dom}");
    assert_eq!(dom.matches("data-state=\"not_applicable\"").count(), 2, "{dom}");
    assert!(dom.contains("<span id=\"count-not_applicable\">2</span>"), "{dom}");
    assert!(dom.contains(">Not applicable</span>"), "{dom}");
}

#[test]
fn an_environment_variable_retargets_and_switches_on_checks_without_editing_the_file() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    // The file points the disk check at a path that does not exist; the environment fixes it,
    // and switches the AWS line on (it then fails: nothing listens on port 1).
    std::fs::write(&path, config(port, "/nonexistent/disk")).unwrap();
    let output = std::process::Command::new(common::BINARY)
        .args(["check", "--format", "json", "--config.file"])
        .arg(&path)
        .env("CHECKLIST__VARS__DISK_ROOT", "/")
        .env("CHECKLIST__VARS__ENABLE_AWS", "true")
        .output()
        .unwrap();
    let document: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let state = |id: &str| {
        document["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()["state"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(state("infra.disk"), "pass");
    assert_eq!(state("aws.alb"), "fail");
    assert_eq!(state("aws.resources"), "fail", "the AWS group now has an applicable, failing member");
    assert_eq!(state("infra.ready"), "fail");
    assert_eq!(output.status.code(), Some(1), "a critical item fails");
    drop(listener);

    let output = std::process::Command::new(common::BINARY)
        .args(["--config.check", "--config.file"])
        .arg(&path)
        .env("CHECKLIST__VARS__ENABLE_AWS", "yes")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("CHECKLIST__VARS__ENABLE_AWS: `enable_aws` is a boolean in [vars]; set it to true or false"),
        "{stderr}"
    );
}
