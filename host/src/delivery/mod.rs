//! Delivery: verdicts in, fates out. Records go to Kinesis ([`kinesis`]) or to JSON lines; dead letters to the
//! SQS dead-letter queue ([`dead_letters`]) or to JSON lines; drops, when asked, to JSON lines. The Lambda, `weft
//! run` and `weft redrive` all deliver through [`Delivery`], so they fail and recover alike.
//!
//! An event whose records Kinesis would not take (after retries) becomes a dead letter (stage `sink`); an event
//! whose dead letter the queue would not take is `Failed`, which the Lambda reports back so the event returns.

pub mod budget;
pub mod dead_letters;
pub mod kinesis;
pub mod retry;
pub mod stats;

use std::collections::BTreeMap;
use std::io::Write;

pub use budget::Budget;

use serde::Serialize;

use crate::verdict::dead_letter::{DeadLetter, WrittenRecord};
use crate::verdict::{Fate, Judged, Record, Verdict};
use dead_letters::DeadLetterQueue;
use kinesis::KinesisSink;
use stats::DeliveryStats;

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing {what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
}

/// A local writer of JSON lines.
pub type Lines = Box<dyn Write + Send>;

/// Where records go.
pub enum RecordPort {
    Kinesis(KinesisSink),
    Lines(Lines),
}

/// Where dead letters go (`Lines(None)`: counted only).
pub enum LetterPort {
    Queue(DeadLetterQueue),
    Lines(Option<Lines>),
}

pub struct Delivery {
    pub records: RecordPort,
    pub letters: LetterPort,
    pub dropped: Option<Lines>,
    /// Records written per stream since the metrics last took them.
    written: BTreeMap<String, u64>,
}

/// The stream name counted for records written as JSON lines.
pub const LINES_STREAM: &str = "-";

impl Delivery {
    pub fn new(records: RecordPort, letters: LetterPort, dropped: Option<Lines>) -> Delivery {
        Delivery { records, letters, dropped, written: BTreeMap::new() }
    }

    /// Everything to local writers: what `weft run` does without `--stream`/`--dlq`.
    pub fn local(records: Lines, dropped: Option<Lines>, dead_letters: Option<Lines>) -> Delivery {
        Delivery::new(RecordPort::Lines(records), LetterPort::Lines(dead_letters), dropped)
    }

    /// What delivery did since the last take.
    pub fn take_stats(&mut self) -> DeliveryStats {
        DeliveryStats {
            kinesis: match &mut self.records {
                RecordPort::Kinesis(kinesis) => kinesis.take_stats(),
                RecordPort::Lines(_) => Default::default(),
            },
            letters: match &self.letters {
                LetterPort::Queue(queue) => queue.take_stats(),
                LetterPort::Lines(_) => Default::default(),
            },
            records_by_stream: std::mem::take(&mut self.written),
        }
    }

    /// Delivers every verdict within `budget`; one fate per event, in order. `Err` only when a local writer fails
    /// (the run cannot go on).
    pub async fn deliver(&mut self, mut judged: Vec<Judged>, budget: Budget) -> Result<Vec<Fate>, SinkError> {
        let mut fates: Vec<Option<Fate>> = vec![None; judged.len()];
        // Records first: an event whose records do not all land becomes a dead letter...
        for (index, letter) in self.write_records(&judged, &budget).await? {
            judged[index].verdict = Verdict::DeadLetter(Box::new(letter));
        }
        // ...then dead letters, those of the rules and those just made; then drops and writes.
        self.send_letters(&judged, &budget, &mut fates).await?;
        for (index, item) in judged.iter().enumerate() {
            match &item.verdict {
                Verdict::Records(list) => fates[index] = Some(Fate::Written { records: list.len() }),
                Verdict::Dropped(dropped) => {
                    if let Some(out) = &mut self.dropped {
                        line(out, dropped, "dropped events")?;
                    }
                    fates[index] = Some(Fate::Dropped { reason: dropped.reason.clone() });
                }
                Verdict::DeadLetter(_) => {}
            }
        }
        Ok(fates.into_iter().map(|fate| fate.expect("every event has a fate")).collect())
    }

    /// Writes every record; the dead letters of the events whose records did not all land.
    async fn write_records(
        &mut self,
        judged: &[Judged],
        budget: &Budget,
    ) -> Result<Vec<(usize, DeadLetter)>, SinkError> {
        let mut owners = Vec::new();
        let mut records = Vec::new();
        for (index, item) in judged.iter().enumerate() {
            if let Verdict::Records(list) = &item.verdict {
                owners.extend(std::iter::repeat_n(index, list.len()));
                records.extend(list.iter());
            }
        }
        match &mut self.records {
            RecordPort::Lines(out) => {
                for record in &records {
                    record.write_line(out).map_err(|source| SinkError::Io { what: "records", source })?;
                    count(&mut self.written, record.stream.as_deref().unwrap_or(LINES_STREAM));
                }
                Ok(Vec::new())
            }
            RecordPort::Kinesis(kinesis) => {
                let results = kinesis.put(&records, budget.records_until()).await;
                for landed in results.iter().flatten() {
                    count(&mut self.written, &landed.stream);
                }
                Ok(unlanded(judged, kinesis.stream(), &owners, &records, results))
            }
        }
    }

    /// Sends the dead letters in `judged`, recording each event's fate: dead-lettered, or failed when not even the
    /// queue took it.
    async fn send_letters(
        &mut self,
        judged: &[Judged],
        budget: &Budget,
        fates: &mut [Option<Fate>],
    ) -> Result<(), SinkError> {
        let letters: Vec<(usize, &DeadLetter)> = judged
            .iter()
            .enumerate()
            .filter_map(|(index, item)| match &item.verdict {
                Verdict::DeadLetter(letter) => Some((index, letter.as_ref())),
                _ => None,
            })
            .collect();
        match &mut self.letters {
            LetterPort::Lines(out) => {
                for (index, letter) in &letters {
                    if let Some(out) = out {
                        line(out, letter, "dead letters")?;
                    }
                    fates[*index] = Some(Fate::DeadLettered { stage: letter.stage, class: letter.error_class.clone() });
                }
            }
            LetterPort::Queue(queue) => {
                let refs: Vec<&DeadLetter> = letters.iter().map(|(_, letter)| *letter).collect();
                for ((index, letter), result) in letters.iter().zip(queue.send(&refs, budget.letters_until()).await) {
                    fates[*index] = Some(match result {
                        Ok(()) => Fate::DeadLettered { stage: letter.stage, class: letter.error_class.clone() },
                        Err(reason) => {
                            let event = letter.event_id.as_deref().unwrap_or("");
                            tracing::error!(
                                metric = "EventFailed",
                                event,
                                reason,
                                "dead letter not kept; the event is reported as failed"
                            );
                            Fate::Failed { reason }
                        }
                    });
                }
            }
        }
        Ok(())
    }

    pub fn flush(&mut self) -> Result<(), SinkError> {
        let mut writers: Vec<(&mut Lines, &'static str)> = Vec::new();
        if let RecordPort::Lines(out) = &mut self.records {
            writers.push((out, "records"));
        }
        if let LetterPort::Lines(Some(out)) = &mut self.letters {
            writers.push((out, "dead letters"));
        }
        if let Some(out) = &mut self.dropped {
            writers.push((out, "dropped events"));
        }
        for (out, what) in writers {
            out.flush().map_err(|source| SinkError::Io { what, source })?;
        }
        Ok(())
    }
}

/// Per event whose records did not all land, its dead letter: its first failure (owners come in event order, so
/// one dead letter per event however many of its records failed), with the records of it that landed. Only those
/// events' landed records are kept: when every record lands, nothing is copied.
fn unlanded(
    judged: &[Judged],
    stream: &str,
    owners: &[usize],
    records: &[&Record],
    results: Vec<kinesis::PutResult>,
) -> Vec<(usize, DeadLetter)> {
    let mut failed: Vec<(usize, kinesis::PutFailure, Vec<WrittenRecord>)> = Vec::new();
    for (owner, result) in owners.iter().zip(&results) {
        if let Err(failure) = result
            && failed.last().is_none_or(|(index, ..)| index != owner)
        {
            failed.push((*owner, failure.clone(), Vec::new()));
        }
    }
    for ((owner, record), result) in owners.iter().zip(records).zip(results) {
        if let Ok(place) = result
            && let Ok(at) = failed.binary_search_by_key(owner, |(index, ..)| *index)
        {
            let id = record.id.clone();
            let (stream, shard_id, sequence_number) = (place.stream, place.shard_id, place.sequence_number);
            failed[at].2.push(WrittenRecord { id, stream, shard_id, sequence_number });
        }
    }
    failed
        .into_iter()
        .map(|(owner, failure, written)| {
            let reason = format!("{} to stream {stream}: {}", failure.class, failure.reason);
            let mut letter = judged[owner].sink_failure(failure.class, reason, failure.attempts);
            letter.written.extend(written);
            (owner, letter)
        })
        .collect()
}

/// Counts a record written to `stream`; the name is copied only the first time.
fn count(written: &mut BTreeMap<String, u64>, stream: &str) {
    match written.get_mut(stream) {
        Some(count) => *count += 1,
        None => drop(written.insert(stream.to_owned(), 1)),
    }
}

fn line(out: &mut Lines, value: &impl Serialize, what: &'static str) -> Result<(), SinkError> {
    let io = |source| SinkError::Io { what, source };
    serde_json::to_writer(&mut *out, value).map_err(|e| io(e.into()))?;
    out.write_all(b"\n").map_err(io)
}
