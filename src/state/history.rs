//! The verdict history of one item, packed: the page's strip of its last [`HISTORY_LEN`]
//! verdicts. Every configured item keeps one, so it is kept small: 8 bytes an entry (the time
//! in milliseconds since the epoch and the verdict in one `u64`) instead of 24 for a
//! `(SystemTime, Verdict)`, in a `Vec` grown to the bound exactly.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::model::Verdict;

/// How many past verdicts each item keeps in memory.
pub const HISTORY_LEN: usize = 24;

/// Bits of an entry that hold the verdict (its position in [`Verdict::ALL`]).
const VERDICT_BITS: u32 = 2;

/// The most recent verdicts of one item, oldest first, at most [`HISTORY_LEN`].
#[derive(Clone, Debug, Default, PartialEq)]
pub struct VerdictHistory {
    entries: Vec<u64>,
}

impl VerdictHistory {
    /// Appends a verdict, dropping the oldest once the history holds [`HISTORY_LEN`]. A time
    /// before the epoch is kept as the epoch; times keep millisecond precision (the strip shows
    /// seconds).
    pub fn push(&mut self, at: SystemTime, verdict: Verdict) {
        if self.entries.len() == HISTORY_LEN {
            self.entries.remove(0);
        } else if self.entries.len() == self.entries.capacity() {
            // Grown to the bound exactly: doubling past 16 would hold room for 32 of 24 entries.
            self.entries.reserve_exact(self.entries.len().max(4).min(HISTORY_LEN - self.entries.len()));
        }
        self.entries.push(pack(at, verdict));
    }

    /// The verdicts with their times, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = (SystemTime, Verdict)> + '_ {
        self.entries.iter().map(|&entry| unpack(entry))
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
}

fn pack(at: SystemTime, verdict: Verdict) -> u64 {
    let millis = at.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    // 2^62 ms is over a hundred million years: the clamp only guards a corrupt clock.
    let millis = u64::try_from(millis).unwrap_or(u64::MAX).min(u64::MAX >> VERDICT_BITS);
    let position = Verdict::ALL.iter().position(|v| *v == verdict).unwrap_or(2) as u64;
    (millis << VERDICT_BITS) | position
}

fn unpack(entry: u64) -> (SystemTime, Verdict) {
    let verdict = Verdict::ALL[((entry & ((1 << VERDICT_BITS) - 1)) as usize).min(2)];
    (UNIX_EPOCH + Duration::from_millis(entry >> VERDICT_BITS), verdict)
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
}
