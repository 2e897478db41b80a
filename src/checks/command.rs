//! Site-specific lines decided by a program: `docker compose version`, a wrapper around
//! `sshd -T`, `logrotate -d`. The argv runs directly (never through a shell) as the daemon's
//! user, in a process group of its own so that a timeout kills everything it started; output is
//! read up to a cap and the rest drained, so a chatty program neither blocks nor fills memory.

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde::Deserialize;
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{shorter_than_timeout, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::text::excerpt;
use crate::support::units::{format_duration, ByteSize, HumanDuration};

pub static COMMAND_EXIT_CODE: MetricFamily = MetricFamily {
    name: "checklist_command_exit_code",
    help: "Exit code of the last run of the command (-1 when killed by a signal or on timeout).",
    kind: MetricKind::Gauge,
};
pub static COMMAND_DURATION: MetricFamily = MetricFamily {
    name: "checklist_command_duration_seconds",
    help: "How long the last run of the command took, in seconds.",
    kind: MetricKind::Gauge,
};

fn default_command_timeout() -> HumanDuration {
    HumanDuration(Duration::from_secs(5))
}
fn default_max_output() -> ByteSize {
    ByteSize(64 * 1024, false)
}

/// `kind = "command"`: runs `argv` and passes on its exit code and output.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandCheck {
    pub argv: Vec<String>,
    #[serde(default)]
    pub expect_exit_code: i32,
    pub stdout_matches: Option<String>,
    pub stderr_matches: Option<String>,
    /// The process group is killed after this long; shorter than the check's timeout.
    #[serde(default = "default_command_timeout")]
    pub command_timeout: HumanDuration,
    /// Output kept per stream for the regexes; the rest is read and dropped.
    #[serde(default = "default_max_output")]
    pub max_output_bytes: ByteSize,
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct CommandRun {
    /// `None` when killed by a signal.
    pub exit_code: Option<i32>,
    pub timed_out: bool,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    /// Bytes the program wrote beyond the cap, per stream.
    pub dropped: (u64, u64),
    pub took: Duration,
}

impl Check for CommandCheck {
    const KIND: &'static str = "command";
    const ASPECTS: &'static [&'static str] = &["result"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&COMMAND_EXIT_CODE, &COMMAND_DURATION];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        match self.argv.first() {
            None => return Err(KeyError::new("argv", "is empty; give the program and its arguments")),
            Some(program) if program.is_empty() => return Err(KeyError::new("argv", "the program name is empty")),
            Some(_) => {}
        }
        for (key, pattern) in [("stdout_matches", &self.stdout_matches), ("stderr_matches", &self.stderr_matches)] {
            if let Some(pattern) = pattern {
                super::compile_regex(key, pattern)?;
            }
        }
        if self.command_timeout.0.is_zero() {
            return Err(KeyError::new("command_timeout", "must be longer than 0s"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.display()
    }

    fn validate_timeout(&self, timeout: Duration) -> Result<(), KeyError> {
        shorter_than_timeout(
            "command_timeout",
            self.command_timeout.0,
            timeout,
            "the command's process group must be killed",
        )
    }

    async fn run(&self, _ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let run = run_command(&self.argv, self.command_timeout.0, self.max_output_bytes.0 as usize).await?;
        Ok(self.decide(&run))
    }
}

impl CommandCheck {
    /// The argv as one line, for the target, the label and reasons.
    pub fn display(&self) -> String {
        self.argv.join(" ")
    }

    pub fn decide(&self, run: &CommandRun) -> Report {
        let label = self.display();
        let report = Report::default()
            .sample(Sample::new(&COMMAND_EXIT_CODE, run.exit_code.map_or(-1.0, f64::from)).label("command", &label))
            .sample(Sample::new(&COMMAND_DURATION, run.took.as_secs_f64()).label("command", &label));
        // The whole argv: for `grep -q PATTERN FILE` the pattern and the file are what was looked at.
        let program = excerpt(&label, 200);
        if run.timed_out {
            return report.with(
                "result",
                Outcome::fail(
                    Cause::Timeout,
                    format!(
                        "`{program}` did not finish within {}; its process group was killed",
                        format_duration(self.command_timeout.0)
                    ),
                ),
            );
        }
        let Some(code) = run.exit_code else {
            return report.with(
                "result",
                Outcome::fail(Cause::Io, format!("`{program}` was killed by a signal{}", telling_line(&run.stderr))),
            );
        };
        if code != self.expect_exit_code {
            return report.with(
                "result",
                Outcome::fail(
                    Cause::UnexpectedStatus,
                    format!("`{program}` exited {code}; want {}{}", self.expect_exit_code, telling_line(&run.stderr)),
                ),
            );
        }
        for (stream, pattern, output) in
            [("stdout", &self.stdout_matches, &run.stdout), ("stderr", &self.stderr_matches, &run.stderr)]
        {
            let Some(pattern) = pattern else { continue };
            let matched = regex::Regex::new(pattern).map(|re| re.is_match(&String::from_utf8_lossy(output)));
            match matched {
                Ok(true) => {}
                Ok(false) => {
                    let capped = if run.dropped != (0, 0) { " (in the first bytes kept)" } else { "" };
                    return report.with(
                        "result",
                        Outcome::fail(
                            Cause::Mismatch,
                            format!(
                                "`{program}` exited {code} but its {stream} {} does not match /{pattern}/{capped}",
                                seen(output)
                            ),
                        ),
                    );
                }
                Err(err) => {
                    return report.with("result", Outcome::error(Cause::Invalid, format!("{stream}_matches: {err}")))
                }
            }
        }
        let matched: Vec<String> = [("stdout", &self.stdout_matches), ("stderr", &self.stderr_matches)]
            .iter()
            .filter_map(|(stream, p)| p.as_ref().map(|p| format!("; {stream} matches /{p}/")))
            .collect();
        report.with(
            "result",
            Outcome::pass(format!("`{program}` exited {code} in {}{}", format_duration(run.took), matched.concat())),
        )
    }
}

/// What a stream showed, for a reason: its first non-empty line, shortened, with a count of
/// the lines after it.
fn seen(output: &[u8]) -> String {
    let text = String::from_utf8_lossy(output);
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    match lines.next() {
        None => "(empty)".to_string(),
        Some(first) => {
            let more = lines.count();
            let more = if more > 0 { format!(" (+{more} more lines)") } else { String::new() };
            format!("`{}`{more}", excerpt(first, 120))
        }
    }
}

/// Lines that point to help rather than say what went wrong (`See 'docker --help'.`,
/// `Try 'ls --help' for more information.`, `Usage: ...`).
fn is_hint(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    ["see '", "try '", "run '", "usage:", "for more information"].iter().any(|h| lower.starts_with(h))
        || lower.contains("--help")
}

/// `: <the most telling line of stderr>`, shortened, for failure reasons: the first line that
/// reads as an error, else the first that is not a hint, else the last.
fn telling_line(stderr: &[u8]) -> String {
    const ERROR_WORDS: [&str; 9] =
        ["error", "unknown", "unrecognized", "invalid", "no such", "not found", "cannot", "denied", "failed"];
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
    let erroneous = |l: &&&str| {
        let lower = l.to_ascii_lowercase();
        !is_hint(l) && ERROR_WORDS.iter().any(|w| lower.contains(w))
    };
    let line = lines.iter().find(erroneous).or_else(|| lines.iter().find(|l| !is_hint(l))).or_else(|| lines.last());
    match line {
        Some(line) => format!(": {}", excerpt(line, 200)),
        None => String::new(),
    }
}

/// Kills a process group when dropped, unless disarmed: covers the scheduler dropping the
/// check at its own timeout while the program still runs.
struct GroupKiller(Option<i32>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: kill(2) with a negative pid signals the group we created for the child.
            unsafe {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Reads `stream` to its end, keeping the first `cap` bytes and counting the rest.
async fn read_capped(mut stream: impl AsyncRead + Unpin, cap: usize) -> (Vec<u8>, u64) {
    let mut kept = Vec::new();
    let mut dropped = 0u64;
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        match stream.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = cap.saturating_sub(kept.len()).min(n);
                kept.extend_from_slice(&buffer[..room]);
                dropped += (n - room) as u64;
            }
        }
    }
    (kept, dropped)
}

pub async fn run_command(argv: &[String], timeout: Duration, cap: usize) -> Result<CommandRun, ProbeFailure> {
    let program = argv.first().map(String::as_str).unwrap_or_default();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(program)
        .args(&argv[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .kill_on_drop(true)
        .spawn()
        .map_err(|err| {
            let why = match err.kind() {
                std::io::ErrorKind::NotFound => "does not exist (or is not on PATH)".to_string(),
                std::io::ErrorKind::PermissionDenied => "cannot be executed: permission denied".to_string(),
                _ => format!("cannot be started: {err}"),
            };
            // The program itself is what is missing or not executable, whatever the check asks.
            ProbeFailure::new(Cause::from_io(&err), format!("`{program}` {why}"))
                .about(Subject::Tool(program.to_string()))
        })?;
    let mut killer = GroupKiller(child.id().map(|pid| pid as i32));
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let readers = async {
        let out = async {
            match stdout {
                Some(s) => read_capped(s, cap).await,
                None => (Vec::new(), 0),
            }
        };
        let err = async {
            match stderr {
                Some(s) => read_capped(s, cap).await,
                None => (Vec::new(), 0),
            }
        };
        tokio::join!(out, err)
    };
    // Output is read to its end (every holder of the pipes gone) and the child reaped, both
    // under the one deadline: a grandchild keeping a pipe open counts as still running.
    let finished = tokio::time::timeout(timeout, async {
        let ((stdout, out_dropped), (stderr, err_dropped)) = readers.await;
        let status = child.wait().await;
        (stdout, out_dropped, stderr, err_dropped, status)
    })
    .await;
    match finished {
        Ok((stdout, out_dropped, stderr, err_dropped, status)) => {
            // The leader is reaped, so its pid (the group id) may be reused: signal nothing more.
            killer.0 = None;
            let status = status.map_err(|err| ProbeFailure::new(Cause::Io, format!("`{program}`: {err}")))?;
            Ok(CommandRun {
                exit_code: status.code(),
                timed_out: false,
                stdout,
                stderr,
                dropped: (out_dropped, err_dropped),
                took: started.elapsed(),
            })
        }
        Err(_elapsed) => {
            killer.kill();
            let _ = child.wait().await;
            Ok(CommandRun {
                exit_code: None,
                timed_out: true,
                stdout: Vec::new(),
                stderr: Vec::new(),
                dropped: (0, 0),
                took: started.elapsed(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(argv: &[&str]) -> CommandCheck {
        CommandCheck {
            argv: argv.iter().map(|s| s.to_string()).collect(),
            expect_exit_code: 0,
            stdout_matches: None,
            stderr_matches: None,
            command_timeout: default_command_timeout(),
            max_output_bytes: default_max_output(),
        }
    }

    fn run(code: Option<i32>, stdout: &str, stderr: &str) -> CommandRun {
        CommandRun {
            exit_code: code,
            timed_out: false,
            stdout: stdout.as_bytes().to_vec(),
            stderr: stderr.as_bytes().to_vec(),
            dropped: (0, 0),
            took: Duration::from_millis(20),
        }
    }

    #[test]
    fn exit_code_and_regexes_decide() {
        let mut c = check(&["docker", "compose", "version"]);
        c.stdout_matches = Some(r"v2\.\d+".into());
        let pass = c.decide(&run(Some(0), "Docker Compose version v2.29.1\n", ""));
        assert_eq!(
            pass.outcome("result").unwrap(),
            &Outcome::pass("`docker compose version` exited 0 in 20ms; stdout matches /v2\\.\\d+/")
        );
        let old = c.decide(&run(Some(0), "docker-compose version 1.29.2\n", ""));
        assert_eq!(
            old.outcome("result").unwrap(),
            &Outcome::fail(
                Cause::Mismatch,
                "`docker compose version` exited 0 but its stdout `docker-compose version 1.29.2` does not match /v2\\.\\d+/"
            )
        );
        let failed = c.decide(&run(Some(1), "", "warning\nunknown command: compose\n"));
        assert_eq!(
            failed.outcome("result").unwrap(),
            &Outcome::fail(
                Cause::UnexpectedStatus,
                "`docker compose version` exited 1; want 0: unknown command: compose"
            )
        );
        // The real error, not the hint printed after it.
        let hinted = c.decide(&run(Some(1), "", "docker: 'compose' is not a docker command.\nSee 'docker --help'\n"));
        assert_eq!(
            hinted.outcome("result").unwrap().reason,
            "`docker compose version` exited 1; want 0: docker: 'compose' is not a docker command."
        );
        let flag = c.decide(&run(Some(125), "", "unknown flag: --detach-keys\nSee 'docker compose up --help'.\n"));
        assert!(flag.outcome("result").unwrap().reason.ends_with(": unknown flag: --detach-keys"));
        assert_eq!(failed.samples[0].gauge_value(), Some(1.0));
    }

    #[test]
    fn signals_and_timeouts_fail() {
        let c = check(&["sleep", "60"]);
        assert_eq!(c.decide(&run(None, "", "")).outcome("result").unwrap().cause, Some(Cause::Io));
        let timed_out = CommandRun { timed_out: true, ..run(None, "", "") };
        let outcome = c.decide(&timed_out).outcome("result").cloned().unwrap();
        assert_eq!(
            outcome,
            Outcome::fail(Cause::Timeout, "`sleep 60` did not finish within 5s; its process group was killed")
        );
    }

    #[test]
    fn empty_argv_and_bad_regexes_are_refused() {
        assert_eq!(check(&[]).validate("result").unwrap_err().key, "argv");
        let mut c = check(&["true"]);
        c.stderr_matches = Some("(".into());
        assert_eq!(c.validate("result").unwrap_err().key, "stderr_matches");
    }

    #[tokio::test]
    async fn output_beyond_the_cap_is_drained_and_dropped() {
        let argv: Vec<String> = ["head", "-c", "300000", "/dev/zero"].iter().map(|s| s.to_string()).collect();
        let run = run_command(&argv, Duration::from_secs(10), 1000).await.unwrap();
        assert_eq!(run.exit_code, Some(0));
        assert_eq!(run.stdout.len(), 1000);
        assert_eq!(run.dropped.0, 299_000);
    }
}
