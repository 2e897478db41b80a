//! End to end: the daemon, a real Prometheus with the shipped rules and a real Alertmanager, all
//! on loopback. With a go-live baseline taken, an item breaks (its TCP listener goes away, then
//! its backup file is removed), and Alertmanager delivers ChecklistItemRegressed to a webhook
//! this test runs, with the item's id in the labels.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::prometheus::Alertmanager;
use common::{closed_port, item, wait_for, Daemon};

/// The shipped rules with `for:` shortened, so that the test does not wait two minutes.
fn fast_rules(dir: &std::path::Path) -> std::path::PathBuf {
    let rules = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/alerts/checklist.rules.yml")).unwrap();
    let fast: String = rules
        .lines()
        .map(|line| {
            if line.trim_start().starts_with("for:") {
                line.split("for:").next().unwrap().to_string() + "for: 1s"
            } else {
                line.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let path = dir.join("rules.yml");
    std::fs::write(&path, fast).unwrap();
    path
}

/// Collects the bodies of the webhook POSTs Alertmanager sends (at most 200 requests).
fn webhook() -> (std::net::SocketAddr, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = received.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(200) {
            let Ok(stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut reader = BufReader::new(stream);
            let mut length = 0usize;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = value.trim().parse().unwrap_or(0);
                }
            }
            let mut body = vec![0u8; length.min(1 << 20)];
            if reader.read_exact(&mut body).is_ok() {
                if let Ok(json) = serde_json::from_slice(&body) {
                    sink.lock().unwrap().push(json);
                }
            }
            let _ = reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (address, received)
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_regression_after_go_live_reaches_a_webhook_through_alertmanager() {
    let dir = tempfile::tempdir().unwrap();
    let app_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::write(backups.join("db.sql.gz"), b"backup").unwrap();
    let config = format!(
        "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nconnect_timeout = \"500ms\"\n{}\n\
         [[checks]]\nkind = \"backup\"\nset = \"db\"\ndirectory = \"{}\"\ninterval = \"1s\"\ntimeout = \"900ms\"\n{}\n\
         [[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nconnect_timeout = \"500ms\"\n{}\n",
        app_port.local_addr().unwrap().port(),
        item("net.app_port", "critical", None),
        backups.display(),
        item("backup.present", "critical", Some("age")),
        closed_port(),
        item("net.never_open", "critical", None),
    );
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, config).unwrap();
    let baseline = dir.path().join("baseline.json");
    let daemon = Daemon::start_with(&config_path, &["--baseline.file", &baseline.display().to_string()]);
    daemon.wait_ready();
    assert_eq!(daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap().status(), 200);

    let (hook, received) = webhook();
    let alertmanager = Alertmanager::start(&format!(
        "route:\n  receiver: hook\n  group_by: [alertname, id]\n  group_wait: 1s\n  group_interval: 1s\n  repeat_interval: 1h\n\
         receivers:\n  - name: hook\n    webhook_configs:\n      - url: http://{hook}/alerts\n        send_resolved: false\n"
    ));
    let alertmanager_port = alertmanager.port;
    let rules = fast_rules(dir.path());
    let prometheus_port = closed_port();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n\
             rule_files: [{}]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{alertmanager_port}\"]\n\
             scrape_configs:\n  - job_name: checklist\n    static_configs:\n      - targets: [\"{}\"]\n",
            rules.display(),
            daemon.address
        ),
    )
    .unwrap();
    let _prometheus = Process(
        Command::new("prometheus")
            .arg(format!("--config.file={}", dir.path().join("prometheus.yml").display()))
            .arg(format!("--storage.tsdb.path={}", dir.path().join("tsdb").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (tests/run.sh installs it)"),
    );

    // Break two items that passed at go-live.
    drop(app_port);
    std::fs::remove_file(backups.join("db.sql.gz")).unwrap();

    let regressed_ids = || -> Vec<String> {
        received
            .lock()
            .unwrap()
            .iter()
            .flat_map(|notification| notification["alerts"].as_array().cloned().unwrap_or_default())
            .filter(|alert| alert["labels"]["alertname"] == "ChecklistItemRegressed" && alert["status"] == "firing")
            .filter_map(|alert| alert["labels"]["id"].as_str().map(str::to_string))
            .collect()
    };
    wait_for("ChecklistItemRegressed at the webhook for both broken items", Duration::from_secs(90), || {
        let ids = regressed_ids();
        ids.contains(&"net.app_port".to_string()) && ids.contains(&"backup.present".to_string())
    });
    let notifications = received.lock().unwrap().clone();
    let alert = notifications
        .iter()
        .flat_map(|n| n["alerts"].as_array().cloned().unwrap_or_default())
        .find(|a| a["labels"]["alertname"] == "ChecklistItemRegressed" && a["labels"]["id"] == "net.app_port")
        .unwrap();
    assert_eq!(alert["labels"]["severity"], "critical");
    assert_eq!(alert["labels"]["item_severity"], "critical");
    assert!(alert["annotations"]["runbook_url"].as_str().unwrap().contains("runbooks.md#checklistitemregressed"));
    assert!(
        alert["annotations"]["description"].as_str().unwrap().contains("refused"),
        "the description carries the cause: {alert}"
    );
    assert!(
        !regressed_ids().contains(&"net.never_open".to_string()),
        "an item that never passed does not page as a regression"
    );
}
