//! What can become of an event, in the words every stage uses:
//! - a module's [`weft_sdk::Outcome`] (records, a drop, an error) is what one call answered;
//! - the event's [`Verdict`] is what the rules decided for it: [`Record`]s, [`Dropped`], or a [`DeadLetter`];
//! - its [`Fate`] is what finally became of it after delivery: written, dropped, dead-lettered, or failed.
//!
//! These types sit below the stages that make and pass them on (rules, judge, delivery), so every arrow points down.

pub mod compare;
mod data;
pub mod dead_letter;
mod fate;
pub mod record;
mod report;

pub use data::RecordData;
pub use dead_letter::{DeadLetter, Dropped, OriginalEvent, Stage, Tally, WrittenRecord};
pub use fate::{Fate, Summary};
pub use record::{InvalidRecord, Record, RecordId};

use crate::input::{EventText, Source};

/// What the rules decided for one event.
#[derive(Debug)]
pub enum Verdict {
    Records(Vec<Record>),
    Dropped(Dropped),
    DeadLetter(Box<DeadLetter>),
}

/// One event and its verdict, with what delivery needs if it has to dead-letter the event after all.
#[derive(Debug)]
pub struct Judged {
    pub event_id: Option<String>,
    pub source: Source,
    /// The event as received (for a dead letter made at delivery).
    pub text: EventText,
    /// The rule set version that judged it, when it came from a manifest.
    pub rule_set: Option<String>,
    pub verdict: Verdict,
    /// Records of this event in Kinesis from an earlier delivery (a redriven dead letter's `written`).
    pub written: Vec<WrittenRecord>,
}

impl Judged {
    /// The dead letter for an event whose records could not be delivered.
    pub fn sink_failure(&self, class: &str, reason: String, attempts: u32) -> DeadLetter {
        DeadLetter {
            event_id: self.event_id.clone(),
            rule_set: self.rule_set.clone(),
            source: Some(self.source.clone()),
            attempts,
            written: self.written.clone(),
            ..DeadLetter::new(Stage::Sink, class, reason, OriginalEvent::from_text(&self.text))
        }
    }
}
