//! The invocation's time, shared by everything that runs in it.
//!
//! Lambda's deadline is the only clock that matters: past it the invocation is killed and Lambda retries the whole
//! direct event or SQS batch, so every record already written would be written again. So the time is split once,
//! at the start: rules and records get everything up to `records_until`; what could not be written by then is
//! dead-lettered in the reserve that follows, up to `letters_until`; the last margin answers Lambda. Every AWS
//! attempt is bounded by the time left in its phase, and so is every backoff sleep.

use std::time::{Duration, Instant};

/// Kept after the dead letters for answering Lambda (serialising the answer and one loopback HTTP request).
pub const ANSWER_MARGIN: Duration = Duration::from_millis(200);
/// The most kept back for dead letters: 1,000 of them are 100 SendMessageBatch calls, 8 in flight, 13 rounds;
/// 1 s holds them at up to ~75 ms a call, several times what SQS takes in a region. What does not make it is
/// reported back to Lambda as failed (redelivered, not lost).
pub const LETTER_RESERVE: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    records_until: Instant,
    letters_until: Instant,
}

impl Budget {
    /// The budget of an invocation that must return by `deadline`: the reserve for dead letters is
    /// [`LETTER_RESERVE`], or a quarter of the time there is when that is less (a short test invocation).
    pub fn until(deadline: Instant) -> Budget {
        let letters_until = deadline.checked_sub(ANSWER_MARGIN).unwrap_or(deadline).max(Instant::now());
        let time = letters_until.saturating_duration_since(Instant::now());
        let reserve = LETTER_RESERVE.min(time / 4);
        Budget { records_until: letters_until - reserve, letters_until }
    }

    /// A budget of `time` from now (the command line's runs and redrives).
    pub fn from_now(time: Duration) -> Budget {
        Budget::until(Instant::now() + time)
    }

    /// Rules and Kinesis work up to here.
    pub fn records_until(&self) -> Instant {
        self.records_until
    }

    /// Dead letters (SQS, and S3 for oversize ones) are sent up to here.
    pub fn letters_until(&self) -> Instant {
        self.letters_until
    }
}

/// Time left until `until`, or `None` when there is none.
pub fn left(until: Instant) -> Option<Duration> {
    let left = until.saturating_duration_since(Instant::now());
    (!left.is_zero()).then_some(left)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_stop_a_reserve_before_dead_letters_which_stop_a_margin_before_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let budget = Budget::until(deadline);
        assert_eq!(budget.letters_until(), deadline - ANSWER_MARGIN);
        assert_eq!(budget.records_until(), deadline - ANSWER_MARGIN - LETTER_RESERVE);
        // A short invocation keeps a quarter of its time for dead letters.
        let short = Budget::until(Instant::now() + Duration::from_millis(1200));
        let reserve = short.letters_until() - short.records_until();
        assert!(reserve <= Duration::from_millis(250) && reserve >= Duration::from_millis(200), "{reserve:?}");
        // A deadline already past: no time for anything, and no panic.
        let past = Budget::until(Instant::now());
        assert_eq!(left(past.records_until()), None);
    }
}
