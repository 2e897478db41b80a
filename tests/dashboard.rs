//! The Grafana dashboard: importable JSON whose every panel query works for a fleet. A real
//! Prometheus with the shipped rules scrapes two real daemons with different configs (one with a
//! check of every family the dashboard shows, one small one sharing item ids), and each panel's
//! query, with the job and instance variables at "All", must run without error and return data.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::prometheus::Prometheus;
use common::{item, wait_for, Daemon};

const DASHBOARD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/dashboards/checklist.json");

fn dashboard() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap()).expect("the dashboard is JSON")
}

/// Every (panel title, query) of the dashboard, with Grafana's interval variable resolved and
/// the job and instance variables at "All" (their `allValue`).
fn queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let mut queries = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"]
                .as_str()
                .unwrap()
                .replace("$__rate_interval", "1m")
                .replace("$job", ".+")
                .replace("$instance", ".+");
            queries.push((panel["title"].as_str().unwrap().to_string(), expr));
        }
    }
    queries
}

#[test]
fn the_dashboard_is_importable_with_the_datasource_as_a_variable() {
    let dashboard = dashboard();
    assert!(dashboard["schemaVersion"].as_u64().unwrap() >= 36, "a current schema version");
    let variables = dashboard["templating"]["list"].as_array().unwrap();
    assert!(variables
        .iter()
        .any(|v| v["type"] == "datasource" && v["query"] == "prometheus" && v["name"] == "datasource"));
    for panel in dashboard["panels"].as_array().unwrap() {
        assert_eq!(panel["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        for target in panel["targets"].as_array().unwrap() {
            assert_eq!(target["datasource"]["uid"], "${datasource}", "{}", panel["title"]);
        }
    }
    let ids: Vec<u64> = dashboard["panels"].as_array().unwrap().iter().map(|p| p["id"].as_u64().unwrap()).collect();
    let unique: std::collections::BTreeSet<u64> = ids.iter().copied().collect();
    assert_eq!(ids.len(), unique.len(), "panel ids are unique: {ids:?}");
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus", "import offers a datasource choice");
    for variable in ["job", "instance"] {
        assert!(variables.iter().any(|v| v["name"] == variable && v["includeAll"] == true), "no ${variable} variable");
    }
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap();
        assert!(panel["description"].as_str().is_some_and(|d| !d.is_empty()), "{title} has no description");
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            assert!(expr.contains("instance=~\"$instance\""), "{title} ignores the instance variable: {expr}");
            // A join on `id` alone finds duplicate series as soon as two exporters share an id.
            assert!(!expr.contains("on (id)") && !expr.contains("on(id)"), "{title} joins on id alone: {expr}");
        }
    }
    let readiness =
        dashboard["panels"].as_array().unwrap().iter().find(|p| p["title"] == "Readiness: all items").unwrap();
    let steps = readiness["fieldConfig"]["defaults"]["thresholds"]["steps"].as_array().unwrap();
    let color_at = |value: f64| {
        steps.iter().rev().find(|s| s["value"].as_f64().is_none_or(|v| v <= value)).unwrap()["color"].clone()
    };
    assert_eq!(color_at(0.22), "red", "22% readiness is red");
    assert_eq!(color_at(1.0), "green");
}

/// Answers every request with a small JSON health document (at most 10,000 connections).
fn health_server() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10_000) {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
            let mut request = [0u8; 2048];
            let _ = stream.read(&mut request);
            let body = "{\"status\":\"ok\",\"database\":\"ok\"}";
            let _ = write!(
                stream,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

#[test]
fn every_panel_query_returns_data_from_a_real_prometheus() {
    let dir = tempfile::tempdir().unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::write(backups.join("dndstory-2026.sql.gz"), b"backup").unwrap();
    let pki = common::pki::Pki::new();
    let tls_server = common::pki::TlsServer::start(&pki.chain(&common::pki::Leaf::valid(&["app.test"]), true));
    let app_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let health = health_server();
    let config = format!(
        r#"
[[checks]]
kind = "cpu"
min_cores = 1
{cpu}
[[checks]]
kind = "memory"
max_used_ratio = 0.99
{memory}
[[checks]]
kind = "disk"
path = "/"
min_free_ratio = 0.0
{disk}
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:{app_port}"
expect = "open"
interval = "1s"
timeout = "900ms"
connect_timeout = "500ms"
{port}
[[checks]]
kind = "http"
url = "http://{health}/health"
max_p95_latency = "2s"
interval = "1s"
timeout = "900ms"
{http}
[[checks]]
kind = "tls_cert_file"
cert_file = "{cert}"
{cert_item}
[[checks]]
kind = "tls"
address = "{tls_address}"
server_name = "app.test"
system_roots = false
ca_files = ["{cert}"]
{tls_item}
[[checks]]
kind = "backup"
set = "db"
directory = "{backups}"
pattern = "*.sql.gz"
{backup}
[[checks]]
kind = "postgres"
url = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
interval = "2s"
timeout = "1500ms"
connect_timeout = "1s"
{pg}
"#,
        cpu = item("infra.cpu", "critical", Some("minimum")),
        memory = item("perf.memory", "warning", Some("used_ratio")),
        disk = item("perf.disk", "warning", Some("free_ratio")),
        app_port = app_port.local_addr().unwrap().port(),
        port = item("net.app_port", "critical", None),
        http = item("health.latency", "warning", Some("latency_p95")),
        cert = pki.root_file().display(),
        cert_item = item("tls.cert_file", "critical", Some("valid")),
        tls_address = tls_server.address,
        tls_item = item("tls.endpoint", "critical", Some("trusted")),
        backups = backups.display(),
        backup = item("backup.age", "critical", Some("age")),
        pg = item("db.running", "critical", Some("running")),
    );
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, config).unwrap();
    let baseline = dir.path().join("baseline.json");
    let daemon = Daemon::start_with(&config_path, &["--baseline.file", &baseline.display().to_string()]);
    daemon.wait_ready();
    assert_eq!(daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap().status(), 200);
    // Break an item after go-live, so the regression panels have something to show.
    drop(app_port);
    wait_for("the regression", Duration::from_secs(30), || {
        daemon.metrics().value("checklist_item_regressed", &[("id", "net.app_port")]) == Some(1.0)
    });

    // A second exporter with another config that shares item ids with the first: joins on
    // `id` alone would find duplicate series.
    let other_dir = tempfile::tempdir().unwrap();
    let other_config = other_dir.path().join("checklist.toml");
    std::fs::write(
        &other_config,
        format!(
            "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\nconnect_timeout = \"500ms\"\n{}\n",
            item("infra.cpu", "critical", Some("minimum")),
            common::closed_port(),
            item("net.app_port", "critical", None)
        ),
    )
    .unwrap();
    let other =
        Daemon::start_with(&other_config, &["--baseline.file", &other_dir.path().join("b.json").display().to_string()]);
    other.wait_ready();

    let rules = concat!(env!("CARGO_MANIFEST_DIR"), "/alerts/checklist.rules.yml");
    let prometheus = Prometheus::start_config(&format!(
        "global:\n  scrape_interval: 500ms\n  scrape_timeout: 500ms\n  evaluation_interval: 1s\n\
         rule_files: [{rules}]\n\
         scrape_configs:\n  - job_name: checklist\n    static_configs:\n      - targets: [\"{}\", \"{}\"]\n",
        daemon.address, other.address
    ));
    let queries = queries(&dashboard());
    assert!(queries.len() >= 15);
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let empty = loop {
        let empty: Vec<String> = queries
            .iter()
            .filter(|(_, expr)| prometheus.query(expr).is_empty())
            .map(|(title, expr)| format!("{title}: {expr}"))
            .collect();
        if empty.is_empty() || std::time::Instant::now() > deadline {
            break empty;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    // Errors are asserted inside `query`; what is left to report is a panel without data.
    assert!(empty.is_empty(), "panels without data after 90 s: {empty:#?}");
}
