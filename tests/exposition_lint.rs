//! `promtool check metrics` on a scrape of every shipped config: a metric name that breaks the
//! Prometheus conventions (a gauge ending in `_count`, a counter without `_total`) fails here
//! for whichever config brings its family, not only for the default one.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{on_loopback, promtool_complaints, wait_for, Daemon};

#[test]
fn every_shipped_config_exports_names_promtool_accepts() {
    let config_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut configs: Vec<_> = std::fs::read_dir(&config_dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "toml"))
        .collect();
    configs.sort();
    assert!(configs.len() >= 3, "the shipped configs: {configs:?}");
    for path in configs {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join(&name);
        std::fs::write(&config, on_loopback(&std::fs::read_to_string(&path).unwrap())).unwrap();
        let daemon = Daemon::start_with(&config, &[]);
        // Value families appear once their checks have run: wait for a whole first round.
        wait_for(&format!("a first evaluation of every item of {name}"), Duration::from_secs(180), || {
            let items: serde_json::Value = daemon.get("/api/v1/items").json().unwrap();
            items["items"].as_array().unwrap().iter().all(|item| item["state"] != "pending")
        });
        let exposition = daemon.metrics_text();
        assert!(exposition.contains("checklist_item_passing"), "{name}: {exposition}");
        if let Some(complaints) = promtool_complaints(&exposition) {
            panic!("promtool check metrics on a scrape of {name}:\n{complaints}");
        }
    }
}
