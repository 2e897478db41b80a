//! The last value samples of one check, as the store keeps them between evaluations.
//!
//! A check's [`Sample`]s are built for convenience: a vector of labels per sample and a string
//! per label value, so the four samples of a `tls` check (each labelled with the same target)
//! took eleven allocations and about 1.1 KB. Kept like that for 10,000 checks they were the
//! largest part of the live heap (docs/benchmarks.md, "Scale", round 4). Then every label value
//! of a check lay once in one text and the samples and labels in two slices: four allocations
//! and 384 bytes of heap for the same four samples, still the largest part of a `tls` check's
//! (round 7). Now a check's samples are one run of bytes, one allocation of 160 bytes: each
//! label value once, and families and label names as small numbers in append-only tables
//! instead of 8- and 16-byte pointers. A check with no samples (most kinds) keeps nothing.
//!
//! The bytes, little-endian: the text (`u32` length, then the label values), the sample count
//! (`u32`), then each sample: family (`u16`), label count (`u16`), each label as name (`u16`)
//! and the value's place in the text (`u32` start, `u32` length), then the value: tag 0 and an
//! `f64` for a gauge; tag 1, bucket count (`u32`), each bucket's upper bound (`f64`) and count
//! (`u64`), sum (`f64`) and count (`u64`) for a histogram.

use std::sync::RwLock;

use crate::model::{HistogramValue, MetricFamily, Sample, SampleValue};

/// The samples of one check's last evaluation, encoded as the module's doc says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredSamples(Option<Box<[u8]>>);

/// One stored sample, borrowed.
pub struct SampleRef<'a> {
    pub family: &'static MetricFamily,
    /// The encoded labels.
    labels: &'a [u8],
    text: &'a str,
    value: ValueRef,
}

/// A stored sample's value, decoded.
pub enum ValueRef {
    Gauge(f64),
    Histogram(HistogramValue),
}

const GAUGE: u8 = 0;
const HISTOGRAM: u8 = 1;
const LABEL_BYTES: usize = 2 + 4 + 4;

/// The families and label names stored samples refer to, by position. Both are statics in the
/// check families' code, a few dozen in all, so the tables stay small and are never pruned.
static FAMILIES: RwLock<Vec<&'static MetricFamily>> = RwLock::new(Vec::new());
static LABEL_NAMES: RwLock<Vec<&'static str>> = RwLock::new(Vec::new());

/// The position of `thing` in `table`, added at the end the first time it is seen.
fn position_in<T: ?Sized>(table: &RwLock<Vec<&'static T>>, thing: &'static T, same: fn(&T, &T) -> bool) -> u16 {
    let find = |things: &[&'static T]| things.iter().position(|known| same(known, thing));
    let known = find(&table.read().unwrap_or_else(|p| p.into_inner()));
    let position = known.unwrap_or_else(|| {
        let mut things = table.write().unwrap_or_else(|p| p.into_inner());
        find(&things).unwrap_or_else(|| {
            things.push(thing);
            things.len() - 1
        })
    });
    u16::try_from(position).expect("more than 65,535 metric families or label names")
}

fn entry_of<T: ?Sized>(table: &RwLock<Vec<&'static T>>, position: u16) -> &'static T {
    table.read().unwrap_or_else(|p| p.into_inner())[usize::from(position)]
}

impl StoredSamples {
    /// Stores `samples`, each with `extra` labels added after its own (the environment).
    pub fn new(samples: Vec<Sample>, extra: &[(&'static str, &str)]) -> StoredSamples {
        if samples.is_empty() {
            return StoredSamples(None);
        }
        // The label values first, each once (a check's target is on each of its samples).
        let mut text = String::new();
        let mut spans: Vec<(u32, u32)> = Vec::new();
        let mut span_of = |value: &str| {
            let found =
                spans.iter().copied().find(|&(start, len)| &text[start as usize..(start + len) as usize] == value);
            found.unwrap_or_else(|| {
                let span = (offset(text.len()), offset(value.len()));
                text.push_str(value);
                spans.push(span);
                span
            })
        };
        let mut encoded_samples = Vec::new();
        put_u32(&mut encoded_samples, offset(samples.len()));
        for sample in &samples {
            let own = sample.labels.iter().map(|(name, value)| (*name, value.as_str()));
            let labels: Vec<(&'static str, &str)> = own.chain(extra.iter().copied()).collect();
            put_u16(&mut encoded_samples, position_in(&FAMILIES, sample.family, |a, b| std::ptr::eq(a, b)));
            put_u16(&mut encoded_samples, u16::try_from(labels.len()).expect("a sample with over 65,535 labels"));
            for (name, value) in labels {
                let (start, len) = span_of(value);
                put_u16(&mut encoded_samples, position_in(&LABEL_NAMES, name, |a, b| a == b));
                put_u32(&mut encoded_samples, start);
                put_u32(&mut encoded_samples, len);
            }
            match &sample.value {
                SampleValue::Gauge(value) => {
                    encoded_samples.push(GAUGE);
                    encoded_samples.extend_from_slice(&value.to_le_bytes());
                }
                SampleValue::Histogram(histogram) => {
                    encoded_samples.push(HISTOGRAM);
                    put_u32(&mut encoded_samples, offset(histogram.buckets.len()));
                    for (upper, count) in &histogram.buckets {
                        encoded_samples.extend_from_slice(&upper.to_le_bytes());
                        encoded_samples.extend_from_slice(&count.to_le_bytes());
                    }
                    encoded_samples.extend_from_slice(&histogram.sum.to_le_bytes());
                    encoded_samples.extend_from_slice(&histogram.count.to_le_bytes());
                }
            }
        }
        let mut bytes = Vec::with_capacity(4 + text.len() + encoded_samples.len());
        put_u32(&mut bytes, offset(text.len()));
        bytes.extend_from_slice(text.as_bytes());
        bytes.extend_from_slice(&encoded_samples);
        StoredSamples(Some(bytes.into_boxed_slice()))
    }

    pub fn iter(&self) -> impl Iterator<Item = SampleRef<'_>> + '_ {
        let mut reader = Reader(self.0.as_deref().unwrap_or_default());
        let (text, count) = if reader.0.is_empty() {
            ("", 0)
        } else {
            let len = reader.u32() as usize;
            // Written from a `String` by `new` and never changed.
            let text = std::str::from_utf8(reader.take(len)).expect("stored label values are UTF-8");
            (text, reader.u32())
        };
        (0..count).map(move |_| {
            let family = entry_of(&FAMILIES, reader.u16());
            let label_count = usize::from(reader.u16());
            let labels = reader.take(label_count * LABEL_BYTES);
            let value = match reader.take(1)[0] {
                GAUGE => ValueRef::Gauge(reader.f64()),
                _ => {
                    let buckets = (0..reader.u32()).map(|_| (reader.f64(), reader.u64())).collect();
                    ValueRef::Histogram(HistogramValue { buckets, sum: reader.f64(), count: reader.u64() })
                }
            };
            SampleRef { family, labels, text, value }
        })
    }
}

/// A position or length in a check's samples: label values are bounded (256 bytes each, a few
/// per sample), so a check's fit in `u32` many times over.
fn offset(position: usize) -> u32 {
    u32::try_from(position).expect("a check's samples exceed 4 GiB")
}

fn put_u16(bytes: &mut Vec<u8>, value: u16) {
    bytes.extend_from_slice(&value.to_le_bytes());
}

fn put_u32(bytes: &mut Vec<u8>, value: u32) {
    bytes.extend_from_slice(&value.to_le_bytes());
}

/// Reads what [`StoredSamples::new`] wrote, front to back.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(len);
        self.0 = rest;
        head
    }

    fn array<const N: usize>(&mut self) -> [u8; N] {
        self.take(N).try_into().expect("took N bytes")
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.array())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.array())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.array())
    }

    fn f64(&mut self) -> f64 {
        f64::from_le_bytes(self.array())
    }
}

impl<'a> SampleRef<'a> {
    /// The labels as name and value, in the order they were added.
    pub fn labels(&self) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        let text = self.text;
        self.labels.chunks_exact(LABEL_BYTES).map(move |label| {
            let mut reader = Reader(label);
            let name = entry_of(&LABEL_NAMES, reader.u16());
            let start = reader.u32() as usize;
            let len = reader.u32() as usize;
            (name, &text[start..start + len])
        })
    }

    pub fn value(&self) -> &ValueRef {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::MetricKind;

    static GAUGE: MetricFamily = MetricFamily { name: "test_gauge", help: "A gauge.", kind: MetricKind::Gauge };
    static HISTOGRAM: MetricFamily =
        MetricFamily { name: "test_histogram", help: "A histogram.", kind: MetricKind::Histogram };

    /// A sample as family name, labels and its value written out.
    type ReadSample = (&'static str, Vec<(&'static str, String)>, String);

    fn read(stored: &StoredSamples) -> Vec<ReadSample> {
        stored
            .iter()
            .map(|sample| {
                let labels = sample.labels().map(|(name, value)| (name, value.to_string())).collect();
                let value = match sample.value() {
                    ValueRef::Gauge(value) => format!("gauge {value}"),
                    ValueRef::Histogram(h) => {
                        format!("histogram sum={} count={} buckets={:?}", h.sum, h.count, h.buckets)
                    }
                };
                (sample.family.name, labels, value)
            })
            .collect()
    }

    #[test]
    fn samples_read_back_with_their_own_labels_then_the_extra_ones_in_order() {
        let histogram = HistogramValue { buckets: vec![(0.1, 1), (1.0, 3)], sum: 1.5, count: 3 };
        let samples = vec![
            Sample::new(&GAUGE, 1.0).label("target", "a.example@127.0.0.1:443").label("version", "TLSv1.3"),
            Sample::new(&GAUGE, 2.5).label("target", "a.example@127.0.0.1:443"),
            Sample::histogram(&HISTOGRAM, histogram),
            Sample::new(&GAUGE, -3.0).label("path", ""),
        ];
        let stored = StoredSamples::new(samples, &[("environment", "staging")]);
        assert_eq!(stored.iter().count(), 4);
        let target = ("target", "a.example@127.0.0.1:443".to_string());
        let environment = ("environment", "staging".to_string());
        assert_eq!(
            read(&stored),
            vec![
                (
                    "test_gauge",
                    vec![target.clone(), ("version", "TLSv1.3".into()), environment.clone()],
                    "gauge 1".into()
                ),
                ("test_gauge", vec![target, environment.clone()], "gauge 2.5".into()),
                (
                    "test_histogram",
                    vec![environment.clone()],
                    "histogram sum=1.5 count=3 buckets=[(0.1, 1), (1.0, 3)]".into()
                ),
                ("test_gauge", vec![("path", String::new()), environment], "gauge -3".into()),
            ]
        );
    }

    #[test]
    fn a_value_repeated_across_samples_is_kept_once() {
        let target = "a-rather-long-server-name.example.com@127.0.0.1:443";
        let samples = (0..4).map(|i| Sample::new(&GAUGE, f64::from(i)).label("target", target)).collect();
        let stored = StoredSamples::new(samples, &[]);
        assert_eq!(stored.iter().next().unwrap().text, target);
        assert!(stored.iter().all(|sample| sample.labels().eq([("target", target)])));
    }

    #[test]
    fn no_samples_store_nothing() {
        let stored = StoredSamples::new(Vec::new(), &[("environment", "production")]);
        assert!(stored.0.is_none());
        assert_eq!(stored.iter().count(), 0);
    }
}
