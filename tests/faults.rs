//! Faults while the daemon runs, one test each, judged only through what the daemon shows: its
//! `/metrics` verdicts and causes, `/api/v1/items`, its logs, its answers and its exit status.
//! PostgreSQL stopped and started (a throwaway cluster), a TLS certificate swapped on disk under
//! nginx, a backup directory removed and restored, the config replaced by an invalid one and
//! reloaded, the state files on a full or read-only filesystem (a tiny tmpfs), and SIGTERM while a
//! command is being evaluated.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::nginx::Nginx;
use common::pg::Cluster;
use common::pki::{Leaf, Pki, DAY};
use common::{closed_port, item, process_alive, wait_for, Daemon};

const LIMIT: Duration = Duration::from_secs(60);

/// The state and cause of an item in `/api/v1/items`.
fn state_of(daemon: &Daemon, id: &str) -> (String, String) {
    let item = daemon.item(id);
    (item["state"].as_str().unwrap_or_default().to_string(), item["cause"].as_str().unwrap_or_default().to_string())
}

/// Waits until the item has `state` (and `cause`, when not empty) in `/api/v1/items`.
fn wait_state(daemon: &Daemon, id: &str, state: &str, cause: &str) {
    let deadline = std::time::Instant::now() + LIMIT;
    loop {
        let item = daemon.item(id);
        if item["state"] == state && (cause.is_empty() || item["cause"] == cause) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "gave up waiting for {id} to be {state} {cause}; last: {item}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// How many times the item has been evaluated, from `checklist_item_evaluations_total`.
fn evaluations(daemon: &Daemon, id: &str) -> f64 {
    let metrics = daemon.metrics();
    ["pass", "fail", "error"]
        .iter()
        .map(|result| {
            metrics.value("checklist_item_evaluations_total", &[("id", id), ("result", result)]).unwrap_or(0.0)
        })
        .sum()
}

fn daemon_is_running(daemon: &mut Daemon) -> bool {
    daemon.child.try_wait().unwrap().is_none()
}

#[test]
fn postgres_stopped_mid_run_is_refused_and_passes_again_after_its_restart() {
    let cluster = Cluster::start(&[], false);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", cluster.port);
    let config = format!(
        "[[checks]]\nkind = \"postgres\"\nurl = \"{url}\"\nmax_connections_range = [1, 100000]\n\
         interval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"\n{}{}{}",
        item("db.running", "critical", Some("running")),
        item("db.connections", "warning", Some("connections")),
        item("db.max_connections", "warning", Some("max_connections")),
    );
    let mut daemon = Daemon::start(&config);
    let pid = daemon.child.id();
    for id in ["db.running", "db.connections", "db.max_connections"] {
        wait_state(&daemon, id, "pass", "");
    }

    cluster.stop();
    wait_state(&daemon, "db.running", "fail", "refused");
    let reason = daemon.item("db.running")["reason"].as_str().unwrap().to_string();
    assert!(reason.ends_with("connection refused: nothing listens there"), "{reason}");
    for id in ["db.connections", "db.max_connections"] {
        wait_state(&daemon, id, "error", "refused");
    }
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "db.running")]), Some(0.0));
    assert_eq!(metrics.value("checklist_item_failure_cause", &[("id", "db.running"), ("cause", "refused")]), Some(1.0));
    assert_eq!(metrics.value("checklist_item_error", &[("id", "db.connections")]), Some(1.0));
    assert_eq!(metrics.count("checklist_pg_connections_in_use"), 0, "no stale value while stopped");

    cluster.pg_ctl_start();
    for id in ["db.running", "db.connections", "db.max_connections"] {
        wait_state(&daemon, id, "pass", "");
    }
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "db.running")]), Some(1.0));
    assert_eq!(metrics.value("checklist_item_failure_cause", &[("id", "db.running"), ("cause", "refused")]), None);
    assert!(daemon_is_running(&mut daemon) && daemon.child.id() == pid, "found again without a daemon restart");
}

#[test]
fn a_reload_applies_a_rotated_password_of_the_same_length() {
    // The TCP lines of this cluster ask for a SCRAM password, so a wrong password is refused.
    let cluster = Cluster::start(&[], true);
    cluster.sql("CREATE ROLE rotated LOGIN PASSWORD 'right-pass-1'");
    let config = |password: &str| {
        format!(
            "[[checks]]\nkind = \"postgres\"\n\
             url = \"postgres://rotated:{password}@127.0.0.1:{}/postgres?sslmode=disable\"\n\
             interval = \"1s\"\ntimeout = \"1s\"\nconnect_timeout = \"900ms\"\n{}",
            cluster.port,
            item("db.running", "critical", Some("running")),
        )
    };
    let daemon = Daemon::start(&config("wrong-pass-1"));
    wait_for("the first verdict", LIMIT, || daemon.item("db.running")["state"] != "pending");
    let (state, _) = state_of(&daemon, "db.running");
    assert_ne!(state, "pass", "the wrong password is refused: {}", daemon.item("db.running"));

    // The same length: a fingerprint that hashed only the masked URL and its length missed it.
    daemon.rewrite_config(&config("right-pass-1"));
    daemon.signal("HUP");
    wait_state(&daemon, "db.running", "pass", "");
}

/// Writes a certificate chain and its key where nginx and the `tls_cert_file` check read them,
/// each by rename so that no reader sees half a file.
fn install_chain(dir: &Path, chain_pem: &str, key_pem: &str) {
    for (name, text) in [("cert.pem", chain_pem), ("key.pem", key_pem)] {
        let temporary = dir.join(format!("{name}.new"));
        std::fs::write(&temporary, text).unwrap();
        std::fs::rename(&temporary, dir.join(name)).unwrap();
    }
}

#[test]
fn a_certificate_swapped_on_disk_is_seen_by_the_tls_and_the_file_checks() {
    let pki = Pki::new();
    let certs = tempfile::tempdir().unwrap();
    let good = pki.chain(&Leaf::valid(&["app.test"]), true);
    let mut expired_leaf = Leaf::valid(&["app.test"]);
    expired_leaf.not_before = SystemTime::now() - 100 * DAY;
    expired_leaf.not_after = SystemTime::now() - 10 * DAY;
    let expired = pki.chain(&expired_leaf, true);
    let good_pem = format!("{}{}", good.leaf_pem, pki.intermediate_pem);
    let expired_pem = format!("{}{}", expired.leaf_pem, pki.intermediate_pem);
    install_chain(certs.path(), &good_pem, &good.key_pem);

    let port = closed_port();
    let server = format!(
        "server {{\n listen 127.0.0.1:{port} ssl;\n ssl_certificate {0}/cert.pem;\n ssl_certificate_key {0}/key.pem;\n location / {{ return 200 \"ok\"; }}\n}}\n",
        certs.path().display()
    );
    let nginx = Nginx::start_reloadable(&server, &[port]);
    let config = format!(
        "[[checks]]\nkind = \"tls\"\naddress = \"127.0.0.1:{port}\"\nserver_name = \"app.test\"\nsystem_roots = false\n\
         ca_files = [\"{root}\"]\ninterval = \"2s\"\ntimeout = \"2s\"\nio_timeout = \"1500ms\"\n{}\n\
         [[checks]]\nkind = \"tls_cert_file\"\ncert_file = \"{cert}\"\ninterval = \"1s\"\n{}",
        item("tls.installed", "critical", Some("trusted")),
        item("tls.file_valid", "critical", Some("valid")),
        root = pki.root_file().display(),
        cert = certs.path().join("cert.pem").display(),
    );
    let daemon = Daemon::start(&config);
    wait_state(&daemon, "tls.installed", "pass", "");
    wait_state(&daemon, "tls.file_valid", "pass", "");

    install_chain(certs.path(), &expired_pem, &expired.key_pem);
    nginx.reload();
    wait_state(&daemon, "tls.installed", "fail", "expired");
    wait_state(&daemon, "tls.file_valid", "fail", "expired");
    let metrics = daemon.metrics();
    assert_eq!(
        metrics.value("checklist_item_failure_cause", &[("id", "tls.installed"), ("cause", "expired")]),
        Some(1.0)
    );
    assert_eq!(
        metrics.value("checklist_item_failure_cause", &[("id", "tls.file_valid"), ("cause", "expired")]),
        Some(1.0)
    );

    install_chain(certs.path(), &good_pem, &good.key_pem);
    nginx.reload();
    wait_state(&daemon, "tls.installed", "pass", "");
    wait_state(&daemon, "tls.file_valid", "pass", "");
    assert_eq!(daemon.metrics().count("checklist_item_failure_cause"), 0, "no cause left over once passing");
}

#[test]
fn a_backup_directory_removed_and_restored_is_not_found_then_passes() {
    let root = tempfile::tempdir().unwrap();
    let directory = root.path().join("backups");
    let write_backup = || {
        std::fs::create_dir_all(&directory).unwrap();
        std::fs::write(directory.join("db-2026-11-27.sql.gz"), vec![0x1f; 4096]).unwrap();
    };
    write_backup();
    let config = format!(
        "[[checks]]\nkind = \"backup\"\nset = \"db\"\ndirectory = \"{}\"\npattern = \"*.sql.gz\"\ninterval = \"500ms\"\n{}{}",
        directory.display(),
        item("backup.fresh", "critical", Some("age")),
        item("backup.size", "warning", Some("size")),
    );
    let daemon = Daemon::start(&config);
    wait_state(&daemon, "backup.fresh", "pass", "");

    std::fs::remove_dir_all(&directory).unwrap();
    for id in ["backup.fresh", "backup.size"] {
        wait_state(&daemon, id, "error", "not_found");
    }
    let reason = daemon.item("backup.fresh")["reason"].as_str().unwrap().to_string();
    assert!(reason.contains(&directory.display().to_string()), "names the directory: {reason}");
    let metrics = daemon.metrics();
    assert_eq!(metrics.value("checklist_item_error", &[("id", "backup.fresh")]), Some(1.0));

    write_backup();
    for id in ["backup.fresh", "backup.size"] {
        wait_state(&daemon, id, "pass", "");
    }
    assert_eq!(daemon.metrics().value("checklist_item_error", &[("id", "backup.fresh")]), Some(0.0));
}

/// A `tcp_port` check on a port the test controls, evaluated often.
fn port_check(port: u16, id: &str) -> String {
    format!(
        "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.0.1:{port}\"\nexpect = \"open\"\ninterval = \"300ms\"\ntimeout = \"250ms\"\nconnect_timeout = \"200ms\"\n{}\n",
        item(id, "critical", None)
    )
}

#[test]
fn an_invalid_config_reloaded_by_sighup_or_post_keeps_the_old_one_evaluating() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let good = port_check(port, "app.port");
    let mut daemon = Daemon::start(&good);
    wait_state(&daemon, "app.port", "pass", "");
    let reload_successful = |daemon: &Daemon| daemon.metrics().value("checklist_config_last_reload_successful", &[]);
    assert_eq!(reload_successful(&daemon), Some(1.0));

    // Cut off mid-table, as a half-copied file would be.
    daemon.rewrite_config(&good[..good.len() / 2]);
    daemon.signal("HUP");
    wait_for("the SIGHUP reload to be refused", LIMIT, || reload_successful(&daemon) == Some(0.0));
    let refusal = daemon.logs().into_iter().find(|l| l.contains("config reload refused")).unwrap();
    assert!(refusal.contains(&daemon.config.display().to_string()), "the log names the file: {refusal}");

    let refused = daemon.client.post(daemon.url("/-/reload")).send().unwrap();
    assert_eq!(refused.status(), 500);
    let message = refused.text().unwrap();
    assert!(message.contains(&daemon.config.display().to_string()), "names the file: {message}");
    assert_eq!(reload_successful(&daemon), Some(0.0));

    // The old config keeps evaluating: more evaluations, and a change in the target is seen.
    let before = evaluations(&daemon, "app.port");
    wait_for("more evaluations after the refused reloads", LIMIT, || evaluations(&daemon, "app.port") > before + 1.0);
    drop(listener);
    wait_state(&daemon, "app.port", "fail", "");
    assert!(daemon_is_running(&mut daemon));

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let fixed = format!("{good}{}", port_check(listener.local_addr().unwrap().port(), "app.second_port"));
    daemon.rewrite_config(&fixed);
    daemon.signal("HUP");
    wait_for("the fixed config to load", LIMIT, || reload_successful(&daemon) == Some(1.0));
    wait_state(&daemon, "app.second_port", "pass", "");
    assert_eq!(daemon.client.post(daemon.url("/-/reload")).send().unwrap().status(), 200);
    assert_eq!(reload_successful(&daemon), Some(1.0));
}

/// A tmpfs of 64 KiB the test mounts on a temp dir, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts one, or fails the test with the reason: whether this machine may mount (root, and
    /// a container that allows it, as CI's is) cannot be known before trying, and a test that
    /// passed without mounting would claim what it never tested.
    fn mount() -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let output =
            Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs"]).arg(dir.path()).output();
        match output {
            Ok(output) if output.status.success() => Tmpfs { dir },
            Ok(output) => panic!(
                "this test needs to mount a tmpfs (run it as root, as CI does); mount said: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ),
            Err(err) => {
                panic!("this test needs to mount a tmpfs (run it as root, as CI does); cannot run mount: {err}")
            }
        }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a filler file until the filesystem has no room left.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = [0u8; 1024];
        loop {
            match file.write(&block) {
                Ok(0) => break,
                Ok(_) => {}
                Err(err) if err.raw_os_error() == Some(libc::ENOSPC) => break,
                Err(err) => panic!("filling the tmpfs: {err}"),
            }
        }
        filler
    }

    fn remount(&self, mode: &str) {
        let status = Command::new("mount").args(["-o", &format!("remount,{mode}")]).arg(self.path()).status().unwrap();
        assert!(status.success(), "remount {mode}");
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.path()).status();
    }
}

/// Temporary files left in `dir` by a write that did not finish.
fn temporaries(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.contains(".tmp"))
        .collect()
}

fn run(args: &[&str], config: &Path) -> (Option<i32>, String) {
    let output = Command::new(common::BINARY).args(args).arg("--config.file").arg(config).output().unwrap();
    (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn state_files_on_a_full_or_read_only_filesystem_fail_clearly_and_stay_intact() {
    let tmpfs = Tmpfs::mount();
    let baseline = tmpfs.path().join("baseline.json");
    let attestations = tmpfs.path().join("attestations.json");
    let config = format!(
        "[[checks]]\nkind = \"attested\"\nfile = \"{}\"\nvalidity = \"90d\"\ninterval = \"300ms\"\n{}\n\
         [[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n",
        attestations.display(),
        item("ops.rollback_tested", "critical", None),
        item("infra.cpu", "critical", Some("minimum")),
    );
    let config_dir = tempfile::tempdir().unwrap();
    let config_file = config_dir.path().join("checklist.toml");
    std::fs::write(&config_file, &config).unwrap();
    let baseline_arg = baseline.display().to_string();
    let daemon = Daemon::start_with(&config_file, &["--baseline.file", &baseline_arg]);
    let (code, stderr) = run(&["attest", "ops.rollback_tested", "--by", "alice"], &config_file);
    assert_eq!(code, Some(0), "{stderr}");
    wait_state(&daemon, "ops.rollback_tested", "pass", "");
    daemon.wait_ready();
    assert_eq!(daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap().status(), 200);
    let baseline_before = std::fs::read(&baseline).unwrap();
    let attestations_before = std::fs::read(&attestations).unwrap();

    let filler = tmpfs.fill();
    let remount_read_only = || {
        std::fs::remove_file(&filler).unwrap();
        tmpfs.remount("ro");
    };
    for (fault, reason, prepare) in [
        ("full", "No space left on device", None),
        ("read-only", "Read-only file system", Some(&remount_read_only as &dyn Fn())),
    ] {
        if let Some(prepare) = prepare {
            prepare();
        }
        let answer = daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap();
        assert_eq!(answer.status(), 500, "{fault}");
        let message = answer.text().unwrap();
        assert!(message.starts_with(&format!("baseline file {}: cannot write: ", baseline.display())), "{message}");
        assert!(message.contains(reason), "{fault}: {message}");
        let logged = daemon.logs().into_iter().filter(|l| l.contains("baseline file") && l.contains(reason)).count();
        assert!(logged >= 1, "{fault}: the failed write is logged: {:?}", daemon.logs());

        let (code, stderr) = run(&["baseline", "--force", "--baseline.file", &baseline_arg], &config_file);
        assert_eq!(code, Some(1), "{fault}: {stderr}");
        assert!(stderr.contains(&format!("baseline file {}: cannot write", baseline.display())), "{stderr}");
        assert!(stderr.contains(reason), "{fault}: {stderr}");

        let (code, stderr) = run(&["attest", "ops.rollback_tested", "--by", "bob"], &config_file);
        assert_eq!(code, Some(1), "{fault}: {stderr}");
        assert!(stderr.contains(&attestations.display().to_string()), "{fault}: names the file: {stderr}");
        assert!(stderr.contains(reason), "{fault}: {stderr}");

        assert_eq!(std::fs::read(&baseline).unwrap(), baseline_before, "{fault}: the baseline is intact");
        assert_eq!(std::fs::read(&attestations).unwrap(), attestations_before, "{fault}: attestations intact");
        assert_eq!(temporaries(tmpfs.path()), Vec::<String>::new(), "{fault}: no temporary file left behind");
        assert_eq!(daemon.get("/-/healthy").status(), 200, "{fault}: the daemon keeps serving");
        assert_eq!(state_of(&daemon, "ops.rollback_tested").0, "pass", "{fault}: alice's attestation still counts");
        assert_eq!(daemon.item("infra.cpu")["regressed"], false);
    }

    tmpfs.remount("rw");
    assert_eq!(daemon.client.post(daemon.url("/api/v1/baseline")).send().unwrap().status(), 200, "writable again");
    let (code, stderr) = run(&["attest", "ops.rollback_tested", "--by", "bob"], &config_file);
    assert_eq!(code, Some(0), "{stderr}");
    drop(daemon);
}

#[test]
fn sigterm_during_an_evaluation_exits_cleanly_kills_the_command_and_keeps_the_state_files() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let baseline = dir.path().join("baseline.json");
    let attestations = dir.path().join("attestations.json");
    let attested = format!(
        "[[checks]]\nkind = \"attested\"\nfile = \"{}\"\nvalidity = \"90d\"\n{}\n",
        attestations.display(),
        item("ops.rollback_tested", "critical", None)
    );
    // The shell and its `sleep` share the command's process group; both must die with it.
    let script = format!("sleep 300 & echo \"$$ $!\" > {0}.tmp && mv {0}.tmp {0}; wait", pids.display());
    let config = format!(
        "{attested}[[checks]]\nkind = \"command\"\nargv = [\"sh\", \"-c\", {script:?}]\ncommand_timeout = \"10m\"\n\
         timeout = \"11m\"\ninterval = \"12m\"\n{}\n",
        item("ops.slow_command", "warning", None)
    );
    let config_file = dir.path().join("checklist.toml");
    std::fs::write(&config_file, &attested).unwrap();
    let baseline_arg = baseline.display().to_string();
    let (code, stderr) = run(&["attest", "ops.rollback_tested", "--by", "alice"], &config_file);
    assert_eq!(code, Some(0), "{stderr}");
    let (code, stderr) = run(&["baseline", "--baseline.file", &baseline_arg], &config_file);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::write(&config_file, &config).unwrap();
    let baseline_before = std::fs::read(&baseline).unwrap();
    let attestations_before = std::fs::read(&attestations).unwrap();

    let mut daemon = Daemon::start_with(&config_file, &["--baseline.file", &baseline_arg]);
    wait_for("the command to be running", LIMIT, || pids.exists());
    let started: Vec<u32> =
        std::fs::read_to_string(&pids).unwrap().split_whitespace().map(|p| p.parse().unwrap()).collect();
    assert_eq!(started.len(), 2);
    assert!(started.iter().all(|pid| process_alive(*pid)));
    assert_eq!(state_of(&daemon, "ops.slow_command").0, "pending", "still being evaluated");

    daemon.signal("TERM");
    let mut status = None;
    wait_for("the daemon to exit", Duration::from_secs(30), || {
        status = daemon.child.try_wait().unwrap();
        status.is_some()
    });
    assert_eq!(status.unwrap().code(), Some(0), "{:?}", daemon.logs());
    let logs = daemon.logs();
    assert!(logs.iter().any(|l| l.contains("SIGTERM received")), "{logs:?}");
    assert!(logs.iter().any(|l| l.contains("\"stopped\"")), "{logs:?}");
    for pid in started {
        wait_for(&format!("process {pid} of the command's group to be gone"), LIMIT, || !process_alive(pid));
    }
    assert_eq!(std::fs::read(&baseline).unwrap(), baseline_before, "the baseline is intact");
    assert_eq!(std::fs::read(&attestations).unwrap(), attestations_before, "the attestations are intact");
    assert_eq!(temporaries(dir.path()), Vec::<String>::new());
}
