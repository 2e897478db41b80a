//! `checklist-exporter attest ITEM_ID --by NAME`: records that a person confirmed a checklist
//! line no program can decide.

use std::path::Path;

use crate::config::Decider;
use crate::persist::attestations::{expires, format_date, now, record};

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
    let Some((decider, _)) = config.items().find(|(_, item)| item.id == item_id) else {
        eprintln!("{}: no item has the id `{item_id}`", config_file.display());
        return super::EXIT_NOT_READY;
    };
    let Decider::Check(check) = decider else { return not_attested(item_id, decider.kind_name()) };
    let Some((file, validity)) = check.kind.attestation() else { return not_attested(item_id, check.kind.name()) };
    let attestation = now(by, note);
    match record(file, item_id, attestation.clone()) {
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

fn not_attested(item_id: &str, kind: &str) -> i32 {
    eprintln!(
        "item {item_id} is decided by a {kind} check, not by attestation; only items of `attested` checks can be attested"
    );
    super::EXIT_NOT_READY
}
