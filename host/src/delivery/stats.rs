//! What delivery did since the metrics last asked: calls, retries and throttles, records per stream, dead letters
//! sent and stored. Counted where it happens (the Kinesis and SQS loops), taken once per invocation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// The counts of one invocation's (or one `weft run` slice's) delivery.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryStats {
    pub kinesis: KinesisStats,
    pub letters: LetterStats,
    /// Records written, per stream (`-` for standard output).
    pub records_by_stream: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KinesisStats {
    pub calls: u64,
    /// Entries sent again after an attempt that did not land them.
    pub retried: u64,
    /// Entries refused for throughput, on every attempt (a call throttled whole counts all its entries).
    pub throttled: u64,
    /// The most attempts any batch of records needed.
    pub max_attempts: u64,
}

impl KinesisStats {
    /// A call of `entries` entries, the `attempt`th for them.
    pub(crate) fn attempted(&mut self, attempt: u32, entries: usize) {
        self.calls += 1;
        self.max_attempts = self.max_attempts.max(attempt.into());
        if attempt > 1 {
            self.retried += entries as u64;
        }
    }

    /// A call of `entries` entries that failed as a whole with `failure`, which is passed on.
    pub(crate) fn failed(&mut self, failure: (&'static str, String), entries: usize) -> (&'static str, String) {
        if failure.0 == "kinesis-throttled" {
            self.throttled += entries as u64;
        }
        failure
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LetterStats {
    /// Dead-letter messages the queue took.
    pub sent: u64,
    /// Messages (or oversize objects) sent again after a failed attempt.
    pub retried: u64,
    /// Dead letters too large for a message, kept whole in S3.
    pub stored: u64,
}

/// [`LetterStats`] counted by concurrent sends.
#[derive(Debug, Default)]
pub(crate) struct LetterCounters {
    pub(crate) sent: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) stored: AtomicU64,
}

impl LetterCounters {
    pub(crate) fn add(counter: &AtomicU64, n: usize) {
        counter.fetch_add(n as u64, Ordering::Relaxed);
    }

    pub(crate) fn take(&self) -> LetterStats {
        LetterStats {
            sent: self.sent.swap(0, Ordering::Relaxed),
            retried: self.retried.swap(0, Ordering::Relaxed),
            stored: self.stored.swap(0, Ordering::Relaxed),
        }
    }
}
