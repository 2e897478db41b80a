//! The last value samples of one check, as the store keeps them between evaluations.
//!
//! A check's [`Sample`]s are built for convenience: a vector of labels per sample and a string
//! per label value, so the four samples of a `tls` check (each labelled with the same target)
//! took eleven allocations and about 1.1 KB. Kept like that for 10,000 checks they were the
//! largest part of the live heap (docs/benchmarks.md, "Scale", round 4). Stored, every label
//! value of a check lies once in one text, and the samples and labels in two slices: three
//! allocations, about 300 bytes for the same four samples; a check with no samples (most kinds)
//! keeps one null pointer.

use crate::model::{HistogramValue, MetricFamily, Sample, SampleValue};

/// Where a label value lies in [`StoredSamples::text`].
#[derive(Clone, Copy, Debug, PartialEq)]
struct Span {
    start: u32,
    end: u32,
}

#[derive(Clone, Debug, PartialEq)]
enum StoredValue {
    Gauge(f64),
    /// Boxed: histograms are rare, and inline they would make every gauge as big.
    Histogram(Box<HistogramValue>),
}

#[derive(Clone, Debug, PartialEq)]
struct StoredSample {
    family: &'static MetricFamily,
    /// Where this sample's labels end in [`StoredSamples::labels`] (they start where the
    /// previous sample's end).
    labels_end: u32,
    value: StoredValue,
}

/// The samples of one check's last evaluation. Most kinds return none: theirs is one pointer.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StoredSamples(Option<Box<Packed>>);

#[derive(Clone, Debug, PartialEq)]
struct Packed {
    text: Box<str>,
    labels: Box<[(&'static str, Span)]>,
    samples: Box<[StoredSample]>,
}

/// One stored sample, borrowed.
pub struct SampleRef<'a> {
    pub family: &'static MetricFamily,
    labels: &'a [(&'static str, Span)],
    text: &'a str,
    value: &'a StoredValue,
}

/// A stored sample's value, borrowed.
pub enum ValueRef<'a> {
    Gauge(f64),
    Histogram(&'a HistogramValue),
}

impl StoredSamples {
    /// Stores `samples`, each with `extra` labels added after its own (the environment).
    pub fn new(samples: Vec<Sample>, extra: &[(&'static str, &str)]) -> StoredSamples {
        if samples.is_empty() {
            return StoredSamples(None);
        }
        let mut text = String::new();
        let mut labels = Vec::with_capacity(samples.iter().map(|s| s.labels.len() + extra.len()).sum());
        let mut stored = Vec::with_capacity(samples.len());
        for sample in samples {
            let own = sample.labels.iter().map(|(name, value)| (*name, value.as_str()));
            for (name, value) in own.chain(extra.iter().copied()) {
                // The same value (a check's target on each of its samples) is kept once.
                let text_so_far = &text;
                let earlier = labels.iter().map(|(_, span): &(_, Span)| *span);
                let span =
                    match earlier.clone().find(|span| &text_so_far[span.start as usize..span.end as usize] == value) {
                        Some(span) => span,
                        None => {
                            let span = Span { start: offset(text.len()), end: offset(text.len() + value.len()) };
                            text.push_str(value);
                            span
                        }
                    };
                labels.push((name, span));
            }
            stored.push(StoredSample {
                family: sample.family,
                labels_end: offset(labels.len()),
                value: match sample.value {
                    SampleValue::Gauge(value) => StoredValue::Gauge(value),
                    SampleValue::Histogram(histogram) => StoredValue::Histogram(Box::new(histogram)),
                },
            });
        }
        StoredSamples(Some(Box::new(Packed {
            text: text.into_boxed_str(),
            labels: labels.into_boxed_slice(),
            samples: stored.into_boxed_slice(),
        })))
    }

    pub fn iter(&self) -> impl Iterator<Item = SampleRef<'_>> + '_ {
        self.0.iter().flat_map(|packed| {
            let starts = std::iter::once(0).chain(packed.samples.iter().map(|sample| sample.labels_end as usize));
            starts.zip(packed.samples.iter()).map(|(start, sample)| SampleRef {
                family: sample.family,
                labels: &packed.labels[start..sample.labels_end as usize],
                text: &packed.text,
                value: &sample.value,
            })
        })
    }
}

/// A position in a check's samples: label values are bounded (256 bytes each, a few per sample),
/// so a check's fit in `u32` many times over.
fn offset(position: usize) -> u32 {
    u32::try_from(position).expect("a check's samples exceed 4 GiB")
}

impl<'a> SampleRef<'a> {
    /// The labels as name and value, in the order they were added.
    pub fn labels(&self) -> impl Iterator<Item = (&'static str, &'a str)> + 'a {
        let text = self.text;
        self.labels.iter().map(move |(name, span)| (*name, &text[span.start as usize..span.end as usize]))
    }

    pub fn value(&self) -> ValueRef<'a> {
        match self.value {
            StoredValue::Gauge(value) => ValueRef::Gauge(*value),
            StoredValue::Histogram(histogram) => ValueRef::Histogram(histogram),
        }
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
        assert_eq!(&*stored.0.as_ref().unwrap().text, target);
        assert!(stored.iter().all(|sample| sample.labels().eq([("target", target)])));
    }

    #[test]
    fn no_samples_store_nothing() {
        let stored = StoredSamples::new(Vec::new(), &[("environment", "production")]);
        assert!(stored.0.is_none());
        assert_eq!(stored.iter().count(), 0);
    }
}
