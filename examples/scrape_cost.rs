//! Run: `cargo run --release --example scrape_cost` (docs/metrics.md quotes its figures).
//! CPU time of one /metrics rendering at 10,000 items: with the cache missed (the store changed),
//! hit (plain and gzip), and the time the store's lock is held for a snapshot.
use std::time::{Duration, SystemTime};

use checklist_exporter::model::Outcome;
use checklist_exporter::state::Store;
use checklist_exporter::web::metrics::{Exposition, Format};

fn thread_cpu() -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes one timespec into `ts`.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

fn per_call(rounds: u32, mut f: impl FnMut()) -> f64 {
    let start = thread_cpu();
    for _ in 0..rounds {
        f();
    }
    (thread_cpu() - start).as_secs_f64() * 1e3 / f64::from(rounds)
}

fn main() {
    let n = 10_000;
    let mut text = String::from("[settings]\nmax_concurrent_checks = 4\n");
    for i in 0..n {
        text.push_str(&format!(
            "[[checks]]\nkind = \"tcp_port\"\naddress = \"127.0.{}.{}:9\"\nexpect = \"closed\"\n  [[checks.items]]\n  id = \"net.port_{i}\"\n  section = \"Section {}\"\n  title = \"Port {i} closed\"\n  severity = \"critical\"\n",
            i / 250 + 1, i % 250 + 1, i % 12
        ));
    }
    let config = checklist_exporter::config::parse("bench.toml", &text, Vec::new()).unwrap();
    let store = Store::new();
    store.install(&config);
    for check in &config.checks {
        let outcomes = vec![Outcome::pass("127.0.0.1:9 refused the connection, as wanted (closed)")];
        store.record(check, check.fingerprint(), outcomes, Vec::new(), SystemTime::now(), Duration::from_millis(1));
    }
    let exposition = Exposition::new(store.clone());
    let plain = exposition.render(Format::Text);
    let gzip = exposition.render_gzip(Format::Text);
    println!("items={n} body_bytes={} gzip_bytes={}", plain.len(), gzip.len());
    let miss = per_call(20, || {
        store.set_reload_succeeded();
        exposition.render(Format::Text);
    });
    let miss_gzip = per_call(20, || {
        store.set_reload_succeeded();
        exposition.render_gzip(Format::Text);
    });
    let hit = per_call(200, || {
        exposition.render(Format::Text);
    });
    let hit_gzip = per_call(200, || {
        exposition.render_gzip(Format::Text);
    });
    let snapshot = per_call(50, || {
        drop(store.snapshot());
    });
    println!("cpu_ms_per_scrape: store_changed_plain={miss:.2} store_changed_gzip={miss_gzip:.2} unchanged_plain={hit:.3} unchanged_gzip={hit_gzip:.3}");
    println!(
        "lock_held_ms: snapshot={snapshot:.2} (before: the whole store-changed encoding, held under the read lock)"
    );
}
