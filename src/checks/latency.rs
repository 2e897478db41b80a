//! Latency bookkeeping shared by checks that time requests (HTTP health endpoints, database
//! probe queries): a rolling window for the verdict (mean and 95th percentile over the last
//! minutes) and cumulative histogram buckets for the exported `_seconds` histogram. A check keeps
//! one [`LatencyTracker`] per target in its [`super::Check::State`].

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use crate::model::HistogramValue;

/// Bucket bounds in seconds, from 5 ms to 10 s: health endpoints and probe queries live here.
pub const DEFAULT_BUCKETS: &[f64] = &[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The window never holds more than this many observations, whatever its length.
pub const MAX_WINDOW_SAMPLES: usize = 1024;

#[derive(Debug)]
pub struct LatencyTracker {
    window: VecDeque<(Instant, Duration)>,
    /// Per-bucket counts by upper bound, the last bound being +Inf.
    buckets: Vec<(f64, u64)>,
    sum: f64,
    count: u64,
}

impl Default for LatencyTracker {
    fn default() -> Self {
        LatencyTracker::new(DEFAULT_BUCKETS)
    }
}

impl LatencyTracker {
    pub fn new(bounds: &[f64]) -> Self {
        let mut buckets: Vec<(f64, u64)> = bounds.iter().map(|b| (*b, 0)).collect();
        buckets.push((f64::INFINITY, 0));
        LatencyTracker { window: VecDeque::new(), buckets, sum: 0.0, count: 0 }
    }

    /// Records one observation at `now` and forgets observations older than `window`.
    pub fn observe(&mut self, now: Instant, latency: Duration, window: Duration) {
        let seconds = latency.as_secs_f64();
        if let Some(bucket) = self.buckets.iter_mut().find(|(bound, _)| seconds <= *bound) {
            bucket.1 += 1;
        }
        self.sum += seconds;
        self.count += 1;
        self.window.push_back((now, latency));
        while self.window.len() > MAX_WINDOW_SAMPLES {
            self.window.pop_front();
        }
        while self.window.front().is_some_and(|(at, _)| now.saturating_duration_since(*at) > window) {
            self.window.pop_front();
        }
    }

    /// Observations in the window.
    pub fn len(&self) -> usize {
        self.window.len()
    }

    pub fn is_empty(&self) -> bool {
        self.window.is_empty()
    }

    /// Mean latency over the window.
    pub fn mean(&self) -> Option<Duration> {
        if self.window.is_empty() {
            return None;
        }
        let total: Duration = self.window.iter().map(|(_, d)| *d).sum();
        Some(total / self.window.len() as u32)
    }

    /// The `q` quantile (0..=1) over the window, by nearest rank.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.window.is_empty() {
            return None;
        }
        let mut sorted: Vec<Duration> = self.window.iter().map(|(_, d)| *d).collect();
        sorted.sort_unstable();
        let rank = ((q.clamp(0.0, 1.0) * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
        Some(sorted[rank - 1])
    }

    /// The cumulative histogram since the tracker was created, ready to export.
    pub fn histogram(&self) -> HistogramValue {
        HistogramValue { buckets: self.buckets.clone(), sum: self.sum, count: self.count }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn mean_and_p95_over_the_window() {
        let start = Instant::now();
        let mut tracker = LatencyTracker::default();
        for i in 1..=100 {
            tracker.observe(start + Duration::from_secs(i), ms(i), Duration::from_secs(1000));
        }
        assert_eq!(tracker.mean(), Some(Duration::from_micros(50_500)));
        assert_eq!(tracker.quantile(0.95), Some(ms(95)));
        assert_eq!(tracker.quantile(1.0), Some(ms(100)));
        assert_eq!(tracker.quantile(0.0), Some(ms(1)));
    }

    #[test]
    fn old_observations_leave_the_window_but_stay_in_the_histogram() {
        let start = Instant::now();
        let mut tracker = LatencyTracker::default();
        tracker.observe(start, ms(3000), Duration::from_secs(60));
        tracker.observe(start + Duration::from_secs(61), ms(20), Duration::from_secs(60));
        assert_eq!(tracker.len(), 1);
        assert_eq!(tracker.quantile(0.95), Some(ms(20)));
        let histogram = tracker.histogram();
        assert_eq!(histogram.count, 2);
        assert!((histogram.sum - 3.02).abs() < 1e-9);
        let in_bucket = |bound: f64| histogram.buckets.iter().find(|(b, _)| *b == bound).unwrap().1;
        assert_eq!(in_bucket(0.025), 1);
        assert_eq!(in_bucket(5.0), 1);
        assert_eq!(in_bucket(f64::INFINITY), 0);
    }

    #[test]
    fn the_window_is_bounded_in_count() {
        let start = Instant::now();
        let mut tracker = LatencyTracker::default();
        for i in 0..(MAX_WINDOW_SAMPLES as u64 + 10) {
            tracker.observe(start + ms(i), ms(1), Duration::from_secs(3600));
        }
        assert_eq!(tracker.len(), MAX_WINDOW_SAMPLES);
        assert_eq!(tracker.histogram().count, MAX_WINDOW_SAMPLES as u64 + 10);
    }

    #[test]
    fn an_empty_window_has_no_figures() {
        let tracker = LatencyTracker::default();
        assert!(tracker.is_empty());
        assert_eq!(tracker.mean(), None);
        assert_eq!(tracker.quantile(0.95), None);
    }
}
