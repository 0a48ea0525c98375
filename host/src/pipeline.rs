//! The data path end to end: input chunks → envelopes → rules → records, drops and dead letters → a sink, with
//! the counts that show every event ended in exactly one place.

use std::sync::Arc;

use serde::Serialize;
use weft_sdk::Event;

use crate::dead_letter::{DEAD_LETTER_VERSION, DeadLetter, Dropped, OriginalEvent, Stage, Tally, now_rfc3339};
use crate::envelope;
use crate::input::{self, Chunk, Source};
use crate::record::Record;
use crate::rules::{Disposition, RuleSet};
use crate::sink::{Sink, SinkError};

/// Events handed to the rules in one call (see `RuleSet::process_batch`).
pub const DEFAULT_BATCH: usize = 64;

/// What happened to the events so far. `events_in == events_written + dropped + dead_lettered`, always.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub events_in: u64,
    /// Events that became at least one record.
    pub events_written: u64,
    pub records_out: u64,
    pub dropped: u64,
    pub dead_lettered: u64,
    pub drop_reasons: Tally,
    pub dead_letter_classes: Tally,
}

impl Summary {
    /// Every event is accounted for exactly once.
    pub fn balanced(&self) -> bool {
        self.events_in == self.events_written + self.dropped + self.dead_lettered
    }
}

impl std::fmt::Display for Summary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events in: {} written as {} records, {} dropped, {} dead-lettered",
            self.events_in, self.events_written, self.records_out, self.dropped, self.dead_lettered
        )?;
        for (reason, count) in &self.drop_reasons {
            write!(f, "\n  dropped {count}: {reason}")?;
        }
        for (class, count) in &self.dead_letter_classes {
            write!(f, "\n  dead-lettered {count}: {class}")?;
        }
        Ok(())
    }
}

/// Runs events through a rule set into a sink.
pub struct Pipeline<'s> {
    rules: RuleSet,
    sink: &'s mut dyn Sink,
    /// Events waiting for the rules, and where each came from.
    batch: Vec<Event>,
    sources: Vec<Source>,
    batch_size: usize,
    summary: Summary,
}

impl<'s> Pipeline<'s> {
    pub fn new(rules: RuleSet, sink: &'s mut dyn Sink) -> Pipeline<'s> {
        Pipeline {
            rules,
            sink,
            batch: Vec::with_capacity(DEFAULT_BATCH),
            sources: Vec::with_capacity(DEFAULT_BATCH),
            batch_size: DEFAULT_BATCH,
            summary: Summary::default(),
        }
    }

    /// Events per rule call (1 = one call per event).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// Reads every event in `data` (the contents of `file`).
    pub fn feed(&mut self, data: &[u8], file: Arc<str>) -> Result<(), SinkError> {
        for chunk in input::split(data, file) {
            self.summary.events_in += 1;
            match chunk {
                Chunk::Broken { text, source, reason } => {
                    self.dead_letter(
                        Stage::Parse,
                        "invalid-json",
                        reason,
                        None,
                        None,
                        Some(source),
                        OriginalEvent::Text(text),
                    )?;
                }
                Chunk::Object { text, source } => match envelope::parse(text) {
                    Ok(event) => {
                        self.batch.push(event);
                        self.sources.push(source);
                        if self.batch.len() >= self.batch_size {
                            self.flush()?;
                        }
                    }
                    Err(e) => {
                        let reason = format!("{source}: {}", e.reason);
                        self.dead_letter(
                            Stage::Parse,
                            e.class,
                            reason,
                            None,
                            None,
                            Some(source),
                            OriginalEvent::from_text(text),
                        )?;
                    }
                },
            }
        }
        Ok(())
    }

    /// Runs what is still batched, and returns the counts.
    pub fn finish(mut self) -> Result<Summary, SinkError> {
        self.flush()?;
        self.sink.flush()?;
        debug_assert!(self.summary.balanced(), "{:?}", self.summary);
        Ok(self.summary)
    }

    fn flush(&mut self) -> Result<(), SinkError> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let dispositions = self.rules.process_batch(&self.batch);
        let events = std::mem::take(&mut self.batch);
        let sources = std::mem::take(&mut self.sources);
        for ((event, source), disposition) in events.into_iter().zip(sources).zip(dispositions) {
            self.settle(event, source, disposition)?;
        }
        Ok(())
    }

    fn settle(&mut self, event: Event, source: Source, disposition: Disposition) -> Result<(), SinkError> {
        match disposition {
            Disposition::Records(records) => {
                self.summary.events_written += 1;
                self.summary.records_out += records.len() as u64;
                self.write_records(&records)
            }
            Disposition::Dropped { reason, rule, module } => {
                self.summary.dropped += 1;
                *self.summary.drop_reasons.entry(reason.clone()).or_default() += 1;
                self.sink.dropped(&Dropped {
                    stage: Stage::Rule,
                    reason,
                    event_id: Some(event.id),
                    rule: Some(rule),
                    module,
                    source: Some(source),
                    event: OriginalEvent::from_text(&event.envelope),
                })
            }
            Disposition::Failed(failure) => {
                let reason = format!("{}: {}", failure.module.name, failure.reason);
                let original = OriginalEvent::from_text(&event.envelope);
                self.dead_letter(
                    Stage::Rule,
                    &failure.class,
                    reason,
                    Some(event.id),
                    Some((failure.rule, failure.module)),
                    Some(source),
                    original,
                )
            }
        }
    }

    fn write_records(&mut self, records: &[Record]) -> Result<(), SinkError> {
        records.iter().try_for_each(|record| self.sink.record(record))
    }

    #[allow(clippy::too_many_arguments)]
    fn dead_letter(
        &mut self,
        stage: Stage,
        class: &str,
        reason: String,
        event_id: Option<String>,
        rule: Option<(String, crate::engine::ModuleId)>,
        source: Option<Source>,
        event: OriginalEvent,
    ) -> Result<(), SinkError> {
        self.summary.dead_lettered += 1;
        *self.summary.dead_letter_classes.entry(class.to_owned()).or_default() += 1;
        let (rule, module) = rule.map_or((None, None), |(rule, module)| (Some(rule), Some(module)));
        self.sink.dead_letter(&DeadLetter {
            schema_version: DEAD_LETTER_VERSION,
            stage,
            error_class: class.to_owned(),
            reason,
            event_id,
            rule,
            module,
            source,
            attempts: 1,
            failed_at: now_rfc3339(),
            event,
        })
    }
}
