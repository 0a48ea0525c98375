//! Dead letters to the SQS dead-letter queue (SendMessageBatch), with `stage` and `errorClass` as message
//! attributes so operators can filter. A dead letter over SQS's 256 KiB is kept whole in S3 and the message
//! carries its summary and location (`DeadLetterMessage::Stored`); without a bucket configured it cannot be kept,
//! and the event is reported as failed (so Lambda retries it and its on-failure destination catches it).

use std::time::Instant;

use aws_sdk_sqs::error::ProvideErrorMetadata;
use aws_sdk_sqs::types::{MessageAttributeValue, SendMessageBatchRequestEntry};

use super::retry::Backoff;
use crate::dead_letter::{DeadLetter, DeadLetterMessage, StoredDeadLetter, StoredObject};

/// SQS' limit on one message, and on one SendMessageBatch call.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
const MAX_BATCH_ENTRIES: usize = 10;
/// Room kept for the message attributes, which count towards the limit.
const ATTRIBUTE_ALLOWANCE: usize = 1024;

pub struct DeadLetterQueue {
    sqs: aws_sdk_sqs::Client,
    url: String,
    /// Bucket (and client) for dead letters too large for a message.
    overflow: Option<(aws_sdk_s3::Client, String)>,
    backoff: Backoff,
}

impl DeadLetterQueue {
    pub fn new(
        sqs: aws_sdk_sqs::Client,
        url: String,
        overflow: Option<(aws_sdk_s3::Client, String)>,
        backoff: Backoff,
    ) -> Self {
        DeadLetterQueue { sqs, url, overflow, backoff }
    }

    /// Sends `letters`; one result per letter (`Err` says why it could not be kept).
    pub async fn send(&self, letters: &[&DeadLetter], deadline: Instant) -> Vec<Result<(), String>> {
        let mut results: Vec<Result<(), String>> = vec![Ok(()); letters.len()];
        let mut bodies: Vec<(usize, String)> = Vec::with_capacity(letters.len());
        for (index, letter) in letters.iter().enumerate() {
            match self.body(letter).await {
                Ok(body) => bodies.push((index, body)),
                Err(reason) => results[index] = Err(reason),
            }
        }
        let mut batch: Vec<(usize, String)> = Vec::new();
        let mut bytes = 0;
        for (index, body) in bodies {
            if batch.len() == MAX_BATCH_ENTRIES || bytes + body.len() + ATTRIBUTE_ALLOWANCE > MAX_MESSAGE_BYTES {
                self.send_batch(letters, std::mem::take(&mut batch), deadline, &mut results).await;
                bytes = 0;
            }
            bytes += body.len() + ATTRIBUTE_ALLOWANCE;
            batch.push((index, body));
        }
        if !batch.is_empty() {
            self.send_batch(letters, batch, deadline, &mut results).await;
        }
        results
    }

    /// The message body: the dead letter, or its stored summary when it is too large for a message.
    async fn body(&self, letter: &DeadLetter) -> Result<String, String> {
        let json = serde_json::to_string(letter).expect("dead letters serialise");
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
        let name = letter.event_id.clone().unwrap_or_else(|| format!("{:016x}", fastrand::u64(..)));
        let key = format!("dead-letters/{day}/{name}-{:08x}.json", fastrand::u32(..));
        let bytes = json.len();
        s3.put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/json")
            .body(json.into_bytes().into())
            .send()
            .await
            .map_err(|e| {
                format!(
                    "storing an oversize dead letter in s3://{bucket}/{key}: {}",
                    aws_sdk_s3::error::DisplayErrorContext(&e)
                )
            })?;
        let summary = DeadLetterMessage::Stored(StoredDeadLetter {
            schema_version: letter.schema_version,
            stage: letter.stage,
            error_class: letter.error_class.clone(),
            reason: letter.reason.clone(),
            event_id: letter.event_id.clone(),
            stored_in: StoredObject { bucket: bucket.clone(), key, bytes },
        });
        Ok(serde_json::to_string(&summary).expect("summaries serialise"))
    }

    async fn send_batch(
        &self,
        letters: &[&DeadLetter],
        batch: Vec<(usize, String)>,
        deadline: Instant,
        results: &mut [Result<(), String>],
    ) {
        let mut pending = batch;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let entries: Vec<SendMessageBatchRequestEntry> = pending
                .iter()
                .map(|(index, body)| {
                    let letter = letters[*index];
                    SendMessageBatchRequestEntry::builder()
                        .id(index.to_string())
                        .message_body(body)
                        .message_attributes("stage", attribute(&format!("{:?}", letter.stage).to_lowercase()))
                        .message_attributes("errorClass", attribute(&letter.error_class))
                        .build()
                        .expect("id and body are set")
                })
                .collect();
            let (retry, reason) =
                match self.sqs.send_message_batch().queue_url(&self.url).set_entries(Some(entries)).send().await {
                    Ok(output) => {
                        let mut retry = Vec::new();
                        let mut reason = String::new();
                        for failed in output.failed() {
                            let Some(position) = pending.iter().position(|(index, _)| index.to_string() == failed.id())
                            else {
                                continue;
                            };
                            let why = format!(
                                "SendMessageBatch entry failed: {}: {}",
                                failed.code(),
                                failed.message().unwrap_or("")
                            );
                            if failed.sender_fault() {
                                results[pending[position].0] = Err(why);
                            } else {
                                retry.push(pending[position].clone());
                                reason = why;
                            }
                        }
                        (retry, reason)
                    }
                    Err(error) => {
                        let status = error.raw_response().map(|r| r.status().as_u16());
                        let reason =
                            format!("SendMessageBatch failed: {}", aws_sdk_sqs::error::DisplayErrorContext(&error));
                        let retryable = status.is_none_or(|s| s >= 500 || s == 429)
                            || error.code().is_some_and(|c| c.contains("Throttl"));
                        if !retryable {
                            for (index, _) in &pending {
                                results[*index] = Err(reason.clone());
                            }
                            return;
                        }
                        (pending.clone(), reason)
                    }
                };
            if retry.is_empty() {
                return;
            }
            match self.backoff.next(attempt, deadline) {
                Some(delay) => {
                    tokio::time::sleep(delay).await;
                    pending = retry;
                }
                None => {
                    for (index, _) in retry {
                        results[index] = Err(format!("{reason} (gave up after {attempt} attempts)"));
                    }
                    return;
                }
            }
        }
    }
}

fn attribute(value: &str) -> MessageAttributeValue {
    MessageAttributeValue::builder().data_type("String").string_value(value).build().expect("type is set")
}
