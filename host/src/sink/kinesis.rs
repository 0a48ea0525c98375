//! Records to Kinesis with PutRecords: batches of at most 500 records and 5 MiB; after each call only the
//! entries that failed with a retryable code are sent again, with backoff, until the deadline.
//!
//! Ordering: within a partition key, records that succeed on their first attempt keep their order. A retried
//! record can land after a later record of its key (Kinesis gives no order across a partial failure). Genesys
//! itself delivers out of order and at least once, so consumers order a conversation by `timestamp` (eventTime)
//! and deduplicate on `_id` (the envelope id), which a redelivered or redriven event keeps.

use std::time::Instant;

use aws_sdk_kinesis::error::ProvideErrorMetadata;
use aws_sdk_kinesis::primitives::Blob;
use aws_sdk_kinesis::types::PutRecordsRequestEntry;

use super::retry::Backoff;
use crate::record::Record;

/// Kinesis' PutRecords limits.
pub const MAX_RECORDS_PER_CALL: usize = 500;
pub const MAX_BYTES_PER_CALL: usize = 5 * 1024 * 1024;

/// Why a record did not reach Kinesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutFailure {
    /// `kinesis-throttled`, `kinesis-unavailable`, `kinesis-rejected`.
    pub class: &'static str,
    pub reason: String,
    pub attempts: u32,
}

pub struct KinesisSink {
    client: aws_sdk_kinesis::Client,
    stream: String,
    backoff: Backoff,
    /// PutRecords calls made, for reports (calls per 1,000 events).
    pub calls: u64,
}

impl KinesisSink {
    pub fn new(client: aws_sdk_kinesis::Client, stream: String, backoff: Backoff) -> KinesisSink {
        KinesisSink { client, stream, backoff, calls: 0 }
    }

    pub fn stream(&self) -> &str {
        &self.stream
    }

    /// Writes `records`; one result per record, in order.
    pub async fn put(&mut self, records: &[&Record], deadline: Instant) -> Vec<Result<(), PutFailure>> {
        let mut results: Vec<Result<(), PutFailure>> = vec![Ok(()); records.len()];
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
                for (index, result) in self.put_batch(&stream, records, batch, deadline).await {
                    results[index] = result;
                }
            }
        }
        results
    }

    async fn put_batch(
        &mut self,
        stream: &str,
        records: &[&Record],
        batch: Vec<usize>,
        deadline: Instant,
    ) -> Vec<(usize, Result<(), PutFailure>)> {
        let mut done = Vec::with_capacity(batch.len());
        let mut pending = batch;
        let mut attempt = 0;
        loop {
            attempt += 1;
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
            self.calls += 1;
            let sent = self.client.put_records().stream_name(stream).set_records(Some(entries)).send().await;
            let (retry, failure) = match sent {
                Ok(output) => {
                    let mut retry = Vec::new();
                    let mut last = None;
                    for (&index, entry) in pending.iter().zip(output.records()) {
                        match entry.error_code() {
                            None => done.push((index, Ok(()))),
                            Some(code) => {
                                let reason =
                                    format!("PutRecords entry failed: {code}: {}", entry.error_message().unwrap_or(""));
                                if matches!(code, "ProvisionedThroughputExceededException" | "InternalFailure") {
                                    retry.push(index);
                                    last = Some(failure_class(code, reason));
                                } else {
                                    done.push((
                                        index,
                                        Err(PutFailure { class: "kinesis-rejected", reason, attempts: attempt }),
                                    ));
                                }
                            }
                        }
                    }
                    // Kinesis answers one entry per request entry; anything short of that is retried.
                    retry.extend(pending.iter().skip(output.records().len()));
                    (
                        retry,
                        last.unwrap_or(("kinesis-unavailable", "PutRecords answered fewer entries than sent".into())),
                    )
                }
                Err(error) => {
                    let code = error.code().unwrap_or("").to_owned();
                    let status = error.raw_response().map(|r| r.status().as_u16());
                    let reason = format!("PutRecords failed: {}", aws_sdk_kinesis::error::DisplayErrorContext(&error));
                    let retryable = status.is_none_or(|s| s >= 500 || s == 429)
                        || matches!(
                            code.as_str(),
                            "ProvisionedThroughputExceededException"
                                | "ThrottlingException"
                                | "LimitExceededException"
                                | "KMSThrottlingException"
                                | "InternalFailure"
                        );
                    if !retryable {
                        let failure = PutFailure { class: "kinesis-rejected", reason, attempts: attempt };
                        done.extend(pending.iter().map(|&i| (i, Err(failure.clone()))));
                        return done;
                    }
                    (pending.clone(), failure_class(&code, reason))
                }
            };
            if retry.is_empty() {
                return done;
            }
            match self.backoff.next(attempt, deadline) {
                Some(delay) => {
                    tracing::debug!(
                        stream,
                        attempt,
                        records = retry.len(),
                        delay_ms = delay.as_millis() as u64,
                        "retrying PutRecords"
                    );
                    tokio::time::sleep(delay).await;
                    pending = retry;
                }
                None => {
                    let (class, reason) = failure;
                    let failure = PutFailure {
                        class,
                        reason: format!("{reason} (gave up after {attempt} attempts)"),
                        attempts: attempt,
                    };
                    done.extend(retry.into_iter().map(|i| (i, Err(failure.clone()))));
                    return done;
                }
            }
        }
    }
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
        Record::new(0, "k".into(), format!("\"{}\"", "x".repeat(bytes - 3)), None, &Limits::default()).unwrap()
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
