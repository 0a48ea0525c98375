//! What a module can do to the host when it is not written with weft's SDK: answers and import arguments the SDK
//! would never produce, built with wit-bindgen's bindings (and, where even those refuse, with the raw canonical
//! ABI). The attack is the event's `detail.eventBody.attack`, or the module's `attack` parameter; the parameter
//! `init` attacks instantiation itself. Anything else gets one well-formed record, so the tests can show the next
//! event still works.
#![cfg(target_arch = "wasm32")]

wit_bindgen::generate!({ world: "rule", path: "../../guest-sdk/wit" });

use weft::rules::host::{Level, log, lookup, params};
use weft::rules::types::{OutputRecord, RuleError};

/// The host's imports called with arguments no binding would produce.
mod raw {
    #[link(wasm_import_module = "weft:rules/host@0.1.0")]
    unsafe extern "C" {
        /// `log: func(level: level, message: string)`, lowered by hand.
        #[link_name = "log"]
        pub fn log(level: i32, message: *const u8, len: usize);
        /// `lookup: func(table: string, key: string) -> option<string>`: the answer goes to `out`.
        #[link_name = "lookup"]
        pub fn lookup(table: *const u8, table_len: usize, key: *const u8, key_len: usize, out: *mut u8);
    }
}

struct Hostile;

fn param(name: &str) -> String {
    let params: serde_json::Value = serde_json::from_str(&params()).unwrap_or_default();
    params[name].as_str().unwrap_or_default().to_owned()
}

/// Runs when the component is instantiated (wit-component makes an exported `_initialize` the component's start
/// function), before any event: the place to hang or exhaust a cold start or a hot swap.
#[unsafe(no_mangle)]
pub extern "C" fn _initialize() {
    match param("init").as_str() {
        "loop" => loop {
            std::hint::black_box(0);
        },
        "memory" => {
            let mut hoard: Vec<Vec<u8>> = Vec::new();
            loop {
                hoard.push(vec![1; 1 << 20]);
                std::hint::black_box(&hoard);
            }
        }
        "trap" => core::arch::wasm32::unreachable(),
        _ => {}
    }
}

fn attack(event: &Event) -> (String, serde_json::Value) {
    let envelope: serde_json::Value = serde_json::from_str(&event.envelope).unwrap_or_default();
    let body = envelope["detail"]["eventBody"].clone();
    let attack = body["attack"].as_str().map(str::to_owned).unwrap_or_else(|| param("attack"));
    (attack, body)
}

fn size(body: &serde_json::Value, default: usize) -> usize {
    body["size"].as_u64().map_or(default, |size| size as usize)
}

fn record(event: &Event, data: String) -> OutputRecord {
    OutputRecord { partition_key: event.id.clone(), data, stream: None }
}

impl Guest for Hostile {
    fn process(event: Event) -> Outcome {
        let (attack, body) = attack(&event);
        match attack.as_str() {
            // `count` records whose data all alias one 1 MiB buffer: a few MiB of guest memory that lifts to
            // `count` MiB in the host.
            "aliased-list" => Outcome::Records(aliased(size(&body, 200_000), 1 << 20)),
            // Grows the instance's memory by `size` bytes (linear memory never shrinks), then answers normally.
            "grow" => {
                std::hint::black_box(vec![1_u8; size(&body, 1 << 20)]);
                Outcome::Records(vec![record(&event, "\"grown\"".into())])
            }
            // Import arguments: text past any allowance, bytes that are not UTF-8, a level that does not exist,
            // a pointer past the end of memory.
            "log-huge" => {
                log(Level::Info, &"l".repeat(size(&body, 40 << 20)));
                Outcome::Records(vec![record(&event, "\"logged\"".into())])
            }
            "lookup-huge" => {
                let key = "k".repeat(size(&body, 40 << 20));
                Outcome::Records(vec![record(&event, format!("{}", lookup("t", &key).is_some()))])
            }
            "log-invalid-utf8" => {
                let bytes = [0xff_u8, 0xfe, 0x80, 0x00];
                unsafe { raw::log(2, bytes.as_ptr(), bytes.len()) };
                Outcome::Records(vec![record(&event, "\"invalid\"".into())])
            }
            "log-bad-level" => {
                unsafe { raw::log(77, b"level 77".as_ptr(), 8) };
                Outcome::Records(vec![record(&event, "\"level\"".into())])
            }
            "lookup-out-of-bounds" => {
                let mut out = [0_u8; 16];
                unsafe { raw::lookup((usize::MAX - 16) as *const u8, 1024, b"k".as_ptr(), 1, out.as_mut_ptr()) };
                Outcome::Records(vec![record(&event, "\"oob\"".into())])
            }
            // Answers: a stream name and a partition key far past what Kinesis allows, made of terminal escapes;
            // drop reasons and error codes past the copy allowance.
            "hostile-stream" => Outcome::Records(vec![OutputRecord {
                partition_key: "k".into(),
                data: "1".into(),
                stream: Some("\u{1b}]0;pwned\u{7}\u{1b}[2J".repeat(size(&body, 1 << 20) / 12)),
            }]),
            "hostile-key" => Outcome::Records(vec![OutputRecord {
                partition_key: "\u{1b}[2J".repeat(size(&body, 1 << 20) / 4),
                data: "1".into(),
                stream: None,
            }]),
            "huge-drop" => Outcome::Drop("r".repeat(size(&body, 32 << 20))),
            "huge-error" => Outcome::Error(RuleError {
                code: "\u{0}\u{1b}".repeat(size(&body, 12 << 20) / 2),
                message: "m".repeat(size(&body, 12 << 20)),
            }),
            _ => Outcome::Records(vec![record(&event, format!("{{\"ok\":{}}}", serde_json::json!(event.id)))]),
        }
    }

    fn process_batch(events: Vec<Event>) -> Vec<Outcome> {
        let attacks: Vec<String> = events.iter().map(|event| attack(event).0).collect();
        let mut outcomes: Vec<Outcome> = events.into_iter().map(Hostile::process).collect();
        // One outcome too many, or none at all, for the whole batch.
        if attacks.iter().any(|attack| attack == "extra-outcome") {
            outcomes.push(Outcome::Drop("one too many".into()));
        }
        if attacks.iter().any(|attack| attack == "no-outcomes") {
            outcomes.clear();
        }
        outcomes
    }
}

/// `count` records whose data are the same `bytes`-byte buffer. Each `String` claims to own it; the host never
/// lets the call finish, so nothing frees them twice.
fn aliased(count: usize, bytes: usize) -> Vec<OutputRecord> {
    let buffer = std::mem::ManuallyDrop::new(vec![b'1'; bytes]);
    let pointer = buffer.as_ptr() as *mut u8;
    (0..count)
        .map(|_| OutputRecord {
            partition_key: "k".into(),
            // SAFETY: deliberately not: every record aliases one allocation (this module attacks its host).
            data: unsafe { String::from_raw_parts(pointer, bytes, bytes) },
            stream: None,
        })
        .collect()
}

export!(Hostile);
