//! `checklist-exporter attest ITEM_ID --by NAME [--environment NAME]`: records that a person confirmed a checklist
//! line no program can decide. `POST /api/v1/attestations` records through [`record_for_api`],
//! the same lookup and the same store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::StatusCode;

use crate::config::{Config, Decider};
use crate::persist::attestations::{expires, format_date, now, record_from, Source};
use crate::web::attestations::{AttestationRequest, Recorded, Refusal};

/// `checklist-exporter attest ITEM_ID --by NAME [--note TEXT] [--environment NAME]`: finds the
/// item's `attested` check in the config (in `environment` when named) and records the
/// attestation in its file. Prints what it did; returns the exit code (0 recorded, 1 refused,
/// 2 the config is invalid).
pub fn command(config_file: &Path, item_id: &str, environment: Option<&str>, by: &str, note: Option<String>) -> i32 {
    let config = match crate::config::load(config_file) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return super::EXIT_BAD_CONFIG;
        }
    };
    let target = match attested_check(&config, config_file, item_id, environment, "--environment") {
        Ok(found) => found,
        Err(refused) => {
            eprintln!("{}", refused.message());
            return super::EXIT_NOT_READY;
        }
    };
    let attestation = now(by, note);
    match record_from(&target.file, item_id, attestation.clone(), Source::Cli, &target.environments) {
        Ok(()) => {
            let expires = attestation.time().map(|at| format_date(expires(at, target.validity))).unwrap_or_default();
            println!(
                "recorded: {item_id}{} attested by {} at {}; valid until {expires} ({})",
                target.serves(),
                attestation.by,
                attestation.at,
                target.file.display()
            );
            0
        }
        Err(err) => {
            eprintln!("{err}");
            1
        }
    }
}

/// Why an item cannot be attested.
enum NotAttestable {
    UnknownItem(String),
    UnknownEnvironment(String),
    /// Not decided by attestation, or which environment's file is meant is not said: the
    /// request's field at fault and why.
    Refused(&'static str, String),
}

impl NotAttestable {
    fn message(&self) -> &str {
        match self {
            NotAttestable::UnknownItem(message)
            | NotAttestable::UnknownEnvironment(message)
            | NotAttestable::Refused(_, message) => message,
        }
    }
}

/// Where an attestation of an item goes.
#[derive(Debug, PartialEq)]
struct Target {
    file: PathBuf,
    /// The shortest validity of the instances it serves.
    validity: Duration,
    /// The environments whose instance of the item reads `file` (empty without environments):
    /// the file keys attestations by item id, so one entry serves them all.
    environments: Vec<String>,
}

impl Target {
    /// What the printed confirmation says about environments: ` (staging)`, or nothing.
    fn serves(&self) -> String {
        match self.environments.as_slice() {
            [] => String::new(),
            [one] => format!(" ({one})"),
            several => format!(" (for {}, which share one attestation file)", several.join(", ")),
        }
    }
}

/// The attestation file and validity of the `attested` check deciding `item_id`, in
/// `environment` when named. Without a name, a config with environments must use one file for
/// every instance of the item: otherwise which environment is signed off is not said.
/// `flag` names the environment's option in messages (`--environment`, or the API's field).
fn attested_check(
    config: &Config,
    config_file: &Path,
    item_id: &str,
    environment: Option<&str>,
    flag: &str,
) -> Result<Target, NotAttestable> {
    if let Some(name) = environment {
        if config.environments.is_empty() {
            return Err(NotAttestable::Refused(
                "environment",
                format!("{flag} {name}: the config declares no environments; attest {item_id} without it"),
            ));
        }
        if !config.environments.iter().any(|declared| declared == name) {
            return Err(NotAttestable::UnknownEnvironment(format!(
                "{flag} {name}: the config declares no such environment; declared: {}",
                config.environments.join(", ")
            )));
        }
    }
    let instances: Vec<_> = config
        .items()
        .filter(|(_, item)| item.id == item_id && environment.is_none_or(|name| item.environment_name() == name))
        .collect();
    if instances.is_empty() {
        let within = environment.map(|name| format!(" in environment {name}")).unwrap_or_default();
        return Err(NotAttestable::UnknownItem(format!(
            "{}: no item has the id `{item_id}`{within}",
            config_file.display()
        )));
    }
    let mut found: Vec<(String, &Path, Duration)> = Vec::with_capacity(instances.len());
    for (decider, item) in instances {
        let not_attested = |kind: &str| {
            NotAttestable::Refused("item", format!(
                "item {item_id} is decided by a {kind} check, not by attestation; only items of `attested` checks can be attested"
            ))
        };
        let Decider::Check(check) = decider else { return Err(not_attested(decider.kind_name())) };
        let Some((file, validity)) = check.kind.attestation() else { return Err(not_attested(check.kind.name())) };
        found.push((item.environment_name().to_string(), file, validity));
    }
    let file = found[0].1;
    if let Some((other, _, _)) = found.iter().find(|(_, other_file, _)| *other_file != file) {
        let each: Vec<String> = found.iter().map(|(name, file, _)| format!("{name} ({})", file.display())).collect();
        return Err(NotAttestable::Refused("environment", format!(
            "item {item_id} is attested per environment, each in its own file: {}; name the one signed off with {flag} {} or {flag} {other}",
            each.join(", "),
            found[0].0
        )));
    }
    let validity = found.iter().map(|(_, _, validity)| *validity).min().unwrap_or_default();
    let environments = found.into_iter().map(|(name, _, _)| name).filter(|name| !name.is_empty()).collect();
    Ok(Target { file: file.to_path_buf(), validity, environments })
}

/// Records an attestation asked for through the API, against the config file as `attest`
/// reads it: 404 for an unknown item, 422 for an item no attestation decides or a `valid_for`
/// longer than the check's validity, 500 when the file cannot be written.
pub fn record_for_api(config_file: &Path, request: AttestationRequest) -> Result<Recorded, Refusal> {
    let config = crate::config::load(config_file)
        .map_err(|err| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, None, err.to_string()))?;
    let target = attested_check(&config, config_file, &request.item, request.environment.as_deref(), "environment")
        .map_err(|refused| match refused {
            NotAttestable::UnknownItem(message) => Refusal::new(StatusCode::NOT_FOUND, Some("item"), message),
            NotAttestable::UnknownEnvironment(message) => {
                Refusal::new(StatusCode::NOT_FOUND, Some("environment"), message)
            }
            NotAttestable::Refused(field, message) => {
                Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, Some(field), message)
            }
        })?;
    let validity = target.validity;
    if let Some((written, own)) = &request.valid_for {
        if *own > validity {
            return Err(Refusal::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Some("valid_for"),
                format!(
                    "{written} is longer than the validity of {}'s check ({}); an attestation may only shorten it",
                    request.item,
                    crate::support::units::format_duration(validity)
                ),
            ));
        }
    }
    let mut attestation = now(&request.by, request.note);
    attestation.valid_for = request.valid_for.map(|(written, _)| written);
    attestation.evidence_url = request.evidence_url;
    record_from(&target.file, &request.item, attestation.clone(), Source::Api, &target.environments)
        .map_err(|err| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, None, err.to_string()))?;
    let at = attestation.time().map_err(|err| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, None, err))?;
    let lasts = attestation.validity(validity).unwrap_or(validity);
    Ok(Recorded {
        item: request.item,
        environments: target.environments,
        by: attestation.by,
        at: attestation.at,
        valid_until: crate::persist::attestations::format_time(expires(at, lasts)),
        evidence_url: attestation.evidence_url,
    })
}
