//! Env files and process environments: the app's settings decided, bad files named, and canary
//! strings planted in every secret never appearing anywhere the daemon writes.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use common::{check_once, check_once_as, item, verdict, Daemon};

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

const CANARIES: &[&str] = &["CANARY1", "CANARY2", "CANARY3", "CANARY4", "CANARY5"];

fn assert_no_canary(place: &str, text: &str) {
    for canary in CANARIES {
        assert!(!text.contains(canary), "{canary} leaked into {place}:\n{text}");
    }
}

#[test]
fn canaries_in_every_secret_never_reach_metrics_logs_api_page_or_check_output() {
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

    let daemon = Daemon::start(&config);
    daemon.wait_ready();
    let metrics = daemon.metrics_text();
    let api = daemon.get("/api/v1/items").text().unwrap();
    let page = daemon.get("/").text().unwrap();
    let logs = daemon.logs().join("\n");
    let output = Command::new(common::BINARY)
        .args(["check", "--format", "json", "--log.level", "debug", "--config.file"])
        .arg(&daemon.config)
        .output()
        .unwrap();
    let check_stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let check_stderr = String::from_utf8_lossy(&output.stderr).into_owned();

    // The evaluations happened and said something about each secret.
    let document: serde_json::Value = serde_json::from_str(&check_stdout).unwrap();
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
    assert!(metrics.contains("checklist_item_passing{id=\"app.cors_origins\""));
    assert!(logs.contains("\"evaluated\""), "debug-level evaluation logs were written: {logs}");

    for (place, text) in [
        ("/metrics", &metrics),
        ("/api/v1/items", &api),
        ("the HTML page", &page),
        ("the logs at debug level", &logs),
        ("check --format json", &check_stdout),
        ("check's stderr", &check_stderr),
    ] {
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
        ("ssl_redirect", "missing", "SECURE_SSL_REDIRECT is `false`; want true"),
        ("cors_origins", "insecure", "CORS_ORIGINS contains a wildcard (`*`); want only production origins"),
    ];
    for (aspect, cause, reason) in expect {
        let (state, got_cause, got_reason) = verdict(&items, &format!("bad.{aspect}"));
        assert_eq!((state.as_str(), got_cause.as_str(), got_reason.as_str()), ("fail", cause, reason), "{aspect}");
    }
    // The canary key is 43 characters of letters, digits and `-` after `sk-`: well formed.
    assert_eq!(verdict(&items, "bad.openai_api_key").0, "pass");
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
