//! The state file (`--state.file`): the daemon keeps its last verdicts across a restart,
//! restores them with their original evaluation times and marks them restored until evaluated
//! again; a corrupt state file is logged, the daemon starts empty and the baseline is untouched.

mod common;

use std::time::Duration;

use common::{item, wait_for, Daemon};

/// A command check that passes at once while `slow` does not exist, and takes 20 s (still
/// passing) once it does: the window in which a restarted daemon shows its restored verdict.
fn config(slow: &std::path::Path) -> String {
    format!(
        "[[checks]]\nkind = \"command\"\nargv = [\"/bin/sh\", \"-c\", \"test -e {} && sleep 20; exit 0\"]\nexpect_exit_code = 0\n\
         command_timeout = \"25s\"\ntimeout = \"30s\"\ninterval = \"1m\"\n{}",
        slow.display(),
        item("app.command", "critical", None)
    )
}

#[test]
fn a_restarted_daemon_shows_the_last_verdicts_with_their_times_marked_restored_until_evaluated() {
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow");
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, config(&slow)).unwrap();
    let state = dir.path().join("state.json").display().to_string();
    let baseline = dir.path().join("baseline.json").display().to_string();
    let args = ["--state.file", state.as_str(), "--baseline.file", baseline.as_str()];
    let mut first = Daemon::start_with(&config_path, &args);
    wait_for("the first evaluation", Duration::from_secs(30), || first.item("app.command")["state"] == "pass");
    let evaluated = first.item("app.command");
    assert_eq!(evaluated["restored"], false);
    first.signal("TERM");
    let _ = first.child.wait();

    std::fs::write(&slow, b"").unwrap();
    let second = Daemon::start_with(&config_path, &args);
    let restored = second.item("app.command");
    assert_eq!(restored["restored"], true, "{restored}");
    assert_eq!(restored["state"], "pass");
    assert_eq!(
        restored["last_evaluation_timestamp_seconds"], evaluated["last_evaluation_timestamp_seconds"],
        "the original evaluation time"
    );
    let page = second.get("/").text().unwrap();
    assert!(page.contains("restored at start, not re-evaluated yet"), "the page says so");
    assert_ne!(second.get("/-/ready").status(), 200, "a restored verdict is not an evaluation: not ready yet");
    let metrics = second.metrics();
    assert_eq!(metrics.value("checklist_item_passing", &[("id", "app.command")]), Some(1.0), "no gap in the series");
    wait_for("the evaluation after the restart", Duration::from_secs(40), || {
        second.item("app.command")["restored"] == false
    });
}

#[test]
fn a_corrupt_state_file_is_logged_and_the_daemon_starts_empty_keeping_the_baseline() {
    let dir = tempfile::tempdir().unwrap();
    let slow = dir.path().join("slow");
    std::fs::write(&slow, b"").unwrap();
    let config_path = dir.path().join("checklist.toml");
    std::fs::write(&config_path, config(&slow)).unwrap();
    let state = dir.path().join("state.json");
    std::fs::write(&state, b"{\"version\":1,\"saved_at\":0,\"items\":[{\"id\":\"app.comm").unwrap();
    let baseline = dir.path().join("baseline.json");
    let baseline_text =
        "{\"version\":1,\"taken_at\":1700000000.0,\"items\":[{\"id\":\"app.command\",\"passing\":true}]}\n";
    std::fs::write(&baseline, baseline_text).unwrap();
    let state_arg = state.display().to_string();
    let baseline_arg = baseline.display().to_string();
    let daemon = Daemon::start_with(&config_path, &["--state.file", &state_arg, "--baseline.file", &baseline_arg]);
    daemon.wait_log("starting without the last verdicts");
    let line = daemon.logs().into_iter().find(|l| l.contains("starting without the last verdicts")).unwrap();
    assert!(line.contains(&format!("state file {}: not a state file", state.display())), "{line}");
    assert_eq!(daemon.item("app.command")["state"], "pending", "started empty");
    assert_eq!(daemon.metrics().value("checklist_baseline_timestamp_seconds", &[]), Some(1_700_000_000.0));
    assert_eq!(std::fs::read_to_string(&baseline).unwrap(), baseline_text, "the baseline is untouched");
}
