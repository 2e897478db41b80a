//! Backups made from a real `pg_dump` of a database created on the machine's PostgreSQL
//! (127.0.0.1:5432), compressed with the real `gzip` and `zstd` tools, then damaged on purpose:
//! truncated, bit-flipped, back-dated, encrypted with gpg, hidden behind a symlink loop.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use common::{check_once, item, promtool_complaints, verdict, Daemon};

/// A database made for one test and dropped at the end.
struct TestDatabase(String);

impl TestDatabase {
    fn create(tag: &str) -> TestDatabase {
        let name = format!("checklist_backup_{tag}_{}", std::process::id());
        psql("postgres", &format!("DROP DATABASE IF EXISTS {name}"));
        psql("postgres", &format!("CREATE DATABASE {name}"));
        psql(
            &name,
            "CREATE TABLE story (id serial PRIMARY KEY, title text, body text);\
             INSERT INTO story (title, body) SELECT 'story ' || g, repeat(md5(g::text), 20) FROM generate_series(1, 3000) g;",
        );
        TestDatabase(name)
    }

    fn dump(&self, args: &[&str]) -> Vec<u8> {
        let output = Command::new("pg_dump")
            .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"])
            .args(args)
            .arg(&self.0)
            .output()
            .unwrap();
        assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
        output.stdout
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        psql("postgres", &format!("DROP DATABASE IF EXISTS {}", self.0));
    }
}

fn psql(database: &str, sql: &str) {
    let output = Command::new("psql")
        .args([
            "-h",
            "127.0.0.1",
            "-p",
            "5432",
            "-U",
            "postgres",
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-d",
            database,
            "-c",
            sql,
        ])
        .output()
        .unwrap();
    assert!(output.status.success(), "psql: {}", String::from_utf8_lossy(&output.stderr));
}

/// Pipes `data` through a real compressor (`gzip -c`, `zstd -c -q`).
fn compress(tool: &[&str], data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(tool[0])
        .args(&tool[1..])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success());
    output.stdout
}

fn write_aged(path: &Path, data: &[u8], age: Duration) {
    std::fs::write(path, data).unwrap();
    let mtime = filetime::FileTime::from_system_time(SystemTime::now() - age);
    filetime::set_file_mtime(path, mtime).unwrap();
}

fn set_dir(root: &Path, name: &str) -> PathBuf {
    let dir = root.join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn backup_check(set: &str, dir: &Path, pattern: &str, extra: &str, prefix: &str) -> String {
    format!(
        "[[checks]]\nkind = \"backup\"\nset = \"{set}\"\ndirectory = \"{}\"\npattern = \"{pattern}\"\n{extra}\n{}{}{}{}\n",
        dir.display(),
        item(&format!("{prefix}.age"), "critical", Some("age")),
        item(&format!("{prefix}.size"), "critical", Some("size")),
        item(&format!("{prefix}.encryption"), "warning", Some("encryption")),
        item(&format!("{prefix}.retention"), "warning", Some("retention")),
    )
}

fn integrity_check(set: &str, dir: &Path, pattern: &str, id: &str) -> String {
    format!(
        "[[checks]]\nkind = \"backup_integrity\"\nset = \"{set}\"\ndirectory = \"{}\"\npattern = \"{pattern}\"\ntimeout = \"30s\"\n{}\n",
        dir.display(),
        item(id, "critical", None)
    )
}

const HOUR: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86400);

#[test]
fn real_pg_dumps_verify_and_damaged_copies_fail_with_the_offset() {
    let database = TestDatabase::create("integrity");
    let plain = database.dump(&[]);
    let custom = database.dump(&["-Fc"]);
    assert!(plain.len() > 100_000, "the dump should be big enough to be interesting");
    let root = tempfile::tempdir().unwrap();

    let gz = compress(&["gzip", "-c"], &plain);
    let zst = compress(&["zstd", "-c", "-q"], &custom);
    let plain_zst = compress(&["zstd", "-c", "-q"], &plain);
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("plain_gz", "*.sql.gz", gz.clone()),
        ("custom_zst", "*.dump.zst", zst.clone()),
        ("custom_raw", "*.dump", custom.clone()),
        ("truncated_gz", "*.sql.gz", gz[..gz.len() / 2].to_vec()),
        ("flipped_gz", "*.sql.gz", {
            let mut damaged = gz.clone();
            let middle = damaged.len() / 2;
            damaged[middle] ^= 0x10;
            damaged
        }),
        ("crc_gz", "*.sql.gz", {
            let mut damaged = gz.clone();
            let crc = damaged.len() - 8;
            damaged[crc] ^= 0x01;
            damaged
        }),
        ("truncated_zst", "*.sql.zst", plain_zst[..plain_zst.len() * 2 / 3].to_vec()),
        ("cut_dump_gz", "*.sql.gz", compress(&["gzip", "-c"], &plain[..plain.len() - 200])),
        ("not_a_dump", "*.sql.gz", compress(&["gzip", "-c"], b"hello, I am not a database\n")),
    ];
    let mut config = String::new();
    for (set, pattern, data) in &cases {
        let dir = set_dir(root.path(), set);
        let extension = pattern.trim_start_matches('*');
        std::fs::write(dir.join(format!("db-20261127{extension}")), data).unwrap();
        config.push_str(&integrity_check(set, &dir, pattern, &format!("integrity.{set}")));
    }
    let items = check_once(&config);

    let (state, _, reason) = verdict(&items, "integrity.plain_gz");
    assert_eq!(state, "pass", "{reason}");
    assert!(reason.contains("checksums match") && reason.contains("complete PostgreSQL plain SQL dump"), "{reason}");
    let (state, _, reason) = verdict(&items, "integrity.custom_zst");
    assert_eq!(state, "pass", "{reason}");
    assert!(reason.starts_with("db-20261127.dump.zst (zstd:") && reason.ends_with("custom-format dump"), "{reason}");
    assert_eq!(verdict(&items, "integrity.custom_raw").0, "pass");

    let (state, cause, reason) = verdict(&items, "integrity.truncated_gz");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "corrupt"), "{reason}");
    assert_eq!(
        reason,
        format!("db-20261127.sql.gz: truncated: the gzip stream ends at byte {} before its end", gz.len() / 2)
    );
    let (state, cause, reason) = verdict(&items, "integrity.flipped_gz");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "corrupt"), "{reason}");
    assert!(reason.contains("at byte "), "{reason}");
    let (_, cause, reason) = verdict(&items, "integrity.crc_gz");
    assert_eq!(cause, "corrupt");
    assert!(reason.contains("CRC-32 checksum does not match"), "{reason}");
    let (_, cause, reason) = verdict(&items, "integrity.truncated_zst");
    assert_eq!(cause, "corrupt", "{reason}");
    assert!(reason.contains("zstd stream ends at byte"), "{reason}");
    let (_, cause, reason) = verdict(&items, "integrity.cut_dump_gz");
    assert_eq!(cause, "corrupt", "{reason}");
    assert!(reason.contains("cut short"), "{reason}");
    let (_, cause, reason) = verdict(&items, "integrity.not_a_dump");
    assert_eq!(cause, "invalid", "{reason}");
}

#[test]
fn freshness_size_retention_and_encryption_of_real_sets() {
    let database = TestDatabase::create("policy");
    let gz = compress(&["gzip", "-c"], &database.dump(&[]));
    let root = tempfile::tempdir().unwrap();

    // A healthy daily set: 5 backups, the newest 2 hours old.
    let daily = set_dir(root.path(), "daily");
    for day in 0..5u32 {
        write_aged(&daily.join(format!("db-{day}.sql.gz")), &gz, HOUR * 2 + DAY * day);
    }
    std::fs::write(daily.join("README.txt"), "not a backup").unwrap();
    // A set whose job stopped 3 days ago and whose pruning never ran: a 40-day-old file.
    let stale = set_dir(root.path(), "stale");
    write_aged(&stale.join("db-new.sql.gz"), &gz, DAY * 3);
    write_aged(&stale.join("db-old.sql.gz"), b"\x1f\x8b tiny", DAY * 40);
    // Encrypted with gpg: an OpenPGP container, not a readable dump.
    let encrypted = set_dir(root.path(), "encrypted");
    let plain_path = encrypted.join("db.sql.gz");
    std::fs::write(&plain_path, &gz).unwrap();
    let status = Command::new("gpg")
        .args([
            "--batch",
            "--yes",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "test-only",
            "--symmetric",
        ])
        .arg("--homedir")
        .arg(root.path())
        .arg("-o")
        .arg(encrypted.join("db.sql.gz.gpg"))
        .arg(&plain_path)
        .status()
        .unwrap();
    assert!(status.success());
    std::fs::remove_file(&plain_path).unwrap();
    let empty = set_dir(root.path(), "empty");
    let loop_dir = set_dir(root.path(), "loop");
    std::os::unix::fs::symlink(loop_dir.join("b.sql.gz"), loop_dir.join("a.sql.gz")).unwrap();
    std::os::unix::fs::symlink(loop_dir.join("a.sql.gz"), loop_dir.join("b.sql.gz")).unwrap();
    let not_a_dir = root.path().join("file.sql.gz");
    std::fs::write(&not_a_dir, &gz).unwrap();

    let passphrase_file = root.path().join("passphrase");
    std::fs::write(&passphrase_file, "test-only\n").unwrap();
    let config = [
        backup_check("daily", &daily, "*.sql.gz", "min_size = \"10KiB\"\nmin_count = 5", "daily"),
        backup_check("stale", &stale, "*.sql.gz", "min_size = \"10KiB\"", "stale"),
        backup_check("encrypted", &encrypted, "*.gpg", "", "enc"),
        backup_check("empty", &empty, "*.sql.gz", "", "empty"),
        backup_check("loop", &loop_dir, "*.sql.gz", "", "loop"),
        backup_check("notdir", &not_a_dir, "*.sql.gz", "", "notdir"),
        backup_check("missing", &root.path().join("nowhere"), "*.sql.gz", "", "missing"),
        integrity_check("encrypted", &encrypted, "*.gpg", "enc.integrity")
            .replace("timeout =", &format!("gpg_passphrase_file = \"{}\"\ntimeout =", passphrase_file.display())),
    ]
    .concat();
    let items = check_once(&config);

    for aspect in ["age", "size", "retention"] {
        let (state, _, reason) = verdict(&items, &format!("daily.{aspect}"));
        assert_eq!(state, "pass", "{aspect}: {reason}");
    }
    assert_eq!(verdict(&items, "daily.age").2, "newest backup db-0.sql.gz is 2h old; want at most 1d 2h");
    assert_eq!(verdict(&items, "daily.encryption").1, "insecure");

    let (_, cause, reason) = verdict(&items, "stale.age");
    assert_eq!(
        (cause.as_str(), reason.as_str()),
        ("expired", "newest backup db-new.sql.gz is 3d old; want at most 1d 2h")
    );
    assert_eq!(verdict(&items, "stale.size").0, "pass");
    let (_, cause, reason) = verdict(&items, "stale.retention");
    assert_eq!(cause, "above_maximum");
    assert!(reason.starts_with("oldest backup db-old.sql.gz is 40d old; the policy keeps 30d (+2d slack)"), "{reason}");

    let (state, _, reason) = verdict(&items, "enc.encryption");
    assert_eq!(state, "pass", "{reason}");
    assert_eq!(reason, "newest backup db.sql.gz.gpg is an OpenPGP-encrypted message");
    let (state, _, reason) = verdict(&items, "enc.integrity");
    assert_eq!(state, "pass", "{reason}");
    assert!(reason.starts_with("db.sql.gz.gpg (decrypted with gpg; gzip:"), "{reason}");

    let (state, cause, reason) = verdict(&items, "empty.age");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "missing"));
    assert!(reason.starts_with("no file matches `*.sql.gz` in "), "{reason}");
    let (state, _, reason) = verdict(&items, "loop.age");
    assert_eq!(state, "error");
    assert!(reason.ends_with("a.sql.gz: a symbolic link loop"), "{reason}");
    let (state, cause, reason) = verdict(&items, "notdir.age");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "invalid"));
    assert!(reason.ends_with("file.sql.gz is not a directory"), "{reason}");
    let (_, cause, reason) = verdict(&items, "missing.retention");
    assert_eq!(cause, "not_found");
    assert!(reason.ends_with("nowhere: it does not exist"), "{reason}");
}

#[test]
fn the_daemon_exports_backup_gauges_by_set() {
    let root = tempfile::tempdir().unwrap();
    let dir = set_dir(root.path(), "db");
    let dump = b"--\n-- PostgreSQL database dump\n--\nSELECT 1;\n--\n-- PostgreSQL database dump complete\n--\n";
    let gz = compress(&["gzip", "-c"], dump);
    write_aged(&dir.join("db-1.sql.gz"), &gz, HOUR * 30);
    write_aged(&dir.join("db-2.sql.gz"), &gz, HOUR);
    let config = format!(
        "{}{}",
        backup_check("nightly", &dir, "*.sql.gz", "", "nightly"),
        integrity_check("nightly", &dir, "*.sql.gz", "nightly.integrity")
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let text = daemon.metrics_text();
    assert_eq!(promtool_complaints(&text), None, "{text}");
    let metrics = common::Metrics::parse(&text);
    let set = [("set", "nightly")];
    assert_eq!(metrics.value("checklist_backup_files", &set), Some(2.0));
    assert_eq!(metrics.value("checklist_backup_newest_size_bytes", &set), Some(gz.len() as f64));
    let age = metrics.value("checklist_backup_newest_age_seconds", &set).unwrap();
    assert!((3600.0..3700.0).contains(&age), "{age}");
    assert_eq!(metrics.value("checklist_backup_verified_uncompressed_bytes", &set), Some(dump.len() as f64));
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "nightly.integrity")]), Some(1.0));
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "nightly.age")]), Some(1.0));
}

/// Runs a program to its end and returns its stdout; fails the test with its stderr otherwise.
fn run(program: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new(program).args(args).output().unwrap();
    assert!(output.status.success(), "{program}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// The passphrase of the gpg backups: it must never show in any output.
const GPG_PASSPHRASE: &str = "CANARY-gpg-Zx8kP2vL9qR4mN7wT1yH6jB3";

#[test]
fn gpg_and_age_encrypted_dumps_are_decrypted_and_verified_with_the_configured_key() {
    let database = TestDatabase::create("encrypted");
    let gz = compress(&["gzip", "-c"], &database.dump(&[]));
    let root = tempfile::tempdir().unwrap();
    let keys = set_dir(root.path(), "keys");
    let plain = keys.join("db.sql.gz");
    std::fs::write(&plain, &gz).unwrap();
    let passphrase = keys.join("gpg-passphrase");
    std::fs::write(&passphrase, format!("{GPG_PASSPHRASE}\n")).unwrap();
    let wrong_passphrase = keys.join("wrong-passphrase");
    std::fs::write(&wrong_passphrase, "not-the-passphrase\n").unwrap();
    let gpg_home = set_dir(root.path(), "gnupg");
    std::fs::set_permissions(&gpg_home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg_file = keys.join("db.sql.gz.gpg");
    let gpg_args = ["--batch", "--yes", "--quiet", "--pinentry-mode", "loopback", "--symmetric"];
    let mut args: Vec<&str> = gpg_args.to_vec();
    let (home, pass, out, input) =
        (gpg_home.to_str().unwrap(), passphrase.to_str().unwrap(), gpg_file.to_str().unwrap(), plain.to_str().unwrap());
    args.extend(["--homedir", home, "--passphrase-file", pass, "-o", out, input]);
    run("gpg", &args);
    let gpg_data = std::fs::read(&gpg_file).unwrap();

    let identity = keys.join("age-identity.txt");
    let other_identity = keys.join("other-identity.txt");
    run("age-keygen", &["-o", identity.to_str().unwrap()]);
    run("age-keygen", &["-o", other_identity.to_str().unwrap()]);
    let recipient = String::from_utf8(run("age-keygen", &["-y", identity.to_str().unwrap()])).unwrap();
    let age_file = keys.join("db.sql.gz.age");
    run("age", &["-e", "-r", recipient.trim(), "-o", age_file.to_str().unwrap(), plain.to_str().unwrap()]);
    let age_data = std::fs::read(&age_file).unwrap();

    let gpg_key = |file: &Path| format!("gpg_passphrase_file = \"{}\"\ntimeout =", file.display());
    let age_key = |file: &Path| format!("age_identity_file = \"{}\"\ntimeout =", file.display());
    let cases: Vec<(&str, &str, Vec<u8>, String)> = vec![
        ("gpg_good", "*.sql.gz.gpg", gpg_data.clone(), gpg_key(&passphrase)),
        ("gpg_wrong", "*.sql.gz.gpg", gpg_data.clone(), gpg_key(&wrong_passphrase)),
        ("gpg_truncated", "*.sql.gz.gpg", gpg_data[..gpg_data.len() / 2].to_vec(), gpg_key(&passphrase)),
        ("age_good", "*.sql.gz.age", age_data.clone(), age_key(&identity)),
        ("age_wrong", "*.sql.gz.age", age_data.clone(), age_key(&other_identity)),
        ("age_truncated", "*.sql.gz.age", age_data[..age_data.len() / 2].to_vec(), age_key(&identity)),
    ];
    let mut config = String::new();
    for (set, pattern, data, key) in &cases {
        let dir = set_dir(root.path(), set);
        std::fs::write(dir.join(format!("db-20261127{}", pattern.trim_start_matches('*'))), data).unwrap();
        config.push_str(&integrity_check(set, &dir, pattern, &format!("integrity.{set}")).replace("timeout =", key));
    }
    let (_, items, stderr) = common::check_once_as(&config, None);
    let everything = format!("{items:?}\n{stderr}");
    assert!(!everything.contains(GPG_PASSPHRASE), "the passphrase leaked:\n{everything}");

    for (set, tool) in [("gpg_good", "gpg"), ("age_good", "age")] {
        let (state, _, reason) = verdict(&items, &format!("integrity.{set}"));
        assert_eq!(state, "pass", "{set}: {reason}");
        assert!(reason.contains(&format!("(decrypted with {tool}; gzip: ")), "{reason}");
        assert!(reason.ends_with("is a complete PostgreSQL plain SQL dump"), "{reason}");
    }
    let (state, cause, reason) = verdict(&items, "integrity.gpg_wrong");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"), "{reason}");
    assert_eq!(
        reason,
        "db-20261127.sql.gz.gpg: gpg cannot decrypt it with the configured key: gpg: decryption failed: Bad session key"
    );
    let (state, cause, reason) = verdict(&items, "integrity.age_wrong");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"), "{reason}");
    assert!(reason.starts_with("db-20261127.sql.gz.age: age cannot decrypt it with the configured key: "), "{reason}");
    assert!(reason.contains("no identity matched"), "{reason}");
    for set in ["gpg_truncated", "age_truncated"] {
        let (state, cause, reason) = verdict(&items, &format!("integrity.{set}"));
        assert_eq!((state.as_str(), cause.as_str()), ("fail", "corrupt"), "{set}: {reason}");
        assert!(reason.starts_with("db-20261127.sql.gz."), "{reason}");
        assert!(reason.contains("the encrypted file is damaged or cut short"), "{reason}");
    }
}

#[test]
fn a_pattern_of_encrypted_files_without_a_key_is_a_config_error() {
    let root = tempfile::tempdir().unwrap();
    for (pattern, key) in [("*.sql.gz.gpg", "gpg_passphrase_file"), ("*.age", "age_identity_file")] {
        let path = root.path().join("checklist.toml");
        std::fs::write(&path, integrity_check("db", root.path(), pattern, "db.integrity")).unwrap();
        let err = checklist_exporter::config::load(&path).unwrap_err().to_string();
        assert!(err.contains(&format!("`{pattern}` names encrypted files")), "{err}");
        assert!(err.contains(key), "{err}");
    }
}
