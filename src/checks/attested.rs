//! Items a person decides: the item passes while its latest attestation (recorded with
//! `checklist-exporter attest ID --by NAME`) is younger than its validity.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use serde::Deserialize;

use super::{subject, Check, CheckContext, KeyError};
use crate::model::{Cause, CheckResult, MetricFamily, MetricKind, Outcome, ProbeFailure, Report, Sample, Subject};
use crate::persist::attestations::{self, AttestError, Attestation, AttestationFile};
use crate::support::units::HumanDuration;

pub static ATTESTATION_TIMESTAMP: MetricFamily = MetricFamily {
    name: "checklist_attestation_timestamp_seconds",
    help: "When the item was last attested (Unix time).",
    kind: MetricKind::Gauge,
};

/// `kind = "attested"`: one item, decided by its attestation in `file`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttestedCheck {
    pub file: PathBuf,
    /// How long an attestation counts (`90d` for a quarterly disaster-recovery test).
    pub validity: HumanDuration,
    /// The id of the one item this check decides, filled in by the config loader: the
    /// attestation is recorded under it.
    #[serde(skip)]
    pub item_id: String,
    /// The config file this check came from, filled in by the config loader: the hint of a
    /// missing attestation names it, so that the printed command works when copied.
    #[serde(skip)]
    pub config_file: PathBuf,
    /// The environment of the item, filled in by the config loader when the config declares
    /// environments: the printed command names it, since environments may keep their
    /// attestations in different files.
    #[serde(skip)]
    pub environment: Option<String>,
}

impl Check for AttestedCheck {
    const KIND: &'static str = "attested";
    const ASPECTS: &'static [&'static str] = &["attested"];
    const FAMILIES: &'static [&'static MetricFamily] = &[&ATTESTATION_TIMESTAMP];
    type State = ();

    fn validate(&self, _aspect: &str) -> Result<(), KeyError> {
        if !self.file.is_absolute() {
            return Err(KeyError::new("file", format!("`{}` is not an absolute path", self.file.display())));
        }
        if self.validity.0.is_zero() {
            return Err(KeyError::new("validity", "must be longer than 0s"));
        }
        Ok(())
    }

    fn target(&self) -> String {
        self.item_id.clone()
    }

    /// The attestation is recorded under the item's id, so the check decides exactly one.
    fn bind_items(&mut self, ids: &[&str]) -> Result<(), String> {
        match ids {
            [id] => {
                self.item_id = id.to_string();
                Ok(())
            }
            _ => Err("an attested check decides exactly one item; give each attested item its own check".to_string()),
        }
    }

    fn subject(&self) -> Option<Subject> {
        Some(Subject::Attestation(self.item_id.clone()))
    }

    async fn run(&self, ctx: &CheckContext, _state: &mut Self::State) -> CheckResult {
        let file = self.file.clone();
        let store = ctx.blocking().run(move || attestations::load(&file)).await?.map_err(|err| {
            let failure = match err {
                AttestError::Corrupt { .. } => ProbeFailure::new(Cause::Corrupt, err.to_string()),
                _ => ProbeFailure::new(Cause::Io, err.to_string()),
            };
            // An unreadable attestations file blocks every item recorded in it, not one person's.
            failure.about(subject::path(&self.file))
        })?;
        Ok(self.decide(&store, SystemTime::now()))
    }
}

impl AttestedCheck {
    /// The command that records this item's attestation, with the config file in use (quoted
    /// for a POSIX shell), ready to paste: `checklist-exporter attest ID --by NAME --config.file …`.
    pub fn attest_command(&self) -> String {
        let mut command = format!("checklist-exporter attest {} --by NAME", self.item_id);
        if let Some(environment) = &self.environment {
            command.push_str(&format!(" --environment {environment}"));
        }
        if !self.config_file.as_os_str().is_empty() {
            command.push_str(&format!(" --config.file {}", shell_quoted(&self.config_file.to_string_lossy())));
        }
        command
    }

    pub fn decide(&self, store: &AttestationFile, now: SystemTime) -> Report {
        let id = &self.item_id;
        let Some(attestation) = store.attestations.get(id) else {
            return Report::default().with(
                "attested",
                Outcome::fail(
                    Cause::Missing,
                    format!("no attestation recorded for {id}; record one with `{}`", self.attest_command()),
                ),
            );
        };
        let mut report = Report::default();
        let Ok(at) = attestation.time() else {
            return report.with(
                "attested",
                Outcome::error(Cause::Invalid, format!("the attestation of {id} has no valid time")),
            );
        };
        if let Ok(since_epoch) = at.duration_since(SystemTime::UNIX_EPOCH) {
            report =
                report.sample(Sample::new(&ATTESTATION_TIMESTAMP, since_epoch.as_secs_f64()).label("id", id.as_str()));
        }
        report.with("attested", decide_attestation(attestation, at, self.validity.0, now))
    }
}

/// `text` as one word for a POSIX shell: as it is when it holds only safe characters, else in
/// single quotes (a quote inside written `'\''`).
fn shell_quoted(text: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "/._-+:,@=%".contains(c);
    if !text.is_empty() && text.chars().all(safe) {
        text.to_string()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

/// Pass while `now` is within `validity` of the attestation time.
pub fn decide_attestation(attestation: &Attestation, at: SystemTime, validity: Duration, now: SystemTime) -> Outcome {
    let by = &attestation.by;
    // The file's load checked `valid_for`; an attestation may shorten the check's validity only.
    let validity = attestation.validity(validity).unwrap_or(validity);
    let expires = attestations::expires(at, validity);
    let note = attestation.note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default();
    // The page and the reports show the reason, so the link to the evidence travels in it.
    let evidence = attestation.evidence_url.as_deref().map(|url| format!("; evidence: {url}")).unwrap_or_default();
    // A minute of clock skew between the attesting machine and this one is not "the future".
    if at > now + Duration::from_secs(60) {
        return Outcome::fail(
            Cause::NotYetValid,
            format!("attestation by {by} is dated {}, in the future; is a clock wrong?", attestations::format_time(at)),
        );
    }
    if now >= expires {
        return Outcome::fail(
            Cause::Expired,
            format!(
                "attestation by {by} expired on {} (attested {}{note}){evidence}",
                attestations::format_date(expires),
                attestations::format_date(at)
            ),
        );
    }
    Outcome::pass(format!(
        "attested by {by} on {}{note}; valid until {}{evidence}",
        attestations::format_date(at),
        attestations::format_date(expires)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Verdict;

    const DAY: Duration = Duration::from_secs(86400);

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).unwrap()
    }

    fn attestation(time: &str) -> Attestation {
        Attestation {
            by: "alice".into(),
            at: time.into(),
            note: Some("DR drill #4".into()),
            valid_for: None,
            evidence_url: None,
        }
    }

    #[test]
    fn an_attestation_passes_within_its_validity_and_then_expires() {
        let a = attestation("2026-08-01T10:00:00Z");
        let within = decide_attestation(&a, a.time().unwrap(), 90 * DAY, at("2026-10-01T00:00:00Z"));
        assert_eq!(within, Outcome::pass("attested by alice on 2026-08-01 (DR drill #4); valid until 2026-10-30"));
        let after = decide_attestation(&a, a.time().unwrap(), 90 * DAY, at("2026-11-27T00:00:00Z"));
        assert_eq!(after.verdict, Verdict::Fail);
        assert_eq!(after.cause, Some(Cause::Expired));
        assert!(after.reason.starts_with("attestation by alice expired on 2026-10-30"), "{}", after.reason);
    }

    #[test]
    fn an_attestation_may_shorten_its_validity_and_names_its_evidence() {
        let mut a = attestation("2026-08-01T10:00:00Z");
        a.valid_for = Some("7d".into());
        a.evidence_url = Some("https://ci.example.org/runs/42".into());
        let outcome = decide_attestation(&a, a.time().unwrap(), 90 * DAY, at("2026-08-02T00:00:00Z"));
        assert_eq!(
            outcome,
            Outcome::pass(
                "attested by alice on 2026-08-01 (DR drill #4); valid until 2026-08-08; evidence: https://ci.example.org/runs/42"
            )
        );
        a.valid_for = Some("365d".into());
        let longer = decide_attestation(&a, a.time().unwrap(), 90 * DAY, at("2026-11-27T00:00:00Z"));
        assert_eq!(longer.cause, Some(Cause::Expired), "the check's validity is the most: {}", longer.reason);
    }

    #[test]
    fn a_future_attestation_is_not_trusted() {
        let a = attestation("2027-01-01T00:00:00Z");
        let outcome = decide_attestation(&a, a.time().unwrap(), 90 * DAY, at("2026-11-27T00:00:00Z"));
        assert_eq!(outcome.cause, Some(Cause::NotYetValid));
    }

    #[test]
    fn a_missing_attestation_says_how_to_record_one() {
        let check = AttestedCheck {
            file: "/x.json".into(),
            validity: HumanDuration(DAY),
            item_id: "ops.rollback".into(),
            config_file: "/etc/checklist exporter/it's.toml".into(),
            environment: None,
        };
        let report = check.decide(&AttestationFile::default(), SystemTime::now());
        let outcome = report.outcome("attested").unwrap();
        assert_eq!(outcome.cause, Some(Cause::Missing));
        assert_eq!(
            outcome.reason,
            "no attestation recorded for ops.rollback; record one with `checklist-exporter attest ops.rollback --by NAME --config.file '/etc/checklist exporter/it'\\''s.toml'`"
        );
        let staging = AttestedCheck { environment: Some("staging".into()), ..check };
        let report = staging.decide(&AttestationFile::default(), SystemTime::now());
        let reason = &report.outcome("attested").unwrap().reason;
        assert!(reason.ends_with("attest ops.rollback --by NAME --environment staging --config.file '/etc/checklist exporter/it'\\''s.toml'`"), "{reason}");
        assert_eq!(shell_quoted("/etc/checklist-exporter/checklist.toml"), "/etc/checklist-exporter/checklist.toml");
    }

    #[test]
    fn the_store_refuses_bad_versions_and_times() {
        assert!(attestations::parse(b"{\"version\":1,\"attestations\":{}}").is_ok());
        assert!(attestations::parse(b"{\"version\":2,\"attestations\":{}}").unwrap_err().contains("version 2"));
        let bad_time = br#"{"version":1,"attestations":{"a":{"by":"x","at":"yesterday"}}}"#;
        assert!(attestations::parse(bad_time).unwrap_err().starts_with("a: `at` is not an RFC 3339 time"));
        assert!(attestations::parse(b"{\"version\":1,\"attesta").is_err());
    }
}
