//! The command check against real programs: exit codes, output regexes, a program that does not
//! exist, one that hangs (its whole process group is killed), one that prints megabytes, and
//! arguments that a shell would have interpreted.

mod common;

use std::time::Duration;

use common::{check_once, item, process_alive, verdict, wait_for};

fn command(argv: &[&str], extra: &str, id: &str) -> String {
    let argv: Vec<String> = argv.iter().map(|a| format!("{a:?}")).collect();
    format!("[[checks]]\nkind = \"command\"\nargv = [{}]\n{extra}\n{}\n", argv.join(", "), item(id, "warning", None))
}

#[test]
fn exit_codes_regexes_and_missing_programs() {
    let dir = tempfile::tempdir().unwrap();
    let not_executable = dir.path().join("script.sh");
    std::fs::write(&not_executable, "#!/bin/sh\nexit 0\n").unwrap();
    let config = [
        command(&["gzip", "--version"], "stdout_matches = '^gzip \\d+\\.\\d+'", "cmd.version"),
        // The same argv twice would export the same series; the config refuses that.
        command(&["gzip", "-V"], "stdout_matches = '^pigz'", "cmd.wrong_tool"),
        command(&["ls", "/nonexistent/checklist"], "", "cmd.exit"),
        command(
            &["ls", "/nonexistent/checklist-2"],
            "expect_exit_code = 2\nstderr_matches = 'No such file'",
            "cmd.expected_exit",
        ),
        command(&["/usr/bin/checklist-no-such-program"], "", "cmd.missing"),
        command(&[not_executable.to_str().unwrap()], "", "cmd.not_executable"),
        // No shell: `$HOME`, `;` and `|` reach the program as they are.
        command(
            &["echo", "$HOME; rm -rf / | cat"],
            "stdout_matches = '(?m)^\\$HOME; rm -rf / \\| cat$'",
            "cmd.no_shell",
        ),
    ]
    .concat();
    let items = check_once(&config);
    let (state, _, reason) = verdict(&items, "cmd.version");
    assert_eq!(state, "pass", "{reason}");
    assert!(
        reason.starts_with("`gzip --version` exited 0 in ") && reason.ends_with("; stdout matches /^gzip \\d+\\.\\d+/"),
        "{reason}"
    );
    let (state, cause, reason) = verdict(&items, "cmd.wrong_tool");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "mismatch"), "{reason}");
    // What was seen (the first line of the output) next to what was wanted.
    assert!(reason.starts_with("`gzip -V` exited 0 but its stdout `gzip 1."), "{reason}");
    assert!(reason.ends_with("does not match /^pigz/"), "{reason}");
    let (state, cause, reason) = verdict(&items, "cmd.exit");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "unexpected_status"));
    assert!(reason.starts_with("`ls /nonexistent/checklist` exited 2; want 0: ls: cannot access"), "{reason}");
    assert_eq!(verdict(&items, "cmd.expected_exit").0, "pass");
    assert_eq!(
        verdict(&items, "cmd.missing"),
        (
            "error".into(),
            "not_found".into(),
            "`/usr/bin/checklist-no-such-program` does not exist (or is not on PATH)".into()
        )
    );
    let (state, cause, reason) = verdict(&items, "cmd.not_executable");
    assert_eq!((state.as_str(), cause.as_str()), ("error", "permission"));
    assert!(reason.ends_with("cannot be executed: permission denied"), "{reason}");
    assert_eq!(verdict(&items, "cmd.no_shell").0, "pass", "{:?}", verdict(&items, "cmd.no_shell"));
}

#[test]
fn reasons_name_the_pattern_and_file_and_the_telling_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let sshd = dir.path().join("sshd_config");
    std::fs::write(&sshd, "PermitRootLogin yes\nPasswordAuthentication yes\n").unwrap();
    let config = [
        command(&["grep", "-q", "^PasswordAuthentication no", sshd.to_str().unwrap()], "", "cmd.grep"),
        // Like `docker compose` with a bad flag: the real error first, then a hint to run --help.
        command(&["ls", "--no-such-flag"], "", "cmd.hint"),
    ]
    .concat();
    let items = check_once(&config);
    let (state, cause, reason) = verdict(&items, "cmd.grep");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "unexpected_status"), "{reason}");
    assert_eq!(reason, format!("`grep -q ^PasswordAuthentication no {}` exited 1; want 0", sshd.display()));
    let (state, _, reason) = verdict(&items, "cmd.hint");
    assert_eq!(state, "fail");
    assert!(reason.contains("unrecognized option"), "{reason}");
    assert!(!reason.contains("--help"), "the hint line hides the cause: {reason}");
}

#[test]
fn a_hanging_command_has_its_whole_process_group_killed() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("grandchild.pid");
    // The wrapper starts a grandchild that would outlive a kill of the wrapper alone.
    let script = format!("sleep 300 & echo $! > {}; wait", pid_file.display());
    let config = command(&["sh", "-c", &script], "command_timeout = \"1s\"\ntimeout = \"5s\"", "cmd.hang");
    let items = check_once(&config);
    assert_eq!(
        verdict(&items, "cmd.hang"),
        (
            "fail".into(),
            "timeout".into(),
            format!("`sh -c {script}` did not finish within 1s; its process group was killed")
        )
    );
    let grandchild: u32 = std::fs::read_to_string(&pid_file).unwrap().trim().parse().unwrap();
    wait_for("the grandchild to be killed", Duration::from_secs(10), || !process_alive(grandchild));
}

#[test]
fn megabytes_of_output_are_drained_and_capped() {
    let config = [
        command(&["head", "-c", "50000000", "/dev/zero"], "max_output_bytes = \"64KiB\"", "cmd.flood"),
        command(&["seq", "1", "2000000"], "stdout_matches = '^1\\n2\\n3\\n'\nmax_output_bytes = 1024", "cmd.lines"),
    ]
    .concat();
    let items = check_once(&config);
    assert_eq!(verdict(&items, "cmd.flood").0, "pass", "{:?}", verdict(&items, "cmd.flood"));
    let (state, _, reason) = verdict(&items, "cmd.lines");
    assert_eq!(state, "pass", "{reason}");
}
