//! End to end: the daemon, a real Prometheus with the shipped rules and a real Alertmanager, all
//! on loopback. With a go-live baseline taken, an item breaks (its TCP listener goes away, then
//! its backup file is removed), and Alertmanager delivers ChecklistItemRegressed to a webhook
//! this test runs, with the item's id in the labels.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::prometheus::{Alertmanager, Prometheus};
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
    let (address, received) = webhook_by_path();
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let sink = bodies.clone();
    // Until the test drops its handle.
    std::thread::spawn(move || {
        while Arc::strong_count(&sink) > 1 {
            let drained: Vec<_> = received.lock().unwrap().drain(..).map(|(_, body)| body).collect();
            sink.lock().unwrap().extend(drained);
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    (address, bodies)
}

/// (request path, body) of each notification: one path per receiver.
type Received = Arc<Mutex<Vec<(String, serde_json::Value)>>>;

/// Collects the webhook POSTs Alertmanager sends (at most 200 requests).
fn webhook_by_path() -> (std::net::SocketAddr, Received) {
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
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let path = request_line.split(' ').nth(1).unwrap_or_default().to_string();
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
                    sink.lock().unwrap().push((path, json));
                }
            }
            let _ = reader.get_mut().write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });
    (address, received)
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
    let _prometheus = Prometheus::start_config(&format!(
        "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n\
         rule_files: [{}]\n\
         alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{alertmanager_port}\"]\n\
         scrape_configs:\n  - job_name: checklist\n    static_configs:\n      - targets: [\"{}\"]\n",
        rules.display(),
        daemon.address
    ));

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
    assert_eq!(alert["labels"]["severity"], "critical", "the item's own severity");
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

/// The mixin's output with `overrides` applied to its `_config`, as JSON (which Prometheus and
/// Alertmanager read as YAML): the rules with short `for:` and the routing with short waits.
fn mixin(expression: &str, overrides: &str) -> serde_json::Value {
    let program =
        format!("local mixin = (import 'mixin/mixin.libsonnet') + {{ _config+:: {overrides} }}; {expression}");
    let output = Command::new("jsonnet")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["-e", &program])
        .output()
        .expect("jsonnet is installed (tests/run.sh installs it)");
    assert!(output.status.success(), "jsonnet {program}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Short durations for the test; the model (grouping, inhibition, severities, outage
/// tolerance) is the shipped one. Value alerts wait longer than item alerts, as shipped.
const FAST: &str = "{ forRegressed: '1s', forCriticalFailing: '1h', forUndecidable: '1h', forValue: '4s', \
                    forValueCritical: '4s', forExporterDown: '1m', groupWait: '4s', groupInterval: '3s' }";

/// A real Prometheus with the mixin's rules and a real Alertmanager with the mixin's routing,
/// its three receivers posting to `/page`, `/ticket` and `/nobody` of one webhook.
struct AlertChain {
    received: Received,
    _alertmanager: Alertmanager,
    _prometheus: Prometheus,
    _dir: tempfile::TempDir,
}

impl AlertChain {
    fn start(exporter: std::net::SocketAddr) -> AlertChain {
        let dir = tempfile::tempdir().unwrap();
        let (hook, received) = webhook_by_path();
        let mut routing = mixin("mixin.alertmanagerConfig", FAST);
        for receiver in routing["receivers"].as_array_mut().unwrap() {
            let name = receiver["name"].as_str().unwrap().to_string();
            receiver["webhook_configs"] =
                serde_json::json!([{ "url": format!("http://{hook}/{name}"), "send_resolved": true }]);
        }
        let alertmanager = Alertmanager::start(&routing.to_string());
        let rules = dir.path().join("rules.yml");
        let groups = mixin("mixin.prometheusRules.groups + mixin.prometheusAlerts.groups", FAST);
        std::fs::write(&rules, serde_json::json!({ "groups": groups }).to_string()).unwrap();
        let prometheus = Prometheus::start_config(&format!(
            "global:\n  scrape_interval: 500ms\n  evaluation_interval: 500ms\n\
             rule_files: [{}]\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: [\"127.0.0.1:{}\"]\n\
             scrape_configs:\n  - job_name: checklist\n    static_configs:\n      - targets: [\"{exporter}\"]\n",
            rules.display(),
            alertmanager.port
        ));
        AlertChain { received, _alertmanager: alertmanager, _prometheus: prometheus, _dir: dir }
    }

    /// The notifications `receiver` got with `status` (firing or resolved).
    fn notifications(&self, receiver: &str, status: &str) -> Vec<serde_json::Value> {
        let path = format!("/{receiver}");
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, body)| *p == path && body["status"] == status)
            .map(|(_, body)| body.clone())
            .collect()
    }

    /// Every notification as `receiver status: alertname id`, for failure messages.
    fn log(&self) -> Vec<String> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .map(|(path, body)| {
                let alerts: Vec<String> = body["alerts"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|a| format!("{} {} {}", a["labels"]["alertname"], a["labels"]["id"], a["status"]))
                    .collect();
                format!("{path} {}: {}", body["status"], alerts.join(", "))
            })
            .collect()
    }
}

/// Forwards TCP connections to whichever backend is current, so that a TLS server can change
/// certificates behind one address (at most 2,000 connections).
fn switchable_forwarder(backend: std::net::SocketAddr) -> (std::net::SocketAddr, Arc<Mutex<std::net::SocketAddr>>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    let current = Arc::new(Mutex::new(backend));
    let target = current.clone();
    std::thread::spawn(move || {
        for client in listener.incoming().take(2000) {
            let Ok(client) = client else { continue };
            let backend = *target.lock().unwrap();
            let Ok(server) = std::net::TcpStream::connect_timeout(&backend, Duration::from_secs(2)) else { continue };
            for (mut from, mut to) in [(client.try_clone().unwrap(), server.try_clone().unwrap()), (server, client)] {
                std::thread::spawn(move || {
                    let _ = from.set_read_timeout(Some(Duration::from_secs(10)));
                    let _ = std::io::copy(&mut from, &mut to);
                    let _ = to.shutdown(std::net::Shutdown::Write);
                });
            }
        }
    });
    (address, current)
}

/// Ids of the items the alerts of `notification` are about.
fn alert_ids(notification: &serde_json::Value) -> std::collections::BTreeSet<String> {
    notification["alerts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a["labels"]["id"].as_str().map(String::from))
        .collect()
}

#[test]
fn one_expired_certificate_pages_once_naming_every_item_it_breaks_and_resolves_once() {
    let dir = tempfile::tempdir().unwrap();
    let pki = common::pki::Pki::new();
    let valid = common::pki::TlsServer::start(&pki.chain(&common::pki::Leaf::valid(&["app.test"]), true));
    let day = Duration::from_secs(86400);
    let expired_leaf = common::pki::Leaf {
        not_before: std::time::SystemTime::now() - 30 * day,
        not_after: std::time::SystemTime::now() - day,
        ..common::pki::Leaf::valid(&["app.test"])
    };
    let expired = common::pki::TlsServer::start(&pki.chain(&expired_leaf, true));
    let (tls_address, backend) = switchable_forwarder(valid.address);
    let info_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    std::fs::write(backups.join("db.sql.gz"), b"backup").unwrap();
    let config = format!(
        "[[checks]]\nkind = \"tls\"\naddress = \"{tls_address}\"\nserver_name = \"app.test\"\nsystem_roots = false\nca_files = [\"{}\"]\n\
         min_remaining = \"7d\"\ninterval = \"1s\"\ntimeout = \"900ms\"\n{}{}\n\
         [[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nconnect_timeout = \"500ms\"\n{}\n\
         [[checks]]\nkind = \"backup\"\nset = \"db\"\ndirectory = \"{}\"\ninterval = \"1s\"\ntimeout = \"900ms\"\n{}\n",
        pki.root_file().display(),
        item("tls.trusted", "critical", Some("trusted")),
        item("tls.expiry", "critical", Some("expiry")),
        info_port.local_addr().unwrap().port(),
        item("net.info_port", "info", None),
        backups.display(),
        item("backup.present", "warning", Some("age")),
    );
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, config).unwrap();
    let baseline = dir.path().join("baseline.json");
    let daemon = Daemon::start_with(&config_path, &["--baseline.file", &baseline.display().to_string()]);
    daemon.wait_ready();
    wait_for("every item passing before go-live", Duration::from_secs(30), || {
        daemon.items()["items"].as_array().unwrap().iter().all(|i| i["state"] == "pass")
    });
    assert_eq!(daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap().status(), 200);
    let chain = AlertChain::start(daemon.address);

    // Three faults: the certificate expires (two critical items), an info item's port closes,
    // a warning item's backup goes.
    *backend.lock().unwrap() = expired.address;
    drop(info_port);
    std::fs::remove_file(backups.join("db.sql.gz")).unwrap();

    wait_for("the page for the certificate and the ticket for the backup", Duration::from_secs(90), || {
        !chain.notifications("page", "firing").is_empty() && !chain.notifications("ticket", "firing").is_empty()
    });
    // Long enough for a second notification to come if any would: group_wait and two
    // group_intervals past the first, and past the value alerts' `for:`.
    std::thread::sleep(Duration::from_secs(12));
    let regressed: std::collections::BTreeSet<String> = daemon.items()["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["regressed"] == true && i["id"].as_str().unwrap().starts_with("tls."))
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    assert!(regressed.contains("tls.expiry"), "the expired certificate breaks tls.expiry: {regressed:?}");
    let pages = chain.notifications("page", "firing");
    assert_eq!(pages.len(), 1, "one expired certificate pages once: {:#?}", chain.log());
    assert_eq!(alert_ids(&pages[0]), regressed, "the page names every item the certificate breaks: {:#?}", chain.log());
    for alert in pages[0]["alerts"].as_array().unwrap() {
        let id = alert["labels"]["id"].as_str().unwrap();
        assert_eq!(alert["labels"]["alertname"], "ChecklistItemRegressed", "{alert}");
        let reason = alert["annotations"]["reason"].as_str().unwrap();
        let reason_now = daemon.item(id)["reason"].as_str().unwrap().to_string();
        assert_eq!(reason, reason_now, "the notification gives {id}'s reason");
        assert!(alert["annotations"]["description"].as_str().unwrap().contains(reason), "{alert}");
        assert!(
            alert["annotations"]["summary"].as_str().unwrap().contains(&format!("Item {id}")),
            "the title: {alert}"
        );
        let link = alert["annotations"]["item_url"].as_str().unwrap();
        assert!(link.starts_with("http://") || link.starts_with("https://"), "absolute link: {link}");
        assert!(link.ends_with(&format!("#item-{id}")), "{link}");
        let page = daemon.client.get(link).send().unwrap().text().unwrap();
        assert!(page.contains(&format!("id=\"item-{id}\"")), "{link} leads to the item");
        assert!(alert["annotations"]["runbook_url"].as_str().unwrap().starts_with("https://"), "{alert}");
    }
    let tickets = chain.notifications("ticket", "firing");
    assert!(
        tickets.iter().all(|n| alert_ids(n) == std::collections::BTreeSet::from(["backup.present".to_string()])),
        "the warning item, and only it, makes a ticket: {:#?}",
        chain.log()
    );
    // The test gives the `nobody` receiver a webhook only to see the routing; shipped, it has
    // no integration.
    let info_paths: Vec<String> = chain
        .received
        .lock()
        .unwrap()
        .iter()
        .filter(|(_, n)| alert_ids(n).contains("net.info_port"))
        .map(|(path, _)| path.clone())
        .collect();
    assert!(
        !info_paths.is_empty() && info_paths.iter().all(|p| p == "/nobody"),
        "a regressed info item goes to the receiver that notifies nobody, never to page or ticket: {:#?}",
        chain.log()
    );

    // Repair: the certificate is renewed.
    *backend.lock().unwrap() = valid.address;
    wait_for("the page resolved", Duration::from_secs(60), || !chain.notifications("page", "resolved").is_empty());
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(chain.notifications("page", "resolved").len(), 1, "resolves once: {:#?}", chain.log());
    assert_eq!(chain.notifications("page", "firing").len(), 1, "and pages no more: {:#?}", chain.log());
}

#[test]
fn restarting_the_exporter_during_a_regression_neither_resolves_nor_pages_again() {
    let dir = tempfile::tempdir().unwrap();
    let app_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let config = format!(
        "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{}\"\nexpect = \"open\"\ninterval = \"1s\"\ntimeout = \"900ms\"\nconnect_timeout = \"500ms\"\n{}\n",
        app_port.local_addr().unwrap().port(),
        item("net.app_port", "critical", None),
    );
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, config).unwrap();
    let listen = format!("127.0.0.1:{}", closed_port());
    let baseline = dir.path().join("baseline.json").display().to_string();
    let state = dir.path().join("state.json").display().to_string();
    let args = ["--baseline.file", &baseline, "--state.file", &state, "--web.listen-address", &listen];
    let daemon = Daemon::start_with(&config_path, &args);
    daemon.wait_ready();
    assert_eq!(daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap().status(), 200);
    let chain = AlertChain::start(daemon.address);
    drop(app_port);
    wait_for("the page", Duration::from_secs(90), || !chain.notifications("page", "firing").is_empty());

    // A clean stop (SIGTERM saves the state file), a few seconds down, a start on the same address.
    daemon.signal("TERM");
    let mut daemon = daemon;
    let _ = daemon.child.wait();
    std::thread::sleep(Duration::from_secs(4));
    let restarted = Daemon::start_with(&config_path, &args);
    restarted.wait_log("\"listening\"");
    let listening = restarted.logs().into_iter().find(|line| line.contains("\"listening\"")).unwrap();
    assert!(listening.contains("\"restored\":1"), "the verdict comes back from the state file: {listening}");
    let restored = restarted.item("net.app_port");
    assert_eq!(restored["state"], "fail", "restored or evaluated again, never pending: {restored}");
    wait_for("a fresh evaluation after the restart", Duration::from_secs(30), || {
        restarted.item("net.app_port")["restored"] == false
    });
    // group_wait, two group_intervals and a few evaluations.
    std::thread::sleep(Duration::from_secs(12));
    assert_eq!(chain.notifications("page", "resolved").len(), 0, "{:#?}", chain.log());
    assert_eq!(chain.notifications("page", "firing").len(), 1, "no second page: {:#?}", chain.log());
}
