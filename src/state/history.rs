//! The verdict history of one item, packed: the page's strip of its last [`HISTORY_LEN`]
//! verdicts. Every configured item keeps one, so it is kept small: 4 bytes an entry, the verdict
//! and the time since the entry before it, after the oldest entry's time, in a `Vec` grown to the
//! bound exactly. At 8 bytes an entry (the time since the epoch in each), a full history took
//! 208 bytes of heap an item, 2 MB at 10,000 items (docs/benchmarks.md, "Scale", round 7).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::Verdict;

/// How many past verdicts each item keeps in memory.
pub const HISTORY_LEN: usize = 24;

/// Bits of an entry that hold the verdict (its position in [`Verdict::ALL`]).
const VERDICT_BITS: u32 = 2;
/// The bit above the verdict: set when the step is in whole seconds, not milliseconds.
const SECONDS_BIT: u32 = 1 << VERDICT_BITS;
/// The largest step an entry holds, in its unit: 2^29 − 1 ms is 6.2 days, 2^29 − 1 s 17 years.
const MAX_STEP: u64 = (1 << (32 - VERDICT_BITS - 1)) - 1;

/// The most recent verdicts of one item, oldest first, at most [`HISTORY_LEN`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerdictHistory {
    /// The oldest entry's time, in milliseconds since the epoch.
    oldest_ms: u64,
    /// Each entry: the verdict in the low bits, [`SECONDS_BIT`], and above them the step from
    /// the entry before (the oldest's is 0) in milliseconds, or in seconds when it does not fit.
    entries: Vec<u32>,
}

impl VerdictHistory {
    /// Appends a verdict, dropping the oldest once the history holds [`HISTORY_LEN`]. A time
    /// before the epoch is kept as the epoch, and a time before the previous entry's (the clock
    /// was set back) as that entry's. Times keep millisecond precision when less than 6.2 days
    /// lie between two verdicts, whole seconds otherwise (the strip shows seconds).
    pub fn push(&mut self, at: SystemTime, verdict: Verdict) {
        let at_ms = at.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
        let at_ms = u64::try_from(at_ms).unwrap_or(u64::MAX);
        let position = Verdict::ALL.iter().position(|v| *v == verdict).unwrap_or(2) as u32;
        if self.entries.is_empty() {
            self.oldest_ms = at_ms;
            self.entries.reserve_exact(4);
            self.entries.push(position);
            return;
        }
        let step_ms = at_ms.saturating_sub(self.newest_ms());
        let entry = if step_ms <= MAX_STEP {
            (step_ms as u32) << (VERDICT_BITS + 1) | position
        } else {
            ((step_ms / 1000).min(MAX_STEP) as u32) << (VERDICT_BITS + 1) | SECONDS_BIT | position
        };
        if self.entries.len() == HISTORY_LEN {
            self.oldest_ms += step_of(self.entries[1]);
            self.entries.remove(0);
            // The new oldest entry's time is now `oldest_ms`: its step is 0.
            self.entries[0] &= (1 << VERDICT_BITS) - 1;
        } else if self.entries.len() == self.entries.capacity() {
            // Grown to the bound exactly: doubling past 16 would hold room for 32 of 24 entries.
            self.entries.reserve_exact(self.entries.len().min(HISTORY_LEN - self.entries.len()));
        }
        self.entries.push(entry);
    }

    /// The verdicts with their times, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (SystemTime, Verdict)> + '_ {
        let mut at_ms = self.oldest_ms;
        self.entries.iter().map(move |&entry| {
            at_ms = at_ms.saturating_add(step_of(entry));
            let verdict = Verdict::ALL[((entry & ((1 << VERDICT_BITS) - 1)) as usize).min(2)];
            (UNIX_EPOCH + Duration::from_millis(at_ms), verdict)
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries the history has room for without growing.
    pub fn capacity(&self) -> usize {
        self.entries.capacity()
    }

    /// The newest entry's time, in milliseconds since the epoch.
    fn newest_ms(&self) -> u64 {
        self.entries.iter().fold(self.oldest_ms, |at, &entry| at.saturating_add(step_of(entry)))
    }
}

/// An entry's step from the entry before it, in milliseconds.
fn step_of(entry: u32) -> u64 {
    let step = u64::from(entry >> (VERDICT_BITS + 1));
    if entry & SECONDS_BIT != 0 {
        step * 1000
    } else {
        step
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_keep_verdict_and_time_to_the_millisecond() {
        let mut history = VerdictHistory::default();
        let at = UNIX_EPOCH + Duration::from_millis(1_796_000_000_123) + Duration::from_micros(456);
        for verdict in Verdict::ALL {
            history.push(at, verdict);
        }
        let kept: Vec<(SystemTime, Verdict)> = history.iter().collect();
        let at_ms = UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        assert_eq!(kept, vec![(at_ms, Verdict::Pass), (at_ms, Verdict::Fail), (at_ms, Verdict::Error)]);
    }

    #[test]
    fn a_time_before_the_epoch_is_kept_as_the_epoch() {
        let mut history = VerdictHistory::default();
        history.push(UNIX_EPOCH - Duration::from_secs(5), Verdict::Fail);
        assert_eq!(history.iter().collect::<Vec<_>>(), vec![(UNIX_EPOCH, Verdict::Fail)]);
    }

    #[test]
    fn the_oldest_entry_goes_first_at_the_bound() {
        let mut history = VerdictHistory::default();
        for second in 0..(HISTORY_LEN as u64 + 3) {
            history.push(UNIX_EPOCH + Duration::from_secs(second), Verdict::Pass);
        }
        let times: Vec<u64> = history.iter().map(|(at, _)| at.duration_since(UNIX_EPOCH).unwrap().as_secs()).collect();
        assert_eq!(times, (3..(HISTORY_LEN as u64 + 3)).collect::<Vec<_>>());
        assert_eq!(history.capacity(), HISTORY_LEN);
    }

    #[test]
    fn steps_too_long_for_milliseconds_keep_whole_seconds_and_later_steps_stay_exact() {
        let mut history = VerdictHistory::default();
        let start = UNIX_EPOCH + Duration::from_millis(1_796_000_000_123);
        let week = Duration::from_secs(7 * 24 * 3600);
        let times = [start, start + week + Duration::from_millis(250), start + week + Duration::from_millis(1_500)];
        for at in times {
            history.push(at, Verdict::Pass);
        }
        let kept: Vec<SystemTime> = history.iter().map(|(at, _)| at).collect();
        // The week-long step is kept to the second (the 250 ms go); the next entry's step is
        // taken from the time as kept, so its own time is exact again: no drift.
        assert_eq!(kept, vec![start, start + week, start + week + Duration::from_millis(1_500)]);
    }

    #[test]
    fn a_clock_set_back_keeps_the_previous_time_and_the_oldest_moves_up_at_the_bound() {
        let mut history = VerdictHistory::default();
        let start = UNIX_EPOCH + Duration::from_secs(1_796_000_000);
        history.push(start, Verdict::Fail);
        history.push(start - Duration::from_secs(60), Verdict::Pass);
        assert_eq!(history.iter().collect::<Vec<_>>(), vec![(start, Verdict::Fail), (start, Verdict::Pass)]);

        let mut full = VerdictHistory::default();
        for step in 0..(HISTORY_LEN as u64 + 1) {
            full.push(start + Duration::from_millis(step * 1_001), Verdict::ALL[(step % 3) as usize]);
        }
        let kept: Vec<(SystemTime, Verdict)> = full.iter().collect();
        let wanted: Vec<(SystemTime, Verdict)> = (1..(HISTORY_LEN as u64 + 1))
            .map(|step| (start + Duration::from_millis(step * 1_001), Verdict::ALL[(step % 3) as usize]))
            .collect();
        assert_eq!(kept, wanted);
        assert_eq!(std::mem::size_of_val(&full.entries[0]), 4);
    }
}
