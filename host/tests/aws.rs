//! Delivery against a real AWS API server on loopback (moto, started by scripts/test.sh): round trips through
//! Kinesis, dead letters on SQS (and S3 for oversize ones), redrive and tail — and, through a fault-injecting
//! proxy, every failure Kinesis and SQS can answer with. Each fault test checks conservation: events in =
//! written + dropped + dead-lettered + reported as failed to Lambda, and nothing written twice.

mod common;

use std::collections::HashSet;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::aws::{
    self, clients, closed_port, create_bucket, create_queue, create_stream, drain_queue, queue_depth, read_stream,
    unique,
};
use common::proxy::{Faults, Proxy};
use serde_json::{Value, json};
use weft::delivery::{Delivery, LetterPort, RecordPort};
use weft::engine::Limits;
use weft::judge::Judge;
use weft::lambda::Handler;
use weft::rules::RuleSet;
use weft::verdict::dead_letter::{DeadLetter, DeadLetterMessage};

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft")).args(args).current_dir(common::repo()).envs(aws::env()).output().unwrap()
}

fn golden() -> Vec<(String, String)> {
    std::fs::read_to_string(common::repo().join("samples/expected/records.jsonl"))
        .unwrap()
        .lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).unwrap();
            (v["partitionKey"].as_str().unwrap().to_owned(), v["data"].to_string())
        })
        .collect()
}

/// Record data as JSON values, so the comparison is field by field.
fn parsed(records: &[(String, String)]) -> Vec<(String, Value)> {
    records.iter().map(|(k, d)| (k.clone(), serde_json::from_str(d).unwrap())).collect()
}

fn upstream() -> String {
    aws::endpoint().trim_start_matches("http://").trim_end_matches('/').to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_round_trip_through_kinesis_exactly_as_golden() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique("round-trip"), unique("round-trip-dlq"));
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &queue).await;
    let out = weft(&["run", "--stream", &stream, "--dlq", &dlq, "samples/events"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("29 events in: 27 written as 27 records, 2 dropped, 0 dead-lettered"), "{stderr}");
    assert!(stderr.contains("1 PutRecords calls"), "{stderr}");
    assert!(out.stdout.is_empty(), "records went to Kinesis, not stdout");
    // Read back with the SDK: one shard, so the order is the input's.
    assert_eq!(parsed(&read_stream(&c, &stream).await), parsed(&golden()));
    assert_eq!(queue_depth(&c, &dlq).await, 0);

    // `weft tail` prints the same records, with where they sit.
    let tail = weft(&["tail", "--stream", &stream]);
    assert_eq!(tail.status.code(), Some(0), "{}", String::from_utf8_lossy(&tail.stderr));
    let lines: Vec<Value> =
        String::from_utf8(tail.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let tailed: Vec<(String, Value)> =
        lines.iter().map(|l| (l["partitionKey"].as_str().unwrap().to_owned(), l["data"].clone())).collect();
    assert_eq!(tailed, parsed(&golden()));
    assert!(lines.iter().all(|l| l["shardId"].is_string() && l["sequenceNumber"].is_string()));
    let limited = weft(&["tail", "--stream", &stream, "--limit", "3"]);
    assert_eq!(String::from_utf8(limited.stdout).unwrap().lines().count(), 3);

    // And as the seed's troubleshooting section does it, with the AWS CLI: get-shard-iterator, get-records, base64.
    let cli = common::repo().join(".venv/bin/aws");
    let aws_cli = |args: &[&str]| -> Value {
        let out = Command::new(&cli).args(args).args(["--output", "json"]).envs(aws::env()).output().unwrap();
        assert!(out.status.success(), "aws {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let iterator = aws_cli(&[
        "kinesis",
        "get-shard-iterator",
        "--stream-name",
        &stream,
        "--shard-id",
        "shardId-000000000000",
        "--shard-iterator-type",
        "TRIM_HORIZON",
    ]);
    let page = aws_cli(&["kinesis", "get-records", "--shard-iterator", iterator["ShardIterator"].as_str().unwrap()]);
    let decoded: Vec<(String, Value)> = page["Records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["PartitionKey"].as_str().unwrap().to_owned(),
                serde_json::from_slice(&base64(r["Data"].as_str().unwrap())).unwrap(),
            )
        })
        .collect();
    assert_eq!(decoded, parsed(&golden()));
}

fn base64(text: &str) -> Vec<u8> {
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        bits = (bits << 6) | alphabet.iter().position(|&a| a == c).unwrap() as u32;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dead_letters_reach_the_queue_with_attributes_and_redrive_delivers_them_after_the_fix() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique("redrive"), unique("redrive-dlq"));
    let dlq = create_queue(&c, &queue).await;
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("events.jsonl");
    let text = std::fs::read_to_string(common::repo().join("samples/events/voice-inbound-call.jsonl")).unwrap();
    std::fs::write(&input, format!("{text}not json at all\n")).unwrap();

    // The stream does not exist yet: Kinesis refuses the records, they become dead letters (stage sink).
    let out = weft(&["run", "--stream", &stream, "--dlq", &dlq, input.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("14 events in: 0 written as 0 records, 0 dropped, 14 dead-lettered"), "{stderr}");
    let messages = drain_queue(&c, &dlq).await;
    assert_eq!(messages.len(), 14);
    let mut attributes: Vec<(String, String)> =
        messages.iter().map(|(_, stage, class)| (stage.clone(), class.clone())).collect();
    attributes.sort();
    attributes.dedup();
    assert_eq!(
        attributes,
        [("parse".to_owned(), "invalid-json".to_owned()), ("sink".to_owned(), "kinesis-rejected".to_owned())]
    );
    for (body, stage, _) in &messages {
        let letter: DeadLetter = serde_json::from_str(body).unwrap();
        assert_eq!(letter.schema_version, 1);
        assert_eq!(format!("{:?}", letter.stage).to_lowercase(), *stage);
        if stage == "sink" {
            assert!(letter.reason.contains("ResourceNotFound"), "{}", letter.reason);
            assert!(letter.event_id.is_some());
        }
    }
    // Fix the cause: create the stream.
    create_stream(&c, &stream, 1).await;

    let dry = weft(&["redrive", "--dlq", &dlq, "--dry-run"]);
    let dry_err = String::from_utf8_lossy(&dry.stderr);
    assert!(
        dry_err.contains("14 dead letters: 13 would be written (13 records), 0 would be dropped, 1 still failing"),
        "{dry_err}"
    );
    assert_eq!(String::from_utf8(dry.stdout).unwrap().lines().count(), 13, "the records it would write");
    assert!(read_stream(&c, &stream).await.is_empty(), "a dry run writes nothing");
    assert_eq!(queue_depth(&c, &dlq).await, 14, "a dry run deletes nothing");

    // One message first, by its id (what `weft studio` does for a selection): the others are left as they were.
    let peeked = c.sqs.receive_message().queue_url(&dlq).max_number_of_messages(10).visibility_timeout(0);
    let peeked = peeked.send().await.unwrap().messages.unwrap_or_default();
    let one = peeked.iter().find(|m| m.body().unwrap_or("").contains("\"stage\":\"sink\"")).unwrap();
    let only = weft(&["redrive", "--dlq", &dlq, "--stream", &stream, "--message-id", one.message_id().unwrap()]);
    let only_err = String::from_utf8_lossy(&only.stderr);
    assert!(
        only_err.contains("1 dead letters: 1 were written (1 records), 0 were dropped, 0 still failing"),
        "{only_err}"
    );
    assert_eq!(read_stream(&c, &stream).await.len(), 1);
    assert_eq!(queue_depth(&c, &dlq).await, 13, "the messages not named are still on the queue");

    let real = weft(&["redrive", "--dlq", &dlq, "--stream", &stream]);
    let real_err = String::from_utf8_lossy(&real.stderr);
    assert_eq!(real.status.code(), Some(1), "one dead letter is still broken: {real_err}");
    assert!(
        real_err.contains("13 dead letters: 12 were written (12 records), 0 were dropped, 1 still failing"),
        "{real_err}"
    );
    let written = parsed(&read_stream(&c, &stream).await);
    let expected: Vec<(String, Value)> =
        parsed(&golden()).into_iter().filter(|(_, d)| text.contains(d["_id"].as_str().unwrap())).collect();
    assert_eq!(written.len(), 13);
    assert_eq!(written.iter().collect::<HashSet<_>>().len(), 13);
    for record in &expected {
        assert!(written.contains(record), "{record:?} missing after redrive");
    }
    assert_eq!(queue_depth(&c, &dlq).await, 1, "only the broken event is left");
}

/// A handler like the Lambda's, with its clients pointed wherever the test says.
async fn handler(rules: RuleSet, kinesis: &str, sqs: &str, stream: &str, dlq: &str, bucket: Option<&str>) -> Handler {
    let c = clients(kinesis, sqs, &aws::endpoint()).await;
    let delivery = Delivery::new(
        RecordPort::Kinesis(c.kinesis_sink(stream)),
        LetterPort::Queue(c.dead_letter_queue(dlq, bucket)),
        None,
    );
    Handler::new(Judge::new(rules), delivery)
}

fn default_rules() -> RuleSet {
    RuleSet::embedded_default(common::engine(), Limits::default()).unwrap()
}

/// `n` distinct conversation events.
fn events(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| {
            common::event(
                &format!("ev-{i:04}"),
                "customer.start",
                json!({"conversationId": format!("conv-{}", i % 7), "eventTime": i}),
            )
        })
        .collect()
}

fn raw(text: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(text.to_owned()).unwrap()
}

struct Setup {
    c: weft::aws::Clients,
    stream: String,
    dlq: String,
}

async fn setup(name: &str) -> Setup {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique(name), unique(&format!("{name}-dlq")));
    create_stream(&c, &stream, 2).await;
    let dlq = create_queue(&c, &queue).await;
    Setup { c, stream, dlq }
}

/// Runs `bodies` as one SQS batch; returns the failed message ids and the summary of what reached AWS.
async fn run_batch(h: &Handler, bodies: &[String], deadline: Duration) -> Vec<String> {
    let answer = h.handle(&raw(&common::sqs_batch(bodies)), "req-1", Instant::now() + deadline).await.unwrap();
    answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

fn ids_in_stream(records: &[(String, String)]) -> Vec<String> {
    records.iter().map(|(_, d)| serde_json::from_str::<Value>(d).unwrap()["_id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn partial_putrecords_failures_are_retried_and_land_once() {
    let s = setup("partial").await;
    let proxy = Proxy::start(
        &upstream(),
        Faults {
            partial: Some((2, vec![0, 3, 7, 511], "ProvisionedThroughputExceededException")),
            ..Faults::default()
        },
    )
    .await;
    let h = handler(default_rules(), &proxy.url, &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let bodies = events(600);
    let failed = run_batch(&h, &bodies, Duration::from_secs(30)).await;
    assert!(failed.is_empty(), "{failed:?}");
    let ids = ids_in_stream(&read_stream(&s.c, &s.stream).await);
    assert_eq!(ids.len(), 600, "every record landed");
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 600, "none twice");
    assert_eq!(queue_depth(&s.c, &s.dlq).await, 0);
    // 600 records: 500 + 100; the first call of each batch loses 3 and 1 entries and resends only those.
    assert_eq!(proxy.calls(), 4, "two full calls, then one retry of just the failed entries each");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_throttling_ends_in_dead_letters_within_the_deadline() {
    let s = setup("throttle").await;
    let proxy = Proxy::start(&upstream(), Faults { throttle_all: true, ..Faults::default() }).await;
    let h = handler(default_rules(), &proxy.url, &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let started = Instant::now();
    let failed = run_batch(&h, &events(20), Duration::from_secs(3)).await;
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "bounded by the 3 s left, not by 10 attempts of up to 2 s: {:?}",
        started.elapsed()
    );
    assert!(failed.is_empty(), "dead-lettered, so not failed: {failed:?}");
    assert!(proxy.calls() >= 2, "retried before giving up");
    assert!(read_stream(&s.c, &s.stream).await.is_empty());
    let letters = drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 20);
    for (body, stage, class) in &letters {
        // Out of attempts (`kinesis-throttled`) or, more often in 3 s, out of time (`deadline`): either way the
        // reason names the throttling.
        assert_eq!(stage, "sink");
        assert!(["kinesis-throttled", "deadline"].contains(&class.as_str()), "{class}");
        let letter: DeadLetter = serde_json::from_str(body).unwrap();
        assert!(letter.attempts >= 2, "{}", letter.attempts);
        assert!(letter.reason.contains("ProvisionedThroughputExceeded"), "{}", letter.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_and_connection_resets_are_retried() {
    let s = setup("flaky").await;
    let proxy = Proxy::start(&upstream(), Faults { server_errors: 2, resets: 1, ..Faults::default() }).await;
    let h = handler(default_rules(), &proxy.url, &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let failed = run_batch(&h, &events(30), Duration::from_secs(30)).await;
    assert!(failed.is_empty());
    let ids = ids_in_stream(&read_stream(&s.c, &s.stream).await);
    assert_eq!((ids.len(), ids.iter().collect::<HashSet<_>>().len()), (30, 30));
    assert_eq!(queue_depth(&s.c, &s.dlq).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_unreachable_dead_letters_everything() {
    let s = setup("no-kinesis").await;
    let h = handler(default_rules(), &closed_port(), &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let failed = run_batch(&h, &events(12), Duration::from_secs(2)).await;
    assert!(failed.is_empty());
    let letters = drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 12);
    // Out of attempts (`kinesis-unavailable`) or, in 2 s, out of time (`deadline`); the reason says why.
    for (body, stage, class) in &letters {
        assert!(stage == "sink" && ["kinesis-unavailable", "deadline"].contains(&class.as_str()), "{stage} {class}");
        assert!(body.contains("Connection refused"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_unreachable_fails_the_invocation_or_the_batch_items() {
    let s = setup("no-sqs").await;
    let h = handler(default_rules(), &aws::endpoint(), &closed_port(), &s.stream, &s.dlq, None).await;
    // Batched: the good events are written; only the event that needed the dead-letter queue comes back.
    let mut bodies = events(5);
    bodies.insert(2, "{\"not\": \"an envelope\"}".into());
    let failed = run_batch(&h, &bodies, Duration::from_secs(2)).await;
    assert_eq!(failed, ["m2"]);
    assert_eq!(read_stream(&s.c, &s.stream).await.len(), 5);
    // Direct: that event's invocation fails, so Lambda retries it and then uses its on-failure destination.
    let error = h
        .handle(&raw("{\"not\": \"an envelope\"}"), "req-2", Instant::now() + Duration::from_secs(2))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("neither delivered nor dead-lettered"), "{error}");
    // And with Kinesis down too, every event of the batch comes back.
    let both = handler(default_rules(), &closed_port(), &closed_port(), &s.stream, &s.dlq, None).await;
    let failed = run_batch(&both, &events(4), Duration::from_secs(2)).await;
    assert_eq!(failed, ["m0", "m1", "m2", "m3"]);
    // A direct good event is fine as long as Kinesis is.
    let ok = h.handle(&raw(&events(1)[0]), "req-3", Instant::now() + Duration::from_secs(5)).await.unwrap();
    assert_eq!(ok["eventsWritten"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_record_is_dead_lettered_not_sent() {
    let s = setup("oversize-record").await;
    let h =
        handler(common::hostile_rules(Limits::default()), &aws::endpoint(), &aws::endpoint(), &s.stream, &s.dlq, None)
            .await;
    let bodies = vec![
        common::event("big", "acw", json!({"attack": "huge-record"})),
        common::event("fine", "acw", json!({"attack": "none"})),
    ];
    let failed = run_batch(&h, &bodies, Duration::from_secs(10)).await;
    assert!(failed.is_empty());
    assert_eq!(read_stream(&s.c, &s.stream).await.len(), 1);
    let letters = drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0].2, "record-too-large");
    assert!(letters[0].0.contains("over the limit of 1048576 bytes per record"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversize_dead_letter_is_kept_whole_in_s3() {
    let s = setup("oversize-letter").await;
    let bucket = unique("weft-dead-letters");
    create_bucket(&s.c, &bucket).await;
    let h = handler(default_rules(), &aws::endpoint(), &aws::endpoint(), &s.stream, &s.dlq, Some(&bucket)).await;
    // An event just under EventBridge's 256 KB that fails: with its reason and metadata, its dead letter is over SQS's 256 KiB.
    let big =
        common::event("huge", "customer.end", json!({"eventTime": "not a number", "subject": "x".repeat(261_500)}));
    let failed = run_batch(&h, std::slice::from_ref(&big), Duration::from_secs(10)).await;
    assert!(failed.is_empty());
    let letters = drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 1);
    let DeadLetterMessage::Stored(stored) = serde_json::from_str(&letters[0].0).unwrap() else {
        panic!("expected a pointer")
    };
    assert_eq!(stored.error_class, "invalid-event");
    assert_eq!(stored.stored_in.bucket, bucket);
    let object = s.c.s3.get_object().bucket(&bucket).key(&stored.stored_in.key).send().await.unwrap();
    let letter: DeadLetter = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(
        serde_json::to_value(&letter.event).unwrap(),
        serde_json::from_str::<Value>(&big).unwrap(),
        "the event, whole"
    );
    // Without a bucket it cannot be kept: the message comes back to Lambda instead of being lost.
    let no_bucket = handler(default_rules(), &aws::endpoint(), &aws::endpoint(), &s.stream, &s.dlq, None).await;
    assert_eq!(run_batch(&no_bucket, &[big], Duration::from_secs(10)).await, ["m0"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_of_1000_events_takes_two_putrecords_calls() {
    let s = setup("calls").await;
    let proxy = Proxy::start(&upstream(), Faults::default()).await;
    let h = handler(default_rules(), &proxy.url, &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let failed = run_batch(&h, &events(1000), Duration::from_secs(30)).await;
    assert!(failed.is_empty());
    assert_eq!(proxy.calls(), 2);
    assert_eq!(read_stream(&s.c, &s.stream).await.len(), 1000);
}

/// Conservation over one invocation's answer and what reached AWS: every event is written, dead-lettered or
/// reported back as failed, and no event is written twice.
async fn assert_conserved(s: &Setup, events_in: usize, failed: &[String]) -> (Vec<String>, usize) {
    let mut ids = ids_in_stream(&read_stream(&s.c, &s.stream).await);
    ids.sort();
    let distinct = ids.iter().collect::<HashSet<_>>().len();
    assert_eq!(distinct, ids.len(), "no record written twice: {ids:?}");
    let letters = queue_depth(&s.c, &s.dlq).await;
    assert_eq!(ids.len() + letters + failed.len(), events_in, "written + dead-lettered + failed = in");
    (ids, letters)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinesis_that_never_answers_costs_dead_letters_before_the_deadline_not_the_invocation() {
    let s = setup("kinesis-silent").await;
    let held = Faults { delay: Some(("PutRecords", Duration::from_secs(600))), ..Faults::default() };
    let proxy = Proxy::start(&upstream(), held).await;
    let h = handler(default_rules(), &proxy.url, &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let started = Instant::now();
    let deadline = started + Duration::from_secs(3);
    let answer = h.handle(&raw(&common::sqs_batch(&events(20))), "req-1", deadline).await.unwrap();
    let returned = Instant::now();
    println!(
        "Kinesis never answers: returned {:?} after the start, {:?} before the 3 s deadline",
        returned - started,
        deadline - returned
    );
    assert!(returned < deadline, "the invocation returned before its deadline");
    assert_eq!(answer["batchItemFailures"], json!([]), "every event was dead-lettered in the reserve");
    let (written, _) = assert_conserved(&s, 20, &[]).await;
    assert!(written.is_empty(), "the held call was never forwarded");
    let letters = drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 20);
    for (body, stage, class) in &letters {
        assert_eq!((stage.as_str(), class.as_str()), ("sink", "deadline"));
        let letter: DeadLetter = serde_json::from_str(body).unwrap();
        assert!(letter.reason.contains("PutRecords did not answer"), "{}", letter.reason);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_that_never_answers_fails_only_what_needed_it_and_the_retry_writes_nothing_twice() {
    let s = setup("sqs-silent").await;
    let held = Faults { delay: Some(("SendMessageBatch", Duration::from_secs(600))), ..Faults::default() };
    let proxy = Proxy::start(&upstream(), held).await;
    let h = handler(default_rules(), &aws::endpoint(), &proxy.url, &s.stream, &s.dlq, None).await;
    let mut bodies = events(6);
    bodies.insert(2, "{\"not\": \"an envelope\"}".into());
    bodies.insert(5, "[1, 2]".into());
    let deadline = Instant::now() + Duration::from_secs(3);
    let answer = h.handle(&raw(&common::sqs_batch(&bodies)), "req-1", deadline).await.unwrap();
    assert!(Instant::now() < deadline, "the invocation returned before its deadline");
    let failed: Vec<String> = answer["batchItemFailures"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(failed, ["m2", "m5"], "only the events that needed the dead-letter queue come back");
    let mut expected: Vec<String> = events(6).iter().map(|e| id_of(e)).collect();
    expected.sort();
    assert_eq!(assert_conserved(&s, 8, &failed).await, (expected, 0));
    // Lambda retries the failed part; SQS answers now.
    let retry: Vec<String> = failed.iter().map(|m| bodies[m[1..].parse::<usize>().unwrap()].clone()).collect();
    let direct = handler(default_rules(), &aws::endpoint(), &aws::endpoint(), &s.stream, &s.dlq, None).await;
    assert!(run_batch(&direct, &retry, Duration::from_secs(10)).await.is_empty());
    let (written, letters) = assert_conserved(&s, 8, &[]).await;
    assert_eq!((written.len(), letters), (6, 2));
}

fn id_of(event: &str) -> String {
    serde_json::from_str::<Value>(event).unwrap()["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_partial_failures_and_throttling_are_retried_and_sender_faults_come_back() {
    let s = setup("sqs-partial").await;
    let not_envelopes: Vec<String> = (0..12).map(|i| format!("{{\"not-an-envelope\": {i}}}")).collect();
    // Not the sender's fault (SQS's own), and throttled calls: retried until every letter is on the queue once.
    let flaky = Faults { sqs_partial: Some((1, vec![1, 3], false)), sqs_throttles: 2, ..Faults::default() };
    let proxy = Proxy::start(&upstream(), flaky).await;
    let h = handler(default_rules(), &aws::endpoint(), &proxy.url, &s.stream, &s.dlq, None).await;
    assert!(run_batch(&h, &not_envelopes, Duration::from_secs(20)).await.is_empty());
    assert!(proxy.sqs_calls() >= 4, "two batches, two throttled calls and a retry: {}", proxy.sqs_calls());
    let letters = drain_queue(&s.c, &s.dlq).await;
    let sources: HashSet<String> = letters
        .iter()
        .map(|(body, ..)| serde_json::to_string(&serde_json::from_str::<DeadLetter>(body).unwrap().event).unwrap())
        .collect();
    assert_eq!((letters.len(), sources.len()), (12, 12), "each dead letter once");
    // The sender's fault: retrying cannot help, so the event comes back to Lambda (and is not lost).
    let faulty = Faults { sqs_partial: Some((1, vec![0], true)), ..Faults::default() };
    let proxy = Proxy::start(&upstream(), faulty).await;
    let h = handler(default_rules(), &aws::endpoint(), &proxy.url, &s.stream, &s.dlq, None).await;
    assert_eq!(run_batch(&h, &not_envelopes[..3], Duration::from_secs(20)).await, ["m0"]);
    assert_eq!(queue_depth(&s.c, &s.dlq).await, 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_refused_whole_as_invalid_is_split_until_only_the_offending_event_is_dead_lettered() {
    let s = setup("invalid-call").await;
    let proxy = Proxy::start(&upstream(), Faults { invalid_key: Some("poison".into()), ..Faults::default() }).await;
    let h = handler(default_rules(), &proxy.url, &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let bodies: Vec<String> = (0..40)
        .map(|i| {
            let conversation = if i == 17 { "poison".to_owned() } else { format!("conv-{i}") };
            common::event(&format!("ev-{i:02}"), "customer.start", json!({"conversationId": conversation}))
        })
        .collect();
    assert!(run_batch(&h, &bodies, Duration::from_secs(20)).await.is_empty());
    let (written, letters) = assert_conserved(&s, 40, &[]).await;
    assert_eq!((written.len(), letters), (39, 1));
    assert!(!written.contains(&"ev-17".to_owned()));
    let letter = &drain_queue(&s.c, &s.dlq).await[0];
    assert_eq!(letter.2, "kinesis-rejected");
    assert!(letter.0.contains("ev-17") && letter.0.contains("ValidationException"), "{}", letter.0);
    // Halving 40 down to the one entry: a call per half on the way, not one call per record.
    assert!((3..=16).contains(&proxy.calls()), "{} PutRecords calls", proxy.calls());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_may_be_named_by_its_arn() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique("by-arn"), unique("by-arn-dlq"));
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &queue).await;
    let summary = c.kinesis.describe_stream_summary().stream_name(&stream).send().await.unwrap();
    let arn = summary.stream_description_summary().unwrap().stream_arn().to_owned();
    assert!(arn.starts_with("arn:aws:kinesis:"), "{arn}");
    let out = weft(&["run", "--stream", &arn, "--dlq", &dlq, "samples/events"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("29 events in: 27 written as 27 records"), "{stderr}");
    assert_eq!(parsed(&read_stream(&c, &stream).await), parsed(&golden()));
    let tail = weft(&["tail", "--stream", &arn, "--limit", "2"]);
    assert_eq!(String::from_utf8(tail.stdout).unwrap().lines().count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_codes_and_ids_are_bounded_before_aws_and_the_event_kept_whole_in_the_dead_letter() {
    let s = setup("hostile-strings").await;
    let bucket = unique("weft-dead-letters");
    create_bucket(&s.c, &bucket).await;
    // S3 fails twice first: the oversize dead letter's PutObject is retried like the queue's calls.
    let s3 = Proxy::start(&upstream(), Faults { server_errors: 2, ..Faults::default() }).await;
    let c = clients(&aws::endpoint(), &aws::endpoint(), &s3.url).await;
    let delivery = Delivery::new(
        RecordPort::Kinesis(c.kinesis_sink(&s.stream)),
        LetterPort::Queue(c.dead_letter_queue(&s.dlq, Some(&bucket))),
        None,
    );
    let h = Handler::new(Judge::new(common::hostile_rules(Limits::default())), delivery);
    let long_id = "../".repeat(667); // 2,001 characters, slashes and dots included
    let bodies = vec![
        // An event over SQS's 256 KiB, so that its dead letter goes to S3 under a name made from its id.
        common::event(&long_id, "acw", json!({"attack": "hostile-code", "pad": "x".repeat(300 << 10)})),
        common::event("fine", "acw", json!({"attack": "none"})),
    ];
    assert!(run_batch(&h, &bodies, Duration::from_secs(20)).await.is_empty());
    let letters = drain_queue(&s.c, &s.dlq).await;
    assert_eq!(letters.len(), 1);
    let (body, stage, class) = &letters[0];
    assert_eq!(stage, "rule");
    assert_eq!(class, "module-error", "the attribute is weft's word for a module's own code, never its text");
    assert!(body.len() < 16 * 1024, "the pointer message is bounded: {} bytes", body.len());
    let DeadLetterMessage::Stored(stored) = serde_json::from_str(body).unwrap() else { panic!("a pointer") };
    let name = stored.stored_in.key.rsplit('/').next().unwrap();
    assert_eq!(name.len(), "0123456789abcdef0123456789abcdef-01234567.json".len(), "{}", stored.stored_in.key);
    assert!(!stored.stored_in.key.contains(".."), "{}", stored.stored_in.key);
    let object = s.c.s3.get_object().bucket(&bucket).key(&stored.stored_in.key).send().await.unwrap();
    let letter: DeadLetter = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(letter.error_class.len(), 64, "the code, bounded where it crossed into the host");
    assert_eq!(letter.event_id.as_deref(), Some(long_id.as_str()));
    assert_eq!(read_stream(&s.c, &s.stream).await.len(), 1, "the next event is written");
}

/// A rule set in a fresh directory (modules copied beside it, as `weft rules publish` would lay them out).
fn rule_set_dir(manifest: &Value, modules: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for module in modules {
        std::fs::copy(common::repo().join("rules/dist").join(module), dir.path().join(module)).unwrap();
    }
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    dir
}

fn sha256_of(path: &std::path::Path) -> String {
    weft::engine::ModuleId::new("", &std::fs::read(path).unwrap()).sha256
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redrive_runs_the_deployed_rule_set_so_redacted_events_stay_redacted() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique("redrive-rules"), unique("redrive-rules-dlq"));
    let dlq = create_queue(&c, &queue).await;
    let sha = sha256_of(&common::repo().join("rules/dist/redact-pii.wasm"));
    let manifest = json!({"name": "redacting", "rules": [{"name": "callers", "modules": [
        {"module": "redact-pii.wasm", "sha256": sha, "params": {"key": "a-redrive-test-key-0123"}}]}]});
    let dir = rule_set_dir(&manifest, &["redact-pii.wasm"]);
    let rules = dir.path().join("manifest.json");
    let events = common::repo().join("samples/events/voice-inbound-call.jsonl");
    // The stream is missing: every event is dead-lettered at the sink, under the redacting rule set.
    let out = weft(&[
        "run",
        "--rules",
        rules.to_str().unwrap(),
        "--stream",
        &stream,
        "--dlq",
        &dlq,
        events.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let letters = drain_queue(&c, &dlq).await;
    assert_eq!(letters.len(), 13);
    let letter: DeadLetter = serde_json::from_str(&letters[0].0).unwrap();
    assert!(letter.rule_set.as_deref().is_some_and(|v| v.starts_with("redacting@")), "{:?}", letter.rule_set);
    assert!(letters.iter().any(|(body, ..)| body.contains("tel:+")), "dead letters keep the event whole");
    create_stream(&c, &stream, 1).await;

    // Redrive as an operator would, with the deployment's WEFT_RULES in the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["redrive", "--dlq", &dlq, "--stream", &stream])
        .env("WEFT_RULES", &rules)
        .envs(aws::env())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("rules redacting@"), "{stderr}");
    let written = read_stream(&c, &stream).await;
    assert_eq!(written.len(), 13);
    assert!(written.iter().all(|(_, data)| !data.contains("tel:+")), "no number in clear after redrive");
    assert!(written.iter().any(|(_, data)| data.contains("\"ani\":\"hmac-sha256:")));
    assert_eq!(queue_depth(&c, &dlq).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partly_written_event_names_its_written_records_and_redrive_writes_only_the_others() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (main, other, queue) = (unique("fan-main"), unique("fan-other"), unique("fan-dlq"));
    create_stream(&c, &main, 1).await;
    let dlq = create_queue(&c, &queue).await;
    let manifest = json!({"name": "fan-out", "rules": [
        {"name": "shared", "modules": [{"module": "builtin:default"}]},
        {"name": "copy", "modules": [{"module": "builtin:default"}], "output": {"stream": other}}]});
    let dir = rule_set_dir(&manifest, &[]);
    let rules = dir.path().join("manifest.json");
    let events = common::repo().join("samples/events/voice-inbound-call.jsonl");
    // `other` does not exist yet: each event's first record lands, its second does not.
    let out =
        weft(&["run", "--rules", rules.to_str().unwrap(), "--stream", &main, "--dlq", &dlq, events.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(read_stream(&c, &main).await.len(), 13);
    let letters = drain_queue(&c, &dlq).await;
    assert_eq!(letters.len(), 13);
    for (body, stage, _) in &letters {
        assert_eq!(stage, "sink");
        let letter: DeadLetter = serde_json::from_str(body).unwrap();
        assert_eq!(letter.written.len(), 1, "{body}");
        let written = &letter.written[0];
        assert_eq!((&*written.id.rule, written.id.index, written.stream.as_str()), ("shared", 0, main.as_str()));
        assert!(!written.shard_id.is_empty() && !written.sequence_number.is_empty());
    }
    create_stream(&c, &other, 1).await;
    let out = weft(&["redrive", "--dlq", &dlq, "--stream", &main, "--rules", rules.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("13 dead letters: 13 were written (13 records)"), "{stderr}");
    let main_ids = ids_in_stream(&read_stream(&c, &main).await);
    assert_eq!((main_ids.len(), main_ids.iter().collect::<HashSet<_>>().len()), (13, 13), "nothing twice");
    assert_eq!(read_stream(&c, &other).await.len(), 13);
    assert_eq!(queue_depth(&c, &dlq).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_dead_letters_go_out_in_one_invocation() {
    let s = setup("thousand-letters").await;
    let h = handler(default_rules(), &aws::endpoint(), &aws::endpoint(), &s.stream, &s.dlq, None).await;
    let bodies: Vec<String> = (0..1000).map(|i| format!("{{\"not-an-envelope\": {i}}}")).collect();
    let started = Instant::now();
    let failed = run_batch(&h, &bodies, Duration::from_secs(30)).await;
    // What the reserve is measured by (printed, not asserted: the time depends on the machine).
    println!("1,000 dead letters (rules and SQS): {:?}", started.elapsed());
    assert!(failed.is_empty());
    assert_eq!(queue_depth(&s.c, &s.dlq).await, 1000);
}
