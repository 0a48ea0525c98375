//! Any partition key and data as a module's output record: refused with a reason, or accepted and then written
//! as a JSON line that reads back to the same key and, verbatim, the same data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;
use weft::engine::Limits;
use weft::verdict::record::{Record, RecordId};

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    partition_key: String,
    data: Box<RawValue>,
}

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (key, body) = text.split_once('\u{0}').unwrap_or(("k", &text));
    if let Ok(record) = Record::new(RecordId::default(), key.to_owned(), body.to_owned(), None, &Limits::default()) {
        let line = serde_json::to_string(&record).expect("a checked record serialises");
        // Read back as raw JSON, not as numbers: valid JSON may hold numbers no f64 holds (`506e1615`), and weft
        // writes the data verbatim.
        let back: Line = serde_json::from_str(&line).expect("and parses back");
        assert_eq!(back.partition_key, key);
        // Verbatim, but on one line without surrounding space (what a JSON-lines file needs).
        assert_eq!(back.data.get(), record.data.get());
        assert!(!line.contains('\n') && !line.contains('\r'), "one record, one line");
        let same: serde_json::Result<serde_json::Value> = serde_json::from_str(body);
        let again: serde_json::Result<serde_json::Value> = serde_json::from_str(record.data.get());
        assert_eq!(same.ok(), again.ok(), "the same JSON value");
    }
});
