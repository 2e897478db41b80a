//! Every kind in the registry (`src/checks/mod.rs`) is usable and documented, so that adding a
//! family is one file and one registry line plus its documentation (`docs/development.md`):
//! each kind's section in `docs/configuration.md` shows `[[checks]]` examples that decode, and
//! for every aspect of the kind one of them loads with an item deciding it; its value families are in `docs/metrics.md`, and the
//! config error for an unknown kind lists it.

use checklist_exporter::checks::{CheckKind, KIND_NAMES};
use checklist_exporter::config;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The text of the `### \`kind\`` section of the configuration reference.
fn section<'a>(reference: &'a str, kind: &str) -> &'a str {
    let heading = format!("### `{kind}`\n");
    let start = reference.find(&heading).unwrap_or_else(|| panic!("docs/configuration.md has no section for {kind}"));
    let body = &reference[start + heading.len()..];
    let end = body.find("\n### ").or_else(|| body.find("\n## ")).unwrap_or(body.len());
    &body[..end]
}

/// The `[[checks]]` tables of `kind` in the TOML examples of its section.
fn examples(kind: &str, section: &str) -> Vec<toml::Table> {
    let mut tables = Vec::new();
    for block in section.split("```toml\n").skip(1) {
        let text = &block[..block.find("```").unwrap_or(block.len())];
        let document: toml::Table = text.parse().unwrap_or_else(|err| panic!("a {kind} example is not TOML: {err}"));
        let checks = document.get("checks").and_then(|c| c.as_array()).cloned().unwrap_or_default();
        tables.extend(
            checks
                .into_iter()
                .filter_map(|check| check.as_table().cloned())
                .filter(|check| check.get("kind").and_then(|k| k.as_str()) == Some(kind)),
        );
    }
    assert!(!tables.is_empty(), "the section for {kind} has no ```toml example with a [[checks]] table of its kind");
    tables
}

/// Loads `table` through the config loader with one item deciding `aspect`.
fn load_with_item(kind: &str, table: &toml::Table, aspect: &str) -> Result<(), String> {
    let mut table = table.clone();
    let mut item = toml::Table::new();
    item.insert("id".into(), format!("example.{aspect}").into());
    item.insert("section".into(), "Example".into());
    item.insert("title".into(), format!("{kind} decides {aspect}").into());
    item.insert("severity".into(), "warning".into());
    item.insert("decides".into(), aspect.into());
    table.insert("items".into(), toml::Value::Array(vec![toml::Value::Table(item)]));
    let mut document = toml::Table::new();
    document.insert("checks".into(), toml::Value::Array(vec![toml::Value::Table(table)]));
    let text = toml::to_string(&document).map_err(|err| err.to_string())?;
    let loaded =
        config::parse(&format!("docs/configuration.md ({kind})"), &text, Vec::new()).map_err(|err| err.to_string())?;
    assert_eq!(loaded.checks.len(), 1);
    assert_eq!(loaded.checks[0].kind.name(), kind);
    Ok(())
}

#[test]
fn every_registered_kind_has_documented_examples_that_decide_each_of_its_aspects() {
    let reference = read("docs/configuration.md");
    for kind in KIND_NAMES {
        let tables = examples(kind, section(&reference, kind));
        let mut aspects: &[&str] = &[];
        for table in &tables {
            let mut params = table.clone();
            for key in ["kind", "items", "interval", "timeout", "enabled"] {
                params.remove(key);
            }
            let decoded = CheckKind::decode(kind, toml::Value::Table(params))
                .unwrap_or_else(|err| panic!("a {kind} example does not decode: {err}"));
            assert_eq!(decoded.name(), *kind);
            aspects = decoded.aspects();
        }
        assert!(!aspects.is_empty(), "{kind} decides no aspect");
        for aspect in aspects {
            let refusals: Vec<String> =
                tables.iter().filter_map(|table| load_with_item(kind, table, aspect).err()).collect();
            assert!(
                refusals.len() < tables.len(),
                "no {kind} example in docs/configuration.md can decide `{aspect}`: {refusals:?}"
            );
        }
    }
}

#[test]
fn the_config_error_for_an_unknown_kind_lists_every_registered_kind_and_group() {
    let text = "[[checks]]\nkind = \"no_such_kind\"\n  [[checks.items]]\n  id = \"a\"\n  section = \"S\"\n  title = \"T\"\n  severity = \"info\"\n";
    let err = config::parse("t.toml", text, Vec::new()).unwrap_err().to_string();
    let listed: Vec<&str> = err.rsplit_once("one of ").unwrap().1.split(", ").collect();
    for kind in KIND_NAMES.iter().chain(&["group"]) {
        assert!(listed.contains(kind), "{kind} is not listed in: {err}");
    }
    assert_eq!(listed.len(), KIND_NAMES.len() + 1, "{err}");
}

#[test]
fn every_registered_kind_names_itself_and_decodes_by_that_name_only() {
    for kind in KIND_NAMES {
        let err = CheckKind::decode(&format!("{kind}_x"), toml::Value::Table(toml::Table::new())).unwrap_err();
        assert!(err.starts_with("kind: unknown kind"), "{err}");
    }
    let mut sorted = KIND_NAMES.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted.len(), KIND_NAMES.len(), "a kind name is registered twice");
}
