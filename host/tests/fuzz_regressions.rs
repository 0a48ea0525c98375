//! Inputs the fuzzers (scripts/fuzz.sh) found, kept as tests.

use serde_json::value::RawValue;
use weft::engine::Limits;
use weft::verdict::record::{Record, RecordId};

/// fuzz/artifacts/record/crash-510b3698…: `506e1615` is valid JSON (RFC 8259 bounds no exponent) that no f64 holds.
/// The fuzz target's oracle parsed it into numbers and failed; weft accepts it and writes it verbatim, which is
/// what a record's consumer gets.
#[test]
fn a_number_beyond_f64_is_written_verbatim() {
    let record = Record::new(RecordId::default(), "k".into(), "506e1615".into(), None, &Limits::default()).unwrap();
    let line = serde_json::to_string(&record).unwrap();
    assert_eq!(line, r#"{"partitionKey":"k","data":506e1615}"#);
    let raw: Box<RawValue> = serde_json::from_str(&line).unwrap();
    assert_eq!(raw.get(), line);
}

/// fuzz/artifacts/record/crash-09d2af8d…: data `0\n` was kept with its newline, which broke the one-record-per-line
/// output of `weft run`. Data is now trimmed and, when a module pretty-prints it, put on one line (strings untouched).
#[test]
fn record_data_is_one_line_without_surrounding_space() {
    let limits = Limits::default();
    let record = Record::new(RecordId::default(), "k".into(), "0\n".into(), None, &limits).unwrap();
    assert_eq!(record.data.get(), "0");
    let pretty = "{\n  \"a\": \"two\\nlines  kept\",\n  \"b\": [1, 2]\n}\n";
    let record = Record::new(RecordId::default(), "k".into(), pretty.into(), None, &limits).unwrap();
    assert_eq!(record.data.get(), r#"{"a":"two\nlines  kept","b":[1,2]}"#);
    assert!(!serde_json::to_string(&record).unwrap().contains('\n'));
    // Windows line ends too, and a carriage return alone.
    let crlf = "{\r\n  \"a\": 1,\r  \"b\": \"x\"\r\n}";
    let record = Record::new(RecordId::default(), "k".into(), crlf.into(), None, &limits).unwrap();
    assert_eq!(record.data.get(), r#"{"a":1,"b":"x"}"#);
    // Already one line: kept as it is, spaces between tokens included.
    let record = Record::new(RecordId::default(), "k".into(), r#"{"a": 1}"#.into(), None, &limits).unwrap();
    assert_eq!(record.data.get(), r#"{"a": 1}"#);
}

/// fuzz/artifacts/record/crash-1ef65fa9…: the first fix compacted before validating, so `1\n0` (two values: not
/// JSON) became `10`. Validation comes first now.
#[test]
fn whitespace_between_values_is_never_compacted_into_one() {
    let error = Record::new(RecordId::default(), "k".into(), "1\n0".into(), None, &Limits::default()).unwrap_err();
    assert_eq!(error.class(), "invalid-output");
    assert!(error.to_string().starts_with("record 0: data is not JSON: trailing characters"), "{error}");
}
