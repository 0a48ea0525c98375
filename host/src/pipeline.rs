//! The data path end to end, in two steps:
//! - [`Judge`] (synchronous): input chunks → envelopes → rules → a [`Verdict`] per event: records, a drop, or a
//!   dead letter;
//! - a sink delivers the verdicts and reports each event's [`Fate`]: written, dropped, dead-lettered, or failed
//!   (not even the dead-letter queue took it: the caller must report it to Lambda as not processed).
//!
//! [`Summary`] counts fates, after delivery, so a record Kinesis refused is never counted as written.

use serde::Serialize;
use weft_sdk::Event;

use crate::dead_letter::{DeadLetter, Dropped, OriginalEvent, Stage, Tally};
use crate::envelope;
use crate::input::{Chunk, Source};
use crate::record::Record;
use crate::rules::{Disposition, RuleSet};

/// Events handed to the rules in one call (see `RuleSet::process_batch`).
pub const DEFAULT_BATCH: usize = 64;

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
    pub text: String,
    /// The rule set version that judged it, when it came from a manifest.
    pub rule_set: Option<String>,
    pub verdict: Verdict,
}

impl Judged {
    /// The dead letter for an event whose records could not be delivered.
    pub fn sink_failure(&self, class: &str, reason: String, attempts: u32) -> DeadLetter {
        DeadLetter {
            event_id: self.event_id.clone(),
            rule_set: self.rule_set.clone(),
            source: Some(self.source.clone()),
            attempts,
            ..DeadLetter::new(Stage::Sink, class, reason, OriginalEvent::from_text(&self.text))
        }
    }
}

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
        class: String,
    },
    /// Neither delivered nor dead-lettered: must be reported to Lambda as not processed, so it comes back.
    Failed {
        reason: String,
    },
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
    pub drop_reasons: Tally,
    pub dead_letter_classes: Tally,
}

impl Summary {
    /// Every event is accounted for exactly once.
    pub fn balanced(&self) -> bool {
        self.events_in == self.events_written + self.dropped + self.dead_lettered + self.failed
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
                    *self.drop_reasons.entry(reason.clone()).or_default() += 1;
                }
                Fate::DeadLettered { class } => {
                    self.dead_lettered += 1;
                    *self.dead_letter_classes.entry(class.clone()).or_default() += 1;
                }
                Fate::Failed { .. } => self.failed += 1,
            }
        }
    }
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
        for (reason, count) in &self.drop_reasons {
            write!(f, "\n  dropped {count}: {reason}")?;
        }
        for (class, count) in &self.dead_letter_classes {
            write!(f, "\n  dead-lettered {count}: {class}")?;
        }
        Ok(())
    }
}

/// Runs chunks of input through a rule set.
pub struct Judge {
    rules: RuleSet,
    batch_size: usize,
}

impl Judge {
    pub fn new(rules: RuleSet) -> Judge {
        Judge { rules, batch_size: DEFAULT_BATCH }
    }

    /// Puts `rules` in place of the rule set in use, between two calls of [`Judge::judge`]: every event is judged
    /// entirely by one rule set. Returns the one replaced.
    pub fn replace_rules(&mut self, rules: RuleSet) -> RuleSet {
        std::mem::replace(&mut self.rules, rules)
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn into_rules(self) -> RuleSet {
        self.rules
    }

    /// Events per rule call (1 = one call per event).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// A verdict for every chunk, in order.
    pub fn judge<'a>(&mut self, chunks: impl IntoIterator<Item = Chunk<'a>>) -> Vec<Judged> {
        let mut judged = Vec::new();
        // Parsed events wait here for their rule call; `places` has each one's index in `judged` and source.
        let mut pending: Vec<Event> = Vec::with_capacity(self.batch_size);
        let mut places: Vec<(usize, Source)> = Vec::with_capacity(self.batch_size);
        for chunk in chunks {
            match chunk {
                Chunk::Broken { text, source, reason } => {
                    let verdict = parse_failure("invalid-json", reason, &source, OriginalEvent::Text(text.clone()));
                    judged.push(Judged { event_id: None, source, text, rule_set: None, verdict });
                }
                Chunk::Object { text, source } => match envelope::parse(text) {
                    Ok(event) => {
                        judged.push(Judged {
                            event_id: None,
                            source: source.clone(),
                            text: String::new(),
                            rule_set: None,
                            verdict: Verdict::Records(Vec::new()),
                        });
                        pending.push(event);
                        places.push((judged.len() - 1, source));
                        if pending.len() >= self.batch_size {
                            self.run_rules(&mut pending, &mut places, &mut judged);
                        }
                    }
                    Err(e) => {
                        let reason = format!("{source}: {}", e.reason);
                        let verdict = parse_failure(e.class, reason, &source, OriginalEvent::from_text(text));
                        judged.push(Judged { event_id: None, source, text: text.to_owned(), rule_set: None, verdict });
                    }
                },
            }
        }
        self.run_rules(&mut pending, &mut places, &mut judged);
        judged
    }

    fn run_rules(&mut self, pending: &mut Vec<Event>, places: &mut Vec<(usize, Source)>, judged: &mut [Judged]) {
        if pending.is_empty() {
            return;
        }
        let dispositions = self.rules.process_batch(pending);
        let version = self.rules.version().map(|v| v.0.clone());
        for ((event, (index, source)), disposition) in pending.drain(..).zip(places.drain(..)).zip(dispositions) {
            judged[index] = settle(event, source, disposition, version.clone());
        }
    }
}

fn settle(event: Event, source: Source, disposition: Disposition, rule_set: Option<String>) -> Judged {
    let verdict = match disposition {
        Disposition::Records(records) => Verdict::Records(records),
        Disposition::Dropped { reason, rule, module } => Verdict::Dropped(Dropped {
            stage: Stage::Rule,
            reason,
            event_id: Some(event.id.clone()),
            rule_set: rule_set.clone(),
            rule,
            module,
            source: Some(source.clone()),
            event: OriginalEvent::from_text(&event.envelope),
        }),
        Disposition::Failed(failure) => {
            let reason = format!("{}: {}", failure.module.name, failure.reason);
            let event_text = OriginalEvent::from_text(&event.envelope);
            Verdict::DeadLetter(Box::new(DeadLetter {
                event_id: Some(event.id.clone()),
                rule_set: rule_set.clone(),
                rule: Some(failure.rule),
                module: Some(failure.module),
                source: Some(source.clone()),
                ..DeadLetter::new(Stage::Rule, &failure.class, reason, event_text)
            }))
        }
    };
    Judged { event_id: Some(event.id), source, text: event.envelope, rule_set, verdict }
}

fn parse_failure(class: &str, reason: String, source: &Source, event: OriginalEvent) -> Verdict {
    Verdict::DeadLetter(Box::new(DeadLetter {
        source: Some(source.clone()),
        ..DeadLetter::new(Stage::Parse, class, reason, event)
    }))
}
