//! The docs promise what the code does: every metric family and every check kind is documented.

use checklist_exporter::checks::{all_families, KIND_NAMES};
use checklist_exporter::web::metrics::CORE_FAMILIES;

fn read(path: &str) -> String {
    std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn every_metric_family_is_in_the_metrics_reference() {
    let reference = read("docs/metrics.md");
    for name in CORE_FAMILIES.iter().copied().chain(all_families().iter().map(|f| f.name)) {
        assert!(reference.contains(&format!("`{name}")), "docs/metrics.md does not document {name}");
    }
}

#[test]
fn every_check_kind_is_in_the_configuration_reference() {
    let reference = read("docs/configuration.md");
    for kind in KIND_NAMES {
        assert!(reference.contains(&format!("### `{kind}`")), "docs/configuration.md has no section for {kind}");
    }
}

#[test]
fn the_readme_names_the_test_command_that_ci_runs() {
    let readme = read("README.md");
    let ci = read(".ci/run");
    assert!(readme.contains("bash tests/run.sh") && ci.contains("bash tests/run.sh"));
}
