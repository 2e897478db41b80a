//! Run: `cargo run --release --example item_footprint` (docs/benchmarks.md, issue 17 round 3).
//! The live heap (glibc `mallinfo2().uordblks`) per item of 10,000 `tcp_port` items: the decoded
//! config, the store installed from it, after one round of verdicts and after a full history of
//! rounds, and what stays once the config is dropped (the daemon drops it after the install).
use std::time::{Duration, SystemTime};

use checklist_exporter::model::Outcome;
use checklist_exporter::state::{Store, HISTORY_LEN};

fn live_heap() -> i64 {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    unsafe { libc::mallinfo2().uordblks as i64 }
}

fn main() {
    let n: i64 = 10_000;
    let mut text = String::from("[settings]\nmax_concurrent_checks = 4\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.{}.{}:9\"\nexpect = \"closed\"\n  [[checks.items]]\n  id = \"net.port_{i}\"\n  section = \"Section {}\"\n  title = \"Port {i} closed\"\n  severity = \"critical\"\n",
            i / 250 + 1, i % 250 + 1, i % 12
        ));
    }
    let start = live_heap();
    let config = checklist_exporter::config::parse("bench.toml", &text, Vec::new()).unwrap();
    drop(text);
    let parsed = live_heap();
    let store = Store::new();
    store.install(&config);
    let installed = live_heap();
    let round = |store: &Store| {
        for check in &config.checks {
            let outcomes = vec![Outcome::pass("127.0.0.1:9 refused the connection, as wanted (closed)")];
            store.record(check, check.fingerprint(), outcomes, Vec::new(), SystemTime::now(), Duration::from_millis(1));
        }
    };
    round(&store);
    let one_round = live_heap();
    for _ in 1..HISTORY_LEN {
        round(&store);
    }
    let full = live_heap();
    assert_eq!(store.read().items[0].history.len(), HISTORY_LEN);
    drop(config);
    let kept = live_heap();
    let per_item = |bytes: i64| bytes / n;
    println!(
        "items={n} config_per_item={} store_installed_per_item={} one_round_per_item={} full_history_per_item={} kept_without_config_per_item={}",
        per_item(parsed - start),
        per_item(installed - parsed),
        per_item(one_round - parsed),
        per_item(full - parsed),
        per_item(kept - start),
    );
}
