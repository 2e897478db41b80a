//! The `/metrics` exposition, rendered from the [`Store`] at scrape time by a prometheus-client
//! collector, so an item removed by a reload simply stops appearing. Rendering is cached per
//! store generation, and only compressed: the encoder's output is deflated as it is written,
//! so a scrape between two evaluations costs a copy of the compressed bytes (gzip, which
//! Prometheus asks for) or their inflation (plain), and the megabytes of a large exposition are
//! never held as text (7.2 MB of text at 10,000 items is 0.6 MB deflated).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::Registry;

use crate::config::{Decider, Shard};
use crate::model::{MetricKind, Verdict};
use crate::state::samples::{SampleRef, ValueRef};
use crate::state::{Evaluation, ItemRecord, Store, StoreInner};
use crate::web::process::ProcessCollector;

/// Version and git revision, baked in at build time.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
pub const REVISION: &str = env!("CHECKLIST_EXPORTER_REVISION");
/// The git branch, the `rustc` version and the build user and date; `--version` prints them all.
pub const BRANCH: &str = env!("CHECKLIST_EXPORTER_BRANCH");
pub const RUST_VERSION: &str = env!("CHECKLIST_EXPORTER_RUST_VERSION");
pub const BUILD_USER: &str = env!("CHECKLIST_EXPORTER_BUILD_USER");
pub const BUILD_DATE: &str = env!("CHECKLIST_EXPORTER_BUILD_DATE");
/// `os/arch`, as Go exporters print their platform.
pub const PLATFORM: &str = env!("CHECKLIST_EXPORTER_PLATFORM");

/// The families every exporter exposes whatever its config, as they appear on `/metrics`.
pub const CORE_FAMILIES: &[&str] = &[
    "checklist_build_info",
    "checklist_web_info",
    "checklist_shard_info",
    "checklist_config_last_reload_successful",
    "checklist_config_last_reload_success_timestamp_seconds",
    "checklist_item_info",
    "checklist_item_interval_seconds",
    "checklist_item_not_applicable",
    "checklist_item_passing",
    "checklist_item_error",
    "checklist_item_failure_cause",
    "checklist_item_last_evaluation_timestamp_seconds",
    "checklist_item_evaluation_duration_seconds",
    "checklist_item_evaluations_total",
    "checklist_item_regressed",
    "checklist_item_reason_info",
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

/// What the exposition says about the exporter's own web side (`checklist_web_info`).
#[derive(Clone, Debug, Default)]
pub struct WebInfo {
    /// The absolute URL of the page, ending in `/`: alert rules link `<external_url>#item-<id>`.
    pub external_url: String,
}

/// The store's part of one rendering, cached until the store changes, as a raw deflate stream
/// ending in a full flush, so that the per-scrape `process_*` tail can be compressed on its own
/// and appended; with the CRC-32 state after the text, which a gzip scrape resumes over its tail
/// instead of hashing megabytes again, and the text's length.
#[derive(Debug)]
struct CachedPart {
    generation: u64,
    deflated: Bytes,
    crc: crc32fast::Hasher,
    text_len: usize,
}

impl CachedPart {
    /// The text again, inflated from the stream.
    fn text(&self) -> Option<Vec<u8>> {
        inflate(&self.deflated, self.text_len)
    }
}

/// Renders and caches the exposition.
#[derive(Debug)]
pub struct Exposition {
    store: Arc<Store>,
    registry: Registry,
    /// The `process_*` series: read at every scrape, never cached.
    process: Registry,
    cache: Mutex<[Option<Arc<CachedPart>>; 2]>,
}

/// The line OpenMetrics ends with; the cached part goes without it, the process tail carries it.
const OPENMETRICS_EOF: &str = "# EOF\n";

impl Exposition {
    pub fn new(store: Arc<Store>) -> Self {
        Exposition::with(store, None, Shard::WHOLE)
    }

    /// With `web_info`, the exposition carries `checklist_web_info` (the daemon always gives it);
    /// `shard` is the part of the items this replica evaluates and exports.
    pub fn with(store: Arc<Store>, web_info: Option<WebInfo>, shard: Shard) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(StoreCollector { store: store.clone(), web_info, shard }));
        let mut process = Registry::default();
        process.register_collector(Box::new(ProcessCollector));
        Exposition { store, registry, process, cache: Mutex::new([None, None]) }
    }

    /// The whole exposition in `format`.
    pub fn render(&self, format: Format) -> Bytes {
        let cached = self.cached_part(format);
        let tail = self.process_tail(format);
        let mut body = match cached.text() {
            Some(text) => text,
            // Inflating a stream this process made cannot fail; if it ever does, encode afresh
            // rather than serve half a page.
            None => self.encode_text(format).into_bytes(),
        };
        body.extend_from_slice(tail.as_bytes());
        Bytes::from(body)
    }

    /// The whole exposition in `format` as a gzip member (RFC 1952), for `Accept-Encoding: gzip`.
    /// Only the small process tail is compressed per scrape; the store's part comes from the cache.
    pub fn render_gzip(&self, format: Format) -> Bytes {
        let cached = self.cached_part(format);
        let tail = self.process_tail(format);
        let mut deflated_tail = Vec::with_capacity(tail.len() / 2 + 64);
        deflate_into(
            &mut Compress::new(Compression::fast(), false),
            tail.as_bytes(),
            &mut deflated_tail,
            FlushCompress::Finish,
        );
        let mut crc = cached.crc.clone();
        crc.update(tail.as_bytes());
        // The length modulo 2^32, as RFC 1952 stores it.
        let length = (cached.text_len + tail.len()) as u32;
        // A fixed header: no name, no time, "unknown" OS, as Go's gzip writer writes it.
        let mut body = Vec::with_capacity(10 + cached.deflated.len() + deflated_tail.len() + 8);
        body.extend_from_slice(&[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]);
        body.extend_from_slice(&cached.deflated);
        body.extend_from_slice(&deflated_tail);
        body.extend_from_slice(&crc.finalize().to_le_bytes());
        body.extend_from_slice(&length.to_le_bytes());
        Bytes::from(body)
    }

    /// The store's part for the current generation, rendered from a snapshot when it changed.
    fn cached_part(&self, format: Format) -> Arc<CachedPart> {
        let slot = match format {
            Format::Text => 0,
            Format::OpenMetrics => 1,
        };
        let generation = self.store.generation();
        let previous_len = {
            let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
            match &cache[slot] {
                Some(part) if part.generation == generation => return part.clone(),
                Some(part) => part.deflated.len(),
                None => 4096,
            }
        };
        // Encoded outside the cache's lock: a slow rendering does not queue other formats.
        let mut writer = DeflatingWriter::new(previous_len + 1024);
        if self.encode(format, &mut writer).is_err() {
            // Writing to memory cannot fail; if the encoder ever refuses, say so rather than serve half a page.
            writer = DeflatingWriter::new(64);
            let _ = writer.write_str("# encoding the exposition failed\n");
        }
        let part = Arc::new(CachedPart { generation, ..writer.finish() });
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache[slot] = Some(part.clone());
        drop(cache);
        // The snapshot and the previous part are gone: give the holes they leave back.
        crate::support::memory::release_after_large_output(part.text_len);
        part
    }

    /// The store's part in `format`, without OpenMetrics' closing `# EOF` (the tail carries it).
    fn encode(&self, format: Format, writer: &mut impl std::fmt::Write) -> std::fmt::Result {
        match format {
            Format::Text => prometheus_client::encoding::prometheus_text::encode(writer, &self.registry),
            Format::OpenMetrics => prometheus_client::encoding::text::encode_registry(writer, &self.registry),
        }
    }

    /// The store's part as text, encoded now (only when the cached stream cannot be inflated).
    fn encode_text(&self, format: Format) -> String {
        let mut text = String::new();
        if self.encode(format, &mut text).is_err() {
            text = "# encoding the exposition failed\n".to_string();
        }
        text
    }

    /// The `process_*` series, read now; in OpenMetrics with the closing `# EOF`.
    fn process_tail(&self, format: Format) -> String {
        let mut text = String::with_capacity(1024);
        let encoded = match format {
            Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut text, &self.process),
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &self.process),
        };
        if encoded.is_err() {
            text.clear();
            if format == Format::OpenMetrics {
                text.push_str(OPENMETRICS_EOF);
            }
        }
        text
    }
}

/// The size of the text pieces [`DeflatingWriter`] compresses at a time.
const PIECE_BYTES: usize = 64 * 1024;

/// A `fmt::Write` that compresses what it is given in pieces of about [`PIECE_BYTES`], keeping
/// the CRC-32 and length of the text, so an encoding is never held whole as text.
struct DeflatingWriter {
    compress: Compress,
    pending: String,
    deflated: Vec<u8>,
    crc: crc32fast::Hasher,
    text_len: usize,
}

impl DeflatingWriter {
    fn new(expected_deflated: usize) -> Self {
        DeflatingWriter {
            // The fastest level: at 10,000 items the store changes between most scrapes, and level 1
            // already shrinks the repetitive exposition about twelvefold (level 6: twentyfold, at twice the CPU).
            compress: Compress::new(Compression::fast(), false),
            pending: String::with_capacity(PIECE_BYTES),
            deflated: Vec::with_capacity(expected_deflated),
            crc: crc32fast::Hasher::new(),
            text_len: 0,
        }
    }

    fn compress_pending(&mut self, flush: FlushCompress) {
        self.crc.update(self.pending.as_bytes());
        self.text_len += self.pending.len();
        deflate_into(&mut self.compress, self.pending.as_bytes(), &mut self.deflated, flush);
        self.pending.clear();
    }

    /// The stream so far, ended with a full flush (its `generation` is the caller's to set).
    fn finish(mut self) -> CachedPart {
        self.compress_pending(FlushCompress::Full);
        self.deflated.shrink_to_fit();
        CachedPart { generation: 0, deflated: Bytes::from(self.deflated), crc: self.crc, text_len: self.text_len }
    }
}

impl std::fmt::Write for DeflatingWriter {
    fn write_str(&mut self, text: &str) -> std::fmt::Result {
        if self.pending.len() + text.len() > PIECE_BYTES && !self.pending.is_empty() {
            self.compress_pending(FlushCompress::None);
        }
        self.pending.push_str(text);
        Ok(())
    }
}

/// Appends the raw deflate of `input` to `out` as the next piece of `compress`'s stream: `None`
/// may keep some of it inside the compressor for the next piece, `Full` ends byte-aligned with
/// no reference to what came before it, so that another stream's piece can follow, and `Finish`
/// ends the stream.
fn deflate_into(compress: &mut Compress, input: &[u8], out: &mut Vec<u8>, flush: FlushCompress) {
    let start = compress.total_in();
    let taken =
        |compress: &Compress| usize::try_from(compress.total_in() - start).unwrap_or(input.len()).min(input.len());
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.capacity().max(64));
        }
        let status = compress.compress_vec(&input[taken(compress)..], out, flush);
        let all_in = taken(compress) == input.len();
        let done = match (flush, status) {
            (_, Err(_)) => true,
            (FlushCompress::Finish, Ok(status)) => status == Status::StreamEnd,
            // A piece is complete once the compressor took all of it and left output space unused.
            (_, Ok(_)) => all_in && out.len() < out.capacity(),
        };
        if done {
            return;
        }
        out.reserve(out.capacity().max(64));
    }
}

/// The text of a raw deflate stream that this process made, `text_len` bytes long; `None` if it
/// is not one (which would be a bug).
fn inflate(deflated: &[u8], text_len: usize) -> Option<Vec<u8>> {
    let mut decompress = Decompress::new(false);
    // Room for the process tail the caller appends, so that the body is not copied again.
    let mut text = Vec::with_capacity(text_len + 4096);
    while text.len() < text_len {
        let taken = usize::try_from(decompress.total_in()).ok()?.min(deflated.len());
        let before = (decompress.total_in(), text.len());
        let room = text_len - text.len();
        let spare = text.capacity() - text.len();
        if spare < room {
            text.reserve(room);
        }
        decompress.decompress_vec(&deflated[taken..], &mut text, FlushDecompress::Sync).ok()?;
        if (decompress.total_in(), text.len()) == before {
            return None;
        }
    }
    (text.len() == text_len).then_some(text)
}

#[derive(Debug)]
struct StoreCollector {
    store: Arc<Store>,
    web_info: Option<WebInfo>,
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
    with_environment(
        record,
        vec![("id", item.id.as_str()), ("section", &*item.section), ("severity", item.severity.as_str())],
    )
}

fn id_label(record: &ItemRecord) -> Vec<(&'static str, &str)> {
    with_environment(record, vec![("id", record.item().id.as_str())])
}

/// Item labels with `environment="..."` added when the config declares environments: an item
/// is identified by (environment, id) then, and without it two instances would be one series.
fn with_environment<'a>(
    record: &'a ItemRecord,
    mut labels: Vec<(&'static str, &'a str)>,
) -> Vec<(&'static str, &'a str)> {
    if let Some(environment) = record.item().environment.as_deref() {
        labels.push(("environment", environment));
    }
    labels
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

/// `checklist_item_interval_seconds`: how often the item's last evaluation timestamp moves on.
/// A check's item moves with its check; a group's moves whenever any applicable member is
/// recorded, so it is its members' smallest interval (nested groups included).
fn item_intervals(encoder: &mut DescriptorEncoder<'_>, inner: &StoreInner) -> Result<(), std::fmt::Error> {
    let mut family = gauge(
        encoder,
        "checklist_item_interval_seconds",
        "How often the item is evaluated, in seconds (for a group item, its members' smallest interval); absent for items that do not apply.",
    )?;
    for record in inner.items.iter().filter(|r| r.not_applicable().is_none()) {
        let seconds = effective_interval(record, inner, 0).as_secs_f64();
        ConstGauge::new(seconds).encode(family.encode_family(&id_label(record))?)?;
    }
    Ok(())
}

/// Groups nest at most as deep as the config allows; the bound only guards against a cycle.
const MAX_GROUP_DEPTH: usize = 64;

fn effective_interval(record: &ItemRecord, inner: &StoreInner, depth: usize) -> Duration {
    let Decider::Group(group) = &record.decider else { return record.interval() };
    if depth >= MAX_GROUP_DEPTH {
        return record.interval();
    }
    group
        .members
        .iter()
        .filter_map(|id| inner.item_record(&group.item.key_of(id)))
        .filter(|member| member.not_applicable().is_none())
        .map(|member| effective_interval(member, inner, depth + 1))
        .min()
        .unwrap_or_else(|| record.interval())
}

impl Collector for StoreCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        // Rendered from a copy: holding the store's lock while encoding would block every check
        // that finishes meanwhile.
        let inner = self.store.snapshot();

        let mut family =
            gauge(&mut encoder, "checklist_build_info", "Version and git revision of checklist-exporter.")?;
        ConstGauge::new(1i64).encode(family.encode_family(&vec![
            ("version", VERSION),
            ("revision", REVISION),
            ("branch", BRANCH),
            ("rustversion", RUST_VERSION),
        ])?)?;

        if let Some(web_info) = &self.web_info {
            let mut family = gauge(
                &mut encoder,
                "checklist_web_info",
                "The absolute URL of the exporter's page (--web.external-url); an item is at <external_url>#item-<id>.",
            )?;
            ConstGauge::new(1i64)
                .encode(family.encode_family(&vec![("external_url", web_info.external_url.as_str())])?)?;
        }

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
        ConstGauge::new(i64::from(inner.reload.successful()))
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
            let labels = with_environment(
                record,
                vec![
                    ("id", item.id.as_str()),
                    ("section", &*item.section),
                    ("severity", item.severity.as_str()),
                    ("kind", record.kind()),
                    ("title", item.title.as_str()),
                ],
            );
            ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
        }

        item_intervals(&mut encoder, &inner)?;

        let mut family = gauge(
            &mut encoder,
            "checklist_item_not_applicable",
            "1 for an item the config switched off for this site; absent for every other item.",
        )?;
        for record in inner.items.iter().filter(|r| r.not_applicable().is_some()) {
            let labels = full_labels(record);
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
                let labels =
                    with_environment(record, vec![("id", record.item().id.as_str()), ("cause", cause.as_str())]);
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
                let labels =
                    with_environment(record, vec![("id", record.item().id.as_str()), ("result", verdict.as_str())]);
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

        encode_reason_info(&mut encoder, &evaluated)?;

        // Value gauges of the check families, each family once, in name order.
        let mut families: BTreeMap<&str, Vec<SampleRef>> = BTreeMap::new();
        for (_, samples) in &inner.samples {
            for sample in samples.iter() {
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
                let labels: Vec<(&str, &str)> = sample.labels().collect();
                let metric = family.encode_family(&labels)?;
                match sample.value() {
                    ValueRef::Gauge(value) => ConstGauge::new(*value).encode(metric)?,
                    ValueRef::Histogram(h) => {
                        let mut metric = metric;
                        metric.encode_histogram::<Vec<(&str, &str)>>(h.sum, h.count, &h.buckets, None)?
                    }
                }
            }
        }
        Ok(())
    }
}

/// `checklist_item_reason_info{id, target, reason}`: for an item that does not pass, the reason
/// as it read when its verdict or cause last changed (so it does not churn while a backup ages),
/// and the target its check looks at, which alerts group on. One series per failing item, the
/// label at most `REASON_LABEL_CHARS` characters.
fn encode_reason_info(
    encoder: &mut DescriptorEncoder<'_>,
    evaluated: &[(&ItemRecord, &Evaluation)],
) -> Result<(), std::fmt::Error> {
    let mut family = gauge(
        encoder,
        "checklist_item_reason_info",
        "1 for an item that does not pass, with the reason recorded when its verdict or cause last changed and its check's target.",
    )?;
    for (record, evaluation) in evaluated {
        if evaluation.outcome.verdict == Verdict::Pass {
            continue;
        }
        let target = record.decider.target();
        let reason = record.reason_at_change().unwrap_or_default();
        let labels = with_environment(
            record,
            vec![("id", record.item().id.as_str()), ("target", target.as_str()), ("reason", reason)],
        );
        ConstGauge::new(1i64).encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;
    use crate::model::Sample;
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
        let first = exposition.cached_part(Format::Text);
        let second = exposition.cached_part(Format::Text);
        assert_eq!(first.deflated.as_ptr(), second.deflated.as_ptr(), "same buffer, not a new encoding");
        store.set_reload_succeeded();
        let third = exposition.cached_part(Format::Text);
        assert_ne!(first.deflated.as_ptr(), third.deflated.as_ptr());
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(bytes), &mut text).expect("valid gzip");
        text
    }

    #[test]
    fn the_gzip_body_is_the_cached_part_then_a_fresh_process_tail() {
        let exposition = Exposition::new(store_with(Vec::new()));
        for format in [Format::Text, Format::OpenMetrics] {
            // Twice: the second reuses the cached deflate stream and appends a new tail to it.
            for _ in 0..2 {
                let text = gunzip(&exposition.render_gzip(format));
                let cached = exposition.cached_part(format);
                let cached = String::from_utf8(cached.text().expect("the cached stream inflates")).unwrap();
                assert!(text.starts_with(&cached), "{text}");
                assert!(text.contains("\nprocess_cpu_seconds_total "), "{text}");
                assert!(text.contains("\nprocess_start_time_seconds "), "{text}");
                assert_eq!(text.matches("# EOF").count(), usize::from(format == Format::OpenMetrics), "{text}");
                if format == Format::OpenMetrics {
                    assert!(text.ends_with("# EOF\n"), "{text}");
                }
            }
        }
    }

    #[test]
    fn text_written_in_many_pieces_inflates_to_itself_plain_and_gzipped() {
        // Several pieces of PIECE_BYTES, writes that straddle a piece's end, and one write
        // larger than a piece, as a big exposition is written.
        let mut expected = String::new();
        let mut writer = DeflatingWriter::new(16);
        for line in 0..40_000 {
            let text = format!("checklist_item_passing{{id=\"bench.port_{line}\",section=\"S\"}} {}\n", line % 2);
            expected.push_str(&text);
            writer.write_str(&text).unwrap();
        }
        let big = "x".repeat(3 * PIECE_BYTES) + "\n";
        expected.push_str(&big);
        writer.write_str(&big).unwrap();
        let part = writer.finish();
        assert_eq!(part.text_len, expected.len());
        assert!(
            part.deflated.len() < expected.len() / 4,
            "{} deflated bytes of {}",
            part.deflated.len(),
            expected.len()
        );
        assert_eq!(String::from_utf8(part.text().unwrap()).unwrap(), expected);
        let mut crc = crc32fast::Hasher::new();
        crc.update(expected.as_bytes());
        assert_eq!(part.crc.clone().finalize(), crc.finalize());
    }

    #[test]
    fn the_plain_body_is_the_gzip_body_inflated() {
        let exposition = Exposition::new(store_with(Vec::new()));
        for format in [Format::Text, Format::OpenMetrics] {
            let plain = String::from_utf8(exposition.render(format).to_vec()).unwrap();
            let gzipped = gunzip(&exposition.render_gzip(format));
            // Only the process tail's values (CPU time, memory) may move between the two.
            let store_part = |text: &str| text[..text.find("# HELP process_").expect("a process tail")].to_string();
            assert_eq!(store_part(&plain), store_part(&gzipped));
            assert!(plain.contains("checklist_item_info{"), "{plain}");
        }
    }

    #[test]
    fn a_group_item_has_its_members_smallest_interval() {
        let config = crate::config::parse(
            "t.toml",
            r#"
[[checks]]
kind = "cpu"
min_cores = 1
interval = "30s"
  [[checks.items]]
  id = "fast"
  section = "S"
  title = "T"
  severity = "info"
  decides = "minimum"
[[checks]]
kind = "memory"
min_total_bytes = "1MiB"
interval = "5m"
  [[checks.items]]
  id = "slow"
  section = "S"
  title = "T"
  severity = "info"
  decides = "minimum"
[[checks]]
kind = "group"
members = ["fast", "slow"]
  [[checks.items]]
  id = "both"
  section = "S"
  title = "T"
  severity = "info"
"#,
            Vec::new(),
        )
        .unwrap();
        let store = Store::new();
        store.install(&config);
        let text = Exposition::new(store).render(Format::Text);
        let text = std::str::from_utf8(&text).unwrap();
        assert!(text.contains("checklist_item_interval_seconds{id=\"fast\"} 30.0\n"), "{text}");
        assert!(text.contains("checklist_item_interval_seconds{id=\"slow\"} 300.0\n"), "{text}");
        assert!(text.contains("checklist_item_interval_seconds{id=\"both\"} 30.0\n"), "{text}");
    }
}
