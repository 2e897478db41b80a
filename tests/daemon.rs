//! The real binary on 127.0.0.1:0: readiness, the metric contract checked by promtool, reloads
//! by SIGHUP and by POST, isolation of a hanging check, verdicts for bad targets, shutdown.

mod common;

use std::time::Duration;

use common::{closed_port, item, promtool_complaints, wait_for, Daemon, Metrics, TestDns};

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
    assert!(body.contains("href=\"metrics\"") && body.contains("Deployment checklist: 1 of 1 passing"), "{body}");
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

// Exporter conventions (issue 13, item 6): what operators expect of any Prometheus exporter.

fn now_seconds() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs_f64()
}

fn temp_config(text: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("c.toml");
    std::fs::write(&config, text).unwrap();
    (dir, config)
}

#[test]
fn process_metrics_describe_this_process_like_a_go_exporter() {
    let daemon = Daemon::start(&cpu_check("infra.cpu", "1m"));
    let started = now_seconds();
    daemon.wait_ready();
    let text = daemon.metrics_text();
    assert_eq!(promtool_complaints(&text), None, "promtool complained about:\n{text}");
    let metrics = common::Metrics::parse(&text);
    let start = metrics.value("process_start_time_seconds", &[]).expect("process_start_time_seconds");
    // The daemon started within this test; /proc counts in clock ticks (10 ms).
    assert!(start > started - 60.0 && start <= now_seconds() + 0.02, "start {start}, test began {started}");
    let cpu = metrics.value("process_cpu_seconds_total", &[]).expect("process_cpu_seconds_total");
    assert!(cpu >= 0.0, "{cpu}");
    let resident = metrics.value("process_resident_memory_bytes", &[]).expect("process_resident_memory_bytes");
    let virtual_bytes = metrics.value("process_virtual_memory_bytes", &[]).expect("process_virtual_memory_bytes");
    assert!(resident > 1e6 && virtual_bytes >= resident, "resident {resident}, virtual {virtual_bytes}");
    let open = metrics.value("process_open_fds", &[]).expect("process_open_fds");
    let max = metrics.value("process_max_fds", &[]).expect("process_max_fds");
    let pid = daemon.child.id();
    let listed = std::fs::read_dir(format!("/proc/{pid}/fd")).unwrap().count() as f64;
    // Connections come and go between the scrape and the listing; a handful either way.
    assert!(open >= 3.0 && (open - listed).abs() <= 4.0 && open < max, "open {open}, listed {listed}, max {max}");
    assert!(text.contains("# TYPE process_cpu_seconds_total counter"), "{text}");
}

#[test]
fn metrics_are_gzipped_when_the_scraper_asks_and_curl_compressed_reads_them() {
    let daemon = Daemon::start(&cpu_check("infra.cpu", "1m"));
    daemon.wait_ready();
    let plain = daemon.get("/metrics");
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.headers()["vary"], "Accept, Accept-Encoding");
    let plain_text = plain.text().unwrap();

    for (accept, eof) in [("text/plain", false), ("application/openmetrics-text;version=1.0.0", true)] {
        let response = daemon
            .client
            .get(daemon.url("/metrics"))
            .header("Accept", accept)
            .header("Accept-Encoding", "gzip")
            .send()
            .unwrap();
        assert_eq!(response.headers()["content-encoding"], "gzip", "{accept}");
        assert_eq!(response.headers()["vary"], "Accept, Accept-Encoding");
        let compressed = response.bytes().unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&compressed[..]), &mut text).unwrap();
        assert!(compressed.len() * 2 < text.len(), "{} compressed bytes for {} bytes", compressed.len(), text.len());
        assert!(text.contains("checklist_item_passing{id=\"infra.cpu\""), "{text}");
        assert!(text.contains("\nprocess_open_fds "), "{text}");
        assert_eq!(text.ends_with("# EOF\n"), eof, "{accept}: {text}");
    }
    // A weight of 0 refuses gzip.
    let refused = daemon.client.get(daemon.url("/metrics")).header("Accept-Encoding", "gzip;q=0").send().unwrap();
    assert!(refused.headers().get("content-encoding").is_none());

    let curl = std::process::Command::new("curl")
        .args(["--silent", "--show-error", "--fail", "--compressed", "--include", &daemon.url("/metrics")])
        .output()
        .expect("curl (Debian package curl)");
    assert!(curl.status.success(), "{}", String::from_utf8_lossy(&curl.stderr));
    let output = String::from_utf8(curl.stdout).expect("curl decoded the body to text");
    let (head, body) = output.split_once("\r\n\r\n").unwrap();
    assert!(head.to_ascii_lowercase().contains("content-encoding: gzip"), "{head}");
    assert_eq!(promtool_complaints(body), None, "promtool complained about:\n{body}");
    assert_eq!(
        common::Metrics::parse(body).value("checklist_item_passing", &[("id", "infra.cpu")]),
        common::Metrics::parse(&plain_text).value("checklist_item_passing", &[("id", "infra.cpu")])
    );
}

#[test]
fn the_telemetry_path_moves_the_exposition() {
    let (_dir, config) = temp_config(&cpu_check("infra.cpu", "1m"));
    let daemon = Daemon::start_with(&config, &["--web.telemetry-path", "/exporter/metrics"]);
    daemon.wait_ready();
    let moved = daemon.get("/exporter/metrics");
    assert_eq!(moved.status(), 200);
    assert!(moved.text().unwrap().contains("checklist_item_passing{"));
    assert_eq!(daemon.get("/metrics").status(), 404);
    let page = daemon.get("/").text().unwrap();
    assert!(page.contains("href=\"exporter/metrics\""), "{page}");
}

#[test]
fn the_external_url_gives_the_route_prefix_and_checklist_web_info() {
    let (_dir, config) = temp_config(&cpu_check("infra.cpu", "1m"));
    let daemon = Daemon::start_with(&config, &["--web.external-url", "https://ops.example.com/checklist"]);
    wait_for("ready", Duration::from_secs(60), || daemon.get("/checklist/-/ready").status() == 200);
    assert_eq!(daemon.get("/metrics").status(), 404);
    let metrics = Metrics::parse(&daemon.get("/checklist/metrics").text().unwrap());
    assert_eq!(
        metrics.value("checklist_web_info", &[("external_url", "https://ops.example.com/checklist/")]),
        Some(1.0)
    );
    assert_eq!(daemon.get("/checklist/-/healthy").status(), 200);

    // Without the flag: the first listen address.
    let plain = Daemon::start(&cpu_check("infra.cpu", "1m"));
    let expected = format!("http://{}/", plain.address);
    assert_eq!(plain.metrics().label_values("checklist_web_info", "external_url"), vec![expected]);
}

#[test]
fn item_intervals_are_exported_for_an_exact_staleness_rule() {
    let config = format!("{}{}", cpu_check("infra.cpu", "90s"), disk_check("/", ("infra.disk", "infra.disk_ratio")));
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_interval_seconds", &[("id", "infra.cpu")]), Some(90.0));
    // The disk check's interval is the default, one minute.
    assert_eq!(metrics.value("checklist_item_interval_seconds", &[("id", "infra.disk_ratio")]), Some(60.0));
}

#[test]
fn several_listen_addresses_are_all_served() {
    let (_dir, config) = temp_config(&cpu_check("infra.cpu", "1m"));
    let daemon =
        Daemon::start_with(&config, &["--web.listen-address", "127.0.0.1:0", "--web.listen-address", "[::1]:0"]);
    let line = daemon.logs().into_iter().find(|l| l.contains("\"listening\"")).unwrap();
    let logged: serde_json::Value = serde_json::from_str(&line).unwrap();
    let addresses: Vec<&str> = logged["addresses"].as_str().unwrap().split(',').collect();
    assert_eq!(addresses.len(), 2, "{line}");
    assert!(addresses[0].starts_with("127.0.0.1:") && addresses[1].starts_with("[::1]:"), "{line}");
    for address in addresses {
        let response = daemon.client.get(format!("http://{address}/-/healthy")).send().unwrap();
        assert_eq!(response.status(), 200, "{address}");
    }
}

#[test]
fn a_socket_passed_by_systemd_is_served() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    let (_dir, config) = temp_config(&cpu_check("infra.cpu", "1m"));
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = socket.local_addr().unwrap();
    let fd = socket.as_raw_fd();
    // As systemd does: the socket on descriptor 3, LISTEN_PID naming the exporter's process
    // (the shell's pid, which `exec` keeps) and LISTEN_FDS the count.
    let mut command = std::process::Command::new("sh");
    command
        .args(["-c", "export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" \"$@\"", common::BINARY])
        .arg("--config.file")
        .arg(&config)
        .args(["--web.systemd-socket", "--web.listen-address", "127.0.0.1:1"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    // SAFETY: dup2 and fcntl are async-signal-safe. dup2 clears close-on-exec on descriptor 3,
    // except when the socket is descriptor 3 already.
    unsafe {
        command.pre_exec(move || {
            let passed = if fd == 3 { libc::fcntl(3, libc::F_SETFD, 0) } else { libc::dup2(fd, 3) };
            if passed < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let mut child = command.spawn().unwrap();
    drop(socket);
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let mut status = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while status.is_none() && std::time::Instant::now() < deadline && child.try_wait().unwrap().is_none() {
        status = client.get(format!("http://{address}/-/healthy")).send().ok().map(|r| r.status());
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let output = child.wait_with_output().unwrap();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status.map(|s| s.as_u16()), Some(200), "{logs}");
    assert!(logs.contains(&format!("address={address} ")), "served on the inherited socket only: {logs}");
}

#[test]
fn without_systemd_the_systemd_socket_flag_is_a_clear_startup_error() {
    let (_dir, config) = temp_config(&cpu_check("infra.cpu", "1m"));
    let output = std::process::Command::new(common::BINARY)
        .arg("--config.file")
        .arg(&config)
        .arg("--web.systemd-socket")
        .env_remove("LISTEN_PID")
        .env_remove("LISTEN_FDS")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--web.systemd-socket: LISTEN_PID is not set"), "{stderr}");
}

#[test]
fn version_prints_like_a_go_exporter() {
    let output = std::process::Command::new(common::BINARY).arg("--version").output().unwrap();
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let first = format!("checklist-exporter, version {} (branch: ", env!("CARGO_PKG_VERSION"));
    assert!(lines[0].starts_with(&first) && lines[0].contains(", revision: ") && lines[0].ends_with(')'), "{text}");
    let keys: Vec<&str> = lines[1..].iter().map(|l| l.split(':').next().unwrap().trim()).collect();
    assert_eq!(keys, ["build user", "build date", "rust version", "platform"], "{text}");
    assert!(lines.iter().all(|l| !l.ends_with("unknown")), "every field known in a git checkout: {text}");
    assert!(lines[4].trim().ends_with(&format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH)), "{text}");
}

/// The first lines the daemon logs in `format`, after a reload so that a warning-free config
/// still logs at two call sites.
fn log_lines(format: &str) -> Vec<String> {
    let (_dir, config) = temp_config(&cpu_check("infra.cpu", "1m"));
    let client = reqwest::blocking::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let mut daemon = Daemon::launch(&config, &["--log.format", format, "--web.enable-lifecycle"], "http", client);
    assert_eq!(daemon.client.post(daemon.url("/-/reload")).send().unwrap().status(), 200);
    daemon.wait_log("config reloaded");
    let _ = daemon.child.kill();
    let _ = daemon.child.wait();
    daemon.logs()
}

fn check_schema(keys: &[String], values: &std::collections::HashMap<String, String>, line: &str) {
    assert_eq!(&keys[..4], ["ts", "level", "msg", "caller"], "{line}");
    assert!(humantime::parse_rfc3339(&values["ts"]).is_ok(), "{line}");
    assert!(["debug", "info", "warn", "error"].contains(&values["level"].as_str()), "{line}");
    let (file, number) = values["caller"].rsplit_once(':').unwrap();
    assert!(file.ends_with(".rs") && number.parse::<u32>().is_ok(), "{line}");
}

#[test]
fn json_logs_have_ts_level_msg_and_caller() {
    let lines = log_lines("json");
    for line in &lines {
        let Ordered(pairs) = serde_json::from_str(line).expect(line);
        let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        let values = pairs.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect();
        check_schema(&keys, &values, line);
    }
    let listening = lines.iter().find(|l| l.contains("\"msg\":\"listening\"")).expect("a listening line");
    let object: serde_json::Value = serde_json::from_str(listening).unwrap();
    assert_eq!(object["caller"].as_str().unwrap().split(':').next(), Some("cli/daemon.rs"), "{listening}");
    assert_eq!(object["checks"], 1, "numbers stay numbers: {listening}");
    assert!(lines.iter().any(|l| l.contains("\"msg\":\"config reloaded\"")), "{lines:?}");
}

#[test]
fn logfmt_logs_have_ts_level_msg_and_caller() {
    let lines = log_lines("logfmt");
    for line in &lines {
        let pairs = logfmt_pairs(line);
        let keys: Vec<String> = pairs.iter().map(|(k, _)| k.clone()).collect();
        check_schema(&keys, &pairs.into_iter().collect(), line);
    }
    assert!(lines.iter().any(|l| l.contains(" msg=\"config reloaded\" caller=cli/daemon.rs:")), "{lines:?}");
}

/// A JSON object's members in the order the line has them (a `serde_json::Map` sorts them).
struct Ordered(Vec<(String, serde_json::Value)>);

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Ordered, A::Error> {
                let mut pairs = Vec::new();
                while let Some(pair) = map.next_entry()? {
                    pairs.push(pair);
                }
                Ok(Ordered(pairs))
            }
        }
        deserializer.deserialize_map(Members)
    }
}

/// Splits a logfmt line into key and value, unquoting quoted values.
fn logfmt_pairs(line: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut rest = line.trim_end();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=').unwrap_or_else(|| panic!("no = in {rest:?} of {line}"));
        let (value, next) = if let Some(quoted) = after.strip_prefix('"') {
            let mut value = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => value.push(chars.next().map_or('\\', |(_, c)| c)),
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    c => value.push(c),
                }
            }
            (value, &quoted[end..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_string(), &after[end..])
        };
        pairs.push((key.to_string(), value));
        rest = next.trim_start();
    }
    pairs
}

/// Sends a request whose head is exactly `size` bytes and returns the status line.
fn status_for_head_of(address: std::net::SocketAddr, size: usize) -> String {
    use std::io::{Read, Write};
    let start = "GET /-/healthy HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Pad: ";
    let end = "\r\n\r\n";
    let head = format!("{start}{}{end}", "a".repeat(size - start.len() - end.len()));
    assert_eq!(head.len(), size);
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    stream.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_string()
}

#[test]
fn request_heads_over_64_kib_are_answered_431() {
    let daemon = Daemon::start(&cpu_check("infra.cpu", "1m"));
    assert_eq!(status_for_head_of(daemon.address, 64 * 1024), "HTTP/1.1 200 OK");
    assert_eq!(status_for_head_of(daemon.address, 64 * 1024 + 1), "HTTP/1.1 431 Request Header Fields Too Large");
    // What the issue measured getting through before.
    assert_eq!(status_for_head_of(daemon.address, 100 * 1024), "HTTP/1.1 431 Request Header Fields Too Large");
}
