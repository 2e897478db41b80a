//! `rate_limit`: one token bucket for all requests, as in the exporter-toolkit, so a client
//! that hammers the endpoints is answered 429 before the work of a response.

use std::time::{Duration, Instant};

use super::yaml::RawRateLimit;
use super::Refusal;

/// A global token bucket: `burst` requests at once, then one per `interval`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimitSpec {
    pub interval: Duration,
    pub burst: u32,
}

/// The section as written: an interval of 0 turns the limit off; otherwise a burst is required.
pub(super) fn validate(raw: Option<RawRateLimit>) -> Result<Option<RateLimitSpec>, Refusal> {
    Ok(match raw {
        None => None,
        Some(limit) => {
            let interval = if limit.interval.trim() == "0" {
                Duration::ZERO
            } else {
                crate::support::units::parse_duration(&limit.interval)
                    .map_err(|r| ("rate_limit.interval".to_string(), r))?
            };
            if interval.is_zero() {
                None // "set to 0 to disable rate limiter"
            } else if limit.burst == 0 {
                return Err((
                    "rate_limit.burst".to_string(),
                    "must be at least 1, or no request would pass".to_string(),
                ));
            } else {
                Some(RateLimitSpec { interval, burst: limit.burst })
            }
        }
    })
}

/// A token bucket refilled at one token per interval, holding at most `burst`.
#[derive(Debug)]
pub struct TokenBucket {
    spec: RateLimitSpec,
    tokens: f64,
    updated: Instant,
}

impl TokenBucket {
    pub fn new(spec: RateLimitSpec, now: Instant) -> TokenBucket {
        TokenBucket { spec, tokens: f64::from(spec.burst), updated: now }
    }

    pub fn take(&mut self, now: Instant) -> bool {
        let refill = now.saturating_duration_since(self.updated).as_secs_f64() / self.spec.interval.as_secs_f64();
        self.tokens = (self.tokens + refill).min(f64::from(self.spec.burst));
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{parse_text, refusal};
    use super::*;

    #[test]
    fn the_rate_limit_is_a_token_bucket_and_zero_disables_it() {
        let config = parse_text("rate_limit:\n  interval: 1s\n  burst: 2\n").unwrap();
        let spec = config.rate_limit.unwrap();
        assert_eq!(spec, RateLimitSpec { interval: Duration::from_secs(1), burst: 2 });
        assert_eq!(parse_text("rate_limit:\n  interval: 0\n  burst: 5\n").unwrap().rate_limit, None);
        assert!(refusal("rate_limit:\n  interval: 1s\n").contains("rate_limit.burst: must be at least 1"));

        let start = Instant::now();
        let mut bucket = TokenBucket::new(spec, start);
        assert!(bucket.take(start) && bucket.take(start));
        assert!(!bucket.take(start), "the burst is spent");
        assert!(bucket.take(start + Duration::from_secs(1)), "one token back after one interval");
        assert!(!bucket.take(start + Duration::from_secs(1)));
    }
}
