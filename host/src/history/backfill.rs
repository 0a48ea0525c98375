//! The backfill role (`WEFT_ROLE=backfill`): the event function's zip, invoked by the backfill state machine's
//! Distributed Map with one S3 object of history per item. It streams the object through the rules and delivers
//! as the event function does (records to the target stream, dead letters to the queue with their place in the
//! object), and stops in time: what it answers says where it stopped, so the state machine invokes it again from
//! there — resumed, not restarted, and nothing written twice — until the object is done.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::delivery::{Budget, Delivery, SinkError};
use crate::history::object::{self, ObjectError, Place};
use crate::input::Stream;
use crate::judge::Judge;
use crate::verdict::compare::Report;
use crate::verdict::{Fate, Judged, Summary, Verdict};

/// Events judged at a time (a `weft run` slice): the unit of delivery, and of resumption.
pub const BATCH: usize = 1000;
/// Judged batches waiting for delivery.
const BATCHES_IN_FLIGHT: usize = 2;

/// One item of the map: an object, where to read it from, and what was done with it so far.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub bucket: String,
    pub key: String,
    /// Where the last invocation stopped (absent: the start).
    #[serde(default)]
    pub place: Place,
    /// Whether the object is gzip, once an invocation has looked.
    #[serde(default)]
    pub gzip: Option<bool>,
    /// The stream every record goes to (absent: the function's own).
    #[serde(default)]
    pub stream: Option<String>,
    /// The rule set the backfill names (an S3 location; absent or empty: the deployment's), carried from one
    /// invocation of the object to the next.
    #[serde(default)]
    pub rules: Option<String>,
    /// A dry run's candidate rule set (an S3 location; absent or empty: not a dry run): every event is judged by
    /// the backfill's rule set and by this one, nothing is written, and `report` says what the candidate would change.
    #[serde(default)]
    pub diff: Option<String>,
    /// A dry run's report so far, carried from one invocation of the object to the next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// How long one invocation works on the object before it answers (absent: until a quarter of the invocation's
    /// time is left, at most a minute): shorter invocations checkpoint more often.
    #[serde(default)]
    pub seconds_per_invocation: Option<u64>,
    /// The counts of the invocations before.
    #[serde(default)]
    pub counts: Counts,
    #[serde(default)]
    pub invocations: u32,
}

/// What became of an object's events so far. Always `events = written + dropped + deadLettered + failed`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Counts {
    pub events: u64,
    pub written: u64,
    pub records: u64,
    pub dropped: u64,
    pub dead_lettered: u64,
    pub failed: u64,
}

impl std::ops::AddAssign for Counts {
    fn add_assign(&mut self, more: Counts) {
        self.events += more.events;
        self.written += more.written;
        self.records += more.records;
        self.dropped += more.dropped;
        self.dead_lettered += more.dead_lettered;
        self.failed += more.failed;
    }
}

impl Counts {
    fn add(&mut self, fates: &[Fate]) {
        let mut s = Summary::default();
        s.count(fates);
        let (events, written, records) = (s.events_in, s.events_written, s.records_out);
        *self +=
            Counts { events, written, records, dropped: s.dropped, dead_lettered: s.dead_lettered, failed: s.failed };
    }

    /// Counts verdicts as their delivery would (a dry run's: what the rule set would write, drop, dead-letter).
    pub(crate) fn add_verdicts<'a>(&mut self, verdicts: impl Iterator<Item = &'a Verdict>) {
        self.add(&verdicts.map(Fate::as_judged).collect::<Vec<_>>());
    }

    pub fn balanced(&self) -> bool {
        self.events == self.written + self.dropped + self.dead_lettered + self.failed
    }
}

/// An invocation's answer: the item as the next invocation takes it, and whether the object is done.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    #[serde(flatten)]
    pub item: Item,
    pub done: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum BackfillError {
    #[error(transparent)]
    Object(#[from] ObjectError),
    #[error("s3://{bucket}/{key} at byte {offset}: {reason}")]
    Read { bucket: String, key: String, offset: u64, reason: String },
    #[error(transparent)]
    Sink(#[from] SinkError),
}

/// What the reading thread hands over: a batch judged, and where in the object it ends; or the end.
enum Batch {
    Judged { judged: Vec<Judged>, place: Place },
    Failed(String),
    End,
}

/// How long before its deadline an invocation stops taking batches: enough for one more to be delivered.
pub fn reserve(deadline: Instant) -> Duration {
    (deadline.saturating_duration_since(Instant::now()) / 4).min(Duration::from_secs(60))
}

/// Opens `item`'s object where the last invocation stopped and counts this invocation; says when it stops taking
/// batches (a quarter before `deadline`, or after the item's `secondsPerInvocation`).
pub(crate) async fn begin(
    item: &mut Item,
    s3: &aws_sdk_s3::Client,
    deadline: Instant,
) -> Result<(object::Opened, Instant), ObjectError> {
    let mut stop = deadline.checked_sub(reserve(deadline)).unwrap_or_else(Instant::now);
    if let Some(seconds) = item.seconds_per_invocation {
        stop = stop.min(Instant::now() + Duration::from_secs(seconds));
    }
    let opened = object::open(s3, &item.bucket, &item.key, item.place, item.gzip).await?;
    item.gzip = Some(opened.gzip);
    item.invocations += 1;
    Ok((opened, stop))
}

/// Reads `item`'s object from where it stopped, judging on a blocking thread and delivering here, until the object
/// ends or `deadline` nears; gives the judge back with the progress.
pub async fn run(
    mut item: Item,
    s3: &aws_sdk_s3::Client,
    judge: Judge,
    delivery: &mut Delivery,
    deadline: Instant,
) -> Result<(Progress, Judge), BackfillError> {
    let (opened, stop) = begin(&mut item, s3, deadline).await?;
    let name = format!("s3://{}/{}", item.bucket, item.key);
    let (offset, line) = (item.place.offset as usize, item.place.line);
    let (sender, mut receiver) = mpsc::channel(BATCHES_IN_FLIGHT);
    let reading = tokio::task::spawn_blocking(move || {
        let stream = Stream::new(opened.reader(), name.into()).starting_at(offset, line);
        judge_all(stream, judge, &sender)
    });
    let (mut done, started_at) = (false, item.place);
    // A batch is waited for only until `stop`: a long wait (a gzip object decompressed up to a far place) ends the
    // invocation with what it delivered, not past its deadline.
    while let Ok(next) = tokio::time::timeout_at(stop.into(), receiver.recv()).await {
        match next {
            Some(Batch::Judged { mut judged, place }) => {
                if let Some(stream) = &item.stream {
                    judged.iter_mut().for_each(|judged| super::to_stream(judged, stream));
                }
                let fates = delivery.deliver(judged, Budget::until(deadline)).await?;
                item.counts.add(&fates);
                item.place = place;
            }
            Some(Batch::End) | None => {
                done = true;
                break;
            }
            // What was delivered stays delivered: the next invocation resumes after it (a failed invocation would
            // be retried from where it started, and write those records again). With nothing delivered, fail.
            Some(Batch::Failed(_)) if item.place != started_at => break,
            Some(Batch::Failed(reason)) => {
                let (bucket, key, offset) = (item.bucket.clone(), item.key.clone(), item.place.offset);
                return Err(BackfillError::Read { bucket, key, offset, reason });
            }
        }
        if Instant::now() >= stop {
            break;
        }
    }
    // Batches judged but not delivered are read again by the next invocation, from `item.place`.
    drop(receiver);
    let judge = reading.await.map_err(|e| BackfillError::Read {
        bucket: item.bucket.clone(),
        key: item.key.clone(),
        offset: item.place.offset,
        reason: format!("the reading thread failed: {e}"),
    })?;
    Ok((Progress { item, done }, judge))
}

/// The reading thread: the object's chunks, a batch at a time, judged and handed over with where they end.
fn judge_all<R: std::io::Read>(mut stream: Stream<R>, mut judge: Judge, sender: &mpsc::Sender<Batch>) -> Judge {
    loop {
        let chunks = match stream.next_chunks(BATCH) {
            Ok(chunks) => chunks,
            Err(e) => {
                let _ = sender.blocking_send(Batch::Failed(e.to_string()));
                return judge;
            }
        };
        if chunks.is_empty() {
            let _ = sender.blocking_send(Batch::End);
            return judge;
        }
        let judged = judge.judge(chunks);
        let (offset, line) = stream.position();
        let place = Place { offset: offset as u64, line };
        // The receiver is gone when the invocation stopped taking batches.
        if sender.blocking_send(Batch::Judged { judged, place }).is_err() {
            return judge;
        }
    }
}
