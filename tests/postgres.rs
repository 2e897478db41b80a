//! The `postgres` and `pgbouncer` kinds against real PostgreSQL: the machine's shared cluster on
//! 127.0.0.1:5432 (trust auth) with throwaway databases and roles, and clusters of our own for
//! tuning, passwords, TLS refusal and restarts. Every verdict is compared with the server's own
//! values, read with psql.

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::Duration;

use common::pg::{host_ram_bytes, psql, unique, Cluster, TestDatabase, SHARED_PORT};
use common::{closed_port, item, promtool_complaints, wait_for, Daemon};

/// A `postgres` check with `keys` (TOML lines) and one critical item per aspect, ids `db.<aspect>`.
fn pg_check(url: &str, keys: &str, aspects: &[&str]) -> String {
    let items: String = aspects.iter().map(|a| item(&format!("db.{a}"), "critical", Some(a))).collect();
    format!("[[checks]]\nkind = \"postgres\"\nurl = \"{url}\"\n{keys}\n{items}\n")
}

/// Runs `checklist-exporter check --format json` and returns the items by id.
fn check_once(config: &str) -> HashMap<String, serde_json::Value> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config).unwrap();
    let output =
        Command::new(common::BINARY).args(["check", "--format", "json", "--config.file"]).arg(&path).output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let document: serde_json::Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|_| panic!("not JSON: {stdout} {}", String::from_utf8_lossy(&output.stderr)));
    document["items"].as_array().unwrap().iter().map(|i| (i["id"].as_str().unwrap().to_string(), i.clone())).collect()
}

fn state(items: &HashMap<String, serde_json::Value>, id: &str) -> (String, String, String) {
    let item = &items[id];
    (
        item["state"].as_str().unwrap_or_default().to_string(),
        item["cause"].as_str().unwrap_or_default().to_string(),
        item["reason"].as_str().unwrap_or_default().to_string(),
    )
}

fn shared_url(user: &str, database: &str) -> String {
    format!("postgres://{user}@127.0.0.1:{SHARED_PORT}/{database}?sslmode=disable")
}

/// A database like the application's: tables owned by a least-privilege role, migrations at a
/// known revision.
fn app_database() -> (TestDatabase, String) {
    let mut db = TestDatabase::create(SHARED_PORT, "cl_app");
    let app = db.role("cl_app", "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS");
    db.sql(
        "CREATE TABLE users (id int); CREATE TABLE stories (id int);
         CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY);
         INSERT INTO alembic_version VALUES ('abc123');
         GRANT SELECT ON users, stories, alembic_version TO PUBLIC;",
    );
    (db, app)
}

#[test]
fn a_least_privilege_role_passes_identity_privilege_schema_and_migration_items() {
    let (db, app) = app_database();
    let keys = format!(
        "expect_database = \"{}\"\nexpect_user = \"{app}\"\nexpect_tables = [\"users\", \"stories\"]\nalembic_revision = \"abc123\"\nmax_connections_range = [20, 500]",
        db.name
    );
    let aspects = [
        "running",
        "database",
        "user",
        "least_privilege",
        "schema",
        "migrations",
        "max_connections",
        "checkpoint_completion_target",
        "connections",
        "latency",
    ];
    let items = check_once(&pg_check(&shared_url(&app, &db.name), &keys, &aspects));
    for aspect in aspects {
        let (verdict, _, reason) = state(&items, &format!("db.{aspect}"));
        assert_eq!(verdict, "pass", "{aspect}: {reason}");
    }
    let server_version = psql(SHARED_PORT, "postgres", "SHOW server_version");
    assert_eq!(state(&items, "db.running").2, format!("PostgreSQL {server_version} at 127.0.0.1:5432 answers"));
    assert_eq!(state(&items, "db.database").2, format!("connected to database {0}; want {0}", db.name));
    assert_eq!(
        state(&items, "db.least_privilege").2,
        format!("role {app} has none of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS")
    );
    assert_eq!(state(&items, "db.schema").2, "all 2 expected tables exist: users, stories");
    assert_eq!(state(&items, "db.migrations").2, "alembic_version holds abc123; want abc123");
    let max_connections = psql(SHARED_PORT, "postgres", "SHOW max_connections");
    assert_eq!(state(&items, "db.max_connections").2, format!("max_connections is {max_connections}; want 20-500"));
}

#[test]
fn privileged_roles_wrong_names_missing_tables_and_other_revisions_fail() {
    let (mut db, _app) = app_database();
    let admin = db.role("cl_admin", "LOGIN CREATEDB CREATEROLE");
    let keys = "expect_database = \"dndstory\"\nexpect_user = \"dnduser\"\nexpect_tables = [\"users\", \"sessions\"]\nalembic_revision = \"def456\"";
    let aspects = ["least_privilege", "database", "user", "schema", "migrations"];
    let items = check_once(&pg_check(&shared_url(&admin, &db.name), keys, &aspects));
    assert_eq!(
        state(&items, "db.least_privilege"),
        (
            "fail".into(),
            "insecure".into(),
            format!("role {admin} has CREATEROLE, CREATEDB; want none of SUPERUSER, CREATEROLE, CREATEDB, BYPASSRLS")
        )
    );
    assert_eq!(
        state(&items, "db.database"),
        ("fail".into(), "mismatch".into(), format!("connected to database {}; want dndstory", db.name))
    );
    assert_eq!(state(&items, "db.user").1, "mismatch");
    assert_eq!(
        state(&items, "db.schema"),
        ("fail".into(), "missing".into(), "1 of 2 expected tables are missing: sessions".into())
    );
    assert_eq!(
        state(&items, "db.migrations"),
        ("fail".into(), "mismatch".into(), "alembic_version holds abc123; want def456".into())
    );

    // The superuser of the machine's cluster is refused too.
    let items = check_once(&pg_check(&shared_url("postgres", &db.name), "", &["least_privilege"]));
    assert!(state(&items, "db.least_privilege").2.starts_with("role postgres has SUPERUSER"));

    // Without a configured revision exactly one row is wanted; no table at all is `missing`.
    db.sql("INSERT INTO alembic_version VALUES ('branch2')");
    let items = check_once(&pg_check(&shared_url("postgres", &db.name), "", &["migrations"]));
    assert_eq!(
        state(&items, "db.migrations"),
        ("fail".into(), "invalid".into(), "alembic_version holds 2 row(s) (abc123, branch2); want exactly one".into())
    );
    db.sql("DROP TABLE alembic_version");
    let items = check_once(&pg_check(&shared_url("postgres", &db.name), "", &["migrations"]));
    assert_eq!(
        state(&items, "db.migrations"),
        ("fail".into(), "missing".into(), "table alembic_version does not exist: migrations never ran here".into())
    );
}

#[test]
fn metrics_carry_the_servers_own_values_and_pass_promtool() {
    let (db, app) = app_database();
    let config = pg_check(
        &shared_url(&app, &db.name),
        "interval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"",
        &["running", "latency"],
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    wait_for("three evaluations", Duration::from_secs(30), || {
        daemon.item("db.latency")["evaluations"]["pass"].as_u64().unwrap_or(0) >= 3
    });
    let text = daemon.metrics_text();
    assert_eq!(promtool_complaints(&text), None, "{text}");
    let metrics = common::Metrics::parse(&text);
    let server = [("server", "127.0.0.1:5432")];
    let setting = |name: &str| metrics.value("checklist_pg_setting", &[("server", "127.0.0.1:5432"), ("name", name)]);
    let bytes = |name: &str| psql(SHARED_PORT, "postgres", &format!("SELECT pg_size_bytes(current_setting('{name}'))"));
    assert_eq!(setting("shared_buffers"), Some(bytes("shared_buffers").parse().unwrap()));
    assert_eq!(setting("effective_cache_size"), Some(bytes("effective_cache_size").parse().unwrap()));
    assert_eq!(
        setting("max_connections"),
        Some(psql(SHARED_PORT, "postgres", "SHOW max_connections").parse().unwrap())
    );
    assert_eq!(
        setting("checkpoint_completion_target"),
        Some(psql(SHARED_PORT, "postgres", "SHOW checkpoint_completion_target").parse().unwrap())
    );
    let version = psql(SHARED_PORT, "postgres", "SHOW server_version");
    assert_eq!(metrics.value("checklist_pg_info", &[("version", &version)]), Some(1.0));
    let size = metrics.value("checklist_pg_database_size_bytes", &[("database", &db.name)]).unwrap();
    let real_size: f64 = db.sql("SELECT pg_database_size(current_database())").parse().unwrap();
    assert_eq!(size, real_size);
    let ratio = metrics.value("checklist_pg_connections_used_ratio", &server).unwrap();
    assert!(ratio > 0.0 && ratio <= 1.0, "{ratio}");
    let count = metrics.value("checklist_pg_probe_query_duration_seconds_count", &server).unwrap();
    assert!(count >= 3.0, "{count}");

    // One connection, kept: the same backend answered every evaluation.
    let backends = db.sql(&format!(
        "SELECT count(*), count(DISTINCT pid) FROM pg_stat_activity WHERE usename = '{app}' AND application_name = 'checklist-exporter'"
    ));
    assert_eq!(backends, "1|1");
    let pid_before = db.sql(&format!("SELECT pid FROM pg_stat_activity WHERE usename = '{app}'"));
    let seen = daemon.item("db.latency")["evaluations"]["pass"].as_u64().unwrap();
    wait_for("two more evaluations", Duration::from_secs(30), || {
        daemon.item("db.latency")["evaluations"]["pass"].as_u64().unwrap_or(0) >= seen + 2
    });
    assert_eq!(db.sql(&format!("SELECT pid FROM pg_stat_activity WHERE usename = '{app}'")), pid_before);
}

#[test]
fn a_revoked_catalog_view_errors_only_the_items_that_need_it() {
    let (db, app) = app_database();
    db.sql("REVOKE SELECT ON pg_catalog.pg_stat_activity FROM PUBLIC");
    let keys = "expect_tables = [\"users\"]\nmax_connections_range = [20, 500]";
    let aspects = ["running", "least_privilege", "schema", "migrations", "max_connections", "connections"];
    let items = check_once(&pg_check(&shared_url(&app, &db.name), keys, &aspects));
    let (verdict, cause, reason) = state(&items, "db.connections");
    assert_eq!((verdict.as_str(), cause.as_str()), ("error", "permission"), "{reason}");
    assert_eq!(
        reason,
        "cannot read the connections in use (pg_stat_activity): the server says: permission denied for view pg_stat_activity (SQLSTATE 42501)"
    );
    for aspect in ["running", "least_privilege", "schema", "migrations", "max_connections"] {
        let (verdict, _, reason) = state(&items, &format!("db.{aspect}"));
        assert_eq!(verdict, "pass", "{aspect}: {reason}");
    }

    // Later evaluations on the same connection read part by part from the start: same verdicts.
    let keys = format!("{keys}\ninterval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"");
    let daemon = Daemon::start(&pg_check(&shared_url(&app, &db.name), &keys, &aspects));
    daemon.wait_ready();
    wait_for("three evaluations", Duration::from_secs(30), || {
        daemon.item("db.connections")["evaluations"]["error"].as_u64().unwrap_or(0) >= 3
    });
    let schema = daemon.item("db.schema");
    assert_eq!(schema["evaluations"]["error"], 0, "{schema}");
    assert_eq!(schema["evaluations"]["fail"], 0, "{schema}");
    assert_eq!(daemon.item("db.connections")["cause"], "permission");
}

#[test]
fn tuning_is_judged_against_this_hosts_ram_on_a_mistuned_and_a_tuned_cluster() {
    let ram = host_ram_bytes();
    let mib = |share: f64| (ram as f64 * share / 1048576.0) as u64;
    let mistuned = Cluster::start(&["checkpoint_completion_target = 0.5"], false);
    let tuned = Cluster::start(
        &[
            &format!("shared_buffers = '{}MB'", mib(0.25)),
            &format!("effective_cache_size = '{}MB'", mib(0.75)),
            "max_connections = 200",
            "checkpoint_completion_target = 0.9",
        ],
        false,
    );
    let aspects = ["shared_buffers", "effective_cache_size", "max_connections", "checkpoint_completion_target"];
    let keys = "max_connections_range = [150, 500]";
    let url = |port: u16| format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable");

    let items = check_once(&pg_check(&url(mistuned.port), keys, &aspects));
    let show = |cluster: &Cluster, sql: &str| cluster.sql(sql);
    let shared_buffers: u64 =
        show(&mistuned, "SELECT pg_size_bytes(current_setting('shared_buffers'))").parse().unwrap();
    let (verdict, cause, reason) = state(&items, "db.shared_buffers");
    assert_eq!((verdict.as_str(), cause.as_str()), ("fail", "below_minimum"), "{reason}");
    assert!(reason.starts_with(&format!("shared_buffers is {} MiB = ", shared_buffers >> 20)), "{reason}");
    assert!(reason.ends_with("RAM; want 15-40%"), "{reason}");
    assert_eq!(state(&items, "db.effective_cache_size").1, "below_minimum");
    assert_eq!(
        state(&items, "db.max_connections"),
        ("fail".into(), "below_minimum".into(), "max_connections is 100; want 150-500".into())
    );
    assert_eq!(
        state(&items, "db.checkpoint_completion_target"),
        ("fail".into(), "below_minimum".into(), "checkpoint_completion_target is 0.5; want at least 0.9".into())
    );

    let items = check_once(&pg_check(&url(tuned.port), keys, &aspects));
    for aspect in aspects {
        let (verdict, _, reason) = state(&items, &format!("db.{aspect}"));
        assert_eq!(verdict, "pass", "{aspect}: {reason}");
    }
    let (_, _, reason) = state(&items, "db.shared_buffers");
    assert!(reason.contains(" = 25% of ") && reason.ends_with("; want 15-40%"), "{reason}");
    let (_, _, reason) = state(&items, "db.effective_cache_size");
    assert!(reason.contains(" = 75% of ") && reason.ends_with("; want 50-85%"), "{reason}");

    // For a remote server the RAM comes from the config, and the verdict follows it.
    let keys = format!("{keys}\nram_bytes = \"{}MiB\"", mib(0.25) * 3);
    let items = check_once(&pg_check(&url(tuned.port), &keys, &["shared_buffers"]));
    let (verdict, _, reason) = state(&items, "db.shared_buffers");
    assert_eq!(verdict, "pass", "{reason}");
    assert!(reason.contains(" = 33.3% of "), "{reason}");
    let keys = "ram_bytes = \"1GiB\"";
    let items = check_once(&pg_check(&url(tuned.port), keys, &["shared_buffers"]));
    assert_eq!(state(&items, "db.shared_buffers").1, "above_maximum");
}

const CANARY: &str = "Canary-pw-9f3e71c2-never-shown";

#[test]
fn passwords_authenticate_from_every_source_and_never_show() {
    let cluster = Cluster::start(&[], true);
    cluster.sql(&format!("CREATE ROLE dnduser LOGIN PASSWORD '{CANARY}'"));
    // One database per password source: two checks of one database would export the same series.
    for database in ["dndstory", "dnd_envfile", "dnd_file", "dnd_env"] {
        cluster.sql(&format!("CREATE DATABASE {database} OWNER dnduser"));
    }
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    std::fs::write(&env_file, format!("# the application's env file\nPOSTGRES_PASSWORD=\"{CANARY}\"\n")).unwrap();
    let password_file = dir.path().join("db-password");
    std::fs::write(&password_file, format!("{CANARY}\n")).unwrap();
    let port = cluster.port;
    let bare = format!("postgres://dnduser@127.0.0.1:{port}/dnd_envfile?sslmode=disable");
    let in_url = format!("postgres://dnduser:{CANARY}@127.0.0.1:{port}/dndstory?sslmode=disable");
    let wrong = format!("postgres://dnduser:{}@127.0.0.1:{port}/postgres?sslmode=disable", "not-the-password");
    let no_db = format!("postgres://dnduser@127.0.0.1:{port}/nosuchdb?sslmode=disable");
    let aspects = ["running", "password_strength"];
    let keys = "min_password_length = 20\ninterval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"";
    let config = [
        pg_check(&in_url, keys, &aspects).replace("db.", "url."),
        pg_check(
            &bare,
            &format!("{keys}\npassword_env = \"POSTGRES_PASSWORD\"\nenv_file = \"{}\"", env_file.display()),
            &aspects,
        )
        .replace("db.", "envfile."),
        pg_check(
            &format!("postgres://dnduser@localhost:{port}/dnd_file?sslmode=disable"),
            &format!("{keys}\npassword_file = \"{}\"", password_file.display()),
            &aspects,
        )
        .replace("db.", "file."),
        pg_check(
            &format!("postgres://dnduser@127.0.0.1:{port}/dnd_env?sslmode=prefer"),
            &format!("{keys}\npassword_env = \"CL_TEST_DB_PASSWORD\""),
            &aspects,
        )
        .replace("db.", "env."),
        pg_check(&wrong, "interval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"", &["running"])
            .replace("db.", "wrong."),
        pg_check(
            &no_db,
            &format!(
                "interval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"\npassword_file = \"{}\"",
                password_file.display()
            ),
            &["running"],
        )
        .replace("db.", "nodb."),
    ]
    .concat();
    let dir_config = tempfile::tempdir().unwrap();
    let config_path = dir_config.path().join("checklist.toml");
    std::fs::write(&config_path, &config).unwrap();
    // The environment of the daemon holds the password for the `password_env` source.
    std::env::set_var("CL_TEST_DB_PASSWORD", CANARY);
    let daemon = Daemon::start_with(&config_path, &[]);
    daemon.wait_ready();
    wait_for("every item evaluated twice", Duration::from_secs(60), || {
        daemon.items()["items"].as_array().unwrap().iter().all(|i| {
            let e = &i["evaluations"];
            e["pass"].as_u64().unwrap_or(0) + e["fail"].as_u64().unwrap_or(0) + e["error"].as_u64().unwrap_or(0) >= 2
        })
    });
    for source in ["url", "envfile", "file", "env"] {
        // Bounded wait rather than one look: on a loaded machine a SCRAM login may miss one
        // connect timeout, and the next evaluation must then pass.
        let id = format!("{source}.running");
        wait_for(&id, Duration::from_secs(60), || daemon.item(&id)["state"] == "pass");
        let strength = daemon.item(&format!("{source}.password_strength"));
        assert_eq!(strength["state"], "pass", "{source}: {strength}");
        assert_eq!(strength["reason"], "the database password has 30 characters; want at least 20");
    }
    let wrong = daemon.item("wrong.running");
    assert_eq!((wrong["state"].as_str(), wrong["cause"].as_str()), (Some("error"), Some("auth")), "{wrong}");
    assert_eq!(
        wrong["reason"],
        "cannot reach PostgreSQL at 127.0.0.1:".to_string()
            + &port.to_string()
            + ": the server says: password authentication failed for user \"dnduser\" (SQLSTATE 28P01)"
    );
    let no_db = daemon.item("nodb.running");
    assert_eq!((no_db["state"].as_str(), no_db["cause"].as_str()), (Some("error"), Some("not_found")), "{no_db}");
    assert!(no_db["reason"].as_str().unwrap().contains("database \"nosuchdb\" does not exist"), "{no_db}");

    daemon.wait_log("dnduser:****@127.0.0.1"); // the masked URL is logged at debug
    let everything = format!(
        "{}\n{}\n{}\n{}",
        daemon.metrics_text(),
        daemon.items(),
        daemon.get("/").text().unwrap(),
        daemon.logs().join("\n")
    );
    assert!(!everything.contains(CANARY), "the password leaked:\n{everything}");
    assert!(!everything.contains("not-the-password"), "the wrong password leaked");
}

#[test]
fn nothing_listening_and_a_silent_listener_are_clear_and_leave_other_checks_alone() {
    let refused = format!("postgres://app@127.0.0.1:{}/x?sslmode=disable", closed_port());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let silent_url = format!("postgres://app@127.0.0.1:{silent_port}/x?sslmode=disable");
    let config = [
        pg_check(&refused, "expect_tables = [\"users\"]", &["running", "schema"]).replace("db.", "refused."),
        pg_check(&silent_url, "connect_timeout = \"1s\"", &["running"]).replace("db.", "silent."),
        format!("[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}", item("infra.cpu", "critical", Some("minimum"))),
    ]
    .concat();
    let items = check_once(&config);
    let (verdict, cause, reason) = state(&items, "refused.running");
    assert_eq!((verdict.as_str(), cause.as_str()), ("fail", "refused"), "{reason}");
    assert!(reason.ends_with("does not answer: connection refused: nothing listens there"), "{reason}");
    assert_eq!(state(&items, "refused.schema").0, "error");
    assert_eq!(
        state(&items, "silent.running"),
        (
            "fail".into(),
            "timeout".into(),
            format!(
                "PostgreSQL at 127.0.0.1:{silent_port} does not answer: 127.0.0.1:{silent_port} accepted no PostgreSQL session within the connect timeout of 1s"
            )
        )
    );
    assert_eq!(state(&items, "infra.cpu").0, "pass");
}

#[test]
fn a_restarted_server_is_found_again_without_help() {
    let cluster = Cluster::start(&[], false);
    let url = format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=disable", cluster.port);
    let config = pg_check(
        &url,
        "interval = \"2s\"\ntimeout = \"2s\"\nconnect_timeout = \"1500ms\"",
        &["running", "connections"],
    );
    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let state_of = |id: &str| daemon.item(id)["state"].as_str().unwrap_or_default().to_string();
    wait_for("running passes", Duration::from_secs(30), || state_of("db.running") == "pass");
    cluster.stop();
    wait_for("running fails while stopped", Duration::from_secs(30), || state_of("db.running") == "fail");
    assert_eq!(daemon.item("db.running")["cause"], "refused");
    assert_eq!(state_of("db.connections"), "error");
    cluster.pg_ctl_start();
    wait_for("running passes again", Duration::from_secs(30), || state_of("db.running") == "pass");
    wait_for("connections pass again", Duration::from_secs(30), || state_of("db.connections") == "pass");
}

#[test]
fn tls_require_works_on_a_tls_server_and_is_refused_clearly_by_a_plain_one() {
    // The machine's cluster has `ssl = on` with Debian's snake-oil certificate: `require`
    // encrypts without checking the certificate, as libpq does; `verify-full` refuses it.
    let ssl = psql(SHARED_PORT, "postgres", "SHOW ssl");
    let plain = Cluster::start(&[], false);
    let mut config =
        pg_check(&format!("postgres://postgres@127.0.0.1:{}/postgres?sslmode=require", plain.port), "", &["running"])
            .replace("db.", "plain.");
    config +=
        &pg_check(&format!("postgres://postgres@127.0.0.1:{}/template1?sslmode=disable", plain.port), "", &["running"])
            .replace("db.", "disabled.");
    if ssl == "on" {
        config += &pg_check("postgres://postgres@127.0.0.1:5432/postgres?sslmode=require", "", &["running"])
            .replace("db.", "tls.");
        config += &pg_check("postgres://postgres@127.0.0.1:5432/test?sslmode=verify-full", "", &["running"])
            .replace("db.", "verify.");
    }
    let items = check_once(&config);
    assert_eq!(state(&items, "disabled.running").0, "pass");
    let (verdict, _, reason) = state(&items, "plain.running");
    assert_eq!(verdict, "error", "{reason}");
    assert!(reason.contains("server does not support TLS") || reason.contains("TLS"), "{reason}");
    if ssl == "on" {
        assert_eq!(state(&items, "tls.running").0, "pass", "{:?}", state(&items, "tls.running"));
        let (verdict, cause, reason) = state(&items, "verify.running");
        assert_eq!((verdict.as_str(), cause.as_str()), ("error", "untrusted"), "{reason}");
    }
}

/// A real pgbouncer on a free loopback port serving `database` from the shared cluster, with
/// `extra` lines in its `[pgbouncer]` section; killed when dropped.
struct Pgbouncer {
    child: std::process::Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Pgbouncer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_pgbouncer(database: &str, extra: &str, files: &[(&str, &str)]) -> Pgbouncer {
    let Ok(pgbouncer) = which("pgbouncer") else { panic!("pgbouncer is installed (tests/run.sh installs it)") };
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    let extra = extra.replace("{dir}", &dir.path().display().to_string());
    let port = closed_port();
    let ini = dir.path().join("pgbouncer.ini");
    let users = dir.path().join("users.txt");
    std::fs::write(&users, "\"pgbouncer\" \"\"\n").unwrap();
    std::fs::write(
        &ini,
        format!(
            "[databases]\n{database} = host=127.0.0.1 port={SHARED_PORT} dbname=postgres\n\
             [pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n\
             auth_type = trust\nauth_file = {}\nadmin_users = pgbouncer\nlogfile = {}\npidfile = {}\n{extra}\n",
            users.display(),
            dir.path().join("pgbouncer.log").display(),
            dir.path().join("pgbouncer.pid").display()
        ),
    )
    .unwrap();
    Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
    // pgbouncer refuses to run as root; `-u` drops to postgres itself, so the child we kill is
    // pgbouncer and not a wrapper that would leave it running.
    let child = Command::new(&pgbouncer)
        .args(["-u", "postgres"])
        .arg(&ini)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    wait_for("pgbouncer listens", Duration::from_secs(20), || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    });
    Pgbouncer { child, port, _dir: dir }
}

#[test]
fn pgbouncer_admin_console_lists_the_pool() {
    let database = unique("cl_pool");
    let pgbouncer = start_pgbouncer(&database, "", &[]);
    let port = pgbouncer.port;
    let url = format!("postgres://pgbouncer@127.0.0.1:{port}/pgbouncer");
    let config = format!(
        "[[checks]]\nkind = \"pgbouncer\"\nurl = \"{url}\"\nexpect_database = \"{database}\"\n{}\
         [[checks]]\nkind = \"pgbouncer\"\nurl = \"postgres://pgbouncer@127.0.0.1:{}/pgbouncer\"\n{}",
        item("db.pooling", "critical", None),
        closed_port(),
        item("db.pooling_down", "critical", None)
    );
    let items = check_once(&config);
    drop(pgbouncer);
    assert_eq!(
        state(&items, "db.pooling"),
        (
            "pass".into(),
            String::new(),
            format!("pgbouncer at 127.0.0.1:{port} answers SHOW POOLS (0 active pools) and serves {database}; want {database}")
        )
    );
    let (verdict, cause, _) = state(&items, "db.pooling_down");
    assert_eq!((verdict.as_str(), cause.as_str()), ("error", "refused"));
}

#[test]
fn pgbouncer_honours_sslmode_as_the_postgres_kind_does() {
    let pki = common::pki::Pki::new();
    let chain = pki.chain(&common::pki::Leaf::valid(&["pgbouncer.test"]), true);
    let certs = format!("{}{}", chain.leaf_pem, pki.intermediate_pem);
    let database = unique("cl_tlspool");
    // The console demands TLS of every client.
    let pgbouncer = start_pgbouncer(
        &database,
        "client_tls_sslmode = require\nclient_tls_cert_file = {dir}/server.pem\nclient_tls_key_file = {dir}/server.key",
        &[("server.pem", &certs), ("server.key", &chain.key_pem)],
    );
    let other_pki = common::pki::Pki::new();
    let console = |query: &str| {
        let url = format!("postgres://pgbouncer@127.0.0.1:{}/pgbouncer?{query}", pgbouncer.port);
        let config = format!(
            "[[checks]]\nkind = \"pgbouncer\"\nurl = \"{url}\"\nexpect_database = \"{database}\"\n{}",
            item("db.pooling", "critical", None)
        );
        state(&check_once(&config), "db.pooling")
    };
    let required = console("sslmode=require");
    assert_eq!(required.0, "pass", "{required:?}");
    let verified = console(&format!("sslmode=verify-ca&sslrootcert={}", pki.root_file().display()));
    assert_eq!(verified.0, "pass", "{verified:?}");
    let (verdict, cause, reason) =
        console(&format!("sslmode=verify-ca&sslrootcert={}", other_pki.root_file().display()));
    assert_eq!((verdict.as_str(), cause.as_str()), ("error", "untrusted"), "{reason}");
    let (verdict, _, reason) = console("sslmode=disable");
    assert_eq!(verdict, "error", "a console that demands TLS refuses a plain client: {reason}");
}

fn which(program: &str) -> Result<String, ()> {
    for dir in ["/usr/sbin", "/usr/bin", "/usr/local/bin"] {
        let path = format!("{dir}/{program}");
        if std::path::Path::new(&path).exists() {
            return Ok(path);
        }
    }
    Err(())
}

#[test]
fn an_unreadable_password_source_is_named_and_errors_the_items() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join("app.env");
    std::fs::write(&env_file, "OTHER=1\n").unwrap();
    let missing_file = dir.path().join("no-such-password");
    let url = shared_url("postgres", "postgres");
    let config = [
        pg_check(
            &url,
            &format!("min_password_length = 20\npassword_file = \"{}\"", missing_file.display()),
            &["running", "password_strength"],
        )
        .replace("db.", "file."),
        pg_check(
            &shared_url("postgres", "template1"),
            &format!("password_env = \"POSTGRES_PASSWORD\"\nenv_file = \"{}\"", env_file.display()),
            &["running"],
        )
        .replace("db.", "envfile."),
    ]
    .concat();
    let items = check_once(&config);
    // The fault is the missing file, not the server: say so, with the path.
    assert_eq!(
        state(&items, "file.running"),
        (
            "error".into(),
            "missing".into(),
            format!(
                "the password file {} is missing (password_file); cannot log in to PostgreSQL at 127.0.0.1:5432 without it",
                missing_file.display()
            )
        )
    );
    assert_eq!(state(&items, "file.password_strength").0, "error");
    assert_eq!(
        state(&items, "envfile.running"),
        (
            "error".into(),
            "missing".into(),
            format!(
                "env_file {} does not set POSTGRES_PASSWORD; cannot log in to PostgreSQL at 127.0.0.1:5432 without it",
                env_file.display()
            )
        )
    );
}

#[test]
fn password_encryption_is_read_as_the_role_sees_it() {
    let mut db = TestDatabase::create(SHARED_PORT, "cl_pwenc");
    let scram = db.role("cl_scram", "LOGIN");
    let md5 = db.role("cl_md5", "LOGIN");
    // A per-role setting: what new passwords of this role's sessions would be stored as.
    psql(SHARED_PORT, "postgres", &format!("ALTER ROLE {md5} SET password_encryption = 'md5'"));
    let other = TestDatabase::create(SHARED_PORT, "cl_pwenc2");
    psql(SHARED_PORT, "postgres", &format!("GRANT CONNECT ON DATABASE {} TO {md5}", other.name));
    let config = [
        pg_check(&shared_url(&scram, &db.name), "", &["password_encryption"]).replace("db.", "scram."),
        pg_check(&shared_url(&md5, &other.name), "", &["password_encryption"]).replace("db.", "md5."),
    ]
    .concat();
    let items = check_once(&config);
    assert_eq!(psql(SHARED_PORT, "postgres", "SHOW password_encryption"), "scram-sha-256");
    assert_eq!(
        state(&items, "scram.password_encryption"),
        ("pass".into(), "".into(), "password_encryption is scram-sha-256; want scram-sha-256".into())
    );
    assert_eq!(
        state(&items, "md5.password_encryption"),
        ("fail".into(), "insecure".into(), "password_encryption is md5; want scram-sha-256".into())
    );
}

#[test]
fn pg_hba_lines_with_weak_methods_are_named_when_the_role_may_read_them() {
    // The shared cluster's pg_hba.conf trusts everything on loopback, as psql reports it.
    let weak = psql(
        SHARED_PORT,
        "postgres",
        "SELECT string_agg(line_number::text, ',' ORDER BY line_number) FROM pg_hba_file_rules \
         WHERE auth_method IN ('trust', 'md5', 'password')",
    );
    assert!(!weak.is_empty(), "the machine's cluster is expected to use trust");
    let mut db = TestDatabase::create(SHARED_PORT, "cl_hba");
    let plain = db.role("cl_hba_plain", "LOGIN");
    let mut granted_db = TestDatabase::create(SHARED_PORT, "cl_hba2");
    let granted = granted_db.role("cl_hba_granted", "LOGIN");
    // pg_catalog's views are per database: the grant is made where the check connects.
    granted_db.sql(&format!("GRANT SELECT ON pg_hba_file_rules TO {granted}"));
    granted_db.sql(&format!("GRANT EXECUTE ON FUNCTION pg_hba_file_rules() TO {granted}"));
    let config = [
        pg_check(&shared_url(&plain, &db.name), "", &["hba_auth"]).replace("db.", "plain."),
        pg_check(&shared_url(&granted, &granted_db.name), "", &["hba_auth"]).replace("db.", "granted."),
    ]
    .concat();
    let items = check_once(&config);
    granted_db.sql(&format!("REVOKE SELECT ON pg_hba_file_rules FROM {granted}"));
    granted_db.sql(&format!("REVOKE EXECUTE ON FUNCTION pg_hba_file_rules() FROM {granted}"));

    let (verdict, cause, reason) = state(&items, "plain.hba_auth");
    assert_eq!((verdict.as_str(), cause.as_str()), ("error", "permission"), "{reason}");
    assert!(reason.starts_with(&format!("role {plain} may not read pg_hba_file_rules")), "{reason}");
    assert!(reason.contains(&format!("GRANT SELECT ON pg_hba_file_rules TO {plain}")), "{reason}");
    assert!(reason.ends_with(&format!("in database {})", db.name)), "{reason}");

    let (verdict, cause, reason) = state(&items, "granted.hba_auth");
    assert_eq!((verdict.as_str(), cause.as_str()), ("fail", "insecure"), "{reason}");
    for line in weak.split(',') {
        assert!(reason.contains(&format!("line {line} (")), "line {line} not named: {reason}");
    }
    assert!(reason.contains("uses trust"), "{reason}");
    assert!(reason.ends_with("want scram-sha-256 (or cert, peer), not md5, password or trust"), "{reason}");
}

#[test]
fn pg_hba_without_weak_methods_passes() {
    let cluster = Cluster::start(&[], true);
    cluster.sql("ALTER ROLE postgres PASSWORD 'only-for-this-cluster-Zx8kP2vL'");
    std::fs::write(
        cluster.dir.join("pg_hba.conf"),
        "local all postgres peer\nhost all all 127.0.0.1/32 scram-sha-256\n",
    )
    .unwrap();
    cluster.sql("SELECT pg_reload_conf()");
    let url = format!(
        "postgres://postgres:only-for-this-cluster-Zx8kP2vL@127.0.0.1:{}/postgres?sslmode=disable",
        cluster.port
    );
    let items = check_once(&pg_check(&url, "", &["hba_auth", "password_encryption"]));
    assert_eq!(
        state(&items, "db.hba_auth"),
        ("pass".into(), "".into(), "no pg_hba.conf line uses md5, password or trust (2 lines)".into())
    );
    assert_eq!(state(&items, "db.password_encryption").0, "pass");
}
