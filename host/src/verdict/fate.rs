//! An event's [`Fate`] after delivery, and the [`Summary`] that counts them.

use serde::Serialize;

use crate::verdict::{Stage, Tally, Verdict};

/// What finally became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fate {
    Written {
        records: usize,
    },
    Dropped {
        reason: String,
    },
    DeadLettered {
        stage: Stage,
        class: String,
    },
    /// Neither delivered nor dead-lettered: must be reported to Lambda as not processed, so it comes back.
    Failed {
        reason: String,
    },
}

impl Fate {
    /// The fate of a verdict that delivery takes as it is: its records written, its drop, its dead letter sent.
    pub fn as_judged(verdict: &Verdict) -> Fate {
        match verdict {
            Verdict::Records(records) => Fate::Written { records: records.len() },
            Verdict::Dropped(dropped) => Fate::Dropped { reason: dropped.reason.clone() },
            Verdict::DeadLetter(letter) => {
                Fate::DeadLettered { stage: letter.stage, class: letter.error_class.clone() }
            }
        }
    }
}

/// What happened to the events so far. `events_in == events_written + dropped + dead_lettered + failed`, always.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub events_in: u64,
    /// Events that became at least one record.
    pub events_written: u64,
    pub records_out: u64,
    pub dropped: u64,
    pub dead_lettered: u64,
    /// Events neither delivered nor dead-lettered (reported to Lambda as failures).
    pub failed: u64,
    /// By reason and class, as the rules wrote them: for `weft run`'s summary on the author's terminal, never in
    /// what the Lambda answers or logs (see `crate::privacy`).
    #[serde(skip)]
    pub drop_reasons: Tally,
    #[serde(skip)]
    pub dead_letter_classes: Tally,
}

impl Summary {
    /// Every event is accounted for exactly once.
    pub fn balanced(&self) -> bool {
        self.events_in == self.events_written + self.dropped + self.dead_lettered + self.failed
    }

    /// One log line with the counts as top-level fields (queryable in Logs Insights); drop reasons and dead-letter
    /// classes stay out of it, since a module chooses their text.
    pub fn log(&self, request_id: &str, rule_set: Option<&str>, message: &str) {
        tracing::info!(
            request_id,
            rule_set = rule_set.unwrap_or("builtin:default"),
            events_in = self.events_in,
            events_written = self.events_written,
            records_out = self.records_out,
            dropped = self.dropped,
            dead_lettered = self.dead_lettered,
            failed = self.failed,
            "{message}"
        );
    }

    /// Adds another summary's counts (`weft run` adds up its slices).
    pub fn add(&mut self, other: &Summary) {
        self.events_in += other.events_in;
        self.events_written += other.events_written;
        self.records_out += other.records_out;
        self.dropped += other.dropped;
        self.dead_lettered += other.dead_lettered;
        self.failed += other.failed;
        for (reason, count) in &other.drop_reasons {
            tally(&mut self.drop_reasons, reason, *count);
        }
        for (class, count) in &other.dead_letter_classes {
            tally(&mut self.dead_letter_classes, class, *count);
        }
    }

    pub fn count(&mut self, fates: &[Fate]) {
        for fate in fates {
            self.events_in += 1;
            match fate {
                Fate::Written { records } => {
                    self.events_written += 1;
                    self.records_out += *records as u64;
                }
                Fate::Dropped { reason } => {
                    self.dropped += 1;
                    tally(&mut self.drop_reasons, reason, 1);
                }
                Fate::DeadLettered { class, .. } => {
                    self.dead_lettered += 1;
                    tally(&mut self.dead_letter_classes, class, 1);
                }
                Fate::Failed { .. } => self.failed += 1,
            }
        }
    }
}

/// Distinct reasons (or classes) a summary keeps; the rest are counted together, so that a module answering a new
/// reason for every event cannot grow a run's summary without bound.
pub const MAX_DISTINCT: usize = 32;
/// Where the reasons past [`MAX_DISTINCT`] are counted.
pub const OTHER_REASONS: &str = "(other reasons)";

fn tally(counts: &mut Tally, key: &str, n: u64) {
    let key = if counts.len() < MAX_DISTINCT || counts.contains_key(key) { key } else { OTHER_REASONS };
    *counts.entry(key.to_owned()).or_default() += n;
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events in: {} written as {} records, {} dropped, {} dead-lettered",
            self.events_in, self.events_written, self.records_out, self.dropped, self.dead_lettered
        )?;
        if self.failed > 0 {
            write!(f, ", {} failed (neither delivered nor dead-lettered)", self.failed)?;
        }
        // Reasons and classes may be a module's words: printed escaped, never as terminal controls.
        for (reason, count) in &self.drop_reasons {
            write!(f, "\n  dropped {count}: {}", crate::privacy::printable(reason))?;
        }
        for (class, count) in &self.dead_letter_classes {
            write!(f, "\n  dead-lettered {count}: {}", crate::privacy::printable(class))?;
        }
        Ok(())
    }
}
