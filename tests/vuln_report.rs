//! `vuln_report` through the real binary on pip-audit JSON reports written in pip-audit 2's
//! documented format (`tests/fixtures/pip_audit/`): a clean audit, one with vulnerabilities, an
//! old one, and bad input (truncated, another tool's format, missing, a directory).

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use common::{check_once, item, verdict, Daemon};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/pip_audit").join(name)
}

/// A copy of a fixture in `dir`, last modified `age` ago.
fn report(dir: &Path, name: &str, age: Duration) -> PathBuf {
    let path = dir.join(name);
    std::fs::copy(fixture(name), &path).unwrap();
    filetime::set_file_mtime(&path, filetime::FileTime::from_system_time(SystemTime::now() - age)).unwrap();
    path
}

fn config(file: &Path, ignore: &[&str]) -> String {
    let ignore: Vec<String> = ignore.iter().map(|id| format!("\"{id}\"")).collect();
    format!(
        "[[checks]]\nkind = \"vuln_report\"\nfile = \"{}\"\nmax_age = \"2d\"\nignore = [{}]\n{}{}",
        file.display(),
        ignore.join(", "),
        item("security.audit", "critical", Some("vulnerabilities")),
        item("security.audit_recent", "warning", Some("age")),
    )
}

#[test]
fn a_clean_recent_report_passes_and_names_the_skipped_dependencies() {
    let dir = tempfile::tempdir().unwrap();
    let file = report(dir.path(), "clean.json", Duration::from_secs(3600));
    let items = check_once(&config(&file, &[]));
    let (state, _, reason) = verdict(&items, "security.audit");
    assert_eq!(state, "pass", "{reason}");
    assert_eq!(
        reason,
        format!(
            "{} lists no known vulnerability in 5 audited dependencies (1 dependencies skipped by pip-audit)",
            file.display()
        )
    );
    let (state, _, reason) = verdict(&items, "security.audit_recent");
    assert_eq!(state, "pass", "{reason}");
    assert!(reason.ends_with("was written 1h ago; want at most 2d"), "{reason}");
}

#[test]
fn each_vulnerable_package_is_named_with_version_ids_and_fixes() {
    let dir = tempfile::tempdir().unwrap();
    let file = report(dir.path(), "vulnerable.json", Duration::from_secs(60));
    let items = check_once(&config(&file, &[]));
    let (state, cause, reason) = verdict(&items, "security.audit");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "insecure"), "{reason}");
    assert_eq!(
        reason,
        format!(
            "{} lists 4 known vulnerabilities in 3 of 4 audited dependencies: \
             jinja2 3.1.3: GHSA-h75v-3vvj-5mfj (CVE-2024-34064) fixed in 3.1.4; \
             requests 2.31.0: GHSA-9wx4-h78v-vm56 (CVE-2024-35195) fixed in 2.32.0; \
             setuptools 68.0.0: PYSEC-2025-49 (CVE-2025-47273, GHSA-5rjg-fvgr-3xxf) fixed in 78.1.1, \
             GHSA-cx63-2mw6-8hw5 (CVE-2024-6345) fixed in 70.0.0; want none outside `ignore`",
            file.display()
        )
    );
    // The age is a separate item: a fresh report with findings is still fresh.
    assert_eq!(verdict(&items, "security.audit_recent").0, "pass");
}

#[test]
fn ignoring_every_finding_by_id_or_alias_passes_and_says_what_was_ignored() {
    let dir = tempfile::tempdir().unwrap();
    let file = report(dir.path(), "vulnerable.json", Duration::from_secs(60));
    let ignore = ["CVE-2024-34064", "GHSA-9wx4-h78v-vm56", "GHSA-5rjg-fvgr-3xxf", "CVE-2024-6345"];
    let items = check_once(&config(&file, &ignore));
    let (state, _, reason) = verdict(&items, "security.audit");
    assert_eq!(state, "pass", "{reason}");
    assert!(
        reason.ends_with("(4 ignored: GHSA-h75v-3vvj-5mfj, GHSA-9wx4-h78v-vm56, PYSEC-2025-49, GHSA-cx63-2mw6-8hw5)"),
        "{reason}"
    );
}

#[test]
fn an_old_clean_report_vouches_for_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let file = report(dir.path(), "clean.json", Duration::from_secs(5 * 86400));
    let items = check_once(&config(&file, &[]));
    let (state, cause, reason) = verdict(&items, "security.audit");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "expired"), "{reason}");
    assert!(reason.ends_with(", but was written 5d ago; want at most 2d"), "{reason}");
    let (state, cause, reason) = verdict(&items, "security.audit_recent");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "expired"), "{reason}");
    assert_eq!(reason, format!("{} was written 5d ago; want at most 2d", file.display()));
}

#[test]
fn bad_reports_are_errors_that_name_the_file_and_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(PathBuf, &str, &str); 4] = [
        (report(dir.path(), "truncated.json", Duration::ZERO), "invalid", "invalid JSON (EOF while parsing"),
        (
            report(dir.path(), "osv_scanner.json", Duration::ZERO),
            "invalid",
            "unexpected shape (no `dependencies` list at the top)",
        ),
        (dir.path().join("never-written.json"), "not_found", "it does not exist; has the audit job written it?"),
        (dir.path().to_path_buf(), "invalid", "is not a file"),
    ];
    for (file, want_cause, want_text) in cases {
        let items = check_once(&config(&file, &[]));
        for id in ["security.audit", "security.audit_recent"] {
            let (state, cause, reason) = verdict(&items, id);
            assert_eq!((state.as_str(), cause.as_str()), ("error", want_cause), "{id}: {reason}");
            assert!(reason.contains(&file.display().to_string()) && reason.contains(want_text), "{id}: {reason}");
        }
    }
}

#[test]
fn the_daemon_exports_the_count_and_the_age() {
    let dir = tempfile::tempdir().unwrap();
    let file = report(dir.path(), "vulnerable.json", Duration::from_secs(7200));
    let daemon = Daemon::start(&config(&file, &["CVE-2024-34064"]));
    daemon.wait_ready();
    let metrics = daemon.metrics();
    let labels = [("file", file.to_str().unwrap())];
    assert_eq!(metrics.value("checklist_vuln_report_vulnerabilities", &labels), Some(3.0));
    let age = metrics.value("checklist_vuln_report_age_seconds", &labels).unwrap();
    assert!((7200.0..7200.0 + 600.0).contains(&age), "age {age}");
}

#[test]
fn an_osv_scanner_report_is_filtered_by_min_severity() {
    let dir = tempfile::tempdir().unwrap();
    let file = report(dir.path(), "osv_scanner.json", Duration::from_secs(60));
    let osv_config = |min_severity: &str| {
        config(&file, &[])
            .replace("ignore = []", &format!("ignore = []\nformat = \"osv-scanner\"\nmin_severity = {min_severity}"))
    };
    let items = check_once(&osv_config("7.0"));
    let (state, _, reason) = verdict(&items, "security.audit");
    assert_eq!(state, "pass", "{reason}");
    assert!(
        reason.ends_with("lists no known vulnerability in 1 audited dependencies (1 below severity 7)"),
        "{reason}"
    );
    let items = check_once(&osv_config("5.0"));
    let (state, cause, reason) = verdict(&items, "security.audit");
    assert_eq!((state.as_str(), cause.as_str()), ("fail", "insecure"), "{reason}");
    assert!(
        reason.contains("jinja2 3.1.3: GHSA-h75v-3vvj-5mfj (CVE-2024-34064) CVSS 5.4 fixed in 3.1.4; want none"),
        "{reason}"
    );
}
