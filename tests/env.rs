//! Env files and process environments: the app's settings decided, bad files named; and canary
//! strings planted in every secret of every family (env files, process environments, PostgreSQL
//! and pgbouncer passwords, refused configs) never appearing anywhere the exporter writes.

mod common;

use checklist_exporter::checks::Check;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::pg::Cluster;
use common::{check_once, check_once_as, item, verdict, wait_for, Daemon};

/// Every aspect of the `app_env` kind, one item each.
const ASPECTS: &[&str] = checklist_exporter::checks::env::AppEnvCheck::ASPECTS;

fn app_env(source: &str, prefix: &str) -> String {
    let items: String = ASPECTS.iter().map(|a| item(&format!("{prefix}.{a}"), "critical", Some(a))).collect();
    format!("[[checks]]\nkind = \"app_env\"\n{source}\nproduction_domain = \"dndstory.example.org\"\nworkers = 4\n{items}\n")
}

/// Every secret carries a canary; the non-secret settings are wrong so that reasons are long.
const CANARY_ENV: &str = "\
# production settings\n\
export SECRET_KEY='CANARY1-Zx8kP2vL9qR4mN7wT1yH6jB3fD5gS0aQ'\n\
DATABASE_URL=\"postgres://dnduser:CANARY2-pw-Vq7Lr2Xp9Kd4Mz8Nw3Jt@db:5432/dndstory\"\n\
OPENAI_API_KEY=sk-CANARY3-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789\n\
CANARY4-a-pasted-token-without-a-key\n\
ALLOWED_HOSTS=dndstory.example.org\n\
CORS_ORIGINS=*\n\
ENVIRONMENT=staging\n\
DEBUG=true\n\
LOG_LEVEL=DEBUG\n\
WORKERS=1\n\
UPLOAD_MAX_SIZE=104857600\n\
SECURE_SSL_REDIRECT=false\n\
WEBHOOK_TOKEN=CANARY5-webhook\n";

/// The database password, right for `dnduser` on the test's cluster (30 characters).
const PG_PASSWORD: &str = "CANARY6-pg-Qw7Er9Ty2Ui4Op6As8D";
/// A wrong database password, for an `auth` error; `/` and `#` unencoded, as tokio-postgres and
/// libpq accept them (they end the user-info at the first `@`).
const PG_WRONG: &str = "CANARY7/not#the-password";
/// A pgbouncer admin password.
const PGBOUNCER_PASSWORD: &str = "CANARY8-pgbouncer-admin";
/// The secrets in a running process's environment.
const PROCESS_SECRET: &str = "CANARY9-process-Zx8kP2vL9qR4mN7wT1yH6jB3";
/// A password only in configs that are refused.
const REFUSED_SECRET: &str = "CANARYX-in-a-refused-config";

const CANARIES: &[&str] =
    &["CANARY1", "CANARY2", "CANARY3", "CANARY4", "CANARY5", "CANARY6", "CANARY7", "CANARY8", "CANARY9", "CANARYX"];

fn assert_no_canary(place: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} leaked into {place}:\n{text}");
    }
}

/// `postgres` checks with the password from every source (URL, env file, password file, the
/// daemon's environment), a wrong one, a missing database and a stopped server; `pgbouncer`
/// checks refused by the server and by a closed port.
fn database_checks(port: u16, dir: &Path) -> String {
    let env_file = dir.join("db.env");
    std::fs::write(&env_file, format!("POSTGRES_PASSWORD=\"{PG_PASSWORD}\"\n")).unwrap();
    let password_file = dir.join("db-password");
    std::fs::write(&password_file, format!("{PG_PASSWORD}\n")).unwrap();
    let from_file = format!("password_file = \"{}\"", password_file.display());
    let url = |password: &str, port: u16, database: &str| {
        format!("postgres://dnduser{password}@127.0.0.1:{port}/{database}?sslmode=disable")
    };
    let with = |password: &str| format!(":{password}");
    let checks = [
        ("pg_url", url(&with(PG_PASSWORD), port, "dnd_url"), String::new()),
        (
            "pg_envfile",
            url("", port, "dnd_envfile"),
            format!("password_env = \"POSTGRES_PASSWORD\"\nenv_file = \"{}\"", env_file.display()),
        ),
        ("pg_file", url("", port, "dnd_file"), from_file.clone()),
        ("pg_env", url("", port, "dnd_env"), "password_env = \"CL_CANARY_DB_PASSWORD\"".to_string()),
        ("pg_wrong", url(&with(PG_WRONG), port, "postgres"), String::new()),
        ("pg_nodb", url("", port, "nosuchdb"), from_file),
        ("pg_down", url(&with(PG_PASSWORD), common::closed_port(), "dnd_url"), String::new()),
    ];
    let mut config = String::new();
    for (prefix, url, source) in checks {
        config.push_str(&format!(
            "[[checks]]\nkind = \"postgres\"\nurl = \"{url}\"\n{source}\nmin_password_length = 20\nconnect_timeout = \"3s\"\n{}{}\n",
            item(&format!("{prefix}.running"), "critical", Some("running")),
            item(&format!("{prefix}.password_strength"), "critical", Some("password_strength")),
        ));
    }
    let pgbouncer = [
        ("pgb.refused", format!("postgres://pgbouncer:{PGBOUNCER_PASSWORD}@127.0.0.1:{port}/pgbouncer")),
        (
            "pgb.down",
            format!("postgres://pgbouncer@127.0.0.1:{}/pgbouncer?password={PGBOUNCER_PASSWORD}", common::closed_port()),
        ),
    ];
    for (id, url) in pgbouncer {
        config.push_str(&format!("[[checks]]\nkind = \"pgbouncer\"\nurl = \"{url}\"\n{}\n", item(id, "warning", None)));
    }
    config
}

/// Configs the daemon must refuse, each with the secret somewhere in it.
fn refused_configs() -> Vec<(&'static str, String)> {
    let items = item("bad.item", "critical", Some("running"));
    vec![
        (
            "a TOML syntax error on the url line",
            format!("[[checks]]\nkind = \"postgres\"\nurl = \"postgres://dnduser:{REFUSED_SECRET}@127.0.0.1:5432/x\n{items}"),
        ),
        (
            "a url given twice",
            format!("[[checks]]\nkind = \"postgres\"\nurl = \"x\"\nurl = \"postgres://u:{REFUSED_SECRET}@db/x\"\n{items}"),
        ),
        (
            "a postgres url with an unencoded `@` in the password",
            format!("[[checks]]\nkind = \"postgres\"\nurl = \"postgres://dnduser:pw@{REFUSED_SECRET}@127.0.0.1:5432/x\"\n{items}"),
        ),
        (
            "a key=value connection string",
            format!("[[checks]]\nkind = \"postgres\"\nurl = \"host=127.0.0.1 user=dnduser password={REFUSED_SECRET}\"\n{items}"),
        ),
        (
            "a postgres url with a bad port",
            format!("[[checks]]\nkind = \"postgres\"\nurl = \"postgres://dnduser:{REFUSED_SECRET}@127.0.0.1:99999/x\"\n{items}"),
        ),
        (
            "an http url with credentials",
            format!(
                "[[checks]]\nkind = \"http\"\nurl = \"https://admin:{REFUSED_SECRET}@127.0.0.1:1/health\"\n{}",
                item("bad.item", "critical", Some("status"))
            ),
        ),
        (
            "a pgbouncer url that does not parse",
            format!(
                "[[checks]]\nkind = \"pgbouncer\"\nurl = \"postgres://pgbouncer:{REFUSED_SECRET}@127.0.0.1:port/pgbouncer\"\n{}",
                item("bad.item", "critical", None)
            ),
        ),
    ]
}

/// A process whose environment holds secrets, killed when dropped.
struct SecretProcess(std::process::Child);

impl Drop for SecretProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn output_text(output: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

#[test]
fn canaries_in_every_secret_of_every_family_never_reach_any_output() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    std::fs::write(&env_file, CANARY_ENV).unwrap();
    let source = format!("file = \"{}\"", env_file.display());
    let rules = [
        ("rule.token_regex", "key = \"WEBHOOK_TOKEN\"\nmatches = \"^tok-\""),
        ("rule.token_set", "key = \"SECRET_KEY\"\none_of = [\"a\", \"b\"]"),
        ("rule.token_range", "key = \"OPENAI_API_KEY\"\nmin = 1"),
    ];
    let mut config = app_env(&source, "app");
    for (id, rule) in rules {
        config.push_str(&format!("[[checks]]\nkind = \"env_rule\"\n{source}\n{rule}\n{}\n", item(id, "warning", None)));
    }
    // The same secrets in a running process's environment, read through its pidfile.
    let process = SecretProcess(
        Command::new("sleep")
            .arg("300")
            .env_clear()
            .env("SECRET_KEY", PROCESS_SECRET)
            .env("DATABASE_URL", format!("postgres://dnduser:{PROCESS_SECRET}@db:5432/dndstory"))
            .env("OPENAI_API_KEY", format!("sk-{PROCESS_SECRET}"))
            .env("DEBUG", "true")
            .spawn()
            .unwrap(),
    );
    let pidfile = dir.path().join("app.pid");
    std::fs::write(&pidfile, format!("{}\n", process.0.id())).unwrap();
    config.push_str(&app_env(&format!("pidfile = \"{}\"", pidfile.display()), "proc"));
    config.push_str(&format!(
        "[[checks]]\nkind = \"env_rule\"\npidfile = \"{}\"\nkey = \"SECRET_KEY\"\nmatches = \"^x\"\n{}\n",
        pidfile.display(),
        item("rule.process_secret", "warning", None)
    ));

    let cluster = Cluster::start(&[], true);
    cluster.sql(&format!("CREATE ROLE dnduser LOGIN PASSWORD '{PG_PASSWORD}'"));
    for database in ["dnd_url", "dnd_envfile", "dnd_file", "dnd_env"] {
        cluster.sql(&format!("CREATE DATABASE {database} OWNER dnduser"));
    }
    config.push_str(&database_checks(cluster.port, dir.path()));
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, &config).unwrap();
    // The daemon's own environment holds the password for the `password_env` source.
    std::env::set_var("CL_CANARY_DB_PASSWORD", PG_PASSWORD);

    let json_daemon = Daemon::start_with(&config_path, &[]);
    let logfmt_daemon = Daemon::start_with(&config_path, &["--log.format", "logfmt"]);
    json_daemon.wait_ready();
    logfmt_daemon.wait_ready();
    // The evaluations happened, in every state: pass, fail and error.
    wait_for("pg_url.running passes", Duration::from_secs(60), || {
        json_daemon.item("pg_url.running")["state"] == "pass"
    });
    let state = |id: &str| {
        let item = json_daemon.item(id);
        (item["state"].as_str().unwrap_or_default().to_string(), item["cause"].as_str().unwrap_or_default().to_string())
    };
    assert_eq!(state("pg_wrong.running"), ("error".into(), "auth".into()));
    assert_eq!(state("pg_down.running"), ("fail".into(), "refused".into()));
    assert_eq!(state("pg_file.password_strength").0, "pass");
    assert_eq!(state("pgb.refused"), ("error".into(), "auth".into()));
    assert_eq!(state("pgb.down"), ("error".into(), "refused".into()));
    assert_eq!(state("proc.debug"), ("fail".into(), "insecure".into()));
    assert_eq!(state("rule.process_secret").0, "fail");

    let mut outputs: Vec<(String, String)> = Vec::new();
    let get = |path: &str| json_daemon.get(path).text().unwrap();
    for path in [
        "/metrics",
        "/api/v1/items",
        "/",
        "/?filter=attention",
        "/api/v1/report?format=json",
        "/api/v1/report?format=junit",
        "/api/v1/report?format=markdown",
    ] {
        outputs.push((path.to_string(), get(path)));
    }
    let openmetrics = json_daemon
        .client
        .get(json_daemon.url("/metrics"))
        .header("Accept", "application/openmetrics-text;version=1.0.0")
        .send()
        .unwrap();
    assert!(openmetrics.headers()["content-type"].to_str().unwrap().starts_with("application/openmetrics-text"));
    outputs.push(("/metrics as OpenMetrics".into(), openmetrics.text().unwrap()));

    let mut check_json = String::new();
    for (format, log_format) in [("text", "logfmt"), ("json", "json"), ("junit", "logfmt"), ("markdown", "json")] {
        let output = Command::new(common::BINARY)
            .args(["check", "--format", format, "--log.level", "debug", "--log.format", log_format, "--config.file"])
            .arg(&config_path)
            .output()
            .unwrap();
        assert!(
            !output.stdout.is_empty() && !output.stderr.is_empty(),
            "check --format {format} wrote output and logs"
        );
        if format == "json" {
            check_json = String::from_utf8_lossy(&output.stdout).into_owned();
        }
        outputs.push((format!("check --format {format} with {log_format} logs"), output_text(&output)));
    }

    // Refused configs: `--config.check`, a daemon that cannot start (both log formats), and a
    // reload by POST /-/reload and by SIGHUP of the running daemons.
    let bad_path = dir.path().join("bad.toml");
    for (what, text) in refused_configs() {
        std::fs::write(&bad_path, &text).unwrap();
        let checked =
            Command::new(common::BINARY).arg("--config.check").arg("--config.file").arg(&bad_path).output().unwrap();
        assert_eq!(checked.status.code(), Some(2), "{what} is refused");
        outputs.push((format!("--config.check of {what}"), output_text(&checked)));
        for log_format in ["logfmt", "json"] {
            let started = Command::new(common::BINARY)
                .args(["--web.listen-address", "127.0.0.1:0", "--log.level", "debug", "--log.format", log_format])
                .arg("--config.file")
                .arg(&bad_path)
                .output()
                .unwrap();
            assert!(!started.status.success(), "the daemon does not start on {what}");
            let said = output_text(&started);
            assert!(said.contains(&bad_path.display().to_string()), "the error names the file: {said}");
            outputs.push((format!("a daemon started on {what} ({log_format} logs)"), said));
        }
        json_daemon.rewrite_config(&text);
        let refused = json_daemon.client.post(json_daemon.url("/-/reload")).send().unwrap();
        assert_eq!(refused.status(), 500, "{what}");
        outputs.push((format!("POST /-/reload of {what}"), refused.text().unwrap()));
        logfmt_daemon.rewrite_config(&text);
        logfmt_daemon.signal("HUP");
    }
    wait_for("every SIGHUP reload to be refused", Duration::from_secs(30), || {
        logfmt_daemon.logs().iter().filter(|l| l.contains("config reload refused")).count() == refused_configs().len()
    });
    let json_logs = json_daemon.logs().join("\n");
    let logfmt_logs = logfmt_daemon.logs().join("\n");
    assert!(json_logs.contains("\"evaluated\"") && logfmt_logs.contains("evaluated"), "debug evaluation logs");
    assert!(json_logs.contains("dnduser:****@127.0.0.1"), "the masked URL is logged at debug");
    outputs.push(("the daemon's debug logs (json)".into(), json_logs));
    outputs.push(("the daemon's debug logs (logfmt)".into(), logfmt_logs));

    // What the env checks said about each secret, in words that give no secret away.
    let document: serde_json::Value = serde_json::from_str(&check_json).unwrap();
    let reason = |id: &str| {
        document["items"].as_array().unwrap().iter().find(|i| i["id"] == id).unwrap()["reason"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        reason("app.secret_key"),
        "SECRET_KEY has 40 characters and an estimated 205 bits of entropy; want at least 32 characters and 128 bits"
    );
    assert_eq!(reason("app.database_url"), "DATABASE_URL password has 31 characters; want at least 20");
    assert!(reason("app.required_keys").contains("line 5: no `=`"), "{}", reason("app.required_keys"));
    assert_eq!(reason("rule.token_regex"), "WEBHOOK_TOKEN (15 characters); want it to match /^tok-/");
    assert_eq!(reason("pg_env.password_strength"), "the database password has 30 characters; want at least 20");

    for (place, text) in &outputs {
        assert_no_canary(place, text);
    }
}

#[test]
fn a_good_env_file_passes_and_bad_settings_fail_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.env");
    std::fs::write(
        &good,
        "SECRET_KEY=\"q8#Lm2$Vx9!Rt4^Kw7&Zp1*Hn6(Fj3)Bc0\"\n\
         DATABASE_URL=postgres://dnduser:Vq7Lr2Xp9Kd4Mz8Nw3Jt5@db:5432/dndstory\n\
         OPENAI_API_KEY=sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-abc\n\
         ALLOWED_HOSTS=dndstory.example.org,www.dndstory.example.org\n\
         CORS_ORIGINS=https://dndstory.example.org\n\
         ENVIRONMENT=production\nDEBUG=False\nLOG_LEVEL=WARNING\nWORKERS=4\n\
         UPLOAD_MAX_SIZE=52428800\nSECURE_SSL_REDIRECT=True\n",
    )
    .unwrap();
    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, CANARY_ENV).unwrap();
    let config = format!(
        "{}{}",
        app_env(&format!("file = \"{}\"", good.display()), "good"),
        app_env(&format!("file = \"{}\"", bad.display()), "bad")
    );
    let items = check_once(&config);
    for aspect in ASPECTS {
        let (state, _, reason) = verdict(&items, &format!("good.{aspect}"));
        assert_eq!(state, "pass", "{aspect}: {reason}");
    }
    let expect = [
        ("debug", "insecure", "DEBUG is `true`; want false"),
        ("environment", "mismatch", "ENVIRONMENT is `staging`; want `production`"),
        ("log_level", "mismatch", "LOG_LEVEL is `DEBUG`; want one of INFO, WARNING"),
        ("workers", "mismatch", "WORKERS is 1; want 4"),
        ("upload_max_size", "above_maximum", "UPLOAD_MAX_SIZE is 104857600 bytes; want at most 52428800"),
        ("ssl_redirect", "insecure", "SECURE_SSL_REDIRECT is `false`; want true"),
        ("cors_origins", "insecure", "CORS_ORIGINS contains a wildcard (`*`); want only production origins"),
    ];
    for (aspect, cause, reason) in expect {
        let (state, got_cause, got_reason) = verdict(&items, &format!("bad.{aspect}"));
        assert_eq!((state.as_str(), got_cause.as_str(), got_reason.as_str()), ("fail", cause, reason), "{aspect}");
    }
    // The canary key is 43 characters of letters, digits and `-` after `sk-`: well formed.
    assert_eq!(verdict(&items, "bad.openai_api_key").0, "pass");
    // The pasted token without a key is a syntax fault of its own, named by line number only.
    let (state, cause, reason) = verdict(&items, "bad.syntax");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"), "{reason}");
    assert_eq!(reason, format!("{}: line 5: no `=`; expected KEY=VALUE", bad.display()));
    assert_eq!(
        verdict(&items, "good.syntax").2,
        format!("{}: 11 entries; every line is an entry, a comment or blank", good.display())
    );
}

#[test]
fn env_file_syntax_faults_are_named_by_line_number_never_by_value() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("quoting.env");
    std::fs::write(&path, "SECRET_KEY=CANARY1-fine\nAPI_TOKEN='CANARY5-unclosed\nDEBUG=false\nCANARY4 pasted alone\n")
        .unwrap();
    let config = format!(
        "[[checks]]\nkind = \"app_env\"\nfile = \"{}\"\n{}\n",
        path.display(),
        item("env.syntax", "critical", Some("syntax"))
    );
    let items = check_once(&config);
    let (state, cause, reason) = verdict(&items, "env.syntax");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "invalid"), "{reason}");
    assert_eq!(
        reason,
        format!("{}: line 2: a single quote is not closed; line 4: no `=`; expected KEY=VALUE", path.display())
    );
    assert_no_canary("the syntax reason", &reason);
}

#[test]
fn a_running_processes_environment_is_read_through_its_pidfile() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new("sleep")
        .arg("60")
        .env_clear()
        .env("ENVIRONMENT", "production")
        .env("DEBUG", "1")
        .env("WORKERS", "64")
        .spawn()
        .unwrap();
    let pidfile = dir.path().join("app.pid");
    std::fs::write(&pidfile, format!("{}\n", child.id())).unwrap();
    let dead_pidfile = dir.path().join("dead.pid");
    std::fs::write(&dead_pidfile, "999999999\n").unwrap();
    let garbage_pidfile = dir.path().join("garbage.pid");
    std::fs::write(&garbage_pidfile, "not a pid\n").unwrap();
    let check = |pidfile: &Path, prefix: &str| {
        let items: String = ["environment", "debug", "workers"]
            .iter()
            .map(|a| item(&format!("{prefix}.{a}"), "critical", Some(a)))
            .collect();
        format!("[[checks]]\nkind = \"app_env\"\npidfile = \"{}\"\nworkers_per_core = 1\n{items}\n", pidfile.display())
    };
    let config =
        format!("{}{}{}", check(&pidfile, "proc"), check(&dead_pidfile, "dead"), check(&garbage_pidfile, "garbage"));
    let items = check_once(&config);
    assert_eq!(verdict(&items, "proc.environment").0, "pass");
    assert_eq!(verdict(&items, "proc.debug").2, "DEBUG is `1`; want false");
    assert_eq!(verdict(&items, "proc.workers").0, "pass", "{:?}", verdict(&items, "proc.workers"));
    let (state, cause, reason) = verdict(&items, "dead.debug");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "not_found"));
    assert_eq!(reason, format!("process 999999999 (from {}) is not running", dead_pidfile.display()));
    assert_eq!(
        verdict(&items, "garbage.debug").2,
        format!("pidfile {} does not hold a process id", garbage_pidfile.display())
    );

    // Another user may not read root's process environment.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let (_, items, _) = check_once_as(&check(&pidfile, "proc"), Some(65534));
    let (state, cause, reason) = verdict(&items, "proc.debug");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "permission"));
    assert!(reason.contains("permission denied"), "{reason}");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn empty_binary_missing_directory_and_unreadable_env_files_are_errors_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let empty = dir.path().join("empty.env");
    std::fs::write(&empty, "").unwrap();
    let binary = dir.path().join("binary.env");
    std::fs::write(&binary, [0x7f, b'E', b'L', b'F', 0, 1, 2, 0xff, 0xfe, b'\n', 0x00]).unwrap();
    let private = dir.path().join("private.env");
    std::fs::write(&private, "DEBUG=false\n").unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o600)).unwrap();
    let rule = |file: &Path, id: &str| {
        format!(
            "[[checks]]\nkind = \"env_rule\"\nfile = \"{}\"\nkey = \"DEBUG\"\n{}\n",
            file.display(),
            item(id, "warning", None)
        )
    };
    let config = [
        rule(&empty, "env.empty"),
        rule(&binary, "env.binary"),
        rule(&dir.path().join("absent.env"), "env.absent"),
        rule(dir.path(), "env.dir"),
        rule(&private, "env.private"),
    ]
    .concat();
    let items = check_once(&config);
    assert_eq!(
        verdict(&items, "env.empty"),
        ("error".into(), "missing".into(), format!("env file {} is empty (0 bytes)", empty.display()))
    );
    let (state, cause, reason) = verdict(&items, "env.binary");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "invalid"));
    assert!(reason.starts_with(&format!("env file {} holds no KEY=VALUE entries", binary.display())), "{reason}");
    assert_eq!(verdict(&items, "env.absent").1, "not_found");
    assert!(verdict(&items, "env.dir").2.ends_with("it is a directory"));
    assert_eq!(verdict(&items, "env.private").0, "pass");

    let (_, items, _) = check_once_as(&rule(&private, "env.private"), Some(65534));
    assert_eq!(
        verdict(&items, "env.private"),
        ("error".into(), "permission".into(), format!("cannot read env file {}: permission denied", private.display()))
    );
}
