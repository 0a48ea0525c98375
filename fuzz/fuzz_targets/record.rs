//! Any partition key and data as a module's output record: refused with a reason, or accepted and then written
//! as a JSON line that parses back to the same key and data.
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft::engine::Limits;
use weft::record::Record;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (key, body) = text.split_once('\u{0}').unwrap_or(("k", &text));
    if let Ok(record) = Record::new(0, key.to_owned(), body.to_owned(), None, &Limits::default()) {
        let line = serde_json::to_string(&record).expect("a checked record serialises");
        let back: serde_json::Value = serde_json::from_str(&line).expect("and parses back");
        assert_eq!(back["partitionKey"].as_str(), Some(key));
        let data: serde_json::Value = serde_json::from_str(body).expect("data was checked to be JSON");
        assert_eq!(back["data"], data);
    }
});
