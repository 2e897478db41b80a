//! Attested items through the real binary: `attest` records, `check` and the daemon decide,
//! expired and corrupt files are reported, and a corrupt file is never replaced.

mod common;

use std::path::Path;
use std::process::Command;

use common::{check_once, item, verdict, wait_for, Daemon};
use std::time::Duration;

fn config(file: &Path) -> String {
    format!(
        "[[checks]]\nkind = \"attested\"\nfile = \"{f}\"\nvalidity = \"90d\"\n{}\n\
         [[checks]]\nkind = \"attested\"\nfile = \"{f}\"\nvalidity = \"30d\"\n{}\n\
         [[checks]]\nkind = \"cpu\"\nmin_cores = 1\n{}\n",
        item("ops.rollback_tested", "critical", None),
        item("ops.support_trained", "warning", None),
        item("infra.cpu", "critical", Some("minimum")),
        f = file.display()
    )
}

fn attest(config_file: &Path, args: &[&str]) -> (Option<i32>, String, String) {
    let output =
        Command::new(common::BINARY).arg("attest").args(args).arg("--config.file").arg(config_file).output().unwrap();
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn attesting_makes_an_item_pass_until_it_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("attestations.json");
    let config_file = dir.path().join("checklist.toml");
    std::fs::write(&config_file, config(&store)).unwrap();

    let items = check_once(&config(&store));
    let (state, cause, reason) = verdict(&items, "ops.rollback_tested");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "missing"));
    assert!(reason.contains("checklist-exporter attest ops.rollback_tested --by NAME"), "{reason}");
    assert!(reason.contains(" --config.file /"), "`check` names the config file in use, absolute: {reason}");

    let (code, stdout, stderr) = attest(
        &config_file,
        &["ops.rollback_tested", "--by", "alice", "--note", "DR drill restored last night's dump"],
    );
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stdout.starts_with("recorded: ops.rollback_tested attested by alice at "), "{stdout}");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(stored["version"], 1);
    assert_eq!(stored["attestations"]["ops.rollback_tested"]["by"], "alice");
    // No temp file is left next to the store.
    let names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(!names.iter().any(|n| n.contains(".tmp-")), "{names:?}");

    // Bob's attestation of the other item is long past its 30-day validity.
    let mut stored = stored;
    stored["attestations"]["ops.support_trained"] =
        serde_json::json!({"by": "bob", "at": "2000-01-01T09:00:00Z", "note": "onboarding session"});
    std::fs::write(&store, serde_json::to_vec_pretty(&stored).unwrap()).unwrap();

    let items = check_once(&config(&store));
    let (state, _, reason) = verdict(&items, "ops.rollback_tested");
    assert_eq!(state, "pass", "{reason}");
    assert!(
        reason.starts_with("attested by alice on ") && reason.contains("(DR drill restored last night's dump)"),
        "{reason}"
    );
    assert_eq!(
        verdict(&items, "ops.support_trained"),
        (
            "fail".into(),
            "expired".into(),
            "attestation by bob expired on 2000-01-31 (attested 2000-01-01 (onboarding session))".into()
        )
    );

    // Re-attesting keeps the other item's record.
    let (code, _, stderr) = attest(&config_file, &["ops.support_trained", "--by", "carol"]);
    assert_eq!(code, Some(0), "{stderr}");
    let items = check_once(&config(&store));
    assert_eq!(verdict(&items, "ops.support_trained").0, "pass");
    assert_eq!(verdict(&items, "ops.rollback_tested").0, "pass");

    let daemon = Daemon::start_with(&config_file, &[]);
    daemon.wait_ready();
    let metrics = daemon.metrics();
    let at = metrics.value("checklist_attestation_timestamp_seconds", &[("id", "ops.rollback_tested")]).unwrap();
    assert!(at > 1.7e9, "{at}");
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "ops.support_trained")]), Some(1.0));
}

#[test]
fn a_corrupt_store_is_reported_and_never_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("attestations.json");
    let config_file = dir.path().join("checklist.toml");
    std::fs::write(&config_file, config(&store)).unwrap();
    let corrupt = b"{\"version\": 1, \"attestations\": {\"ops.rollback_tested\": {\"by\": \"alice\", \"at\": \"2026-";
    std::fs::write(&store, corrupt).unwrap();

    let (code, _, stderr) = attest(&config_file, &["ops.support_trained", "--by", "bob"]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.starts_with(&format!("the attestation file {} is corrupt (EOF while parsing", store.display()))
            && stderr.contains("it was left as it is"),
        "{stderr}"
    );
    assert_eq!(std::fs::read(&store).unwrap(), corrupt, "the corrupt file is untouched");

    let items = check_once(&config(&store));
    let (state, cause, reason) = verdict(&items, "ops.rollback_tested");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "corrupt"));
    assert!(reason.contains("is corrupt"), "{reason}");
    assert_eq!(verdict(&items, "infra.cpu").0, "pass", "other items are unaffected");

    // A directory where the file should be.
    std::fs::remove_file(&store).unwrap();
    std::fs::create_dir(&store).unwrap();
    let items = check_once(&config(&store));
    assert_eq!(
        verdict(&items, "ops.rollback_tested").2,
        format!("cannot read the attestation file {}: it is a directory", store.display())
    );
}

#[test]
fn only_attested_items_of_the_config_can_be_attested() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("attestations.json");
    let config_file = dir.path().join("checklist.toml");
    std::fs::write(&config_file, config(&store)).unwrap();
    let (code, _, stderr) = attest(&config_file, &["infra.cpu", "--by", "alice"]);
    assert_eq!(code, Some(1));
    assert_eq!(
        stderr.trim(),
        "item infra.cpu is decided by a cpu check, not by attestation; only items of `attested` checks can be attested"
    );
    let (code, _, stderr) = attest(&config_file, &["ops.nothing", "--by", "alice"]);
    assert_eq!(code, Some(1));
    assert_eq!(stderr.trim(), format!("{}: no item has the id `ops.nothing`", config_file.display()));
    let (code, _, stderr) = attest(&config_file, &["ops.rollback_tested", "--by", " "]);
    assert_eq!((code, stderr.trim()), (Some(1), "--by must name who attests"));
    assert!(!store.exists());
}

#[test]
fn attest_creates_the_directory_of_its_file_on_a_fresh_machine() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("var/lib/checklist-exporter/attestations.json");
    let config_file = dir.path().join("checklist.toml");
    std::fs::write(&config_file, config(&store)).unwrap();
    let (code, stdout, stderr) = attest(&config_file, &["ops.rollback_tested", "--by", "alice"]);
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    let stored: serde_json::Value = serde_json::from_slice(&std::fs::read(&store).unwrap()).unwrap();
    assert_eq!(stored["attestations"]["ops.rollback_tested"]["by"], "alice");
}

/// The hint of a missing attestation, the command in its backquotes.
fn hinted_command(reason: &str) -> String {
    let start = reason.find("`checklist-exporter attest").unwrap_or_else(|| panic!("no hint in {reason}"));
    let rest = &reason[start + 1..];
    rest[..rest.find('`').unwrap()].to_string()
}

#[test]
fn the_hint_is_a_command_that_works_when_copied_and_a_reload_shows_its_attestation_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("attestations.json");
    // A config file outside the default path, with a space: the hint must name and quote it.
    let config_file = dir.path().join("site config.toml");
    // An hour between runs: only the reload can explain a verdict that changes within the test.
    let text = config(&store).replace("validity = \"90d\"\n", "validity = \"90d\"\ninterval = \"1h\"\n");
    std::fs::write(&config_file, &text).unwrap();
    let daemon = Daemon::start_with(&config_file, &[]);
    daemon.wait_ready();
    let before = daemon.item("ops.rollback_tested");
    assert_eq!((before["state"].as_str(), before["cause"].as_str()), (Some("fail"), Some("missing")), "{before}");
    let hint = hinted_command(before["reason"].as_str().unwrap());
    assert!(hint.contains("--config.file '"), "the config file in use, quoted: {hint}");

    // Run as a person would paste it, from another directory, with the binary on the PATH.
    let elsewhere = tempfile::tempdir().unwrap();
    let binary_dir = Path::new(common::BINARY).parent().unwrap();
    let path = format!("{}:{}", binary_dir.display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("sh")
        .arg("-c")
        .arg(hint.replace("NAME", "alice"))
        .current_dir(elsewhere.path())
        .env("PATH", path)
        .output()
        .unwrap();
    assert!(output.status.success(), "{hint}: {}", String::from_utf8_lossy(&output.stderr));

    daemon.signal("HUP");
    wait_for("the attestation to show after the reload", Duration::from_secs(10), || {
        daemon.item("ops.rollback_tested")["state"] == "pass"
    });

    // The same through /-/reload, for the other item.
    let (code, _, stderr) = attest(&config_file, &["ops.support_trained", "--by", "bob"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(daemon.client.post(daemon.url("/-/reload")).send().unwrap().status(), 200);
    wait_for("the second attestation to show after /-/reload", Duration::from_secs(10), || {
        daemon.item("ops.support_trained")["state"] == "pass"
    });
}
