//! A record on its way to Kinesis, checked against Kinesis' rules before it gets there.

use serde::Serialize;

use super::RecordData;
use crate::engine::Limits;

/// One record: a partition key, one JSON value, and optionally a stream other than the rule's own. Serialised,
/// it is the line `weft run` prints for each record.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Kinesis partition key: records with the same key keep their order.
    pub partition_key: String,
    /// The record's data (the default rule's record, or what a rule made).
    #[schemars(with = "serde_json::Value")]
    pub data: RecordData,
    /// The target stream, when a rule names one other than its own.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<String>,
    /// Which record of its event this is. Not part of the record's data: dead letters name the records of an
    /// event that were written, so that a redrive writes only the others.
    #[serde(skip)]
    pub id: RecordId,
}

/// A record's place among its event's records: the rule that made it and its index among that rule's records.
/// With the event's id (`_id`) it is the same on every retry and redrive of the event under the same rule set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct RecordId {
    // Shared with the rule: one allocation per rule, not per record.
    #[schemars(with = "String")]
    pub rule: std::sync::Arc<str>,
    pub index: usize,
}

/// Why a record a module produced cannot go to Kinesis.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InvalidRecord {
    #[error("record {index}: partition key is empty (Kinesis needs 1 to 256 characters)")]
    EmptyKey { index: usize },
    #[error("record {index}: partition key is {chars} characters long (Kinesis allows 256)")]
    LongKey { index: usize, chars: usize },
    #[error("record {index}: data is not JSON: {reason}")]
    NotJson { index: usize, reason: String },
    #[error("record {index}: {bytes} bytes is over the limit of {limit} bytes per record")]
    TooLarge { index: usize, bytes: usize, limit: usize },
    #[error("record {index}: stream name `{stream}` is not a valid Kinesis stream name")]
    BadStream { index: usize, stream: String },
    #[error("{count} records for one event is over the limit of {limit}")]
    TooMany { count: usize, limit: usize },
    #[error("the event's records total {bytes} bytes, over the limit of {limit} bytes per event")]
    EventTooLarge { bytes: usize, limit: usize },
}

impl InvalidRecord {
    pub fn class(&self) -> &'static str {
        match self {
            InvalidRecord::TooLarge { .. } => "record-too-large",
            InvalidRecord::TooMany { .. } => "too-many-records",
            InvalidRecord::EventTooLarge { .. } => "event-too-large",
            _ => "invalid-output",
        }
    }
}

impl Record {
    /// Checks one record a module produced: a usable partition key, JSON data, a size Kinesis takes.
    pub fn new(
        id: RecordId,
        partition_key: String,
        data: String,
        stream: Option<String>,
        limits: &Limits,
    ) -> Result<Record, InvalidRecord> {
        let index = id.index;
        let chars = partition_key.chars().count();
        if chars == 0 {
            return Err(InvalidRecord::EmptyKey { index });
        }
        if chars > 256 {
            return Err(InvalidRecord::LongKey { index, chars });
        }
        check_size(index, &partition_key, &data, limits)?;
        if let Some(name) = &stream
            && !valid_stream_name(name)
        {
            // The name is the module's text: printed escaped and cut, never whole.
            let stream = crate::privacy::clip(&crate::privacy::printable(name), 160);
            return Err(InvalidRecord::BadStream { index, stream });
        }
        let data = RecordData::new(data).map_err(|e| InvalidRecord::NotJson { index, reason: e.to_string() })?;
        Ok(Record { partition_key, data, stream, id })
    }

    /// The record as `weft run` prints it, a JSON line: serde_json's bytes, written without serde, which would
    /// check the data again.
    pub(crate) fn write_line(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        out.write_all(b"{\"partitionKey\":")?;
        serde_json::to_writer(&mut *out, &self.partition_key)?;
        out.write_all(b",\"data\":")?;
        out.write_all(self.data.get().as_bytes())?;
        if let Some(stream) = &self.stream {
            out.write_all(b",\"stream\":")?;
            serde_json::to_writer(&mut *out, stream)?;
        }
        out.write_all(b"}\n")
    }

    /// Checks the size again, as Kinesis counts it (partition key plus data), after the record was changed.
    pub fn check_size(&self, limits: &Limits) -> Result<(), InvalidRecord> {
        check_size(self.id.index, &self.partition_key, self.data.get(), limits)
    }
}

fn check_size(index: usize, partition_key: &str, data: &str, limits: &Limits) -> Result<(), InvalidRecord> {
    let bytes = partition_key.len() + data.len();
    if bytes > limits.record_bytes {
        return Err(InvalidRecord::TooLarge { index, bytes, limit: limits.record_bytes });
    }
    Ok(())
}

/// Kinesis stream names: 1 to 128 of `[a-zA-Z0-9_.-]`.
pub fn valid_stream_name(name: &str) -> bool {
    (1..=128).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

/// Whether JSON `text` is on one line with nothing around it. Every record is checked (and every dead letter's
/// original event), so this is a vectorised search for line ends: walking the record's characters instead was 3 %
/// of `weft run`'s time; this is 0.3 %.
pub(crate) fn is_one_line(text: &str) -> bool {
    let (first, last) = (text.bytes().next(), text.bytes().last());
    let padded = first.is_some_and(|b| b.is_ascii_whitespace()) || last.is_some_and(|b| b.is_ascii_whitespace());
    !padded && memchr::memchr2(b'\n', b'\r', text.as_bytes()).is_none()
}

/// Drops whitespace between JSON tokens (never inside strings).
pub(crate) fn one_line(json: &str) -> String {
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
    fn a_line_is_what_serde_json_writes() {
        let id = RecordId::default;
        let limits = Limits::default();
        for (key, data, stream) in [
            ("c1", r#"{"a":[1,"\u00e9\n"]}"#, None),
            ("quo\"te\\ and \u{1} é", "\"text\"", Some("other-stream".to_owned())),
        ] {
            let record = Record::new(id(), key.into(), data.into(), stream, &limits).unwrap();
            let mut line = Vec::new();
            record.write_line(&mut line).unwrap();
            assert_eq!(String::from_utf8(line).unwrap(), serde_json::to_string(&record).unwrap() + "\n");
        }
    }
}
