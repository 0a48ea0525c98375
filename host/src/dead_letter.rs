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

/// The original event: its JSON exactly as received, or, when it was not JSON, its text.
#[derive(Debug, Clone, Serialize, Deserialize, schemars::JsonSchema)]
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
        let json = if text.contains(['\n', '\r']) { one_line(text) } else { text.to_owned() };
        match RawValue::from_string(json) {
            Ok(raw) => OriginalEvent::Json(raw),
            Err(_) => OriginalEvent::Text(text.to_owned()),
        }
    }
}

/// Drops whitespace between JSON tokens (never inside strings).
fn one_line(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            in_string = escaped || c != '"';
            escaped = !escaped && c == '\\';
        } else if c == '"' {
            in_string = true;
        } else if c.is_ascii_whitespace() {
            continue;
        }
        out.push(c);
    }
    out
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
    pub event: OriginalEvent,
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
    pub rule: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub module: Option<ModuleId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Source>,
    pub event: OriginalEvent,
}

pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_millis(SystemTime::now()).to_string()
}

/// Counts by reason or class, for summaries and metrics.
pub type Tally = BTreeMap<String, u64>;
