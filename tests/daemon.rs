//! The real binary on 127.0.0.1:0: readiness, the metric contract checked by promtool, reloads
//! by SIGHUP and by POST, isolation of a hanging check, verdicts for bad targets, shutdown.

mod common;

use std::time::Duration;

use common::{closed_port, item, promtool_complaints, wait_for, Daemon, TestDns};

fn cpu_check(id: &str, interval: &str) -> String {
    format!(
        "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\ninterval = \"{interval}\"\n{}\n",
        item(id, "critical", Some("minimum"))
    )
}

fn disk_check(path: &str, ids: (&str, &str)) -> String {
    format!(
        "[[checks]]\nkind = \"disk\"\npath = \"{path}\"\nmin_free_bytes = 1\nmin_free_ratio = 0.0\n{}{}\n",
        item(ids.0, "critical", Some("minimum")),
        item(ids.1, "warning", Some("free_ratio"))
    )
}

#[test]
fn metrics_follow_the_contract_and_pass_promtool() {
    let config = format!("{}{}", cpu_check("infra.cpu", "1m"), disk_check("/", ("infra.disk", "infra.disk_ratio")));
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let text = daemon.metrics_text();
    assert_eq!(promtool_complaints(&text), None, "promtool complained about:\n{text}");
    let metrics = common::Metrics::parse(&text);
    for id in ["infra.cpu", "infra.disk", "infra.disk_ratio"] {
        assert_eq!(metrics.value("checklist_item_passing", &[("id", id)]), Some(1.0), "{id}");
        assert_eq!(metrics.value("checklist_item_error", &[("id", id)]), Some(0.0), "{id}");
        assert_eq!(metrics.value("checklist_item_evaluations_total", &[("id", id), ("result", "error")]), Some(0.0));
        assert!(metrics.value("checklist_item_last_evaluation_timestamp_seconds", &[("id", id)]).unwrap() > 1.7e9);
        assert!(metrics.value("checklist_item_evaluation_duration_seconds", &[("id", id)]).is_some());
        assert_eq!(metrics.value("checklist_item_info", &[("id", id), ("section", "Test Section")]), Some(1.0));
    }
    assert_eq!(
        metrics.value(
            "checklist_item_passing",
            &[("id", "infra.disk"), ("section", "Test Section"), ("severity", "critical")]
        ),
        Some(1.0)
    );
    assert_eq!(metrics.count("checklist_item_failure_cause"), 0, "no cause while everything passes");
    assert!(metrics.value("checklist_host_cpu_cores", &[]).unwrap() >= 1.0);
    assert!(metrics.value("checklist_disk_free_bytes", &[("path", "/")]).unwrap() > 0.0);
    let ratio = metrics.value("checklist_disk_free_ratio", &[("path", "/")]).unwrap();
    assert!((0.0..=1.0).contains(&ratio));
    assert_eq!(metrics.value("checklist_config_last_reload_successful", &[]), Some(1.0));
    assert_eq!(metrics.count("checklist_build_info"), 1);

    let openmetrics = daemon
        .client
        .get(daemon.url("/metrics"))
        .header("Accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .unwrap();
    assert!(openmetrics.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    assert!(openmetrics.text().unwrap().ends_with("# EOF\n"));
}

#[test]
fn endpoints_answer_like_an_exporter_and_carry_security_headers() {
    let daemon = Daemon::start(&cpu_check("infra.cpu", "1m"));
    daemon.wait_ready();
    let healthy = daemon.get("/-/healthy");
    assert_eq!(healthy.status(), 200);
    for header in ["x-content-type-options", "x-frame-options"] {
        assert!(healthy.headers().contains_key(header), "{header}");
    }
    let page = daemon.get("/");
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"].to_str().unwrap().to_string();
    assert!(csp.contains("default-src 'none'"), "{csp}");
    let body = page.text().unwrap();
    assert!(body.contains("href=\"/metrics\"") && body.contains("Deployment checklist: 1 of 1 passing"), "{body}");
    assert_eq!(daemon.get("/nowhere").status(), 404);
    assert_eq!(daemon.client.post(daemon.url("/metrics")).send().unwrap().status(), 405);
    assert_eq!(daemon.get("/-/reload").status(), 405);
    let items = daemon.items();
    assert_eq!(items["summary"]["pass"], 1);
    let cpu = &items["items"][0];
    assert_eq!(cpu["state"], "pass");
    assert!(cpu["reason"].as_str().unwrap().contains("CPU cores; want at least 1"));
    assert_eq!(cpu["interval_seconds"], 60.0);
}

#[test]
fn sighup_reload_adds_and_removes_items_without_stale_series() {
    let daemon =
        Daemon::start(&format!("{}{}", cpu_check("keep.cpu", "1m"), disk_check("/", ("gone.disk", "gone.ratio"))));
    daemon.wait_ready();
    assert!(daemon.metrics().value("checklist_item_passing", &[("id", "gone.disk")]).is_some());

    daemon.rewrite_config(&format!("{}{}", cpu_check("keep.cpu", "1m"), disk_check("/tmp", ("new.disk", "new.ratio"))));
    daemon.signal("HUP");
    wait_for("the new items", Duration::from_secs(30), || {
        daemon.metrics().value("checklist_item_passing", &[("id", "new.disk")]) == Some(1.0)
    });
    let metrics = daemon.metrics();
    for gone in ["gone.disk", "gone.ratio"] {
        for family in
            ["checklist_item_passing", "checklist_item_info", "checklist_item_last_evaluation_timestamp_seconds"]
        {
            assert_eq!(metrics.value(family, &[("id", gone)]), None, "{family} of {gone} is stale");
        }
    }
    assert_eq!(metrics.value("checklist_disk_free_bytes", &[("path", "/")]), None, "value gauge of the removed check");
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "keep.cpu")]), Some(1.0));
    assert_eq!(
        metrics.value("checklist_item_evaluations_total", &[("id", "keep.cpu"), ("result", "pass")]),
        Some(1.0),
        "an unchanged check keeps its rhythm and its counts across a reload"
    );
    assert_eq!(metrics.value("checklist_config_last_reload_successful", &[]), Some(1.0));
}

#[test]
fn a_broken_config_posted_for_reload_keeps_the_old_one_running() {
    let daemon = Daemon::start(&cpu_check("infra.cpu", "1m"));
    daemon.wait_ready();
    let loaded_at = daemon.metrics().value("checklist_config_last_reload_success_timestamp_seconds", &[]).unwrap();

    daemon.rewrite_config("[[checks]]\nkind = \"warp_drive\"\n");
    let refused = daemon.client.post(daemon.url("/-/reload")).send().unwrap();
    assert_eq!(refused.status(), 500);
    let message = refused.text().unwrap();
    assert!(message.starts_with("failed to reload config: "), "{message}");
    assert!(message.contains(&daemon.config.display().to_string()), "names the file: {message}");
    assert!(message.contains("has no items"), "{message}");
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_config_last_reload_successful", &[]), Some(0.0));
    assert_eq!(metrics.value("checklist_config_last_reload_success_timestamp_seconds", &[]), Some(loaded_at));
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "infra.cpu")]), Some(1.0), "old config still served");
    daemon.wait_log("config reload refused");
    assert_eq!(daemon.get("/-/healthy").status(), 200);

    daemon.rewrite_config(&cpu_check("infra.cpu2", "1m"));
    let accepted = daemon.client.put(daemon.url("/-/reload")).send().unwrap();
    assert_eq!(accepted.status(), 200);
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_config_last_reload_successful", &[]), Some(1.0));
    assert_eq!(metrics.value("checklist_item_info", &[("id", "infra.cpu")]), None);
    assert!(metrics.value("checklist_item_info", &[("id", "infra.cpu2")]).is_some());
}

#[test]
fn a_hanging_check_delays_no_other_check() {
    // The DNS server never answers this name, so the check hangs until its 4 s timeout, while
    // the CPU check runs every 100 ms.
    let dns = TestDns::start(&[], &["hang.example.test"]);
    let config = format!(
        "[settings]\nmax_concurrent_checks = 4\n\n{}[[checks]]\nkind = \"dns\"\nname = \"hang.example.test\"\nnameserver = \"{}\"\ninterval = \"1m\"\ntimeout = \"4s\"\n{}\n",
        cpu_check("fast.cpu", "100ms"),
        dns.address,
        item("slow.dns", "critical", None)
    );
    let daemon = Daemon::start(&config);
    let evaluations = |daemon: &Daemon| {
        daemon
            .metrics()
            .value("checklist_item_evaluations_total", &[("id", "fast.cpu"), ("result", "pass")])
            .unwrap_or(0.0)
    };
    // While the DNS check is still hanging, the CPU check keeps completing evaluations and
    // scrapes keep being answered.
    wait_for("several CPU evaluations", Duration::from_secs(30), || evaluations(&daemon) >= 5.0);
    let dns_item = daemon.item("slow.dns");
    assert_eq!(dns_item["state"], "pending", "the DNS check is still hanging: {dns_item}");
    wait_for("the DNS check to time out", Duration::from_secs(30), || daemon.item("slow.dns")["state"] == "error");
    let dns_item = daemon.item("slow.dns");
    assert_eq!(dns_item["cause"], "timeout");
    assert_eq!(dns_item["reason"], "no result within the timeout of 4s");
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_failure_cause", &[("id", "slow.dns"), ("cause", "timeout")]), Some(1.0));
    assert_eq!(metrics.value("checklist_item_error", &[("id", "slow.dns")]), Some(1.0));
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "fast.cpu")]), Some(1.0));
}

#[test]
fn bad_targets_become_verdicts_with_reasons_and_the_daemon_keeps_serving() {
    let dns = TestDns::start(&[("app.example.test", &["127.0.0.10", "::1"])], &[]);
    let port = closed_port();
    let open = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let open_port = open.local_addr().unwrap().port();
    let config = format!(
        r#"
[[checks]]
kind = "disk"
path = "/nonexistent/checklist-exporter"
min_free_bytes = "1GiB"
{missing_path}
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:{port}"
expect = "open"
connect_timeout = "1s"
{refused}
[[checks]]
kind = "tcp_port"
address = "127.0.0.1:{open_port}"
expect = "closed"
connect_timeout = "1s"
{exposed}
[[checks]]
kind = "dns"
name = "missing.example.test"
nameserver = "{dns}"
{nxdomain}
[[checks]]
kind = "dns"
name = "app.example.test"
nameserver = "{dns}"
expect_addresses = ["127.0.0.10", "::1"]
{resolves}
[[checks]]
kind = "dns"
name = "App.Example.Test"
nameserver = "{dns}"
record_types = ["A"]
expect_addresses = ["127.0.0.99"]
{mismatch}
"#,
        missing_path = item("bad.path", "critical", Some("minimum")),
        refused = item("bad.port", "critical", None),
        exposed = item("bad.exposed", "critical", None),
        nxdomain = item("bad.dns", "critical", None),
        resolves = item("good.dns", "critical", None),
        mismatch = item("bad.dns_mismatch", "warning", None),
        dns = dns.address,
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let expect = |id: &str, state: &str, cause: Option<&str>, reason: &str| {
        let item = daemon.item(id);
        assert_eq!(item["state"], state, "{id}: {item}");
        assert_eq!(item["cause"].as_str(), cause, "{id}: {item}");
        assert_eq!(item["reason"], reason, "{id}");
    };
    expect("bad.path", "error", Some("not_found"), "path /nonexistent/checklist-exporter does not exist");
    expect(
        "bad.port",
        "fail",
        Some("refused"),
        &format!("127.0.0.1:{port} refused the connection: nothing listens there"),
    );
    expect(
        "bad.exposed",
        "fail",
        Some("open"),
        &format!("127.0.0.1:{open_port} accepted a TCP connection; want it closed or filtered from here"),
    );
    expect("bad.dns", "fail", Some("not_found"), "missing.example.test does not resolve: no A or AAAA records");
    expect("good.dns", "pass", None, "app.example.test resolves to 127.0.0.10, ::1");
    expect(
        "bad.dns_mismatch",
        "fail",
        Some("mismatch"),
        "App.Example.Test resolves to 127.0.0.10; missing expected 127.0.0.99",
    );
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_failure_cause", &[("id", "bad.path"), ("cause", "not_found")]), Some(1.0));
    assert_eq!(metrics.value("checklist_dns_addresses", &[("name", "app.example.test")]), Some(2.0));
    assert!(metrics
        .value("checklist_tcp_connect_duration_seconds", &[("address", &format!("127.0.0.1:{open_port}"))])
        .is_some());
    assert_eq!(promtool_complaints(&daemon.metrics_text()), None);
    assert_eq!(daemon.get("/-/healthy").status(), 200);
}

#[test]
fn sigterm_stops_the_daemon_cleanly() {
    let mut daemon = Daemon::start(&cpu_check("infra.cpu", "1m"));
    daemon.wait_ready();
    daemon.signal("TERM");
    let mut status = None;
    wait_for("the daemon to exit", Duration::from_secs(20), || {
        status = daemon.child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(0));
    let logs = daemon.logs();
    assert!(logs.iter().any(|l| l.contains("SIGTERM received")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("\"stopped\"")), "{logs:?}");
}

#[test]
fn logfmt_is_the_default_log_format() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, cpu_check("infra.cpu", "1m")).unwrap();
    let mut child = std::process::Command::new(common::BINARY)
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", "127.0.0.1:0"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(child.stderr.take().unwrap()), &mut line).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(line.starts_with("ts="), "{line}");
    assert!(
        line.contains(" level=info ") && line.contains(" msg=listening ") && line.contains(" address=127.0.0.1:"),
        "{line}"
    );
}

#[test]
fn a_port_already_in_use_is_a_clear_startup_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, cpu_check("infra.cpu", "1m")).unwrap();
    let output = std::process::Command::new(common::BINARY)
        .arg("--config.file")
        .arg(&config)
        .args(["--web.listen-address", &address])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&format!("--web.listen-address {address}")) && stderr.contains("in use"), "{stderr}");
}
