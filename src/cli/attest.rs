//! `checklist-exporter attest ITEM_ID --by NAME`: records that a person confirmed a checklist
//! line no program can decide. `POST /api/v1/attestations` records through [`record_for_api`],
//! the same lookup and the same store.

use std::path::{Path, PathBuf};
use std::time::Duration;

use hyper::StatusCode;

use crate::config::{Config, Decider};
use crate::persist::attestations::{expires, format_date, now, record, record_from, Source};
use crate::web::attestations::{AttestationRequest, Recorded, Refusal};

/// `checklist-exporter attest ITEM_ID --by NAME [--note TEXT]`: finds the item's `attested`
/// check in the config and records the attestation in its file. Prints what it did; returns
/// the exit code (0 recorded, 1 refused, 2 the config is invalid).
pub fn command(config_file: &Path, item_id: &str, by: &str, note: Option<String>) -> i32 {
    let config = match crate::config::load(config_file) {
        Ok(config) => config,
        Err(err) => {
            eprintln!("{err}");
            return super::EXIT_BAD_CONFIG;
        }
    };
    let (file, validity) = match attested_check(&config, config_file, item_id) {
        Ok(found) => found,
        Err(refused) => {
            eprintln!("{}", refused.message());
            return super::EXIT_NOT_READY;
        }
    };
    let attestation = now(by, note);
    match record(&file, item_id, attestation.clone()) {
        Ok(()) => {
            let expires = attestation.time().map(|at| format_date(expires(at, validity))).unwrap_or_default();
            println!(
                "recorded: {item_id} attested by {} at {}; valid until {expires} ({})",
                attestation.by,
                attestation.at,
                file.display()
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
    OtherKind(String),
}

impl NotAttestable {
    fn message(&self) -> &str {
        match self {
            NotAttestable::UnknownItem(message) | NotAttestable::OtherKind(message) => message,
        }
    }
}

/// The attestation file and validity of the `attested` check deciding `item_id`.
fn attested_check(config: &Config, config_file: &Path, item_id: &str) -> Result<(PathBuf, Duration), NotAttestable> {
    let Some((decider, _)) = config.items().find(|(_, item)| item.id == item_id) else {
        return Err(NotAttestable::UnknownItem(format!("{}: no item has the id `{item_id}`", config_file.display())));
    };
    let not_attested = |kind: &str| {
        NotAttestable::OtherKind(format!(
            "item {item_id} is decided by a {kind} check, not by attestation; only items of `attested` checks can be attested"
        ))
    };
    let Decider::Check(check) = decider else { return Err(not_attested(decider.kind_name())) };
    let Some((file, validity)) = check.kind.attestation() else { return Err(not_attested(check.kind.name())) };
    Ok((file.to_path_buf(), validity))
}

/// Records an attestation asked for through the API, against the config file as `attest`
/// reads it: 404 for an unknown item, 422 for an item no attestation decides or a `valid_for`
/// longer than the check's validity, 500 when the file cannot be written.
pub fn record_for_api(config_file: &Path, request: AttestationRequest) -> Result<Recorded, Refusal> {
    let config = crate::config::load(config_file)
        .map_err(|err| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, None, err.to_string()))?;
    let (file, validity) = attested_check(&config, config_file, &request.item).map_err(|refused| match refused {
        NotAttestable::UnknownItem(message) => Refusal::new(StatusCode::NOT_FOUND, Some("item"), message),
        NotAttestable::OtherKind(message) => Refusal::new(StatusCode::UNPROCESSABLE_ENTITY, Some("item"), message),
    })?;
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
    record_from(&file, &request.item, attestation.clone(), Source::Api)
        .map_err(|err| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, None, err.to_string()))?;
    let at = attestation.time().map_err(|err| Refusal::new(StatusCode::INTERNAL_SERVER_ERROR, None, err))?;
    let lasts = attestation.validity(validity).unwrap_or(validity);
    Ok(Recorded {
        item: request.item,
        by: attestation.by,
        at: attestation.at,
        valid_until: crate::persist::attestations::format_time(expires(at, lasts)),
        evidence_url: attestation.evidence_url,
    })
}
