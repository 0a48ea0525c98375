//! Dead letters and drops: what weft says about every event that did not become a record.
//!
//! A dead letter carries the original event verbatim and why it failed, so that once the cause is fixed it can
//! be redriven. Its format is versioned (`schemaVersion`); readers must accept fields they do not know.

use std::collections::BTreeMap;
use std::time::SystemTime;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::engine::ModuleId;
use crate::input::Source;
use crate::verdict::record::{RecordId, is_one_line, one_line};

/// The dead-letter format version this build writes.
pub const DEAD_LETTER_VERSION: u32 = 1;

/// Where in the data path an event failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// The input was not an EventBridge envelope (broken JSON, wrong types, missing fields).
    Parse,
    /// A rule module failed on it, or produced output weft cannot write.
    Rule,
    /// The records could not be delivered.
    Sink,
}

impl Stage {
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Parse => "parse",
            Stage::Rule => "rule",
            Stage::Sink => "sink",
        }
    }
}

/// The original event: its JSON exactly as received, or, when it was not JSON, its text (a JSON string).
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum OriginalEvent {
    Json(#[schemars(with = "serde_json::Value")] Box<RawValue>),
    Text(String),
}

impl OriginalEvent {
    /// The event as JSON when it is JSON (line breaks between tokens removed, so it fits on one line of a JSON
    /// lines file; every key, value and their order stay as received), else as text.
    pub fn from_text(text: &str) -> OriginalEvent {
        let text = text.trim();
        let json = if is_one_line(text) { text.to_owned() } else { one_line(text) };
        match RawValue::from_string(json) {
            Ok(raw) => OriginalEvent::Json(raw),
            Err(_) => OriginalEvent::Text(text.to_owned()),
        }
    }

    /// The event as the rules take it again (a redrive, the studio's preview of one).
    pub fn text(&self) -> &str {
        match self {
            OriginalEvent::Json(raw) => raw.get(),
            OriginalEvent::Text(text) => text,
        }
    }
}

// By hand: serde's `untagged` buffers values, and a `RawValue` cannot be read back from a buffer.
impl<'de> Deserialize<'de> for OriginalEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if raw.get().starts_with('"') {
            return serde_json::from_str(raw.get()).map(OriginalEvent::Text).map_err(serde::de::Error::custom);
        }
        Ok(OriginalEvent::Json(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pretty_json_is_kept_on_one_line_with_strings_untouched() {
        let pretty = "{\n  \"b\": \"two  words \\\" }\",\n  \"a\": [1, 2]\n}\n";
        match OriginalEvent::from_text(pretty) {
            OriginalEvent::Json(raw) => assert_eq!(raw.get(), r#"{"b":"two  words \" }","a":[1,2]}"#),
            other => panic!("{other:?}"),
        }
        assert!(matches!(OriginalEvent::from_text("{\"a\": tru"), OriginalEvent::Text(t) if t == "{\"a\": tru"));
    }

    #[test]
    fn lambda_destination_records_and_undelivered_events_are_redrivable() {
        let destination = r#"{"version":"1.0","requestContext":{"requestId":"r","condition":"RetriesExhausted","approximateInvokeCount":3},"requestPayload":{"id":"e1","detail-type":"x","detail":{}},"responseContext":{"statusCode":200}}"#;
        let letter = DeadLetter::from_foreign(destination).unwrap();
        assert_eq!(letter.error_class, "lambda-invocation-failed");
        assert!(letter.reason.contains("RetriesExhausted"));
        assert!(
            matches!(&letter.event, OriginalEvent::Json(raw) if raw.get() == r#"{"id":"e1","detail-type":"x","detail":{}}"#)
        );
        let raw = r#"{"id":"e2","detail-type":"v2.detail.events.conversation.{id}.acw","detail":{}}"#;
        let letter = DeadLetter::from_foreign(raw).unwrap();
        assert_eq!(letter.error_class, "eventbridge-delivery-failed");
        assert!(DeadLetter::from_foreign(r#"{"something":"else"}"#).is_none());
    }

    #[test]
    fn dead_letters_read_back_exactly() {
        for text in [r#"{"id":"e1","b":[1,2.50,{"z":null}]}"#, "not json"] {
            let letter = DeadLetter {
                schema_version: 1,
                stage: Stage::Parse,
                error_class: "c".into(),
                reason: "r".into(),
                event_id: None,
                rule_set: None,
                rule: None,
                module: None,
                source: Some(Source::Message { message_id: "m".into() }),
                attempts: 1,
                failed_at: now_rfc3339(),
                written: Vec::new(),
                event: OriginalEvent::from_text(text),
            };
            let json = serde_json::to_string(&letter).unwrap();
            let DeadLetterMessage::Inline(back) = serde_json::from_str(&json).unwrap() else { panic!("inline") };
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
            match back.event {
                OriginalEvent::Json(raw) => assert_eq!(raw.get(), text, "verbatim, number formatting included"),
                OriginalEvent::Text(t) => assert_eq!(t, text),
            }
        }
    }
}

/// An event that could not be delivered, with everything needed to understand and redrive it.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetter {
    /// The format version ([`DEAD_LETTER_VERSION`]).
    pub schema_version: u32,
    pub stage: Stage,
    /// A short stable class (`invalid-json`, `not-an-envelope`, `deadline-exceeded`, `panic`, ...).
    pub error_class: String,
    /// For a person: what went wrong and where.
    pub reason: String,
    /// The envelope id, when the event got far enough to have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The version of the rule set that processed the event (`label@sha12`), when it came from a manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<String>,
    /// The rule that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    /// The module that failed, by name and hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleId>,
    /// Where the event was read from (`weft run`): file, line, byte offset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    /// How many times delivery was tried.
    pub attempts: u32,
    /// When it failed, RFC 3339 UTC.
    pub failed_at: String,
    /// The records of this event that Kinesis did take before the others failed (stage `sink` only). A redrive
    /// writes only the event's other records, so none is written twice.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub written: Vec<WrittenRecord>,
    pub event: OriginalEvent,
}

/// One record of a dead-lettered event that is in Kinesis already, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WrittenRecord {
    /// The rule that made it and its index among that rule's records.
    #[serde(flatten)]
    pub id: RecordId,
    pub stream: String,
    pub shard_id: String,
    pub sequence_number: String,
}

/// An event a rule filtered out. Not an error: counted and, on request, written out with its reason.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dropped {
    pub stage: Stage,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule_set: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    pub event: OriginalEvent,
}

/// Where a dead letter too large for an SQS message is kept whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StoredObject {
    pub bucket: String,
    pub key: String,
    /// Size of the stored dead letter (JSON).
    pub bytes: usize,
}

/// The body of a message on the dead-letter queue: the dead letter itself, or — when it would exceed SQS's
/// 256 KiB — its summary and where in S3 the whole dead letter is.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum DeadLetterMessage {
    Stored(StoredDeadLetter),
    Inline(Box<DeadLetter>),
}

// By hand, for the same reason as `OriginalEvent`: a summary is told apart by its `storedIn`.
impl<'de> Deserialize<'de> for DeadLetterMessage {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        if let Ok(stored) = serde_json::from_str::<StoredDeadLetter>(raw.get()) {
            return Ok(DeadLetterMessage::Stored(stored));
        }
        serde_json::from_str(raw.get()).map(DeadLetterMessage::Inline).map_err(serde::de::Error::custom)
    }
}

/// The summary sent in place of an oversize dead letter.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StoredDeadLetter {
    pub schema_version: u32,
    pub stage: Stage,
    pub error_class: String,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The whole dead letter, as JSON, in S3.
    pub stored_in: StoredObject,
}

impl DeadLetter {
    /// A dead letter of this build's format, failed now after one attempt; what else is known (event id, rule set,
    /// rule, module, source) is filled in by the caller.
    pub fn new(stage: Stage, error_class: &str, reason: String, event: OriginalEvent) -> DeadLetter {
        DeadLetter {
            schema_version: DEAD_LETTER_VERSION,
            stage,
            error_class: error_class.to_owned(),
            reason,
            event_id: None,
            rule_set: None,
            rule: None,
            module: None,
            source: None,
            attempts: 1,
            failed_at: now_rfc3339(),
            written: Vec::new(),
            event,
        }
    }

    /// What else lands on the dead-letter queue besides weft's own dead letters, as a dead letter to redrive:
    /// Lambda's on-failure destination record (`requestPayload` is the event; the invocation failed as a whole,
    /// e.g. timed out or crashed) and an event EventBridge could not deliver to the function at all (the event
    /// itself).
    pub fn from_foreign(body: &str) -> Option<DeadLetter> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Destination {
            request_payload: Box<RawValue>,
            #[serde(default)]
            request_context: Option<serde_json::Value>,
        }
        let (class, reason, event) = if let Ok(record) = serde_json::from_str::<Destination>(body) {
            let condition =
                record.request_context.as_ref().and_then(|c| c["condition"].as_str()).unwrap_or("unknown").to_owned();
            (
                "lambda-invocation-failed",
                format!("the Lambda invocation failed as a whole ({condition})"),
                record.request_payload,
            )
        } else {
            let raw: Box<RawValue> = serde_json::from_str(body).ok()?;
            let head: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
            head.get("detail-type")?;
            ("eventbridge-delivery-failed", "EventBridge could not deliver the event to the function".to_owned(), raw)
        };
        Some(DeadLetter::new(Stage::Sink, class, reason, OriginalEvent::Json(event)))
    }
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Counts by reason or class, for summaries and metrics.
pub type Tally = BTreeMap<String, u64>;
