//! Records to Kinesis with PutRecords: batches of at most 500 records and 5 MiB; after each call only the
//! entries that failed with a retryable code are sent again, with backoff, until the phase's time runs out.
//!
//! Each attempt is bounded by the time left (an answer that comes later is not waited for), and so is each sleep
//! between attempts; what is left when the time runs out fails with class `deadline`. A call Kinesis rejects
//! whole as invalid is split in halves until the entry it objects to is alone, so one bad record costs only its
//! own event.
//!
//! Ordering: within a partition key, records that succeed on their first attempt keep their order. A retried
//! record can land after a later record of its key (Kinesis gives no order across a partial failure). Genesys
//! itself delivers out of order and at least once, so consumers order a conversation by `timestamp` (eventTime)
//! and deduplicate on the record's identity (see docs/guarantees.md).

use std::time::Instant;

use aws_sdk_kinesis::config::http::HttpResponse;
use aws_sdk_kinesis::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::operation::put_records::{PutRecordsError, PutRecordsOutput};
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::budget::left;
use super::retry::{Backoff, GiveUp};
use super::stats::KinesisStats;
use crate::verdict::record::Record;

/// Kinesis' PutRecords limits.
pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;

/// The error class of records whose time ran out before Kinesis took them.
pub const DEADLINE: &str = "deadline";

/// Why a record did not reach Kinesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutFailure {
    /// `kinesis-throttled`, `kinesis-unavailable`, `kinesis-rejected`, `deadline`.
    pub class: &'static str,
    pub reason: String,
    pub attempts: u32,
}

/// Where Kinesis put a record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landed {
    pub stream: String,
    pub shard_id: String,
    pub sequence_number: String,
}

pub type PutResult = Result<Landed, PutFailure>;

pub struct KinesisSink {
    client: aws_sdk_kinesis::Client,
    /// The configured stream: a name, or an ARN (`arn:aws:kinesis:…:stream/NAME`).
    stream: String,
    backoff: Backoff,
    /// Calls, retries and throttles since the metrics last took them.
    stats: KinesisStats,
}

impl KinesisSink {
    pub fn new(client: aws_sdk_kinesis::Client, stream: String, backoff: Backoff) -> KinesisSink {
        KinesisSink { client, stream, backoff, stats: KinesisStats::default() }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    pub fn take_stats(&mut self) -> KinesisStats {
        std::mem::take(&mut self.stats)
    }

    /// Writes `records` before `until`; one result per record, in order.
    pub async fn put(&mut self, records: &[&Record], until: Instant) -> Vec<PutResult> {
        let mut results: Vec<Option<PutResult>> = vec![None; records.len()];
        // Group by target stream, keeping each stream's records in order.
        let mut streams: Vec<(String, Vec<usize>)> = Vec::new();
        for (index, record) in records.iter().enumerate() {
            let stream = record.stream.as_deref().unwrap_or(&self.stream);
            match streams.iter_mut().find(|(s, _)| s == stream) {
                Some((_, indices)) => indices.push(index),
                None => streams.push((stream.to_owned(), vec![index])),
            }
        }
        for (stream, indices) in streams {
            for batch in batches(records, &indices) {
                for (index, result) in self.put_batch(&stream, records, batch, until).await {
                    results[index] = Some(result);
                }
            }
        }
        results.into_iter().map(|r| r.expect("every record has a result")).collect()
    }

    /// One PutRecords batch with its retries; a call rejected whole as invalid is split in two.
    async fn put_batch(
        &mut self,
        stream: &str,
        records: &[&Record],
        batch: Vec<usize>,
        until: Instant,
    ) -> Vec<(usize, PutResult)> {
        let mut done = Vec::with_capacity(batch.len());
        let mut pending = batch;
        let mut attempt = 0;
        // The last attempt's failure, for records the time runs out on after it.
        let mut last: Option<(&'static str, String)> = None;
        loop {
            let Some(time) = left(until) else {
                done.extend(give_up(&pending, out_of_time(last, attempt), attempt));
                return done;
            };
            attempt += 1;
            let Ok(sent) = tokio::time::timeout(time, self.send(stream, records, &pending, attempt)).await else {
                // Kinesis may yet take this call: the one ambiguous case (see the guarantees).
                let reason = format!("PutRecords did not answer within the {time:?} left for records");
                done.extend(give_up(&pending, (DEADLINE, reason), attempt));
                return done;
            };
            let (retry, failure) = match sent {
                Ok(output) => sort_entries(stream, &pending, &output, attempt, &mut done, &mut self.stats),
                Err(error) => match call_failure(&error) {
                    CallFailure::Invalid(_) if pending.len() > 1 => {
                        // Some entry is invalid (Kinesis does not say which): halve until it is alone.
                        let second = pending.split_off(pending.len() / 2);
                        for half in [pending, second] {
                            done.extend(Box::pin(self.put_batch(stream, records, half, until)).await);
                        }
                        return done;
                    }
                    CallFailure::Invalid(reason) | CallFailure::Rejected(reason) => {
                        done.extend(give_up(&pending, ("kinesis-rejected", reason), attempt));
                        return done;
                    }
                    CallFailure::Retryable(failure) => (pending.clone(), self.stats.failed(failure, pending.len())),
                },
            };
            if retry.is_empty() {
                return done;
            }
            match self.backoff.next(attempt, until) {
                Ok(delay) => {
                    let (records, delay_ms) = (retry.len(), delay.as_millis() as u64);
                    tracing::debug!(stream, attempt, records, delay_ms, "retrying PutRecords");
                    tokio::time::sleep(delay).await;
                    pending = retry;
                    last = Some(failure);
                }
                Err(why) => {
                    done.extend(give_up(&retry, exhausted(failure, why, attempt), attempt));
                    return done;
                }
            }
        }
    }

    /// One PutRecords call for the records at `pending`, the `attempt`th for them.
    async fn send(
        &mut self,
        stream: &str,
        records: &[&Record],
        pending: &[usize],
        attempt: u32,
    ) -> Result<PutRecordsOutput, SdkError<PutRecordsError, HttpResponse>> {
        self.stats.attempted(attempt, pending.len());
        let entries: Vec<PutRecordsRequestEntry> = pending
            .iter()
            .map(|&i| {
                PutRecordsRequestEntry::builder()
                    .data(Blob::new(records[i].data.get().as_bytes()))
                    .partition_key(&records[i].partition_key)
                    .build()
                    .expect("data and partition key are set")
            })
            .collect();
        let request = self.client.put_records().set_records(Some(entries));
        let request = if is_arn(stream) { request.stream_arn(stream) } else { request.stream_name(stream) };
        request.send().await
    }
}

/// Sorts a PutRecords answer: landed entries and entries Kinesis rejects go to `done`; the rest (throttled,
/// internal failures, entries it did not answer) are to be retried, with the last failure seen.
fn sort_entries(
    stream: &str,
    pending: &[usize],
    output: &PutRecordsOutput,
    attempt: u32,
    done: &mut Vec<(usize, PutResult)>,
    stats: &mut KinesisStats,
) -> (Vec<usize>, (&'static str, String)) {
    let mut retry = Vec::new();
    let mut last = None;
    for (&index, entry) in pending.iter().zip(output.records()) {
        let Some(code) = entry.error_code() else {
            let shard_id = entry.shard_id().unwrap_or_default().to_owned();
            let sequence_number = entry.sequence_number().unwrap_or_default().to_owned();
            done.push((index, Ok(Landed { stream: stream.to_owned(), shard_id, sequence_number })));
            continue;
        };
        let reason = format!("PutRecords entry failed: {code}: {}", entry.error_message().unwrap_or(""));
        if matches!(code, "ProvisionedThroughputExceededException" | "InternalFailure") {
            stats.throttled += u64::from(code == "ProvisionedThroughputExceededException");
            retry.push(index);
            last = Some(failure_class(code, reason));
        } else {
            done.push((index, Err(PutFailure { class: "kinesis-rejected", reason, attempts: attempt })));
        }
    }
    // Kinesis answers one entry per request entry; anything short of that is retried.
    retry.extend(pending.iter().skip(output.records().len()));
    (retry, last.unwrap_or(("kinesis-unavailable", "PutRecords answered fewer entries than sent".into())))
}

/// A PutRecords call that failed as a whole.
enum CallFailure {
    /// Something in the call is invalid (Kinesis does not say which entry).
    Invalid(String),
    /// Refused for another reason that retrying will not change.
    Rejected(String),
    /// Throttled, unavailable, or no answer: worth another attempt.
    Retryable((&'static str, String)),
}

fn call_failure(error: &SdkError<PutRecordsError, HttpResponse>) -> CallFailure {
    let code = error.code().unwrap_or("");
    let status = error.raw_response().map(|r| r.status().as_u16());
    let reason = format!("PutRecords failed: {}", aws_sdk_kinesis::error::DisplayErrorContext(error));
    let retryable = status.is_none_or(|s| s >= 500 || s == 429)
        || matches!(
            code,
            "ProvisionedThroughputExceededException"
                | "ThrottlingException"
                | "LimitExceededException"
                | "KMSThrottlingException"
                | "InternalFailure"
        );
    match (retryable, invalid_request(code)) {
        (true, _) => CallFailure::Retryable(failure_class(code, reason)),
        (false, true) => CallFailure::Invalid(reason),
        (false, false) => CallFailure::Rejected(reason),
    }
}

/// The failure of records the time runs out on before their next attempt.
fn out_of_time(last: Option<(&'static str, String)>, attempt: u32) -> (&'static str, String) {
    match last {
        Some(failure) => exhausted(failure, GiveUp::Time, attempt),
        None => (DEADLINE, "the invocation's time for records ran out before PutRecords was attempted".into()),
    }
}

/// The failure of records still pending when the retries end: the last failure, or `deadline` when time ran out.
fn exhausted((class, reason): (&'static str, String), why: GiveUp, attempt: u32) -> (&'static str, String) {
    match why {
        GiveUp::Attempts => (class, format!("{reason} (gave up after {attempt} attempts)")),
        GiveUp::Time => {
            (DEADLINE, format!("the invocation's time for records ran out after {attempt} attempts; last: {reason}"))
        }
    }
}

/// The same failure for each of `indices`.
fn give_up(indices: &[usize], (class, reason): (&'static str, String), attempts: u32) -> Vec<(usize, PutResult)> {
    let failure = PutFailure { class, reason, attempts };
    indices.iter().map(|&i| (i, Err(failure.clone()))).collect()
}

/// Stream ARNs go in PutRecords' `StreamARN`, names in `StreamName`.
pub fn is_arn(stream: &str) -> bool {
    stream.starts_with("arn:")
}

/// Codes with which Kinesis refuses a whole call because of what is in it (not because of the stream).
fn invalid_request(code: &str) -> bool {
    matches!(code, "ValidationException" | "InvalidArgumentException" | "SerializationException")
}

fn failure_class(code: &str, reason: String) -> (&'static str, String) {
    let class = if code.contains("Throughput") || code.contains("Throttling") || code.contains("LimitExceeded") {
        "kinesis-throttled"
    } else {
        "kinesis-unavailable"
    };
    (class, reason)
}

/// Splits `indices` into PutRecords calls: at most 500 records and 5 MiB (data plus partition keys) each.
fn batches(records: &[&Record], indices: &[usize]) -> Vec<Vec<usize>> {
    let mut out: Vec<Vec<usize>> = Vec::new();
    let mut bytes = 0;
    for &index in indices {
        let size = records[index].data.get().len() + records[index].partition_key.len();
        match out.last_mut() {
            Some(batch) if batch.len() < MAX_RECORDS_PER_CALL && bytes + size <= MAX_BYTES_PER_CALL => {
                batch.push(index);
                bytes += size;
            }
            _ => {
                out.push(vec![index]);
                bytes = size;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Limits;

    fn record(bytes: usize) -> Record {
        Record::new(Default::default(), "k".into(), format!("\"{}\"", "x".repeat(bytes - 3)), None, &Limits::default())
            .unwrap()
    }

    #[test]
    fn batches_respect_500_records_and_5_mib() {
        let small: Vec<Record> = (0..1201).map(|_| record(100)).collect();
        let refs: Vec<&Record> = small.iter().collect();
        let sizes: Vec<usize> = batches(&refs, &(0..1201).collect::<Vec<_>>()).iter().map(Vec::len).collect();
        assert_eq!(sizes, [500, 500, 201]);
        // 1 MiB - 1 byte each (with the 1-byte key: exactly 1 MiB): five fit in 5 MiB, the sixth starts a new call.
        let large: Vec<Record> = (0..7).map(|_| record(1024 * 1024 - 1)).collect();
        let refs: Vec<&Record> = large.iter().collect();
        let sizes: Vec<usize> = batches(&refs, &(0..7).collect::<Vec<_>>()).iter().map(Vec::len).collect();
        assert_eq!(sizes, [5, 2]);
    }
}
