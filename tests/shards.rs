//! Replicas through the real binary: two daemons with `--shard.index 0/1 --shard.count 2` on one
//! config export disjoint item sets whose union is every item, each item where Prometheus's
//! `hashmod` puts it (a group with its members); `check` and `baseline` on a shard see only its
//! items; and a shard index out of range is refused.

use std::collections::BTreeSet;
use std::process::Command;

mod common;
use checklist_exporter::config::shard::hashmod;
use common::{item, Daemon, BINARY};

/// 24 cpu items (one check whose items fall on both shards), two disk items and a group of them.
fn config() -> String {
    let mut text = String::from("[[checks]]\nkind = \"cpu\"\nmin_cores = 1\ninterval = \"1s\"\n");
    for n in 0..24 {
        text.push_str(&item(&format!("cpu.core_{n}"), "warning", Some("minimum")));
    }
    text.push_str("[[checks]]\nkind = \"disk\"\npath = \"/\"\nmin_free_bytes = 1\ninterval = \"1s\"\n");
    text.push_str(&item("disk.root_a", "critical", Some("minimum")));
    text.push_str(&item("disk.root_b", "critical", Some("minimum")));
    text.push_str("[[checks]]\nkind = \"group\"\nmembers = [\"disk.root_a\", \"disk.root_b\"]\n");
    text.push_str(&item("disk.ready", "critical", None));
    text
}

fn all_ids() -> BTreeSet<String> {
    let mut ids: BTreeSet<String> = (0..24).map(|n| format!("cpu.core_{n}")).collect();
    ids.extend(["disk.root_a", "disk.root_b", "disk.ready"].map(String::from));
    ids
}

/// The shard of 2 an id is expected on: its own id's, or its group's for the group's members.
fn expected_shard(id: &str) -> u64 {
    if id.starts_with("disk.") {
        hashmod("disk.ready", 2)
    } else {
        hashmod(id, 2)
    }
}

#[test]
fn two_shards_export_disjoint_items_whose_union_is_every_item() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config()).unwrap();
    let shards: Vec<Daemon> = (0..2)
        .map(|index| Daemon::start_with(&path, &["--shard.index", &index.to_string(), "--shard.count", "2"]))
        .collect();
    let mut exported = Vec::new();
    for (index, daemon) in shards.iter().enumerate() {
        daemon.wait_ready();
        let metrics = daemon.metrics();
        let index_label = index.to_string();
        assert_eq!(
            metrics.value("checklist_shard_info", &[("index", index_label.as_str()), ("count", "2")]),
            Some(1.0),
            "shard {index} does not say which shard it is"
        );
        let info: BTreeSet<String> = metrics.label_values("checklist_item_info", "id").into_iter().collect();
        // Ready means every item has a verdict: each exported item was evaluated here.
        let evaluated: BTreeSet<String> = metrics.label_values("checklist_item_passing", "id").into_iter().collect();
        assert_eq!(info, evaluated, "shard {index} exports items it did not evaluate");
        for id in &info {
            assert_eq!(expected_shard(id), index as u64, "shard {index} exports {id}");
        }
        exported.push(info);
    }
    assert!(exported.iter().all(|ids| !ids.is_empty()), "a shard exports nothing: {exported:?}");
    let overlap: Vec<&String> = exported[0].intersection(&exported[1]).collect();
    assert!(overlap.is_empty(), "both shards export {overlap:?}");
    let union: BTreeSet<String> = exported[0].union(&exported[1]).cloned().collect();
    assert_eq!(union, all_ids());
    // The group was derived on its shard from members evaluated there.
    let group_shard = &shards[hashmod("disk.ready", 2) as usize];
    assert_eq!(group_shard.item("disk.ready")["reason"], "all 2 items pass");
}

#[test]
fn a_shard_index_at_or_above_the_count_is_refused_with_both_flags_named() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config()).unwrap();
    for command in [&["--web.listen-address", "127.0.0.1:0"][..], &["check"][..]] {
        let output = Command::new(BINARY)
            .args(command)
            .arg("--config.file")
            .arg(&path)
            .args(["--shard.index", "2", "--shard.count", "2"])
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        assert_eq!(
            String::from_utf8_lossy(&output.stderr).trim(),
            "--shard.index 2 is not below --shard.count 2: the shards of 2 are numbered 0 to 1"
        );
    }
}

#[test]
fn check_on_a_shard_evaluates_only_that_shards_items() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config()).unwrap();
    let mut seen = BTreeSet::new();
    for index in 0..2u64 {
        let output = Command::new(BINARY)
            .args(["check", "--format", "json", "--config.file"])
            .arg(&path)
            .args(["--shard.index", &index.to_string(), "--shard.count", "2"])
            .output()
            .unwrap();
        let document: serde_json::Value = serde_json::from_slice(&output.stdout)
            .unwrap_or_else(|_| panic!("no JSON; stderr: {}", String::from_utf8_lossy(&output.stderr)));
        for item in document["items"].as_array().unwrap() {
            let id = item["id"].as_str().unwrap().to_string();
            assert_eq!(expected_shard(&id), index, "check on shard {index} lists {id}");
            assert!(seen.insert(id.clone()), "{id} listed by both shards");
        }
    }
    assert_eq!(seen, all_ids());
}

#[test]
fn a_baseline_taken_on_a_shard_records_only_that_shards_items() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("checklist.toml");
    std::fs::write(&path, config()).unwrap();
    for index in 0..2u64 {
        let baseline = dir.path().join(format!("baseline-{index}.json"));
        let output = Command::new(BINARY)
            .arg("baseline")
            .arg("--config.file")
            .arg(&path)
            .arg("--baseline.file")
            .arg(&baseline)
            .args(["--shard.index", &index.to_string(), "--shard.count", "2"])
            .output()
            .unwrap();
        assert!(output.status.success(), "baseline on shard {index}: {}", String::from_utf8_lossy(&output.stderr));
        let document: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&baseline).unwrap()).unwrap();
        let ids: BTreeSet<String> =
            document["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
        let expected: BTreeSet<String> = all_ids().into_iter().filter(|id| expected_shard(id) == index).collect();
        assert_eq!(ids, expected, "the baseline of shard {index}");
    }
}
