//! Exponential backoff with full jitter, bounded by attempts and by the time the phase has left.

use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Backoff {
    /// First delay's upper bound; each retry doubles it.
    pub base: Duration,
    /// No delay is longer than this.
    pub cap: Duration,
    /// Attempts in all, the first included.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff { base: Duration::from_millis(50), cap: Duration::from_secs(2), max_attempts: 10 }
    }
}

/// Why no further attempt is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Every attempt was made.
    Attempts,
    /// The phase's time ran out (or would, during the wait): what is left is the deadline's.
    Time,
}

impl Backoff {
    /// How long to wait before attempt `attempt + 1` (after `attempt` attempts), or why not to.
    pub fn next(&self, attempt: u32, until: Instant) -> Result<Duration, GiveUp> {
        if attempt >= self.max_attempts {
            return Err(GiveUp::Attempts);
        }
        let ceiling = self.base.saturating_mul(1 << attempt.min(20)).min(self.cap);
        // Full jitter (AWS's recommendation): anywhere in [0, ceiling), so retrying writers spread out.
        let delay = ceiling.mul_f64(fastrand::f64());
        if Instant::now() + delay < until { Ok(delay) } else { Err(GiveUp::Time) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_stay_under_the_doubling_ceiling_and_stop_at_attempts_or_deadline() {
        let backoff = Backoff { base: Duration::from_millis(10), cap: Duration::from_millis(40), max_attempts: 4 };
        let far = Instant::now() + Duration::from_secs(60);
        for attempt in 1..4 {
            let ceiling = Duration::from_millis(10 << attempt).min(Duration::from_millis(40));
            for _ in 0..100 {
                assert!(backoff.next(attempt, far).unwrap() < ceiling);
            }
        }
        assert_eq!(backoff.next(4, far), Err(GiveUp::Attempts));
        assert_eq!(backoff.next(1, Instant::now()), Err(GiveUp::Time));
    }
}
