//! Retargeting a config with `[vars]`: variables built on others move together, a circle is
//! refused with its chain, a relative path says which variables made it, and a
//! `CHECKLIST__VARS__*` the config does not declare is a warning, not a refusal.

use std::path::Path;
use std::process::Command;

use checklist_exporter::config::{self, Decider};

mod common;

fn read(path: &str) -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path)).unwrap()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

/// Every check's target, as the config decoded it.
fn targets(text: &str, overrides: &[(&str, &str)]) -> Vec<String> {
    let config = config::parse("test.toml", text, env(overrides)).unwrap_or_else(|err| panic!("{err}"));
    config
        .deciders
        .iter()
        .filter_map(|decider| match decider {
            Decider::Check(check) => Some(check.kind.target()),
            Decider::Group(_) => None,
        })
        .collect()
}

#[test]
fn overriding_app_root_moves_every_path_of_the_reference_configs() {
    for file in ["config/dndstory.toml", "config/dndstory-files.toml"] {
        let text = read(file);
        let before = targets(&text, &[]);
        assert!(before.iter().any(|t| t.contains("/opt/dndstory")), "{file}: some target is under /opt/dndstory");
        let after = targets(&text, &[("CHECKLIST__VARS__APP_ROOT", "/srv/dnd")]);
        let left: Vec<&String> = after.iter().filter(|t| t.contains("/opt/dndstory")).collect();
        assert!(left.is_empty(), "{file}: targets still under /opt/dndstory after moving app_root: {left:?}");
        let moved = after.iter().filter(|t| t.contains("/srv/dnd")).count();
        assert_eq!(moved, before.iter().filter(|t| t.contains("/opt/dndstory")).count(), "{file}");
    }
}

#[test]
fn the_tls_port_ca_file_and_backup_pattern_of_the_reference_config_are_variables() {
    let text = read("config/dndstory.toml");
    let overrides = [
        ("CHECKLIST__VARS__TLS_HOST", "127.0.0.1"),
        ("CHECKLIST__VARS__TLS_PORT", "8443"),
        ("CHECKLIST__VARS__CA_FILE", "/etc/dnd/ca.pem"),
        ("CHECKLIST__VARS__BACKUP_PATTERN", "db-*.dump"),
    ];
    let config = config::parse("dndstory.toml", &text, env(&overrides)).unwrap_or_else(|err| panic!("{err}"));
    let described: Vec<String> = config
        .deciders
        .iter()
        .filter_map(|decider| match decider {
            Decider::Check(check) => Some(format!("{:?}", check.kind)),
            Decider::Group(_) => None,
        })
        .collect();
    let having = |needle: &str| described.iter().filter(|d| d.contains(needle)).count();
    assert_eq!(having("127.0.0.1:8443"), 1, "the tls check's address is tls_host:tls_port");
    assert_eq!(having("/etc/dnd/ca.pem"), 1, "the tls check trusts ca_file");
    assert_eq!(
        having("db-*.dump"),
        3,
        "the backup, integrity and restore drill checks of the dumps use backup_pattern"
    );
}

#[test]
fn a_circle_of_variables_is_refused_with_its_chain() {
    let text = "[vars]\nroot = \"${env_file}/..\"\nenv_file = \"${root}/.env\"\n";
    let err = config::parse("loop.toml", text, Vec::new()).unwrap_err().to_string();
    assert!(err.contains("vars.env_file"), "{err}");
    assert!(err.contains("variables refer to each other in a circle: env_file -> root -> env_file"), "{err}");
}

#[test]
fn a_relative_path_says_which_variables_made_it() {
    let text =
        "[vars]\napp_root = \"opt/dnd\"\nenv_file = \"${app_root}/config/.env\"\n\n[[checks]]\nkind = \"attested\"\nfile = \"${env_file}\"\nvalidity = \"90d\"\n  [[checks.items]]\n  id = \"ops.signed\"\n  section = \"s\"\n  title = \"t\"\n  severity = \"critical\"\n";
    let err = match config::parse("rel.toml", text, Vec::new()) {
        Ok(_) => panic!("a relative env file must be refused"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains("`opt/dnd/config/.env` is not an absolute path (written \"${env_file}\"; vars.env_file = \"${app_root}/config/.env\" = \"opt/dnd/config/.env\", vars.app_root = \"opt/dnd\")"),
        "{err}"
    );
}

#[test]
fn an_undeclared_environment_variable_is_a_warning_that_config_check_lists() {
    let output = Command::new(common::BINARY)
        .args(["--config.check", "--config.file"])
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("config/checklist.toml"))
        .env("CHECKLIST__VARS__DND_ONLY", "x")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(0), "stdout: {stdout}\nstderr: {stderr}");
    assert!(stdout.contains("valid (") && stdout.contains("1 warning"), "{stdout}");
    assert!(
        stderr.contains("CHECKLIST__VARS__DND_ONLY is ignored: no variable `dnd_only` is declared in [vars]"),
        "{stderr}"
    );
}
