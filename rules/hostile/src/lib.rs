//! Misbehaves as the event's `detail.eventBody.attack` says (or, when the event says nothing, as the module's
//! `attack` parameter says), to prove weft contains what a customer module can do wrong. Anything else gets one
//! well-formed record, so the tests can show the next event still works.

use weft_sdk::{Event, Level, Outcome, Record, RuleError};

#[weft_sdk::rule]
pub fn hostile(event: Event) -> Result<Outcome, RuleError> {
    let envelope: serde_json::Value = serde_json::from_str(&event.envelope)?;
    let body = &envelope["detail"]["eventBody"];
    let params: serde_json::Value = weft_sdk::params()?;
    let attack = body["attack"].as_str().or(params["attack"].as_str()).unwrap_or("none").to_owned();
    match attack.as_str() {
        "loop" => loop {
            std::hint::black_box(&attack);
        },
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1u8; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "recurse" => Ok(Outcome::drop(format!("depth {}", recurse(0, &attack)))),
        "panic" => panic!("hostile module panicked on purpose"),
        "huge-record" => Ok(Record::json(event.partition_key(), &"x".repeat(2 << 20))?.into()),
        "many-records" => {
            let record = Record::json(event.partition_key(), &1)?;
            Ok(Outcome::Records(vec![record; 10_000]))
        }
        "not-json" => {
            Ok(Outcome::Records(vec![Record { partition_key: "k".into(), data: "{not json".into(), stream: None }]))
        }
        "empty-key" => {
            Ok(Outcome::Records(vec![Record { partition_key: String::new(), data: "1".into(), stream: None }]))
        }
        "log-flood" => {
            for i in 0..100_000 {
                weft_sdk::log(Level::Info, &format!("flood {i}"));
            }
            Ok(Record::json(event.partition_key(), &"flooded")?.into())
        }
        "error" => Err(RuleError::new("on-purpose", "the event asked for an error")),
        // Personal data from the event (`caller`: a name, a phone number, an e-mail address) in every kind of text
        // a module writes: a log line, then a panic, a drop reason or an error, as `leak` says.
        "leak" => {
            let caller = body["caller"].as_str().unwrap_or_default();
            weft_sdk::log(Level::Error, &format!("looking at {caller}"));
            match body["leak"].as_str().unwrap_or_default() {
                "panic" => panic!("cannot map {caller}"),
                "drop" => Ok(Outcome::drop(format!("not for {caller}"))),
                "error" => Err(RuleError::new(format!("bad-{caller}"), format!("failed on {caller}"))),
                _ => Ok(Record::json(event.partition_key(), &"leaked")?.into()),
            }
        }
        // A drop reason, and an error message, of `size` bytes (default 1 MiB).
        "huge-drop" => Ok(Outcome::drop("r".repeat(body["size"].as_u64().unwrap_or(1 << 20) as usize))),
        "huge-message" => Err(RuleError::new("big", "m".repeat(body["size"].as_u64().unwrap_or(1 << 20) as usize))),
        // A 1 MiB error code of terminal escapes and control characters.
        "hostile-code" => Err(RuleError::new("\u{1b}[2J\u{7}\r\n\u{0}".repeat(1 << 17), "a hostile code")),
        // One record whose data (an object, `{"pad":"xx…"}`) is exactly `size` bytes.
        "record-of-size" => {
            let size = body["size"].as_u64().unwrap_or(10) as usize;
            let data = format!("{{\"pad\":\"{}\"}}", "x".repeat(size.saturating_sub(10)));
            Ok(Outcome::Records(vec![Record { partition_key: event.partition_key().into(), data, stream: None }]))
        }
        "lookup-flood" => {
            for i in 0..10_000_000u32 {
                std::hint::black_box(weft_sdk::lookup("anything", &i.to_string()));
            }
            Ok(Record::json(event.partition_key(), &"looked up")?.into())
        }
        _ => Ok(Record::json(event.partition_key(), &serde_json::json!({"ok": event.id}))?.into()),
    }
}

#[inline(never)]
fn recurse(depth: u64, salt: &str) -> u64 {
    let mut buffer = [0u8; 256];
    buffer[depth as usize % 256] = salt.len() as u8;
    std::hint::black_box(&buffer);
    if std::hint::black_box(depth) == u64::MAX { depth } else { recurse(depth + 1, salt) + buffer[0] as u64 }
}
