//! `systemd/checklist-exporter.service` is a unit systemd accepts, its command line is one the
//! daemon accepts, and its sandbox stays tight (`systemd-analyze security` exposure score). The
//! drop-in that runs the reference checklist with its privileges is accepted too, and grants
//! exactly those privileges.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const UNIT: &str = "systemd/checklist-exporter.service";
const INSTALLED_BINARY: &str = "/usr/local/bin/checklist-exporter";
const INSTALLED_CONFIG: &str = "/etc/checklist-exporter/checklist.toml";
/// The highest exposure score accepted (0 is fully sandboxed, 10 is a plain service). The unit
/// scored 1.2 when it was written; README.md quotes that figure.
const MAX_EXPOSURE: f64 = 2.0;
const DROP_IN: &str = "systemd/checklist-exporter.service.d/reference-checklist.conf";
/// The unit with the drop-in scored 2.4 when it was written; README.md quotes that figure.
const MAX_EXPOSURE_WITH_DROP_IN: f64 = 3.0;

fn repo_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn unit_text() -> String {
    std::fs::read_to_string(repo_path(UNIT)).unwrap()
}

/// The unit as installed, except that ExecStart names the binary cargo built: `verify` checks
/// that the executable exists.
fn unit_with_built_binary(dir: &Path) -> PathBuf {
    let text = unit_text();
    assert!(text.contains(&format!("ExecStart={INSTALLED_BINARY} ")), "ExecStart does not start {INSTALLED_BINARY}");
    let path = dir.join("checklist-exporter.service");
    let binary = env!("CARGO_BIN_EXE_checklist-exporter");
    std::fs::write(&path, text.replace(&format!("ExecStart={INSTALLED_BINARY} "), &format!("ExecStart={binary} ")))
        .unwrap();
    path
}

/// The unit as above with the privileged drop-in beside it, where systemd-analyze reads it.
fn unit_with_drop_in(dir: &Path) -> PathBuf {
    let unit = unit_with_built_binary(dir);
    let drop_ins = dir.join("checklist-exporter.service.d");
    std::fs::create_dir(&drop_ins).unwrap();
    std::fs::copy(repo_path(DROP_IN), drop_ins.join("reference-checklist.conf")).unwrap();
    unit
}

fn exposure(unit: &Path) -> f64 {
    let output = systemd_analyze(&["security", "--offline=true", "--no-pager"], unit);
    let report = text(&output.stdout);
    report
        .lines()
        .find_map(|line| {
            line.split_once("Overall exposure level for ")?.1.split_once(": ")?.1.split(' ').next()?.parse().ok()
        })
        .unwrap_or_else(|| panic!("no exposure level in:\n{report}{}", text(&output.stderr)))
}

fn systemd_analyze(args: &[&str], unit: &Path) -> Output {
    Command::new("systemd-analyze")
        .args(args)
        .arg(unit)
        .output()
        .expect("systemd-analyze is missing: run bash tests/run.sh, which installs the Debian systemd package")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `systemd-analyze verify`: whether it succeeded, and everything it printed. It exits 0 on many
/// problems (an unknown directive or syscall group is "ignoring"), so any output is a complaint.
fn verify(unit: &Path) -> (bool, String) {
    let output = systemd_analyze(&["verify"], unit);
    (output.status.success(), format!("{}{}", text(&output.stdout), text(&output.stderr)))
}

#[test]
fn systemd_analyze_verify_accepts_the_unit_without_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let (success, complaints) = verify(&unit_with_built_binary(dir.path()));
    assert!(success && complaints.trim().is_empty(), "systemd-analyze verify {UNIT}:\n{complaints}");
}

#[test]
fn the_unit_sandbox_exposure_score_stays_low() {
    let dir = tempfile::tempdir().unwrap();
    let score = exposure(&unit_with_built_binary(dir.path()));
    assert!(score <= MAX_EXPOSURE, "exposure level {score} is above {MAX_EXPOSURE}");
}

#[test]
fn the_unit_as_installed_fails_verify_until_the_binary_is_installed() {
    // README.md says so: verify checks that ExecStart's executable exists.
    let (success, complaints) = verify(&repo_path(UNIT));
    if Path::new(INSTALLED_BINARY).exists() {
        assert!(success, "installed, the unit verifies as it is:\n{complaints}");
    } else {
        assert!(
            !success && complaints.contains(&format!("Command {INSTALLED_BINARY} is not executable")),
            "{complaints}"
        );
    }
}

#[test]
fn the_reference_checklist_drop_in_is_accepted_and_grants_exactly_its_privileges() {
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_with_drop_in(dir.path());
    let (success, complaints) = verify(&unit);
    assert!(success && complaints.trim().is_empty(), "systemd-analyze verify with {DROP_IN}:\n{complaints}");

    let drop_in = std::fs::read_to_string(repo_path(DROP_IN)).unwrap();
    let directives: Vec<&str> =
        drop_in.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#')).collect();
    assert_eq!(
        directives,
        [
            "[Service]",
            "User=root",
            "CapabilityBoundingSet=",
            "CapabilityBoundingSet=CAP_NET_ADMIN CAP_DAC_READ_SEARCH CAP_SYS_PTRACE",
            "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK",
            "ProtectProc=default",
        ],
        "the drop-in grants what nft, ufw, sshd -T, passwd --status and /proc/PID/environ need, nothing else"
    );
    let score = exposure(&unit);
    assert!(
        score <= MAX_EXPOSURE_WITH_DROP_IN,
        "exposure level with the drop-in {score} is above {MAX_EXPOSURE_WITH_DROP_IN}"
    );
}

#[test]
fn the_daemon_accepts_the_units_command_line() {
    let text = unit_text();
    let exec_start = text.lines().find_map(|line| line.strip_prefix("ExecStart=")).expect("ExecStart");
    let config = repo_path("config/checklist.toml");
    let mut words = exec_start.split_whitespace();
    assert_eq!(words.next(), Some(INSTALLED_BINARY));
    // The optional $CHECKLIST_EXPORTER_ARGS from the environment file expands to nothing here.
    let args: Vec<String> = words
        .filter(|word| !word.starts_with('$'))
        .map(|word| word.replace(INSTALLED_CONFIG, config.to_str().unwrap()))
        .collect();
    assert!(
        args.iter().any(|arg| arg.contains(config.to_str().unwrap())),
        "ExecStart does not read {INSTALLED_CONFIG}"
    );
    let output =
        Command::new(env!("CARGO_BIN_EXE_checklist-exporter")).args(&args).arg("--config.check").output().unwrap();
    assert!(
        output.status.success(),
        "checklist-exporter {} --config.check: {}{}",
        args.join(" "),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn the_unit_has_the_hardening_and_reload_the_issue_asks_for() {
    let text = unit_text();
    let directives: Vec<&str> = text.lines().map(str::trim).filter(|line| !line.starts_with('#')).collect();
    for wanted in [
        "User=checklist-exporter",
        "ExecReload=/bin/kill -HUP $MAINPID",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "NoNewPrivileges=yes",
        "CapabilityBoundingSet=",
        "SystemCallFilter=@system-service",
        "StateDirectory=checklist-exporter",
    ] {
        assert!(directives.contains(&wanted), "{UNIT} lacks {wanted}");
    }
    for prefix in ["RestrictAddressFamilies=", "ReadOnlyPaths="] {
        assert!(
            directives.iter().any(|line| line.starts_with(prefix) && line.len() > prefix.len()),
            "{UNIT} lacks {prefix}"
        );
    }
}
