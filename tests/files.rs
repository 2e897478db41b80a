//! The deployment's files on a real filesystem: a directory layout, real owners (`chown` to
//! other uids) and mode bits, back-dated temp files, oversized logs, JSON and non-JSON logs.
//! The tests run as root; "writable by uid 1000" is decided from owner, group and mode bits.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, SystemTime};

use common::{check_once, check_once_as, item, promtool_complaints, verdict, Daemon};

fn chown(path: &Path, uid: u32, gid: u32) {
    std::os::unix::fs::chown(path, Some(uid), Some(gid)).unwrap();
}

fn chmod(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn permissions_check(path: &Path, extra: &str, prefix: &str, aspects: &[&str]) -> String {
    let items: String = aspects.iter().map(|a| item(&format!("{prefix}.{a}"), "critical", Some(a))).collect();
    format!("[[checks]]\nkind = \"permissions\"\npath = \"{}\"\n{extra}\n{items}\n", path.display())
}

#[test]
fn directory_layout_and_permissions_as_the_kernel_decides() {
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    let app = root.path().join("dndstory");
    for dir in ["uploads", "logs", "temp", "backups", "ssl"] {
        std::fs::create_dir_all(app.join(dir)).unwrap();
    }
    std::fs::write(app.join("config"), "a file where a directory belongs").unwrap();
    chmod(&app, 0o755);
    let uploads = app.join("uploads");
    chown(&uploads, 1000, 1000);
    chmod(&uploads, 0o755);
    // Owned by root, group 1000 (uid 1000's primary group in /etc/passwd) with group write.
    let logs = app.join("logs");
    chown(&logs, 0, 1000);
    chmod(&logs, 0o775);
    // Owned by uid 1000 but without the owner's write bit, while others may write: refused.
    let temp = app.join("temp");
    chown(&temp, 1000, 1000);
    chmod(&temp, 0o577);
    let ssl = app.join("ssl");
    std::fs::write(ssl.join("good.key"), "key").unwrap();
    std::fs::write(ssl.join("leaky.key"), "key").unwrap();
    std::fs::write(ssl.join("cert.pem"), "cert").unwrap();
    chmod(&ssl.join("good.key"), 0o600);
    chmod(&ssl.join("leaky.key"), 0o644);
    chmod(&ssl.join("cert.pem"), 0o644);
    // A directory uid 1000 cannot enter hides a writable one below it.
    let locked = app.join("backups").join("locked");
    std::fs::create_dir_all(locked.join("inner")).unwrap();
    chmod(&locked, 0o700);
    chown(&locked.join("inner"), 1000, 1000);

    let config = [
        format!(
            "[[checks]]\nkind = \"directories\"\nroot = \"{}\"\nrequired = [\"uploads\", \"logs\", \"temp\", \"backups\", \"ssl\", \"config\", \"media\"]\n{}\n",
            app.display(),
            item("fs.layout", "critical", None)
        ),
        permissions_check(&uploads, "uid = 1000", "uploads", &["writable"]),
        permissions_check(&logs, "uid = 1000", "logs", &["writable"]),
        permissions_check(&temp, "uid = 1000", "temp", &["writable"]),
        permissions_check(&locked.join("inner"), "uid = 1000", "inner", &["writable"]),
        permissions_check(&ssl.join("cert.pem"), "uid = 33", "cert", &["readable"]),
        permissions_check(&ssl, "", "ssl", &["private"]),
        permissions_check(&ssl.join("good.key"), "", "goodkey", &["private"]),
        permissions_check(&app.join("nope"), "uid = 1000", "nope", &["writable"]),
    ]
    .concat();
    let items = check_once(&config);

    let (state, cause, reason) = verdict(&items, "fs.layout");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "missing"));
    assert_eq!(reason, format!("under {}, missing: media; not directories: config", app.display()));
    let (state, _, reason) = verdict(&items, "uploads.writable");
    assert_eq!(state, "pass", "{reason}");
    assert_eq!(reason, format!("uid 1000 can write {} (owner 1000:1000 mode 0755)", uploads.display()));
    assert_eq!(verdict(&items, "logs.writable").0, "pass", "group write through the primary group");
    let (state, cause, reason) = verdict(&items, "temp.writable");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "permission"), "{reason}");
    let (state, _, reason) = verdict(&items, "inner.writable");
    assert_eq!(state, "fail");
    assert!(reason.contains(&format!("it cannot enter {} (owner 0:0 mode 0700)", locked.display())), "{reason}");
    assert_eq!(verdict(&items, "cert.readable").0, "pass");
    let (state, cause, reason) = verdict(&items, "ssl.private");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "insecure"));
    assert_eq!(
        reason,
        format!("{} is 0644; want no group or other permissions (0600 or 0400)", ssl.join("leaky.key").display())
    );
    assert_eq!(verdict(&items, "goodkey.private").0, "pass");
    // A directory that is not there is not writable: a failure naming it, not an error.
    let (state, cause, reason) = verdict(&items, "nope.writable");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "missing"), "{reason}");
    assert_eq!(reason, format!("{} does not exist; want it writable by uid 1000", app.join("nope").display()));

    // The decision matches what the kernel does when uid 1000 really tries.
    for (dir, expect_ok) in [(&uploads, true), (&logs, true), (&temp, false)] {
        let status = std::process::Command::new("setpriv")
            .args(["--reuid=1000", "--regid=1000", "--init-groups", "touch"])
            .arg(dir.join("probe"))
            .stderr(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.success(), expect_ok, "{}", dir.display());
    }
}

#[test]
fn a_missing_directories_root_names_the_full_path_and_what_was_wanted() {
    let root = tempfile::tempdir().unwrap();
    let absent = root.path().join("dndstory");
    let config = format!(
        "[[checks]]\nkind = \"directories\"\nroot = \"{}\"\nrequired = [\"a\", \"logs\"]\n{}\n",
        absent.display(),
        item("fs.layout", "critical", None)
    );
    let items = check_once(&config);
    let (state, cause, reason) = verdict(&items, "fs.layout");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "missing"), "{reason}");
    assert_eq!(reason, format!("root {} does not exist; want directories a, logs under it", absent.display()));
}

#[test]
fn temp_cleanup_and_log_rotation_from_real_ages_and_sizes() {
    let root = tempfile::tempdir().unwrap();
    let temp = root.path().join("temp");
    std::fs::create_dir_all(temp.join("job-1")).unwrap();
    std::fs::write(temp.join("fresh.wav"), vec![0u8; 1000]).unwrap();
    let stale = temp.join("job-1").join("left-over.wav");
    std::fs::write(&stale, vec![0u8; 10]).unwrap();
    let two_days_ago = SystemTime::now() - Duration::from_secs(2 * 86400 + 60);
    filetime::set_file_mtime(&stale, filetime::FileTime::from_system_time(two_days_ago)).unwrap();
    // A symlink loop inside must not trap the walk.
    std::os::unix::fs::symlink(&temp, temp.join("job-1").join("loop")).unwrap();

    let logs = root.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(logs.join("app.log"), vec![b'x'; 3 << 20]).unwrap();
    std::fs::write(logs.join("app.log.1.gz"), vec![b'x'; 1 << 20]).unwrap();

    let usage = |path: &Path, limits: &str, prefix: &str, aspects: &[&str]| {
        let items: String = aspects.iter().map(|a| item(&format!("{prefix}.{a}"), "warning", Some(a))).collect();
        format!("[[checks]]\nkind = \"dir_usage\"\npath = \"{}\"\n{limits}\n{items}\n", path.display())
    };
    let config = [
        usage(&temp, "max_file_age = \"1d\"", "temp", &["max_file_age"]),
        usage(
            &logs,
            "max_file_size = \"2MiB\"\nmax_total_size = \"10MiB\"",
            "logs",
            &["max_file_size", "max_total_size"],
        ),
        usage(&root.path().join("absent"), "max_file_age = \"1d\"", "absent", &["max_file_age"]),
        usage(
            &logs.join("app.log"),
            "max_file_age = \"1d\"\nmax_file_size = \"2MiB\"",
            "file",
            &["max_file_age", "max_file_size"],
        ),
        usage(&logs.join("app.log.1.gz"), "max_file_size = \"2MiB\"", "small", &["max_file_size"]),
    ]
    .concat();
    let items = check_once(&config);
    let (state, cause, reason) = verdict(&items, "temp.max_file_age");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "above_maximum"));
    assert_eq!(reason, format!("oldest file {} is 2d old; want at most 1d", stale.display()));
    let (state, _, reason) = verdict(&items, "logs.max_file_size");
    assert_eq!(state, "fail");
    assert_eq!(reason, format!("largest file {} has 3 MiB; want at most 2 MiB", logs.join("app.log").display()));
    let (state, _, reason) = verdict(&items, "logs.max_total_size");
    assert_eq!(state, "pass", "{reason}");
    assert_eq!(reason, format!("2 files under {} hold 4 MiB; want at most 10 MiB", logs.display()));
    assert_eq!(verdict(&items, "absent.max_file_age").1, "not_found");
    // One file (a log that is not rotated) is judged on its own size and age.
    let (state, _, reason) = verdict(&items, "file.max_file_age");
    assert_eq!(state, "pass", "{reason}");
    let (state, cause, reason) = verdict(&items, "file.max_file_size");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "above_maximum"), "{reason}");
    assert_eq!(reason, format!("file {} has 3 MiB; want at most 2 MiB", logs.join("app.log").display()));
    assert_eq!(verdict(&items, "small.max_file_size").0, "pass");

    // Cleaned up: passes.
    std::fs::remove_file(&stale).unwrap();
    let items = check_once(&usage(&temp, "max_file_age = \"1d\"", "temp", &["max_file_age"]));
    assert_eq!(verdict(&items, "temp.max_file_age").0, "pass");
}

#[test]
fn dir_usage_series_pass_promtool_and_count_files_as_checklist_dir_files() {
    let root = tempfile::tempdir().unwrap();
    std::fs::write(root.path().join("a.log"), "a").unwrap();
    std::fs::write(root.path().join("b.log"), "b").unwrap();
    let config = format!(
        "[[checks]]\nkind = \"dir_usage\"\npath = \"{}\"\nmax_total_size = \"1MiB\"\n{}\n",
        root.path().display(),
        item("logs.total", "warning", Some("max_total_size"))
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let text = daemon.metrics_text();
    // A gauge named `..._count` reads as a summary's count to promtool.
    assert_eq!(promtool_complaints(&text), None, "{text}");
    let metrics = common::Metrics::parse(&text);
    let path = root.path().display().to_string();
    assert_eq!(metrics.value("checklist_dir_files", &[("path", path.as_str())]), Some(2.0), "{text}");
}

#[test]
fn structured_logs_and_unreadable_files() {
    let root = tempfile::tempdir().unwrap();
    chmod(root.path(), 0o755);
    let json = root.path().join("app.json.log");
    let mut text = String::from("starting up (plain text before the JSON logger)\n");
    for i in 0..50 {
        text.push_str(&format!("{{\"level\":\"info\",\"msg\":\"request {i}\",\"user\":\"secret-user-{i}\"}}\n"));
    }
    std::fs::write(&json, &text).unwrap();
    let mixed = root.path().join("mixed.log");
    std::fs::write(&mixed, format!("{text}Traceback (most recent call last): password=hunter2\n")).unwrap();
    let private = root.path().join("private.log");
    std::fs::write(&private, &text).unwrap();
    chmod(&private, 0o600);
    let json_log = |path: &Path, id: &str, lines: usize| {
        format!(
            "[[checks]]\nkind = \"json_log\"\npath = \"{}\"\nlines = {lines}\n{}\n",
            path.display(),
            item(id, "warning", None)
        )
    };
    let config = [
        json_log(&json, "log.json", 20),
        json_log(&json, "log.too_many", 60),
        json_log(&mixed, "log.mixed", 20),
        json_log(root.path(), "log.dir", 20),
        json_log(&private, "log.private", 20),
    ]
    .concat();
    let items = check_once(&config);
    assert_eq!(verdict(&items, "log.json").2, format!("the last 20 lines of {} are JSON objects", json.display()));
    let (state, cause, reason) = verdict(&items, "log.too_many");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"));
    assert!(reason.contains("line 51 from the end is not JSON"), "{reason}");
    let (_, _, reason) = verdict(&items, "log.mixed");
    assert!(reason.contains("line 1 from the end is not JSON"), "{reason}");
    assert!(!reason.contains("hunter2") && !reason.contains("Traceback"), "log text must not reach reasons: {reason}");
    let (state, cause, _) = verdict(&items, "log.dir");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "invalid"));
    assert_eq!(verdict(&items, "log.private").0, "pass");

    // As nobody, the 0600 log cannot be read: a permission error naming the file.
    let (_, items, stderr) = check_once_as(&json_log(&private, "log.private", 20), Some(65534));
    let (state, cause, reason) = verdict(&items, "log.private");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "permission"), "{stderr}");
    assert_eq!(reason, format!("cannot examine {}: permission denied", private.display()));
}

#[test]
fn the_shipped_example_for_these_families_is_valid() {
    let path = format!("{}/config/dndstory-files.toml", env!("CARGO_MANIFEST_DIR"));
    let config = checklist_exporter::config::load(Path::new(&path)).unwrap();
    assert_eq!((config.checks.len(), config.item_count()), (13, 25));
}
