//! A record's data: one JSON value on one line, checked once, when a module's answer becomes a record.
//!
//! Not serde_json's `RawValue`, which checks its text whenever one is made, and one was made for every record a
//! module answered: that check was 4.5k of the ~60k instructions of an event on `weft run`'s path. Here the
//! one-pass reader the envelopes go through ([`crate::input::head::surely_json`]) answers for the usual records,
//! and serde_json only for the others (a backslash, deep nesting, a long record) and for every refusal, whose
//! reason is its words.

use serde::Serialize;
use serde_json::value::RawValue;

use super::record::{is_one_line, one_line};

/// One JSON value, on one line with nothing around it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RecordData(Box<str>);

impl RecordData {
    /// Checks `text` is one JSON value and puts it on one line without surrounding space: a record is one line of
    /// `weft run`'s JSON lines, and a module may well write pretty-printed JSON. Only valid JSON is compacted,
    /// where whitespace never separates two values (fuzzing found both `0\n` kept with its newline and `1\n0`
    /// compacted to `10`).
    pub fn new(text: String) -> Result<RecordData, serde_json::Error> {
        if crate::input::head::surely_json(&text) && is_one_line(&text) {
            return Ok(RecordData(text.into_boxed_str()));
        }
        let raw = RawValue::from_string(text)?;
        if is_one_line(raw.get()) {
            return Ok(RecordData(raw.into()));
        }
        let compact = RawValue::from_string(one_line(raw.get().trim()))
            .expect("valid JSON stays valid without inter-token whitespace");
        Ok(RecordData(compact.into()))
    }

    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }
}

/// Written as the JSON it is, not as a string of it.
impl Serialize for RecordData {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Checked when it was made; serde_json only lends it the raw form here.
        let raw: &RawValue = serde_json::from_str(self.get()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use fastrand::Rng;

    use super::*;

    const RECORD: &str = r#"{"version":"2","conversationId":"c1","timestamp":1764241252400,"duration":-1.5e+3,"ids":["a",{"b":[true,false,null]}],"empty":{},"none":[],"_id":"e1"}"#;

    fn accepted(text: &str) -> Option<String> {
        RecordData::new(text.to_owned()).ok().map(|data| data.get().to_owned())
    }

    /// What serde_json makes of `text`: the value on one line, or a refusal.
    fn by_serde_json(text: &str) -> Option<String> {
        let raw = RawValue::from_string(text.to_owned()).ok()?;
        Some(if is_one_line(raw.get()) { raw.get().to_owned() } else { one_line(raw.get().trim()) })
    }

    #[test]
    fn the_one_pass_reader_says_yes_only_where_serde_json_does() {
        let mut random = Rng::with_seed(7);
        let pretty = serde_json::to_string_pretty(&serde_json::from_str::<serde_json::Value>(RECORD).unwrap()).unwrap();
        let mut texts: Vec<String> = vec![RECORD.into(), pretty, "1".into(), "\"a\"".into(), " null ".into()];
        // Every deletion, and a sample of replacements by the bytes that matter to JSON, of every byte of a record.
        for at in 0..RECORD.len() {
            texts.push(format!("{}{}", &RECORD[..at], &RECORD[at + 1..]));
            for _ in 0..8 {
                const BYTES: &[u8] = b"{}[]\",:0-.eE+ tnfu\\\n\x01";
                let byte = BYTES[random.usize(..BYTES.len())] as char;
                texts.push(format!("{}{byte}{}", &RECORD[..at], &RECORD[at + 1..]));
            }
        }
        let mut fast = 0;
        for text in &texts {
            assert_eq!(accepted(text), by_serde_json(text), "{text:?}");
            fast += usize::from(crate::input::head::surely_json(text));
        }
        // The reader answered for most of the valid ones, so the comparison above tested it and not only serde_json.
        let valid = texts.iter().filter(|text| by_serde_json(text).is_some()).count();
        assert!(fast * 10 > valid * 8, "{fast} of {valid} valid texts read in one pass");
        for text in texts.iter().filter(|text| crate::input::head::surely_json(text)) {
            assert!(by_serde_json(text).is_some(), "one pass said JSON, serde_json did not: {text:?}");
        }
    }

    #[test]
    fn serialised_as_the_json_it_is() {
        let data = RecordData::new("{\n  \"a\": [1, 2]\n}\n".into()).unwrap();
        assert_eq!(data.get(), r#"{"a":[1,2]}"#);
        assert_eq!(serde_json::to_string(&serde_json::json!({ "data": data })).unwrap(), r#"{"data":{"a":[1,2]}}"#);
        let refused = RecordData::new("{\"a\":tru}".into()).unwrap_err().to_string();
        assert!(refused.contains("line 1 column"), "{refused}");
    }
}
