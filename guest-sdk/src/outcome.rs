//! What a rule answers: records, a drop, or an error.

use serde::{Deserialize, Serialize};

/// One record for Kinesis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Records with the same key keep their order in the stream.
    pub partition_key: String,
    /// One JSON value, as text.
    pub data: String,
    /// Another stream than the rule's own.
    pub stream: Option<String>,
}

impl Record {
    /// A record whose data is `data` serialised as JSON.
    pub fn json(partition_key: impl Into<String>, data: &impl Serialize) -> Result<Record, RuleError> {
        // One allocation for a typical record (serde_json would start at 128 bytes and grow three times).
        let mut buffer = Vec::with_capacity(512);
        if crate::json::write(&mut buffer, data).is_err() {
            serde_json::to_writer(&mut buffer, data)
                .map_err(|e| RuleError::new("serialize", format!("record data could not be written as JSON: {e}")))?;
        }
        // SAFETY: both writers write only UTF-8: the text of `str`s (whole characters, ASCII escapes between them)
        // and ASCII. Checking again costs a module a pass over the record four bytes at a time (`usize` is 32
        // bits there), and the host checks every string it lifts out of a module anyway.
        let data = unsafe { String::from_utf8_unchecked(buffer) };
        Ok(Record { partition_key: partition_key.into(), data, stream: None })
    }

    /// Sends this record to `stream` instead of the rule's stream.
    pub fn to_stream(mut self, stream: impl Into<String>) -> Record {
        self.stream = Some(stream.into());
        self
    }

    /// Sets one member of the data, a JSON object (e.g. a name stitched from a lookup table onto the record an
    /// earlier module of the chain made). Members keep their order; a new one goes last.
    pub fn set(&mut self, key: &str, value: &impl Serialize) -> Result<(), RuleError> {
        let mut object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&self.data)
            .map_err(|_| RuleError::new("record-not-object", "the record's data is not a JSON object"))?;
        object.insert(key.to_owned(), serde_json::to_value(value)?);
        self.data = serde_json::to_string(&object)?;
        Ok(())
    }

    /// Reads the data (e.g. the record an earlier module of the chain made) into a type of yours.
    pub fn data<'a, T: Deserialize<'a>>(&'a self) -> Result<T, RuleError> {
        crate::event::parse_json(&self.data, "record.")
    }
}

/// What became of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Write these records (none: nothing to write, counted as a drop by the host).
    Records(Vec<Record>),
    /// Filter the event out; the reason is counted and reported.
    Drop(String),
    /// The event cannot be handled: it is dead-lettered with this error.
    Error(RuleError),
}

impl Outcome {
    pub fn drop(reason: impl Into<String>) -> Outcome {
        Outcome::Drop(reason.into())
    }

    pub fn error(code: impl Into<String>, message: impl Into<String>) -> Outcome {
        Outcome::Error(RuleError::new(code, message))
    }
}

impl From<Record> for Outcome {
    fn from(record: Record) -> Outcome {
        Outcome::Records(vec![record])
    }
}

impl From<Vec<Record>> for Outcome {
    fn from(records: Vec<Record>) -> Outcome {
        Outcome::Records(records)
    }
}

impl From<RuleError> for Outcome {
    fn from(error: RuleError) -> Outcome {
        Outcome::Error(error)
    }
}

/// A failure the rule knows about. `code` is a short stable class (`invalid-event`, `lookup-missing`, ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleError {
    pub code: String,
    pub message: String,
}

impl RuleError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> RuleError {
        RuleError { code: code.into(), message: message.into() }
    }
}

impl std::fmt::Display for RuleError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for RuleError {}

impl From<serde_json::Error> for RuleError {
    fn from(error: serde_json::Error) -> RuleError {
        RuleError::new("json", scrub(&error.to_string()))
    }
}

/// What a rule function may return.
pub trait IntoOutcome {
    fn into_outcome(self) -> Outcome;
}

impl IntoOutcome for Outcome {
    fn into_outcome(self) -> Outcome {
        self
    }
}

impl IntoOutcome for Record {
    fn into_outcome(self) -> Outcome {
        self.into()
    }
}

impl IntoOutcome for Vec<Record> {
    fn into_outcome(self) -> Outcome {
        self.into()
    }
}

impl<T: IntoOutcome, E: Into<RuleError>> IntoOutcome for Result<T, E> {
    fn into_outcome(self) -> Outcome {
        match self {
            Ok(value) => value.into_outcome(),
            Err(error) => Outcome::Error(error.into()),
        }
    }
}

/// Removes the values serde quotes in its messages (`invalid type: string "tel:+15551234"`), so an error about a
/// personal field never carries the personal data into a log or a dead-letter reason.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest.as_bytes()[start] as char;
        let before = &rest[..start];
        let Some(len) = rest[start + 1..].find(quote) else { break };
        let quoted = &rest[start + 1..start + 1 + len];
        out.push_str(before);
        // Field names (`missing field \`id\``) are safe and useful; values follow a type word.
        let is_value =
            ["string ", "integer ", "floating point ", "boolean ", "char "].iter().any(|t| before.ends_with(t));
        if is_value {
            out.push_str("(value withheld)");
        } else {
            out.push(quote);
            out.push_str(quoted);
            out.push(quote);
        }
        rest = &rest[start + 2 + len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::scrub;

    #[test]
    fn scrub_withholds_values_and_keeps_field_names() {
        assert_eq!(
            scrub(r#"invalid type: string "tel:+15551234", expected i64 at line 1 column 9"#),
            "invalid type: string (value withheld), expected i64 at line 1 column 9"
        );
        assert_eq!(
            scrub("invalid type: integer `5551234`, expected a string"),
            "invalid type: integer (value withheld), expected a string"
        );
        assert_eq!(scrub("missing field `id` at line 1 column 2"), "missing field `id` at line 1 column 2");
    }
}
