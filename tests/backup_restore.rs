//! Restore drills against the machine's PostgreSQL (127.0.0.1:5432): real `pg_dump` output of a
//! database like the application's, plain and custom format, compressed with the real `gzip`
//! and `zstd`, encrypted with the real `gpg`, and damaged on purpose (truncated, from another
//! schema, drifted, hanging), restored by `checklist-exporter check` as a dedicated role.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::pg::{psql, unique, TestDatabase, SHARED_PORT};
use common::{check_once_as, item, verdict, Daemon};

/// The drill role's password: it must never show in any output.
const CANARY: &str = "CANARY-restore-Qw7tY3uI9oP2aS5d";
/// The gpg passphrase of the encrypted dump: it must never show either.
const GPG_CANARY: &str = "CANARY-restore-gpg-Lk4jH8gF1dS6";
const MARKER: &str = "checklist-exporter restore drill scratch database; dropped after each drill";

fn pg_dump(database: &str, args: &[&str]) -> Vec<u8> {
    let output = Command::new("pg_dump")
        .args(["-h", "127.0.0.1", "-p", "5432", "-U", "postgres", "--no-owner", "--no-privileges"])
        .args(args)
        .arg(database)
        .output()
        .unwrap();
    assert!(output.status.success(), "pg_dump: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

/// Pipes `data` through a real tool (`gzip -c`, `zstd -c -q`).
fn pipe(tool: &[&str], data: &[u8]) -> Vec<u8> {
    let mut child =
        Command::new(tool[0]).args(&tool[1..]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let data = data.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&data).unwrap());
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap();
    assert!(output.status.success(), "{tool:?}");
    output.stdout
}

/// An application database: users, stories, alembic at `revision`, `stories` rows.
fn app_database(prefix: &str, revision: &str, stories: u32) -> TestDatabase {
    let db = TestDatabase::create(SHARED_PORT, prefix);
    db.sql(&format!(
        "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL);
         CREATE TABLE stories (id serial PRIMARY KEY, user_id int REFERENCES users(id), body text);
         CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
         INSERT INTO alembic_version VALUES ('{revision}');
         INSERT INTO users (name) SELECT 'user ' || g FROM generate_series(1, 20) g;
         INSERT INTO stories (user_id, body) SELECT 1 + g % 20, repeat(md5(g::text), 8) FROM generate_series(1, {stories}) g;"
    ));
    db
}

struct Sets {
    root: tempfile::TempDir,
}

impl Sets {
    fn write(&self, set: &str, file: &str, data: &[u8]) -> PathBuf {
        let dir = self.root.path().join(set);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(file), data).unwrap();
        dir
    }
}

fn database_exists(name: &str) -> bool {
    psql(SHARED_PORT, "postgres", &format!("SELECT count(*) FROM pg_database WHERE datname = '{name}'")) == "1"
}

/// A `backup_restore` check with one item per aspect, ids `<set>.<aspect>`.
fn drill(set: &str, dir: &Path, pattern: &str, scratch_url: &str, keys: &str) -> String {
    drill_deciding(&["restores", "migrations", "data", "duration"], set, dir, pattern, scratch_url, keys)
}

fn drill_deciding(aspects: &[&str], set: &str, dir: &Path, pattern: &str, scratch_url: &str, keys: &str) -> String {
    let items: String =
        aspects.iter().map(|aspect| item(&format!("{set}.{aspect}"), "critical", Some(aspect))).collect();
    format!(
        "[[checks]]\nkind = \"backup_restore\"\nset = \"{set}\"\ndirectory = \"{}\"\npattern = \"{pattern}\"\n\
         scratch_url = \"{scratch_url}\"\ntimeout = \"2m\"\ninterval = \"1h\"\n{keys}\n{items}\n",
        dir.display()
    )
}

#[test]
fn real_dumps_restore_and_broken_drifted_or_foreign_ones_are_told_apart() {
    let production = app_database("cl_restore_prod", "abc123", 100);
    let mut scratch_owner = TestDatabase::create(SHARED_PORT, "cl_restore_roles");
    let role = scratch_owner.role("cl_drill", &format!("LOGIN CREATEDB NOSUPERUSER PASSWORD '{CANARY}'"));
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let keys_dir = sets.root.path().join("keys");
    std::fs::create_dir_all(&keys_dir).unwrap();
    let password_file = keys_dir.join("drill-password");
    std::fs::write(&password_file, format!("{CANARY}\n")).unwrap();

    // Taken before production grew: 100 stories against 200.
    let drifted = pg_dump(&production.name, &[]);
    production.sql("INSERT INTO stories (user_id, body) SELECT 1, 'later' FROM generate_series(1, 100)");
    let plain = pg_dump(&production.name, &[]);
    let custom = pg_dump(&production.name, &["-Fc"]);
    let other_schema = app_database("cl_restore_old", "0001_initial", 200);
    let old = pg_dump(&other_schema.name, &["-Fc"]);

    let passphrase = keys_dir.join("gpg-passphrase");
    std::fs::write(&passphrase, GPG_CANARY).unwrap();
    let gpg_home = keys_dir.join("gnupg");
    std::fs::create_dir_all(&gpg_home).unwrap();
    std::fs::set_permissions(&gpg_home, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
    let gpg = pipe(
        &[
            "gpg",
            "--batch",
            "--quiet",
            "--pinentry-mode",
            "loopback",
            "--homedir",
            gpg_home.to_str().unwrap(),
            "--passphrase-file",
            passphrase.to_str().unwrap(),
            "--symmetric",
            "--output",
            "-",
        ],
        &pipe(&["gzip", "-c"], &plain),
    );
    let gzip = pipe(&["gzip", "-c"], &plain);
    let identity = keys_dir.join("age-identity");
    let status = Command::new("age-keygen").arg("-o").arg(&identity).stderr(Stdio::null()).status().unwrap();
    assert!(status.success(), "age-keygen");
    let recipient = Command::new("age-keygen").arg("-y").arg(&identity).output().unwrap();
    let recipient = String::from_utf8(recipient.stdout).unwrap();
    let age = pipe(&["age", "-r", recipient.trim()], &pipe(&["zstd", "-c", "-q"], &custom));
    // A restore that keeps going while the scratch database is already past its bound.
    let marker = b"-- PostgreSQL database dump complete";
    let at = plain.windows(marker.len()).position(|w| w == marker).unwrap();
    let oversized = [&plain[..at], &b"SELECT pg_sleep(5);\n\n"[..], &plain[at..]].concat();
    let zstd = pipe(&["zstd", "-c", "-q"], &custom);

    let foreign = unique("checklist_restore_foreign");
    psql(SHARED_PORT, "postgres", &format!("CREATE DATABASE {foreign}"));
    psql(SHARED_PORT, &foreign, "CREATE TABLE precious (x int); INSERT INTO precious VALUES (42);");
    let leftover = unique("checklist_restore_leftover");
    // As a crash leaves it: made by the drill's role, marked, with something in it.
    psql(SHARED_PORT, "postgres", &format!("CREATE DATABASE {leftover} OWNER {role}"));
    psql(SHARED_PORT, "postgres", &format!("COMMENT ON DATABASE {leftover} IS '{MARKER}'"));
    psql(SHARED_PORT, &leftover, "CREATE TABLE stale (x int);");

    let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
    let production_url = format!("postgres://postgres@127.0.0.1:{SHARED_PORT}/{}?sslmode=disable", production.name);
    let compare = format!(
        "scratch_password_file = \"{}\"\nproduction_url = \"{production_url}\"\nrto = \"1h\"\n\
         row_count_tables = [\"users\", \"public.stories\"]\nrow_count_tolerance = 0.05\n\
         invariants = [\"SELECT count(*) = 0 FROM stories s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL\"]",
        password_file.display()
    );
    let gpg_keys = format!("{compare}\ngpg_passphrase_file = \"{}\"", passphrase.display());
    let mut cut = gzip.clone();
    cut.truncate(gzip.len() * 2 / 3);
    let cases: Vec<(&str, &str, &str, Vec<u8>, String)> = vec![
        ("plain", "db.sql", "*.sql", plain.clone(), compare.clone()),
        ("custom", "db.dump", "*.dump", custom.clone(), compare.clone()),
        ("gzip", "db.sql.gz", "*.sql.gz", gzip.clone(), compare.clone()),
        ("zstd", "db.dump.zst", "*.dump.zst", zstd, compare.clone()),
        ("gpg", "db.sql.gz.gpg", "*.sql.gz.gpg", gpg, gpg_keys),
        (
            "age",
            "db.dump.zst.age",
            "*.dump.zst.age",
            age,
            format!("{compare}\nage_identity_file = \"{}\"", identity.display()),
        ),
        ("oversized", "db.sql", "*.sql", oversized, format!("{compare}\nmax_scratch_size = \"1MiB\"")),
        ("truncated", "db.sql.gz", "*.sql.gz", cut, compare.clone()),
        ("truncated_custom", "db.dump", "*.dump", custom[..custom.len() / 2].to_vec(), compare.clone()),
        ("wrong_schema", "db.dump", "*.dump", old, compare.clone()),
        ("drifted", "db.sql", "*.sql", drifted, compare.clone()),
        (
            "invariant",
            "db.sql",
            "*.sql",
            plain.clone(),
            compare.replace("count(*) = 0 FROM stories s", "count(*) > 0 FROM stories s"),
        ),
        ("slow", "db.sql", "*.sql", plain.clone(), compare.replace("rto = \"1h\"", "rto = \"1ms\"")),
        ("foreign", "db.sql", "*.sql", plain.clone(), format!("{compare}\nscratch_database = \"{foreign}\"")),
        ("leftover", "db.sql", "*.sql", plain.clone(), format!("{compare}\nscratch_database = \"{leftover}\"")),
    ];
    let mut config = String::new();
    for (set, file, pattern, data, keys) in &cases {
        let dir = sets.write(set, file, data);
        config.push_str(&drill(set, &dir, pattern, &scratch_url, keys));
    }
    let superuser_dir = sets.write("superuser", "db.sql", &plain);
    config.push_str(&drill_deciding(
        &["restores"],
        "superuser",
        &superuser_dir,
        "*.sql",
        &format!("postgres://postgres@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable"),
        "",
    ));

    let (_, items, stderr) = check_once_as(&config, None);

    for set in ["plain", "custom", "gzip", "zstd", "gpg", "age"] {
        for aspect in ["restores", "migrations", "data", "duration"] {
            let (state, _, reason) = verdict(&items, &format!("{set}.{aspect}"));
            assert_eq!(state, "pass", "{set}.{aspect}: {reason}");
        }
    }
    let (_, _, reason) = verdict(&items, "gpg.restores");
    assert!(reason.contains("decrypted with gpg") && reason.contains("restored with psql"), "{reason}");
    let (_, _, reason) = verdict(&items, "age.restores");
    assert!(reason.contains("decrypted with age") && reason.contains("restored with pg_restore"), "{reason}");
    let (state, cause, reason) = verdict(&items, "oversized.restores");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "above_maximum"), "{reason}");
    assert!(reason.contains("past max_scratch_size 1 MiB; the restore was stopped"), "{reason}");
    let (_, _, reason) = verdict(&items, "zstd.restores");
    assert!(reason.contains("restored with pg_restore"), "{reason}");
    let (_, _, reason) = verdict(&items, "plain.data");
    assert!(reason.contains("stories: 200 restored, 200 in production (0.0% apart)"), "{reason}");
    assert!(reason.contains("1 invariant(s) hold"), "{reason}");
    let (_, _, reason) = verdict(&items, "plain.migrations");
    assert_eq!(reason, "the restored database is at alembic head abc123, as production is");

    let (state, cause, reason) = verdict(&items, "truncated.restores");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "corrupt"), "{reason}");
    assert!(reason.contains("truncated: the gzip stream ends at byte"), "{reason}");
    let (state, _, reason) = verdict(&items, "truncated.migrations");
    assert_eq!(state, "error", "{reason}");
    assert_eq!(verdict(&items, "truncated.duration").0, "error");
    let (state, cause, reason) = verdict(&items, "truncated_custom.restores");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"), "{reason}");
    assert!(reason.contains("pg_restore stopped at an error"), "{reason}");

    let (state, cause, reason) = verdict(&items, "wrong_schema.migrations");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "mismatch"), "{reason}");
    assert_eq!(reason, "the restored database is at alembic head 0001_initial; production is at abc123");
    assert_eq!(verdict(&items, "wrong_schema.restores").0, "pass");

    let (state, cause, reason) = verdict(&items, "drifted.data");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "mismatch"), "{reason}");
    assert_eq!(
        reason,
        "public.stories: 100 restored, 200 in production (50.0% apart); want row counts within 5.0% of production"
    );
    let (state, cause, reason) = verdict(&items, "invariant.data");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"), "{reason}");
    assert!(reason.contains("is false"), "{reason}");

    // Decided by the measured duration against the configured one.
    let (state, cause, reason) = verdict(&items, "slow.duration");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "above_maximum"), "{reason}");
    assert!(reason.ends_with("want at most 1ms (rto)"), "{reason}");
    assert_eq!(verdict(&items, "slow.restores").0, "pass");

    for aspect in ["restores", "migrations", "data", "duration"] {
        let (state, _, reason) = verdict(&items, &format!("foreign.{aspect}"));
        assert_eq!(state, "error", "{reason}");
        assert!(
            reason.contains(&format!(
                "database {foreign} on 127.0.0.1:5432 exists and is not a restore drill's scratch database"
            )),
            "{reason}"
        );
    }
    assert_eq!(psql(SHARED_PORT, &foreign, "SELECT x FROM precious"), "42");
    psql(SHARED_PORT, "postgres", &format!("DROP DATABASE {foreign}"));

    assert_eq!(verdict(&items, "leftover.restores").0, "pass", "{:?}", verdict(&items, "leftover.restores"));
    assert!(!database_exists(&leftover), "the leftover scratch database was dropped");
    let (state, cause, reason) = verdict(&items, "superuser.restores");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "insecure"), "{reason}");
    assert!(reason.contains("has SUPERUSER"), "{reason}");

    // Every drill dropped its scratch database.
    let left = psql(
        SHARED_PORT,
        "postgres",
        &format!(
            "SELECT string_agg(datname, ',') FROM pg_database \
             WHERE datname ~ '^checklist_restore_[0-9a-f]{{16}}$' OR datname = '{leftover}'"
        ),
    );
    assert_eq!(left, "", "scratch databases left behind");
    let everything = format!("{items:?}{stderr}");
    for secret in [CANARY, GPG_CANARY] {
        assert!(!everything.contains(secret), "{secret} leaked");
    }
}

#[test]
fn a_drill_cut_off_by_its_timeout_leaves_no_scratch_database_behind_for_long() {
    let production = app_database("cl_restore_hang", "abc123", 10);
    let mut roles = TestDatabase::create(SHARED_PORT, "cl_restore_hang_roles");
    let role = roles.role("cl_drill", "LOGIN CREATEDB NOSUPERUSER");
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let plain = String::from_utf8(pg_dump(&production.name, &[])).unwrap();
    // A restore that hangs in the server: a statement before pg_dump's last line.
    let marker = "-- PostgreSQL database dump complete";
    let hanging = plain.replacen(marker, &format!("SELECT pg_sleep(120);\n\n{marker}"), 1);
    let scratch = unique("checklist_restore_hang");
    let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
    let keys = format!("scratch_database = \"{scratch}\"\nconnect_timeout = \"2s\"");

    let dir = sets.write("hang", "db.sql", hanging.as_bytes());
    let config = drill_deciding(&["restores"], "hang", &dir, "*.sql", &scratch_url, &keys)
        .replace("timeout = \"2m\"", "timeout = \"3s\"");
    let (_, items, _) = check_once_as(&config, None);
    let (state, cause, reason) = verdict(&items, "hang.restores");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "timeout"), "{reason}");

    // Whether or not the timed-out run's own cleanup finished before the process exited, the
    // next drill starts by dropping what is left, restores, and drops its database again.
    std::fs::write(dir.join("db.sql"), plain.as_bytes()).unwrap();
    let config = drill_deciding(&["restores"], "hang", &dir, "*.sql", &scratch_url, &keys);
    let (_, items, _) = check_once_as(&config, None);
    assert_eq!(verdict(&items, "hang.restores").0, "pass", "{:?}", verdict(&items, "hang.restores"));
    assert!(!database_exists(&scratch));
    let sleeping =
        psql(SHARED_PORT, "postgres", "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(120)%'");
    assert_eq!(sleeping, "0", "the hanging restore's session was ended");
}

#[test]
fn the_daemon_exports_the_drills_duration_size_and_row_counts() {
    let production = app_database("cl_restore_gauges", "abc123", 30);
    let mut roles = TestDatabase::create(SHARED_PORT, "cl_restore_gauges_roles");
    let role = roles.role("cl_drill", "LOGIN CREATEDB NOSUPERUSER");
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let dir = sets.write("nightly", "db.dump", &pg_dump(&production.name, &["-Fc"]));
    let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
    let production_url = format!("postgres://postgres@127.0.0.1:{SHARED_PORT}/{}?sslmode=disable", production.name);
    let keys =
        format!("production_url = \"{production_url}\"\nrto = \"1h\"\nrow_count_tables = [\"users\", \"stories\"]");
    let daemon = Daemon::start(&drill("nightly", &dir, "*.dump", &scratch_url, &keys));
    daemon.wait_ready();
    common::wait_for("the drill's verdict", std::time::Duration::from_secs(60), || {
        daemon.item("nightly.restores")["state"].as_str() == Some("pass")
    });
    let text = daemon.metrics_text();
    assert_eq!(common::promtool_complaints(&text), None, "{text}");
    let metrics = common::Metrics::parse(&text);
    let set = [("set", "nightly")];
    assert!(metrics.value("checklist_backup_restore_duration_seconds", &set).is_some_and(|s| s > 0.0), "{text}");
    // At least the empty database's catalog.
    assert!(metrics.value("checklist_backup_restore_size_bytes", &set).is_some_and(|b| b > 1e6), "{text}");
    assert_eq!(metrics.value("checklist_backup_restore_rows", &[("set", "nightly"), ("table", "stories")]), Some(30.0));
    assert_eq!(metrics.value("checklist_backup_restore_rows", &[("set", "nightly"), ("table", "users")]), Some(20.0));
    for aspect in ["restores", "migrations", "data", "duration"] {
        assert_eq!(metrics.value("checklist_item_passing", &[("id", &format!("nightly.{aspect}"))]), Some(1.0));
    }
}

/// A plain dump around `payload`: what a tampered backup file would carry.
fn plain_dump_with(payload: &str) -> String {
    format!("SET client_encoding = 'UTF8';\nCREATE TABLE t (x int);\n{payload}\nSELECT 1;\n")
}

#[test]
fn psql_meta_commands_anywhere_in_a_plain_dump_are_refused_and_never_run() {
    let mut roles = TestDatabase::create(SHARED_PORT, "cl_restore_meta_roles");
    let role = roles.role("cl_drill", "LOGIN CREATEDB NOSUPERUSER");
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
    let marker_dir = tempfile::tempdir().unwrap();
    let marker = |set: &str| marker_dir.path().join(format!("{}-ran", unique(set)));
    let cases: Vec<(&str, PathBuf, String)> = ["mid_line", "indented", "dollar_copy", "copy_program", "output_pipe"]
        .into_iter()
        .map(|set| {
            let file = marker(set);
            let touch = format!("touch {}", file.display());
            let payload = match set {
                "mid_line" => format!("SELECT 1; \\! {touch}"),
                "indented" => format!("  \\! {touch}"),
                // A COPY line inside a dollar quote must not put the guard into COPY-data mode.
                "dollar_copy" => format!("SELECT $$\nCOPY t FROM stdin;\n$$;\n\\! {touch}"),
                "copy_program" => format!("\\copy (SELECT 1) to program '{touch}'"),
                _ => format!("\\o |{touch}\nSELECT 1;"),
            };
            (set, file, plain_dump_with(&payload))
        })
        .collect();
    let mut config = String::new();
    for (set, _, dump) in &cases {
        let dir = sets.write(set, "db.sql", dump.as_bytes());
        config.push_str(&drill_deciding(&["restores"], set, &dir, "*.sql", &scratch_url, ""));
    }
    let (_, items, _) = check_once_as(&config, None);
    for (set, file, _) in &cases {
        let (state, cause, reason) = verdict(&items, &format!("{set}.restores"));
        assert_eq!((state.as_str(), cause.as_str()), ("fail", "insecure"), "{set}: {reason}");
        assert!(reason.contains("is a psql meta-command"), "{set}: {reason}");
        assert!(!file.exists(), "{set}: the payload ran");
    }
}

#[test]
fn a_table_with_a_long_copy_header_and_nulls_first_restores() {
    let production = TestDatabase::create(SHARED_PORT, "cl_restore_wide");
    let columns: Vec<String> =
        (0..12).map(|i| format!("a_rather_long_column_name_for_the_copy_header_{i:02} text")).collect();
    production.sql(&format!(
        "CREATE TABLE wide ({});
         INSERT INTO wide SELECT NULL, g::text FROM generate_series(1, 5) g;",
        columns.join(", ")
    ));
    let plain = pg_dump(&production.name, &[]);
    let header = String::from_utf8_lossy(&plain).lines().find(|l| l.starts_with("COPY public.wide")).unwrap().len();
    assert!(header > 200, "the COPY header is {header} bytes");
    let mut roles = TestDatabase::create(SHARED_PORT, "cl_restore_wide_roles");
    let role = roles.role("cl_drill", "LOGIN CREATEDB NOSUPERUSER");
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
    let dir = sets.write("wide", "db.sql", &plain);
    let (_, items, _) = check_once_as(&drill_deciding(&["restores"], "wide", &dir, "*.sql", &scratch_url, ""), None);
    assert_eq!(verdict(&items, "wide.restores").0, "pass", "{:?}", verdict(&items, "wide.restores"));
}

#[test]
fn a_drill_role_that_could_escalate_or_reach_other_databases_is_refused() {
    let mut roles = TestDatabase::create(SHARED_PORT, "cl_restore_escalate");
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let dir = sets.write("set", "db.sql", plain_dump_with("").as_bytes());
    let owner = roles.role("cl_owner", "NOLOGIN");
    // roles.name is a database other than a scratch one; its owner's members could drop it.
    psql(SHARED_PORT, "postgres", &format!("ALTER DATABASE {} OWNER TO {owner}", roles.name));
    let cases = [
        ("createrole", "LOGIN CREATEDB CREATEROLE", None, "CREATEROLE"),
        ("bypassrls", "LOGIN CREATEDB BYPASSRLS", None, "BYPASSRLS"),
        ("program", "LOGIN CREATEDB", Some("pg_execute_server_program"), "membership in pg_execute_server_program"),
        ("files", "LOGIN CREATEDB", Some("pg_write_server_files"), "membership in pg_write_server_files"),
        ("owner", "LOGIN CREATEDB", Some(owner.as_str()), &format!("{} (owned by {owner})", roles.name)),
    ];
    let mut config = String::new();
    let mut expected = Vec::new();
    for (set, attributes, member_of, held) in cases {
        let role = roles.role(&format!("cl_{set}"), attributes);
        if let Some(granted) = member_of {
            psql(SHARED_PORT, "postgres", &format!("GRANT {granted} TO {role}"));
        }
        let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
        config.push_str(&drill_deciding(&["restores"], set, &dir, "*.sql", &scratch_url, ""));
        expected.push((set, role, held.to_string()));
    }
    let (_, items, _) = check_once_as(&config, None);
    for (set, role, held) in expected {
        let (state, cause, reason) = verdict(&items, &format!("{set}.restores"));
        assert_eq!((state.as_str(), cause.as_str()), ("error", "insecure"), "{set}: {reason}");
        assert!(reason.starts_with(&format!("role {role} on 127.0.0.1:{SHARED_PORT} has ")), "{set}: {reason}");
        assert!(reason.contains(&held), "{set}: {reason}");
    }
}

#[test]
fn row_counts_count_the_named_table_quoted_and_refuse_what_is_not_a_table() {
    let production = TestDatabase::create(SHARED_PORT, "cl_restore_user");
    // `user` unquoted is the USER function (one row on either side); the table has three rows.
    production.sql(
        "CREATE TABLE \"user\" (id int); INSERT INTO \"user\" SELECT generate_series(1, 3);
         CREATE VIEW recent_users AS SELECT * FROM \"user\";",
    );
    let plain = pg_dump(&production.name, &[]);
    let mut roles = TestDatabase::create(SHARED_PORT, "cl_restore_user_roles");
    let role = roles.role("cl_drill", "LOGIN CREATEDB NOSUPERUSER");
    let sets = Sets { root: tempfile::tempdir().unwrap() };
    let scratch_url = format!("postgres://{role}@127.0.0.1:{SHARED_PORT}/postgres?sslmode=disable");
    let production_url = format!("postgres://postgres@127.0.0.1:{SHARED_PORT}/{}?sslmode=disable", production.name);
    let mut config = String::new();
    for (set, table) in [("table", "user"), ("view", "public.recent_users")] {
        let dir = sets.write(set, "db.sql", &plain);
        let keys = format!("production_url = \"{production_url}\"\nrow_count_tables = [\"{table}\"]");
        config.push_str(&drill_deciding(&["data"], set, &dir, "*.sql", &scratch_url, &keys));
    }
    let (_, items, _) = check_once_as(&config, None);
    let (state, _, reason) = verdict(&items, "table.data");
    assert_eq!(state, "pass", "{reason}");
    assert!(reason.starts_with("user: 3 restored, 3 in production"), "{reason}");
    let (state, cause, reason) = verdict(&items, "view.data");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "invalid"), "{reason}");
    assert!(reason.contains("\"public\".\"recent_users\" is a view; want a table to count rows of"), "{reason}");
}
