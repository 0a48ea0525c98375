//! The backfill role end to end: the `weft` binary as a Lambda (`WEFT_ROLE=backfill`) under the runtime API, given
//! items as the state machine's map gives them, reading objects from the local S3 (moto) and writing to its Kinesis
//! and SQS. A plain object with a broken line in the middle (dead-lettered with its place, the rest written); a
//! gzip object of 1,000,000 events read in memory flat in its size, over invocations that each stop before their
//! deadline and resume where the last one stopped, every record written once.

mod common;

use std::io::Write;

use common::aws::{self, clients, create_bucket, create_queue, create_stream, unique};
use common::runtime_api::{RuntimeApi, invoke};
use serde_json::{Value, json};

/// An envelope of `kind` for conversation `c{n}`, on one line.
fn envelope(n: usize, kind: &str) -> String {
    common::event(
        &format!("e{n}"),
        kind,
        json!({"conversationId": format!("c{n}"), "eventTime": 1764237600000u64 + n as u64}),
    )
}

/// A rule set that writes `customer.start` events and drops the rest unread (no rule matches them), with lineage.
fn manifest() -> Value {
    json!({"name": "backfill", "lineage": true,
           "rules": [{"name": "starts", "match": {"kinds": ["customer.start"]}, "modules": [{"module": "builtin:default"}]}]})
}

struct Setup {
    bucket: String,
    stream: String,
    dlq: String,
    rules: String,
    c: weft::aws::Clients,
}

async fn setup() -> Setup {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (bucket, stream) = (unique("history"), unique("backfilled"));
    create_bucket(&c, &bucket).await;
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &unique("backfill-dlq")).await;
    let body = manifest().to_string().into_bytes();
    c.s3.put_object().bucket(&bucket).key("rules/manifest.json").body(body.into()).send().await.unwrap();
    Setup { rules: format!("s3://{bucket}/rules/manifest.json"), bucket, stream, dlq, c }
}

/// The backfill role's function under a runtime API whose invocations have `timeout` seconds.
fn function(api: &RuntimeApi, s: &Setup) -> std::process::Command {
    let mut function = api.function();
    function
        .env("WEFT_ROLE", "backfill")
        .env("WEFT_STREAM", &s.stream)
        .env("WEFT_DLQ_URL", &s.dlq)
        .env("WEFT_RULES", &s.rules)
        .env("WEFT_LOG", "info");
    function
}

/// The `_weft.id` of every record in the stream.
async fn record_ids(s: &Setup) -> Vec<String> {
    let records = aws::read_stream(&s.c, &s.stream).await;
    records
        .iter()
        .map(|(_, data)| serde_json::from_str::<Value>(data).unwrap()["_weft"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_object_with_a_broken_line_dead_letters_it_and_writes_the_rest() {
    let s = setup().await;
    let mut text = String::new();
    for n in 0..9 {
        text += &envelope(n, if n % 3 == 0 { "customer.end" } else { "customer.start" });
        text.push('\n');
        if n == 4 {
            text += "{\"version\": \"0\", \"id\": \"broken\", \"detail\": {\n";
        }
    }
    s.c.s3.put_object().bucket(&s.bucket).key("2025/11/27/part-1").body(text.into_bytes().into()).send().await.unwrap();
    let api = RuntimeApi::start();
    let item = json!({"bucket": s.bucket, "key": "2025/11/27/part-1"}).to_string();
    let command = function(&api, &s);
    let (api, (status, body)) = api.first_invocation(command, &item).await;
    assert_eq!(status, 200, "{body}\n{}", api.function_output());
    let progress: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(progress["done"], true, "{progress}");
    assert_eq!(progress["gzip"], false);
    let counts = &progress["counts"];
    // 9 events and the broken one: 6 customer.start written, 3 customer.end dropped (no rule matched), 1 dead letter.
    assert_eq!(
        (&counts["events"], &counts["written"], &counts["dropped"], &counts["deadLettered"], &counts["failed"]),
        (&json!(10), &json!(6), &json!(3), &json!(1), &json!(0)),
        "{progress}"
    );
    assert_eq!(record_ids(&s).await.len(), 6);
    let letters = aws::drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 1);
    let letter: Value = serde_json::from_str(&letters[0].0).unwrap();
    assert_eq!((&letter["stage"], &letter["errorClass"]), (&json!("parse"), &json!("invalid-json")), "{letter}");
    assert_eq!(letter["source"]["file"], format!("s3://{}/2025/11/27/part-1", s.bucket), "{letter}");
    assert_eq!(letter["source"]["line"], 6, "the broken line's place in the object: {letter}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_events_gzip_object_is_read_in_flat_memory_and_resumed_without_duplicates() {
    const EVENTS: usize = 1_000_000;
    let s = setup().await;
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut bytes = 0;
    for n in 0..EVENTS {
        // One event in a thousand is written; the rest are dropped without a module call.
        let line = envelope(n, if n % 1000 == 7 { "customer.start" } else { "customer.end" }) + "\n";
        bytes += line.len();
        gzip.write_all(line.as_bytes()).unwrap();
    }
    let gzip = gzip.finish().unwrap();
    println!("{EVENTS} events: {bytes} bytes of text, {} gzip", gzip.len());
    s.c.s3.put_object().bucket(&s.bucket).key("firehose/part-2.gz").body(gzip.into()).send().await.unwrap();

    // Invocations that work 2 seconds each (the emulator's deadline is 10 minutes away); the map's loop invokes
    // again with what the last one answered.
    let api = RuntimeApi::start();
    let mut item = json!({"bucket": s.bucket, "key": "firehose/part-2.gz", "secondsPerInvocation": 2});
    let command = function(&api, &s);
    let (api, (status, body)) = api.first_invocation(command, &item.to_string()).await;
    let mut answers = vec![(status, body)];
    let mut peak = 0;
    loop {
        let (status, body) = answers.last().unwrap().clone();
        assert_eq!(status, 200, "{body}\n{}", api.function_output());
        peak = peak.max(api.function_peak_kib().unwrap_or(0));
        item = serde_json::from_str(&body).unwrap();
        if item["done"] == true {
            break;
        }
        assert!(answers.len() < 200, "no end in sight: {item}");
        answers.push(invoke(api.port, &item.to_string()).await.unwrap());
    }
    let counts = &item["counts"];
    assert!(answers.len() > 1, "one invocation could not read it all: {} did", answers.len());
    assert_eq!(item["invocations"], answers.len());
    assert_eq!(item["gzip"], true);
    assert_eq!(
        (&counts["events"], &counts["written"], &counts["dropped"], &counts["deadLettered"], &counts["failed"]),
        (&json!(EVENTS), &json!(EVENTS / 1000), &json!(EVENTS - EVENTS / 1000), &json!(0), &json!(0)),
        "{item}"
    );
    assert_eq!(item["place"]["offset"], bytes, "it stopped at the end of the text");
    let ids = record_ids(&s).await;
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (EVENTS / 1000, EVENTS / 1000), "every record written once");
    // The text is ~150 times what the function held at its peak.
    println!("{} invocations, peak RSS {} KiB", answers.len(), peak);
    assert!(peak > 0 && peak < 128 * 1024, "peak RSS {peak} KiB for {bytes} bytes of text");
}

/// History that fits one machine: `weft run s3://BUCKET/PREFIX` reads the same objects (gzip or not) locally, in
/// key order, and gives the same records as the files would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn weft_run_reads_history_from_s3_gzip_or_not() {
    let s = setup().await;
    let events: Vec<String> = (0..6).map(|n| envelope(n, "customer.start")).collect();
    let plain = events[..3].join("\n").into_bytes();
    let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Objects back to back, no separator, as Firehose writes them.
    gzip.write_all(events[3..].concat().as_bytes()).unwrap();
    let gzip = gzip.finish().unwrap();
    for (key, body) in [("exports/a.json", plain), ("exports/b.json.gz", gzip)] {
        s.c.s3.put_object().bucket(&s.bucket).key(key).body(body.into()).send().await.unwrap();
    }
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", &format!("s3://{}/exports/", s.bucket)])
        .envs(aws::env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let conversations: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["data"]["conversationId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(conversations, ["c0", "c1", "c2", "c3", "c4", "c5"], "{stderr}");
    assert!(stderr.contains("6 events in: 6 written"), "{stderr}");
    let empty = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", &format!("s3://{}/nothing-here/", s.bucket)])
        .envs(aws::env())
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&empty.stderr).contains("no objects there"));
}
