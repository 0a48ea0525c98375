//! Dead letters to the SQS dead-letter queue (SendMessageBatch), with `stage` and `errorClass` as message
//! attributes so operators can filter (`errorClass` is weft's word: `module-error` for a module's own code, which
//! the body keeps; see [`crate::privacy`]). A dead letter over SQS's 256 KiB is kept whole in S3 and the message
//! carries its summary and location (`DeadLetterMessage::Stored`); without a bucket configured it cannot be kept,
//! and the event is reported as failed (so Lambda retries it and its on-failure destination catches it).
//!
//! What reaches AWS from a module or an event is bounded first: attributes are clipped to a safe alphabet and
//! length, S3 keys are derived from a hash of the event id, and a stored summary's reason is clipped; the full
//! text stays in the dead letter itself. Batches are sent 8 at a time; every attempt (SQS and S3) is bounded by
//! the time left for dead letters and retried with the same backoff as Kinesis.

use std::time::Instant;

use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_sqs::operation::send_message_batch::{SendMessageBatchError, SendMessageBatchOutput};
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};
use futures::StreamExt;
use sha2::{Digest, Sha256};

use super::budget::left;
use super::retry::{Backoff, GiveUp};
use super::stats::{LetterCounters, LetterStats};
use crate::privacy;
use crate::rules::stats::public_class;
use crate::verdict::dead_letter::{DeadLetter, DeadLetterMessage, StoredDeadLetter, StoredObject};

/// SQS' limit on one message, and on one SendMessageBatch call.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const MAX_BATCH_ENTRIES: usize = 10;
/// Room kept for the message attributes, which count towards the limit (two names and two clipped values).
const ATTRIBUTE_ALLOWANCE: usize = 1024;
/// The longest reason in a stored dead letter's summary (the stored dead letter has the whole reason).
pub const MAX_SUMMARY_REASON_BYTES: usize = 4096;
/// SendMessageBatch calls in flight at once.
const CONCURRENT_BATCHES: usize = 8;

pub struct DeadLetterQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    /// Bucket (and client) for dead letters too large for a message.
    overflow: Option<(aws_sdk_s3::Client, String)>,
    backoff: Backoff,
    counters: LetterCounters,
}

type Sent = Result<(), String>;

impl DeadLetterQueue {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        url: String,
        overflow: Option<(aws_sdk_s3::Client, String)>,
        backoff: Backoff,
    ) -> Self {
        DeadLetterQueue { sqs, url, overflow, backoff, counters: LetterCounters::default() }
    }

    /// Messages sent, retried and stored since the last take.
    pub fn take_stats(&self) -> LetterStats {
        self.counters.take()
    }

    /// Sends `letters` before `until`; one result per letter (`Err` says why it could not be kept).
    pub async fn send(&self, letters: &[&DeadLetter], until: Instant) -> Vec<Sent> {
        let mut results: Vec<Sent> = vec![Ok(()); letters.len()];
        let mut batches: Vec<Vec<(usize, String)>> = Vec::new();
        let mut bytes = 0;
        for (index, letter) in letters.iter().enumerate() {
            let body = match self.body(letter, until).await {
                Ok(body) => body,
                Err(reason) => {
                    results[index] = Err(reason);
                    continue;
                }
            };
            let size = body.len() + ATTRIBUTE_ALLOWANCE;
            match batches.last_mut() {
                Some(batch) if batch.len() < MAX_BATCH_ENTRIES && bytes + size <= MAX_MESSAGE_BYTES => {
                    bytes += size;
                    batch.push((index, body));
                }
                _ => {
                    bytes = size;
                    batches.push(vec![(index, body)]);
                }
            }
        }
        let sent: Vec<Vec<(usize, Sent)>> = futures::stream::iter(batches)
            .map(|batch| self.send_batch(letters, batch, until))
            .buffer_unordered(CONCURRENT_BATCHES)
            .collect()
            .await;
        for (index, result) in sent.into_iter().flatten() {
            results[index] = result;
        }
        results
    }

    /// The message body: the dead letter, or its stored summary when it is too large for a message.
    async fn body(&self, letter: &DeadLetter, until: Instant) -> Result<String, String> {
        let json = sqs_safe(serde_json::to_string(letter).expect("dead letters serialise"));
        if json.len() + ATTRIBUTE_ALLOWANCE <= MAX_MESSAGE_BYTES {
            return Ok(json);
        }
        let Some((s3, bucket)) = &self.overflow else {
            return Err(format!(
                "dead letter of {} bytes exceeds SQS's 256 KiB and no WEFT_DLQ_BUCKET is configured to keep it",
                json.len()
            ));
        };
        let day = &letter.failed_at[..10.min(letter.failed_at.len())];
        let key =
            format!("dead-letters/{day}/{}-{:08x}.json", object_name(letter.event_id.as_deref()), fastrand::u32(..));
        let bytes = json.len();
        self.put_object(s3, bucket, &key, json.into_bytes(), until).await?;
        LetterCounters::add(&self.counters.stored, 1);
        let summary = DeadLetterMessage::Stored(StoredDeadLetter {
            schema_version: letter.schema_version,
            stage: letter.stage,
            error_class: privacy::code(&letter.error_class),
            reason: privacy::clip(&letter.reason, MAX_SUMMARY_REASON_BYTES),
            event_id: letter.event_id.as_deref().map(|id| privacy::clip(id, MAX_SUMMARY_REASON_BYTES)),
            stored_in: StoredObject { bucket: bucket.clone(), key, bytes },
        });
        Ok(sqs_safe(serde_json::to_string(&summary).expect("summaries serialise")))
    }

    /// PutObject with the same bounded backoff as the queue.
    async fn put_object(
        &self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        until: Instant,
    ) -> Result<(), String> {
        let mut attempt = 0;
        loop {
            let Some(time) = left(until) else {
                return Err(format!("no time left to store an oversize dead letter in s3://{bucket}/{key}"));
            };
            attempt += 1;
            let request = s3
                .put_object()
                .bucket(bucket)
                .key(key)
                .content_type("application/json")
                .body(body.clone().into())
                .send();
            let reason = match tokio::time::timeout(time, request).await {
                Ok(Ok(_)) => return Ok(()),
                Ok(Err(error)) => {
                    let status = error.raw_response().map(|r| r.status().as_u16());
                    let reason = format!(
                        "storing an oversize dead letter in s3://{bucket}/{key}: {}",
                        aws_sdk_s3::error::DisplayErrorContext(&error)
                    );
                    let retryable = status.is_none_or(|s| s >= 500 || s == 429)
                        || error.code().is_some_and(|c| c.contains("SlowDown") || c.contains("Throttl"));
                    if !retryable {
                        return Err(reason);
                    }
                    reason
                }
                Err(_) => format!("storing an oversize dead letter in s3://{bucket}/{key}: no answer in {time:?}"),
            };
            match self.backoff.next(attempt, until) {
                Ok(delay) => {
                    LetterCounters::add(&self.counters.retried, 1);
                    tokio::time::sleep(delay).await
                }
                Err(_) => return Err(format!("{reason} (gave up after {attempt} attempts)")),
            }
        }
    }

    /// One SendMessageBatch of up to ten letters with its retries: entries SQS blames on the sender fail at once,
    /// the others are sent again with backoff until the time runs out.
    async fn send_batch(
        &self,
        letters: &[&DeadLetter],
        batch: Vec<(usize, String)>,
        until: Instant,
    ) -> Vec<(usize, Sent)> {
        let mut done = Vec::with_capacity(batch.len());
        let mut pending = batch;
        let mut attempt = 0;
        // The last attempt's failure, for letters the time runs out on after it.
        let mut last: Option<String> = None;
        loop {
            let Some(time) = left(until) else {
                let reason = match &last {
                    Some(reason) => format!("no time left after {attempt} attempts; last: {reason}"),
                    None => "no time left to send the dead letter".to_owned(),
                };
                done.extend(pending.iter().map(|(index, _)| (*index, Err(reason.clone()))));
                return done;
            };
            attempt += 1;
            let (retry, reason) = match tokio::time::timeout(time, self.send_once(letters, &pending, attempt)).await {
                Err(_) => (pending.clone(), format!("SendMessageBatch did not answer within the {time:?} left")),
                Ok(Ok(output)) => sort_entries(&pending, &output, &mut done, &self.counters),
                Ok(Err(error)) => {
                    let status = error.raw_response().map(|r| r.status().as_u16());
                    let reason =
                        format!("SendMessageBatch failed: {}", aws_sdk_sqs::error::DisplayErrorContext(&error));
                    let retryable = status.is_none_or(|s| s >= 500 || s == 429)
                        || error.code().is_some_and(|c| c.contains("Throttl"));
                    if !retryable {
                        done.extend(pending.iter().map(|(index, _)| (*index, Err(reason.clone()))));
                        return done;
                    }
                    (pending.clone(), reason)
                }
            };
            if retry.is_empty() {
                return done;
            }
            match self.backoff.next(attempt, until) {
                Ok(delay) => {
                    tokio::time::sleep(delay).await;
                    pending = retry;
                    last = Some(reason);
                }
                Err(why) => {
                    let reason = match why {
                        GiveUp::Attempts => format!("{reason} (gave up after {attempt} attempts)"),
                        GiveUp::Time => format!("no time left after {attempt} attempts; last: {reason}"),
                    };
                    done.extend(retry.iter().map(|(index, _)| (*index, Err(reason.clone()))));
                    return done;
                }
            }
        }
    }

    /// One SendMessageBatch call, the `attempt`th for these letters; each entry's id is its letter's index, so
    /// answers map back.
    async fn send_once(
        &self,
        letters: &[&DeadLetter],
        pending: &[(usize, String)],
        attempt: u32,
    ) -> Result<SendMessageBatchOutput, SdkError<SendMessageBatchError, HttpResponse>> {
        if attempt > 1 {
            LetterCounters::add(&self.counters.retried, pending.len());
        }
        let entries: Vec<SendMessageBatchRequestEntry> = pending
            .iter()
            .map(|(index, body)| {
                let letter = letters[*index];
                SendMessageBatchRequestEntry::builder()
                    .id(index.to_string())
                    .message_body(body)
                    .message_attributes("stage", attribute(letter.stage.as_str()))
                    .message_attributes("errorClass", attribute(public_class(letter.stage, &letter.error_class)))
                    .build()
                    .expect("id and body are set")
            })
            .collect();
        self.sqs.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await
    }
}

/// Sorts a SendMessageBatch answer: sent entries and entries SQS blames on the sender go to `done`; the rest are
/// to be retried, with the last reason seen.
fn sort_entries(
    pending: &[(usize, String)],
    output: &SendMessageBatchOutput,
    done: &mut Vec<(usize, Sent)>,
    counters: &LetterCounters,
) -> (Vec<(usize, String)>, String) {
    let mut retry = Vec::new();
    let mut reason = String::new();
    for entry in pending {
        let Some(failed) = output.failed().iter().find(|f| f.id() == entry.0.to_string()) else {
            LetterCounters::add(&counters.sent, 1);
            done.push((entry.0, Ok(())));
            continue;
        };
        let why = format!("SendMessageBatch entry failed: {}: {}", failed.code(), failed.message().unwrap_or(""));
        if failed.sender_fault() {
            done.push((entry.0, Err(why)));
        } else {
            retry.push(entry.clone());
            reason = why;
        }
    }
    (retry, reason)
}

/// A message attribute's value: at most 64 of `a-z A-Z 0-9 . _ : -` ([`privacy::code`]). SQS refuses some characters
/// outright and counts attributes against the message size.
fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder()
        .data_type("String")
        .string_value(privacy::code(value))
        .build()
        .expect("type is set")
}

/// The name of an oversize dead letter's object: a hash of the event id, never the id itself (an event chooses
/// its id: length, slashes and `..` are its to pick).
pub fn object_name(event_id: Option<&str>) -> String {
    match event_id {
        Some(id) => Sha256::digest(id.as_bytes())[..16].iter().map(|b| format!("{b:02x}")).collect(),
        None => format!("no-id-{:016x}", fastrand::u64(..)),
    }
}

/// A message body SQS accepts: JSON already escapes control characters; the two non-characters SQS refuses
/// (U+FFFE, U+FFFF) are escaped as well, which keeps the JSON's meaning.
fn sqs_safe(json: String) -> String {
    if json.contains(['\u{fffe}', '\u{ffff}']) {
        json.replace('\u{fffe}', "\\ufffe").replace('\u{ffff}', "\\uffff")
    } else {
        json
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_names_and_bodies_are_safe_for_s3_and_sqs() {
        let name = object_name(Some(&"../".repeat(700)));
        assert_eq!(name.len(), 32);
        assert!(name.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(name, object_name(Some(&"../".repeat(700))), "the same event, the same name");
        assert_eq!(sqs_safe("\"a\u{ffff}\"".into()), "\"a\\uffff\"");
        assert_eq!(serde_json::from_str::<String>(&sqs_safe("\"a\u{ffff}\"".into())).unwrap(), "a\u{ffff}");
    }
}
