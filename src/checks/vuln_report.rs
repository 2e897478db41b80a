//! A dependency audit made by CI, read from the report it left: `pip-audit --format json`, or
//! `osv-scanner --format json`. The
//! item "Dependency security audit completed" passes while the newest report is young enough
//! and lists no known vulnerability outside the config's `ignore` list.
//!
//! pip-audit's JSON carries no severity (only ids, aliases and fix versions), so for it every
//! listed vulnerability fails the item unless one of its ids or aliases is ignored by name, which
//! keeps the decision to accept a risk written down. osv-scanner gives each group of aliases a
//! CVSS score (`max_severity`), so `min_severity` may leave lower ones out; a vulnerability
//! without a score still counts.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::support::units::{format_age, HumanDuration};

pub static VULN_REPORT_VULNERABILITIES: MetricFamily = MetricFamily {
    name: "checklist_vuln_report_vulnerabilities",
    help: "Known vulnerabilities the audit report lists, not counting the ignored ones and those below min_severity.",
    kind: MetricKind::Gauge,
};
pub static VULN_REPORT_AGE: MetricFamily = MetricFamily {
    name: "checklist_vuln_report_age_seconds",
    help: "Age of the audit report (now minus its modification time), in seconds.",
    kind: MetricKind::Gauge,
};

/// A report larger than this is refused rather than read into memory: pip-audit's report of a
/// few hundred dependencies is tens of kilobytes.
pub const MAX_REPORT_BYTES: u64 = 16 * 1024 * 1024;
/// How many vulnerable packages a reason names before it says "and N more".
const LISTED_PACKAGES: usize = 5;

fn default_max_age() -> HumanDuration {
    HumanDuration(Duration::from_secs(7 * 86400))
}

/// Which tool wrote the report.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReportFormat {
    #[default]
    PipAudit,
    OsvScanner,
}

impl<'de> Deserialize<'de> for ReportFormat {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        super::one_of(deserializer, &[("pip-audit", ReportFormat::PipAudit), ("osv-scanner", ReportFormat::OsvScanner)])
    }
}

impl ReportFormat {
    fn command(self) -> &'static str {
        match self {
            ReportFormat::PipAudit => "a pip-audit JSON report (`pip-audit --format json`)",
            ReportFormat::OsvScanner => "an osv-scanner JSON report (`osv-scanner --format json`)",
        }
    }
}

/// `kind = "vuln_report"`: the pip-audit (or osv-scanner) JSON report at `file`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VulnReportCheck {
    pub file: PathBuf,
    #[serde(default)]
    pub format: ReportFormat,
    /// The lowest CVSS score that fails the item (osv-scanner only: pip-audit gives none).
    #[serde(default)]
    pub min_severity: Option<f64>,
    /// How old the report may be: an audit of last quarter's lock file says nothing of today's.
    #[serde(default = "default_max_age")]
    pub max_age: HumanDuration,
    /// Vulnerability ids (or aliases: a CVE, a GHSA) accepted on purpose.
    #[serde(default)]
    pub ignore: Vec<String>,
}

impl Check for VulnReportCheck {
    const KIND: &'static str = "vuln_report";
    const ASPECTS: &'static [&'static str] = &["vulnerabilities", "age"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&VULN_REPORT_VULNERABILITIES, &VULN_REPORT_AGE];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        if !self.file.is_absolute() {
            return Err(KeyError::new("file", format!("`{}` is not an absolute path", self.file.display())));
        }
        if self.max_age.0.is_zero() {
            return Err(KeyError::new("max_age", "must be longer than 0s"));
        }
        match (self.format, self.min_severity) {
            (ReportFormat::PipAudit, Some(_)) => {
                return Err(KeyError::new(
                    "min_severity",
                    "pip-audit's JSON has no severity; ignore accepted vulnerabilities by id, or use format = \"osv-scanner\"",
                ))
            }
            (_, Some(score)) if !(0.0..=10.0).contains(&score) => {
                return Err(KeyError::new("min_severity", format!("{score} is not a CVSS score from 0 to 10")))
            }
            _ => {}
        }
        if let Some(blank) = self.ignore.iter().find(|id| id.trim().is_empty() || id.trim() != id.as_str()) {
            return Err(KeyError::new("ignore", format!("`{blank}` is not a vulnerability id")));
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.file.display().to_string()
    }

    fn subject(&self) -> Option<Subject> {
        Some(subject::path(&self.file))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let file = self.file.clone();
        let (bytes, modified) = ctx.blocking().run(move || read_report(&file)).await??;
        let parsed = match self.format {
            ReportFormat::PipAudit => parse_pip_audit(&bytes),
            ReportFormat::OsvScanner => parse_osv_scanner(&bytes),
        };
        let report = parsed.map_err(|why| {
            ProbeFailure::new(
                Cause::Invalid,
                format!("{} is not {}: {why}", self.file.display(), self.format.command()),
            )
        })?;
        Ok(self.decide(&report, modified, SystemTime::now()))
    }
}

/// The report's bytes and modification time; errors name the file and what went wrong.
fn read_report(path: &Path) -> Result<(Vec<u8>, SystemTime), ProbeFailure> {
    let failed = |err: std::io::Error| {
        let why = match err.kind() {
            std::io::ErrorKind::NotFound => "it does not exist; has the audit job written it?".to_string(),
            std::io::ErrorKind::PermissionDenied => "permission denied".to_string(),
            _ => err.to_string(),
        };
        ProbeFailure::new(Cause::from_io(&err), format!("cannot read the audit report {}: {why}", path.display()))
    };
    let metadata = std::fs::metadata(path).map_err(failed)?;
    if !metadata.is_file() {
        return Err(ProbeFailure::new(Cause::Invalid, format!("the audit report {} is not a file", path.display())));
    }
    if metadata.len() > MAX_REPORT_BYTES {
        return Err(ProbeFailure::new(
            Cause::Invalid,
            format!(
                "the audit report {} has {} bytes; at most {MAX_REPORT_BYTES} are read",
                path.display(),
                metadata.len()
            ),
        ));
    }
    let modified = metadata.modified().map_err(failed)?;
    let bytes = std::fs::read(path).map_err(failed)?;
    Ok((bytes, modified))
}

/// One dependency of a pip-audit report: audited (with its vulnerabilities, perhaps none) or
/// skipped (not on PyPI, editable) with the reason.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Dependency {
    pub name: String,
    #[serde(default)]
    pub version: Option<String>,
    #[serde(default)]
    pub vulns: Vec<Vulnerability>,
    #[serde(default)]
    pub skip_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Vulnerability {
    pub id: String,
    #[serde(default)]
    pub fix_versions: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    /// The CVSS score, when the report gives one (osv-scanner).
    #[serde(default)]
    pub severity: Option<f64>,
}

impl Vulnerability {
    fn is_ignored(&self, ignore: &[String]) -> bool {
        ignore.iter().any(|id| *id == self.id || self.aliases.contains(id))
    }

    /// Below the configured score; one without a score is never below.
    fn is_below(&self, min_severity: Option<f64>) -> bool {
        matches!((self.severity, min_severity), (Some(score), Some(min)) if score < min)
    }
}

#[derive(Deserialize)]
struct OsvOutput {
    results: Vec<OsvSource>,
}

#[derive(Deserialize)]
struct OsvSource {
    #[serde(default)]
    packages: Vec<OsvPackage>,
}

#[derive(Deserialize)]
struct OsvPackage {
    package: OsvPackageInfo,
    #[serde(default)]
    vulnerabilities: Vec<OsvVulnerability>,
    #[serde(default)]
    groups: Vec<OsvGroup>,
}

#[derive(Deserialize)]
struct OsvPackageInfo {
    name: String,
    #[serde(default)]
    version: Option<String>,
}

#[derive(Deserialize)]
struct OsvVulnerability {
    id: String,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    affected: Vec<OsvAffected>,
}

#[derive(Deserialize)]
struct OsvAffected {
    #[serde(default)]
    ranges: Vec<OsvRange>,
}

#[derive(Deserialize)]
struct OsvRange {
    #[serde(default)]
    events: Vec<serde_json::Map<String, serde_json::Value>>,
}

/// The advisories osv-scanner counts as one vulnerability (aliases of each other), with the
/// highest CVSS score among them, `""` when none has one.
#[derive(Deserialize)]
struct OsvGroup {
    ids: Vec<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    max_severity: String,
}

/// The packages of an osv-scanner JSON report, one vulnerability per group of aliases.
pub fn parse_osv_scanner(bytes: &[u8]) -> Result<Vec<Dependency>, String> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|err| format!("invalid JSON ({err})"))?;
    if !value.get("results").is_some_and(serde_json::Value::is_array) {
        return Err("unexpected shape (no `results` list at the top)".to_string());
    }
    let output: OsvOutput = serde_json::from_value(value).map_err(|err| format!("unexpected shape ({err})"))?;
    Ok(output.results.into_iter().flat_map(|source| source.packages).map(osv_dependency).collect())
}

fn osv_dependency(package: OsvPackage) -> Dependency {
    let fixes = |ids: &[String]| -> Vec<String> {
        let mut fixed: Vec<String> = package
            .vulnerabilities
            .iter()
            .filter(|v| ids.contains(&v.id))
            .flat_map(|v| v.affected.iter().flat_map(|a| a.ranges.iter().flat_map(|r| r.events.iter())))
            .filter_map(|event| event.get("fixed").and_then(|f| f.as_str()).map(str::to_string))
            .collect();
        fixed.sort();
        fixed.dedup();
        fixed
    };
    let vulns = if package.groups.is_empty() {
        // Older osv-scanner versions do not group: each advisory stands alone, without a score.
        package
            .vulnerabilities
            .iter()
            .map(|v| Vulnerability {
                id: v.id.clone(),
                fix_versions: fixes(std::slice::from_ref(&v.id)),
                aliases: v.aliases.clone(),
                severity: None,
            })
            .collect()
    } else {
        package
            .groups
            .iter()
            .filter_map(|group| {
                let (id, others) = group.ids.split_first()?;
                // The group's own aliases, else those its advisories name (older osv-scanner).
                let named =
                    package.vulnerabilities.iter().filter(|v| group.ids.contains(&v.id)).flat_map(|v| &v.aliases);
                let mut aliases: Vec<String> = Vec::new();
                for alias in others.iter().chain(&group.aliases).chain(named) {
                    if alias != id && !aliases.contains(alias) {
                        aliases.push(alias.clone());
                    }
                }
                Some(Vulnerability {
                    id: id.clone(),
                    fix_versions: fixes(&group.ids),
                    aliases,
                    severity: group.max_severity.parse().ok(),
                })
            })
            .collect()
    };
    Dependency { name: package.package.name, version: package.package.version, vulns, skip_reason: None }
}

/// pip-audit 2's `{"dependencies": [...], "fixes": [...]}`; other keys are skipped unread.
#[derive(Deserialize)]
struct PipAuditDocument {
    dependencies: Option<Vec<Dependency>>,
}

/// The dependencies of a pip-audit JSON report (pip-audit 2's object, or the bare list of
/// pip-audit 1). The error says what is wrong where. The report is decoded straight into the
/// few fields the decision reads, never into a `serde_json::Value` tree: a 4 MB report with
/// descriptions took 61 MB as a tree (bench/vuln_report.sh).
pub fn parse_pip_audit(bytes: &[u8]) -> Result<Vec<Dependency>, String> {
    let explain = |err: serde_json::Error| {
        if err.is_syntax() || err.is_eof() {
            format!("invalid JSON ({err})")
        } else {
            format!("unexpected shape ({err})")
        }
    };
    match bytes.iter().find(|byte| !byte.is_ascii_whitespace()) {
        Some(b'[') => serde_json::from_slice::<Vec<Dependency>>(bytes).map_err(explain),
        Some(b'{') => serde_json::from_slice::<PipAuditDocument>(bytes)
            .map_err(explain)?
            .dependencies
            .ok_or_else(|| "unexpected shape (no `dependencies` list at the top)".to_string()),
        _ => {
            serde_json::from_slice::<serde::de::IgnoredAny>(bytes).map_err(|err| format!("invalid JSON ({err})"))?;
            Err("unexpected shape (want an object with a `dependencies` list)".to_string())
        }
    }
}

impl VulnReportCheck {
    /// Whether a listed vulnerability fails the item: not ignored, and not below `min_severity`.
    fn counts(&self, vulnerability: &Vulnerability) -> bool {
        !vulnerability.is_ignored(&self.ignore) && !vulnerability.is_below(self.min_severity)
    }

    pub fn decide(&self, dependencies: &[Dependency], modified: SystemTime, now: SystemTime) -> Report {
        let file = self.file.display().to_string();
        let age = now.duration_since(modified).unwrap_or(Duration::ZERO);
        let vulnerable: Vec<(&Dependency, Vec<&Vulnerability>)> = dependencies
            .iter()
            .map(|dep| (dep, dep.vulns.iter().filter(|v| self.counts(v)).collect::<Vec<_>>()))
            .filter(|(_, vulns)| !vulns.is_empty())
            .collect();
        let found: usize = vulnerable.iter().map(|(_, vulns)| vulns.len()).sum();
        let ignored: Vec<&str> = dependencies
            .iter()
            .flat_map(|dep| dep.vulns.iter())
            .filter(|v| v.is_ignored(&self.ignore))
            .map(|v| v.id.as_str())
            .collect();
        let below = dependencies
            .iter()
            .flat_map(|dep| dep.vulns.iter())
            .filter(|v| !v.is_ignored(&self.ignore) && v.is_below(self.min_severity))
            .count();
        let audited = dependencies.iter().filter(|dep| dep.skip_reason.is_none()).count();
        let skipped = dependencies.len() - audited;

        let mut notes = Vec::new();
        if !ignored.is_empty() {
            notes.push(format!("{} ignored: {}", ignored.len(), ignored.join(", ")));
        }
        if below > 0 {
            notes.push(format!("{below} below severity {}", self.min_severity.unwrap_or_default()));
        }
        if skipped > 0 {
            notes.push(format!("{skipped} dependencies skipped by pip-audit"));
        }
        let notes = if notes.is_empty() { String::new() } else { format!(" ({})", notes.join("; ")) };
        let stale = age > self.max_age.0;
        let age_text = format!("was written {} ago; want at most {}", format_age(age), format_age(self.max_age.0));
        let vulnerabilities = if found == 0 && stale {
            // An old audit of a clean lock file says nothing of today's dependencies.
            Outcome::fail(
                Cause::Expired,
                format!("{file} lists no known vulnerability in {audited} audited dependencies{notes}, but {age_text}"),
            )
        } else if found == 0 {
            Outcome::pass(format!("{file} lists no known vulnerability in {audited} audited dependencies{notes}"))
        } else {
            let mut listed: Vec<String> =
                vulnerable.iter().take(LISTED_PACKAGES).map(|(dep, vulns)| describe(dep, vulns)).collect();
            if vulnerable.len() > LISTED_PACKAGES {
                listed.push(format!("and {} more packages", vulnerable.len() - LISTED_PACKAGES));
            }
            Outcome::fail(
                Cause::Insecure,
                format!(
                    "{file} lists {found} known {} in {} of {audited} audited dependencies: {}{notes}; want none outside `ignore`{}",
                    if found == 1 { "vulnerability" } else { "vulnerabilities" },
                    vulnerable.len(),
                    listed.join("; "),
                    if stale { format!(" (the report {age_text})") } else { String::new() }
                ),
            )
        };
        Report::default()
            .with("vulnerabilities", vulnerabilities)
            .with("age", Outcome::decide(!stale, Cause::Expired, format!("{file} {age_text}")))
            .sample(Sample::new(&VULN_REPORT_VULNERABILITIES, found as f64).label("file", file.as_str()))
            .sample(Sample::new(&VULN_REPORT_AGE, age.as_secs_f64()).label("file", file.as_str()))
    }
}

/// `jinja2 2.10: PYSEC-2019-217 (CVE-2019-10906) fixed in 2.10.1`.
fn describe(dependency: &Dependency, vulns: &[&Vulnerability]) -> String {
    let version = dependency.version.as_deref().unwrap_or("?");
    let ids: Vec<String> = vulns
        .iter()
        .map(|v| {
            let aliases = if v.aliases.is_empty() { String::new() } else { format!(" ({})", v.aliases.join(", ")) };
            let fix = if v.fix_versions.is_empty() {
                " no fix released".to_string()
            } else {
                format!(" fixed in {}", v.fix_versions.join(", "))
            };
            let score = v.severity.map(|score| format!(" CVSS {score}")).unwrap_or_default();
            format!("{}{aliases}{score}{fix}", v.id)
        })
        .collect();
    format!("{} {version}: {}", dependency.name, ids.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const REPORT: &str = r#"{"dependencies": [
        {"name": "flask", "version": "3.0.3", "vulns": []},
        {"name": "jinja2", "version": "3.1.3", "vulns": [
            {"id": "GHSA-h75v-3vvj-5mfj", "fix_versions": ["3.1.4"], "aliases": ["CVE-2024-34064"], "description": "xmlattr"}]},
        {"name": "internal-lib", "skip_reason": "Dependency not found on PyPI and could not be audited: internal-lib (0.1.0)"}
    ], "fixes": []}"#;

    fn check(ignore: &[&str]) -> VulnReportCheck {
        VulnReportCheck {
            file: "/ci/pip-audit.json".into(),
            max_age: HumanDuration(Duration::from_secs(86400)),
            ignore: ignore.iter().map(|s| s.to_string()).collect(),
            format: ReportFormat::PipAudit,
            min_severity: None,
        }
    }

    #[test]
    fn a_listed_vulnerability_fails_with_package_version_ids_and_fix() {
        let deps = parse_pip_audit(REPORT.as_bytes()).unwrap();
        let now = SystemTime::now();
        let report = check(&[]).decide(&deps, now - Duration::from_secs(3600), now);
        let outcome = report.outcome("vulnerabilities").unwrap();
        assert_eq!(outcome.cause, Some(Cause::Insecure));
        assert_eq!(
            outcome.reason,
            "/ci/pip-audit.json lists 1 known vulnerability in 1 of 2 audited dependencies: jinja2 3.1.3: \
             GHSA-h75v-3vvj-5mfj (CVE-2024-34064) fixed in 3.1.4 (1 dependencies skipped by pip-audit); want none outside `ignore`"
        );
        assert_eq!(report.outcome("age").unwrap().verdict, Verdict::Pass);
    }

    #[test]
    fn an_ignored_alias_passes_and_is_named() {
        let deps = parse_pip_audit(REPORT.as_bytes()).unwrap();
        let now = SystemTime::now();
        let report = check(&["CVE-2024-34064"]).decide(&deps, now, now);
        let outcome = report.outcome("vulnerabilities").unwrap();
        assert_eq!(outcome.verdict, Verdict::Pass, "{}", outcome.reason);
        assert!(outcome.reason.contains("1 ignored: GHSA-h75v-3vvj-5mfj"), "{}", outcome.reason);
        assert_eq!(report.samples[0].gauge_value(), Some(0.0));
    }

    #[test]
    fn an_old_report_fails_its_age() {
        let now = SystemTime::now();
        let report = check(&[]).decide(&[], now - Duration::from_secs(3 * 86400), now);
        let outcome = report.outcome("age").unwrap();
        assert_eq!(outcome.cause, Some(Cause::Expired));
        assert_eq!(outcome.reason, "/ci/pip-audit.json was written 3d ago; want at most 1d");
        let vulnerabilities = report.outcome("vulnerabilities").unwrap();
        assert_eq!(vulnerabilities.cause, Some(Cause::Expired), "an old clean audit vouches for nothing");
        assert_eq!(
            vulnerabilities.reason,
            "/ci/pip-audit.json lists no known vulnerability in 0 audited dependencies, but was written 3d ago; want at most 1d"
        );
    }

    #[test]
    fn many_vulnerable_packages_are_listed_up_to_a_bound() {
        let deps: Vec<Dependency> = (0..8)
            .map(|i| Dependency {
                name: format!("pkg{i}"),
                version: Some("1.0".into()),
                vulns: vec![Vulnerability {
                    id: format!("PYSEC-2024-{i}"),
                    fix_versions: vec![],
                    aliases: vec![],
                    severity: None,
                }],
                skip_reason: None,
            })
            .collect();
        let now = SystemTime::now();
        let outcome = check(&[]).decide(&deps, now, now).outcome("vulnerabilities").unwrap().clone();
        assert!(
            outcome.reason.contains("pkg4 1.0: PYSEC-2024-4 no fix released; and 3 more packages"),
            "{}",
            outcome.reason
        );
        assert!(!outcome.reason.contains("pkg5"), "{}", outcome.reason);
    }

    const OSV: &str = r#"{"results": [{"source": {"path": "/src/requirements.txt", "type": "lockfile"}, "packages": [
        {"package": {"name": "jinja2", "version": "3.1.3", "ecosystem": "PyPI"},
         "vulnerabilities": [{"id": "GHSA-h75v-3vvj-5mfj", "aliases": ["CVE-2024-34064"],
           "affected": [{"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.4"}]}]}]}],
         "groups": [{"ids": ["GHSA-h75v-3vvj-5mfj"], "aliases": ["CVE-2024-34064", "GHSA-h75v-3vvj-5mfj"], "max_severity": "5.4"}]},
        {"package": {"name": "requests", "version": "2.31.0", "ecosystem": "PyPI"},
         "vulnerabilities": [{"id": "GHSA-9wx4-h78v-vm56", "aliases": ["CVE-2024-35195"]}],
         "groups": [{"ids": ["GHSA-9wx4-h78v-vm56"], "max_severity": ""}]}]}]}"#;

    #[test]
    fn osv_scanner_groups_carry_a_score_that_min_severity_filters() {
        let deps = parse_osv_scanner(OSV.as_bytes()).unwrap();
        assert_eq!(deps[0].vulns[0].severity, Some(5.4));
        assert_eq!(deps[0].vulns[0].fix_versions, ["3.1.4"]);
        assert_eq!(deps[0].vulns[0].aliases, ["CVE-2024-34064"]);
        let mut check = check(&[]);
        check.format = ReportFormat::OsvScanner;
        check.min_severity = Some(7.0);
        let now = SystemTime::now();
        let outcome = check.decide(&deps, now, now).outcome("vulnerabilities").unwrap().clone();
        // The unscored one still counts: nothing says it is low.
        assert_eq!(
            outcome.reason,
            "/ci/pip-audit.json lists 1 known vulnerability in 1 of 2 audited dependencies: requests 2.31.0: \
             GHSA-9wx4-h78v-vm56 (CVE-2024-35195) no fix released (1 below severity 7); want none outside `ignore`"
        );
        check.min_severity = Some(5.0);
        let outcome = check.decide(&deps, now, now).outcome("vulnerabilities").unwrap().clone();
        assert!(
            outcome.reason.contains("jinja2 3.1.3: GHSA-h75v-3vvj-5mfj (CVE-2024-34064) CVSS 5.4 fixed in 3.1.4"),
            "{}",
            outcome.reason
        );
        assert_eq!(
            parse_osv_scanner(REPORT.as_bytes()).unwrap_err(),
            "unexpected shape (no `results` list at the top)"
        );
    }

    #[test]
    fn min_severity_is_refused_for_pip_audit() {
        let mut check = check(&[]);
        check.min_severity = Some(7.0);
        assert_eq!(check.validate("vulnerabilities").unwrap_err().key, "min_severity");
        check.format = ReportFormat::OsvScanner;
        assert!(check.validate("vulnerabilities").is_ok());
        check.min_severity = Some(11.0);
        assert_eq!(check.validate("vulnerabilities").unwrap_err().message, "11 is not a CVSS score from 0 to 10");
    }

    #[test]
    fn bad_reports_say_what_is_wrong() {
        assert!(parse_pip_audit(br#"{"dependencies": [{"name": "x""#).unwrap_err().starts_with("invalid JSON (EOF"));
        assert_eq!(
            parse_pip_audit(br#"{"results": []}"#).unwrap_err(),
            "unexpected shape (no `dependencies` list at the top)"
        );
        let missing_name = parse_pip_audit(br#"{"dependencies": [{"version": "1"}]}"#).unwrap_err();
        assert!(missing_name.contains("missing field `name`"), "{missing_name}");
        assert!(parse_pip_audit(b"42").unwrap_err().starts_with("unexpected shape"));
        assert_eq!(parse_pip_audit(br#"[{"name": "a", "version": "1", "vulns": []}]"#).unwrap().len(), 1);
    }
}
