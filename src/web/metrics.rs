//! The `/metrics` exposition, rendered from the [`Store`] at scrape time by a prometheus-client
//! collector, so an item removed by a reload simply stops appearing. Rendering is cached per
//! store generation: scrapes between two evaluations cost a copy of bytes, not an encoding.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::config::Shard;
use crate::model::{MetricKind, Sample, SampleValue, Verdict};
use crate::state::{Evaluation, ItemRecord, Store};

/// Version and git revision, baked in at build time.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("CHECKLIST_EXPORTER_REVISION");

/// The families every exporter exposes whatever its config, as they appear on `/metrics`.
pub const CORE_FAMILIES: &[&str] = &[
    "checklist_build_info",
    "checklist_shard_info",
    "checklist_config_last_reload_successful",
    "checklist_config_last_reload_success_timestamp_seconds",
    "checklist_item_info",
    "checklist_item_not_applicable",
    "checklist_item_passing",
    "checklist_item_error",
    "checklist_item_failure_cause",
    "checklist_item_last_evaluation_timestamp_seconds",
    "checklist_item_evaluation_duration_seconds",
    "checklist_item_evaluations_total",
    "checklist_item_regressed",
    "checklist_baseline_timestamp_seconds",
    "checklist_baseline_file_readable",
];

/// The two exposition formats Prometheus negotiates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// `text/plain; version=0.0.4`, what every Prometheus and promtool read.
    Text,
    /// `application/openmetrics-text; version=1.0.0`, when the scraper asks for it.
    OpenMetrics,
}

impl Format {
    /// Picks OpenMetrics only when the `Accept` header names it, as Prometheus does when asked to.
    pub fn negotiate(accept: Option<&str>) -> Format {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Text,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Text => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Renders and caches the exposition.
#[derive(Debug)]
pub struct Exposition {
    store: Arc<Store>,
    registry: Registry,
    cache: Mutex<[Option<(u64, Bytes)>; 2]>,
}

impl Exposition {
    pub fn new(store: Arc<Store>) -> Self {
        Exposition::with_shard(store, Shard::WHOLE)
    }

    /// The exposition of a replica that evaluates `shard` of the items.
    pub fn with_shard(store: Arc<Store>, shard: Shard) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(StoreCollector { store: store.clone(), shard }));
        Exposition { store, registry, cache: Mutex::new([None, None]) }
    }

    pub fn render(&self, format: Format) -> Bytes {
        let slot = match format {
            Format::Text => 0,
            Format::OpenMetrics => 1,
        };
        let generation = self.store.generation();
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((cached_generation, bytes)) = &cache[slot] {
            if *cached_generation == generation {
                return bytes.clone();
            }
        }
        let mut text = String::with_capacity(cache[slot].as_ref().map_or(4096, |(_, b)| b.len() + 1024));
        let encoded = match format {
            Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &self.registry),
        };
        if encoded.is_err() {
            // Writing to a String cannot fail; if the encoder ever refuses, say so rather than serve half a page.
            text = "# encoding the exposition failed\n".to_string();
        }
        let bytes = Bytes::from(text);
        cache[slot] = Some((generation, bytes.clone()));
        bytes
    }
}

#[derive(Debug)]
struct StoreCollector {
    store: Arc<Store>,
    shard: Shard,
}

fn seconds_since_epoch(time: SystemTime) -> f64 {
    time.duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

fn gauge<'a>(
    encoder: &'a mut DescriptorEncoder<'_>,
    name: &'a str,
    help: &'a str,
) -> Result<prometheus_client::encoding::MetricEncoder<'a>, std::fmt::Error> {
    encoder.encode_descriptor(name, help, None, MetricType::Gauge)
}

/// The labels of the verdict gauges: alerts group and route on section and severity.
fn full_labels(record: &ItemRecord) -> Vec<(&'static str, &str)> {
    let item = record.item();
    vec![("id", item.id.as_str()), ("section", item.section.as_str()), ("severity", item.severity.as_str())]
}

fn id_label(record: &ItemRecord) -> Vec<(&'static str, &str)> {
    vec![("id", record.item().id.as_str())]
}

/// Encodes one gauge family with a sample per evaluated item.
fn item_gauge<'a>(
    encoder: &mut DescriptorEncoder<'_>,
    evaluated: &[(&'a ItemRecord, &'a Evaluation)],
    (name, help): (&str, &str),
    labels: impl Fn(&'a ItemRecord) -> Vec<(&'static str, &'a str)>,
    value: impl Fn(&Evaluation) -> f64,
) -> Result<(), std::fmt::Error> {
    let mut family = gauge(encoder, name, help)?;
    for (record, evaluation) in evaluated {
        ConstGauge::new(value(evaluation)).encode(family.encode_family(&labels(record))?)?;
    }
    Ok(())
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let inner = self.store.read();

        let mut family =
            gauge(&mut encoder, "checklist_build_info", "Version and git revision of checklist-exporter.")?;
        ConstGauge::new(1i64).encode(family.encode_family(&vec![("version", VERSION), ("revision", REVISION)])?)?;

        let mut family = gauge(
            &mut encoder,
            "checklist_shard_info",
            "The shard of the items this replica evaluates and exports (--shard.index of --shard.count).",
        )?;
        let (index, count) = (self.shard.index().to_string(), self.shard.count().to_string());
        ConstGauge::new(1i64)
            .encode(family.encode_family(&vec![("index", index.as_str()), ("count", count.as_str())])?)?;

        let mut family = gauge(
            &mut encoder,
            "checklist_config_last_reload_successful",
            "Whether the last config load or reload succeeded (1) or was refused (0).",
        )?;
        ConstGauge::new(i64::from(inner.reload.successful))
            .encode(family.encode_family(&Vec::<(&str, &str)>::new())?)?;

        let mut family = gauge(
            &mut encoder,
            "checklist_config_last_reload_success_timestamp_seconds",
            "When the config was last loaded successfully, in seconds since the epoch.",
        )?;
        ConstGauge::new(seconds_since_epoch(inner.reload.last_success)).encode(family.encode_family(&Vec::<(
            &str,
            &str,
        )>::new(
        ))?)?;

        let mut family = gauge(
            &mut encoder,
            "checklist_item_info",
            "One series per configured item, carrying its title and check kind.",
        )?;
        for record in &inner.items {
            let item = record.item();
            let labels = vec![
                ("id", item.id.as_str()),
                ("section", item.section.as_str()),
                ("severity", item.severity.as_str()),
                ("kind", record.kind()),
                ("title", item.title.as_str()),
            ];
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }

        let mut family = gauge(
            &mut encoder,
            "checklist_item_not_applicable",
            "1 for an item the config switched off for this site; absent for every other item.",
        )?;
        for record in inner.items.iter().filter(|r| r.not_applicable().is_some()) {
            let item = record.item();
            let labels = vec![
                ("id", item.id.as_str()),
                ("section", item.section.as_str()),
                ("severity", item.severity.as_str()),
            ];
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }

        let evaluated: Vec<_> = inner.items.iter().filter_map(|r| r.last.as_ref().map(|e| (r, e))).collect();

        item_gauge(
            &mut encoder,
            &evaluated,
            ("checklist_item_passing", "1 when the item's last evaluation passed, else 0."),
            full_labels,
            |e| f64::from(u8::from(e.outcome.verdict == Verdict::Pass)),
        )?;
        item_gauge(
            &mut encoder,
            &evaluated,
            (
                "checklist_item_error",
                "1 when the item's last evaluation could not decide (timeout, refused, permission), else 0.",
            ),
            full_labels,
            |e| f64::from(u8::from(e.outcome.verdict == Verdict::Error)),
        )?;

        let mut family = gauge(
            &mut encoder,
            "checklist_item_failure_cause",
            "1 for the cause of the item's current fail or error; absent while it passes.",
        )?;
        for (record, evaluation) in &evaluated {
            if let Some(cause) = evaluation.outcome.cause {
                let labels = vec![("id", record.item().id.as_str()), ("cause", cause.as_str())];
                ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
            }
        }

        item_gauge(
            &mut encoder,
            &evaluated,
            (
                "checklist_item_last_evaluation_timestamp_seconds",
                "When the item was last evaluated, in seconds since the epoch.",
            ),
            id_label,
            |e| seconds_since_epoch(e.at),
        )?;
        item_gauge(
            &mut encoder,
            &evaluated,
            ("checklist_item_evaluation_duration_seconds", "How long the item's last evaluation took, in seconds."),
            id_label,
            |e| e.duration.as_secs_f64(),
        )?;

        let mut family = encoder.encode_descriptor(
            "checklist_item_evaluations",
            "Evaluations of the item since the exporter started, by result.",
            None,
            MetricType::Counter,
        )?;
        for (record, _) in &evaluated {
            for (verdict, count) in Verdict::ALL.iter().zip(record.counts) {
                let labels = vec![("id", record.item().id.as_str()), ("result", verdict.as_str())];
                ConstCounter::new(count).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = gauge(
            &mut encoder,
            "checklist_baseline_file_readable",
            "0 when the baseline file exists but cannot be read (it is left untouched), else 1.",
        )?;
        ConstGauge::new(i64::from(inner.baseline_readable))
            .encode(family.encode_family(&Vec::<(&str, &str)>::new())?)?;
        let mut family = gauge(
            &mut encoder,
            "checklist_baseline_timestamp_seconds",
            "When the go-live baseline was taken, in seconds since the epoch; absent without one.",
        )?;
        if let Some(baseline) = &inner.baseline {
            ConstGauge::new(baseline.taken_at).encode(family.encode_family(&Vec::<(&str, &str)>::new())?)?;
        }
        let mut family = gauge(
            &mut encoder,
            "checklist_item_regressed",
            "1 when the item passed at the go-live baseline and does not pass now, else 0; absent for items the baseline does not know.",
        )?;
        for (record, _) in &evaluated {
            if let Some(regressed) = inner.regressed(record) {
                ConstGauge::new(i64::from(regressed)).encode(family.encode_family(&full_labels(record))?)?;
            }
        }

        // Value gauges of the check families, each family once, in name order.
        let mut families: BTreeMap<&str, Vec<&Sample>> = BTreeMap::new();
        for (_, samples) in &inner.samples {
            for sample in samples {
                families.entry(sample.family.name).or_default().push(sample);
            }
        }
        for samples in families.values() {
            let desc = samples[0].family;
            let metric_type = match desc.kind {
                MetricKind::Gauge => MetricType::Gauge,
                MetricKind::Histogram => MetricType::Histogram,
            };
            let mut family = encoder.encode_descriptor(desc.name, desc.help, None, metric_type)?;
            for sample in samples {
                let labels: Vec<(&str, &str)> = sample.labels.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let metric = family.encode_family(&labels)?;
                match &sample.value {
                    SampleValue::Gauge(value) => ConstGauge::new(*value).encode(metric)?,
                    SampleValue::Histogram(h) => {
                        let mut metric = metric;
                        metric.encode_histogram::<Vec<(&str, &str)>>(h.sum, h.count, &h.buckets, None)?
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::model::{HistogramValue, MetricFamily, Outcome};

    static TEST_HISTOGRAM: MetricFamily =
        MetricFamily { name: "checklist_test_duration_seconds", help: "Test.", kind: MetricKind::Histogram };

    fn store_with(samples: Vec<Sample>) -> Arc<Store> {
        let config = crate::config::parse(
            "t.toml",
            "[[checks]]\nkind = \"cpu\"\nmin_cores = 1\n  [[checks.items]]\n  id = \"a\"\n  section = \"S \\\"quoted\\\"\"\n  title = \"T\"\n  severity = \"info\"\n  decides = \"minimum\"\n",
            Vec::new(),
        )
        .unwrap();
        let store = Store::new();
        store.install(&config);
        let check = &config.checks[0];
        store.record(check, check.fingerprint(), vec![Outcome::pass("ok")], samples, SystemTime::now(), Duration::ZERO);
        store
    }

    #[test]
    fn histograms_are_exposed_with_cumulative_buckets() {
        let histogram = HistogramValue { buckets: vec![(0.1, 2), (1.0, 1), (f64::INFINITY, 1)], sum: 3.5, count: 4 };
        let store = store_with(vec![Sample::histogram(&TEST_HISTOGRAM, histogram).label("target", "a")]);
        let text = Exposition::new(store).render(Format::Text);
        let text = std::str::from_utf8(&text).unwrap();
        assert!(text.contains("# TYPE checklist_test_duration_seconds histogram"), "{text}");
        assert!(text.contains("checklist_test_duration_seconds_bucket{target=\"a\",le=\"0.1\"} 2"), "{text}");
        assert!(text.contains("checklist_test_duration_seconds_bucket{target=\"a\",le=\"1\"} 3"), "{text}");
        assert!(text.contains("checklist_test_duration_seconds_bucket{target=\"a\",le=\"+Inf\"} 4"), "{text}");
        assert!(text.contains("checklist_test_duration_seconds_count{target=\"a\"} 4"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let text = Exposition::new(store_with(Vec::new())).render(Format::Text);
        let text = std::str::from_utf8(&text).unwrap();
        assert!(text.contains(r#"section="S \"quoted\"""#), "{text}");
    }

    #[test]
    fn the_rendering_is_reused_until_the_store_changes() {
        let store = store_with(Vec::new());
        let exposition = Exposition::new(store.clone());
        let first = exposition.render(Format::Text);
        let second = exposition.render(Format::Text);
        assert_eq!(first.as_ptr(), second.as_ptr(), "same buffer, not a new encoding");
        store.set_reload_result(true);
        let third = exposition.render(Format::Text);
        assert_ne!(first.as_ptr(), third.as_ptr());
    }
}
