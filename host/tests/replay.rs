//! History from the EventBridge archive, against the local AWS API server (moto): events put on the bus are
//! archived and reach weft through the batched path (bus → rule → SQS → handler); `weft replay start` replays them
//! to weft's rule alone; the replayed events come back through the same queue, and their records are stamped with
//! the replay, keep the identity the first delivery gave them (a new version's records get new ones), go to the
//! replay stream, and are counted under the replay. `status`, `list` and `cancel` follow moto's replay API.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::aws::{self, clients, create_queue, create_stream, unique};
use common::{Captured, engine};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use weft::delivery::{Delivery, LetterPort, RecordPort};
use weft::engine::Limits;
use weft::judge::Judge;
use weft::lambda::Handler;
use weft::metrics::{MetricsConfig, Publisher};
use weft::rules::manifest::Manifest;

const SOURCE: &str = "aws.partner/genesys.com/cloud/32aa07aa-db1b-4987-abd0-9483601ec29d/weft-test";

fn weft(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).envs(aws::env()).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The bus, its archive, weft's rule (to the ingest queue) and another consumer's rule on the same bus.
struct Bus {
    events: aws_sdk_eventbridge::Client,
    name: String,
    archive: String,
    rule: String,
    rule_arn: String,
    queue: String,
}

async fn bus() -> Bus {
    let config = aws::sdk_config(&aws::endpoint()).await;
    let events = aws_sdk_eventbridge::Client::new(&config);
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let name = unique("genesys-bus");
    let bus_arn = events.create_event_bus().name(&name).send().await.unwrap().event_bus_arn.unwrap();
    let archive = unique("genesys-archive");
    events.create_archive().archive_name(&archive).event_source_arn(&bus_arn).send().await.unwrap();
    let pattern = json!({"source": [{"prefix": "aws.partner/genesys.com"}]}).to_string();
    let mut rules = Vec::new();
    for rule in [unique("weft-rule"), unique("other-rule")] {
        let put = events.put_rule().name(&rule).event_bus_name(&name).event_pattern(&pattern).send().await.unwrap();
        let queue = create_queue(&c, &unique("ingest")).await;
        let attributes = c.sqs.get_queue_attributes().queue_url(&queue).attribute_names("QueueArn".into());
        let queue_arn = attributes.send().await.unwrap().attributes.unwrap()[&"QueueArn".into()].clone();
        let target = aws_sdk_eventbridge::types::Target::builder().id("q").arn(queue_arn).build().unwrap();
        events.put_targets().rule(&rule).event_bus_name(&name).targets(target).send().await.unwrap();
        rules.push((rule, put.rule_arn.unwrap(), queue));
    }
    let (rule, rule_arn, queue) = rules.swap_remove(0);
    Bus { events, name, archive, rule, rule_arn, queue }
}

/// Genesys publishes an event of `kind` on the bus.
async fn publish(bus: &Bus, n: usize, kind: &str) {
    let detail = json!({
        "topicName": format!("v2.detail.events.conversation.c-{n}.{kind}"), "version": "2",
        "eventBody": {"conversationId": format!("c-{n}"), "eventTime": 1764237600000u64 + n as u64,
                      "mediaType": "VOICE", "participantId": format!("p-{n}")},
        "metadata": {"CorrelationId": format!("corr-{n}")}, "timestamp": "2025-11-27T10:00:00.013Z",
    });
    let entry = aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
        .source(SOURCE)
        .detail_type(format!("v2.detail.events.conversation.{{id}}.{kind}"))
        .detail(detail.to_string())
        .event_bus_name(&bus.name)
        .build();
    let put = bus.events.put_events().entries(entry).send().await.unwrap();
    assert_eq!(put.failed_entry_count, 0);
}

/// Every message on the queue, taken off it.
async fn take(c: &weft::aws::Clients, queue: &str) -> Vec<String> {
    let mut bodies = Vec::new();
    loop {
        let received = c.sqs.receive_message().queue_url(queue).max_number_of_messages(10).send().await.unwrap();
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for m in messages {
            bodies.push(m.body().unwrap().to_owned());
            c.sqs.delete_message().queue_url(queue).receipt_handle(m.receipt_handle().unwrap()).send().await.unwrap();
        }
    }
}

/// The Lambda's handler with a lineage rule set named `version`, live records to `live`, replayed ones to `replay`.
async fn handler(version: &str, live: &str, replay: &str, out: &Captured) -> Handler {
    let dir = tempfile::tempdir().unwrap();
    let manifest = json!({"name": version, "lineage": true,
                          "rules": [{"name": "all", "modules": [{"module": "builtin:default"}]}]});
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    let rules = Manifest::load_file(&dir.path().join("manifest.json"), engine(), &Limits::default()).unwrap();
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let dlq = create_queue(&c, &unique("replay-dlq")).await;
    let delivery = Delivery::new(
        RecordPort::Kinesis(c.kinesis_sink(live)),
        LetterPort::Queue(c.dead_letter_queue(&dlq, None)),
        None,
    );
    let publisher = Publisher::new(MetricsConfig::new("weft"), Box::new(out.clone()));
    Handler::new(Judge::new(rules), delivery).with_metrics(publisher).with_replay_stream(Some(replay.to_owned()))
}

async fn invoke(handler: &Handler, bodies: &[String]) {
    let payload = RawValue::from_string(common::sqs_batch(bodies)).unwrap();
    let answer = handler.handle(&payload, "req", Instant::now() + Duration::from_secs(30)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "every message settled");
}

/// The `_weft` members of the records in `stream`, by conversation.
async fn lineage(stream: &str) -> Vec<Value> {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let mut records: Vec<Value> = aws::read_stream(&c, stream)
        .await
        .into_iter()
        .map(|(_, data)| serde_json::from_str::<Value>(&data).unwrap())
        .collect();
    records.sort_by_key(|r| r["conversationId"].as_str().unwrap().to_owned());
    records.into_iter().map(|r| r["_weft"].clone()).collect()
}

/// The lines a function printed, in its log group as Lambda would put them (with a runtime line among them).
async fn ship_logs(function: &str, lines: &[String]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&aws::sdk_config(&aws::endpoint()).await);
    let group = format!("/aws/lambda/{function}");
    logs.create_log_group().log_group_name(&group).send().await.unwrap();
    logs.create_log_stream().log_group_name(&group).log_stream_name("2026/12/07/[$LATEST]1").send().await.unwrap();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let event = |message: &str| {
        aws_sdk_cloudwatchlogs::types::InputLogEvent::builder().timestamp(now).message(message).build().unwrap()
    };
    let mut put = logs.put_log_events().log_group_name(&group).log_stream_name("2026/12/07/[$LATEST]1");
    for line in std::iter::once("START RequestId: 1 Version: $LATEST").chain(lines.iter().map(String::as_str)) {
        put = put.log_events(event(line));
    }
    put.send().await.unwrap();
}

fn window() -> (String, String) {
    let now = std::time::SystemTime::now();
    let at = |t| humantime::format_rfc3339_seconds(t).to_string();
    (at(now - Duration::from_secs(3600)), at(now + Duration::from_secs(60)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_reaches_weft_stamped_counted_apart_and_with_the_first_deliverys_record_ids() {
    let bus = bus().await;
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (live, replayed) = (unique("live"), unique("replayed"));
    create_stream(&c, &live, 1).await;
    create_stream(&c, &replayed, 1).await;
    let out = Captured::default();
    let weft_handler = handler("v1", &live, &replayed, &out).await;
    for n in 0..3 {
        publish(&bus, n, "customer.start").await;
    }
    // The first delivery, live.
    let first = take(&c, &bus.queue).await;
    assert_eq!(first.len(), 3, "the rule sent each event to the queue");
    invoke(&weft_handler, &first).await;
    let live_lineage = lineage(&live).await;
    assert_eq!(live_lineage.len(), 3);
    assert!(live_lineage.iter().all(|l| l.get("replay").is_none() && l["id"].as_str().unwrap().len() == 32));

    let (from, to) = window();
    let (ok, stdout, stderr) =
        weft(&["replay", "start", "--archive", &bus.archive, "--rule", &bus.rule, "--from", &from, "--to", &to]);
    assert!(ok, "{stderr}");
    let name = stdout.trim().to_owned();
    assert!(name.starts_with("weft-") && stderr.contains(&format!("to rule {} alone", bus.rule)), "{stdout}{stderr}");
    // What EventBridge was asked: weft's rule alone (moto itself sends a replay to every rule of the bus).
    let described = bus.events.describe_replay().replay_name(&name).send().await.unwrap();
    assert_eq!(described.destination.unwrap().filter_arns(), std::slice::from_ref(&bus.rule_arn));

    // The replayed events, through the same queue: new envelope ids, `replay-name` added.
    let again = take(&c, &bus.queue).await;
    assert_eq!(again.len(), 3);
    assert!(again.iter().all(|body| body.contains("\"replay-name\"")));
    invoke(&weft_handler, &again).await;
    assert_eq!(lineage(&live).await.len(), 3, "no replayed record reached the live stream");
    let replay_lineage = lineage(&replayed).await;
    assert_eq!(replay_lineage.len(), 3);
    for (first, replayed) in live_lineage.iter().zip(&replay_lineage) {
        assert_eq!(replayed["id"], first["id"], "the same event under the same rule set: the same record id");
        assert_ne!(replayed["event"], first["event"], "a replayed envelope has a new id");
        assert_eq!(replayed["replay"], name.as_str());
        assert_eq!(replayed["ruleSet"], first["ruleSet"]);
    }
    // Counted under the replay: 3 replayed, 3 written.
    let replay_doc = out
        .lines()
        .into_iter()
        .map(|l| serde_json::from_str::<Value>(&l).unwrap())
        .find(|doc| doc["Replay"] == name.as_str())
        .expect("a document for the replay");
    assert_eq!((replay_doc["ReplayedEvents"].as_u64(), replay_doc["ReplayWritten"].as_u64()), (Some(3), Some(3)));
    assert_eq!(replay_doc["ReplayDeadLettered"], 0);
    // The function's log group gets its output, as Lambda ships it; `status` reads the replay's account there.
    let function = unique("weft-function");
    ship_logs(&function, &out.lines()).await;

    // Under a new version of the rule set, the same history makes new records, stamped with it.
    let (v2_live, v2_replayed) = (unique("live"), unique("replayed"));
    create_stream(&c, &v2_live, 1).await;
    create_stream(&c, &v2_replayed, 1).await;
    let v2 = handler("v2", &v2_live, &v2_replayed, &Captured::default()).await;
    let after = unique("after-v2");
    let (ok, second, stderr) = weft(&[
        "replay",
        "start",
        "--archive",
        &bus.archive,
        "--rule",
        &bus.rule,
        "--from",
        &from,
        "--to",
        &to,
        "--name",
        &after,
    ]);
    assert!(ok && second.trim() == after, "{stderr}");
    invoke(&v2, &take(&c, &bus.queue).await).await;
    let v2_lineage = lineage(&v2_replayed).await;
    assert_eq!(v2_lineage.len(), 3);
    for (first, v2) in live_lineage.iter().zip(&v2_lineage) {
        assert_ne!(v2["id"], first["id"], "another version's records are new records");
        assert!(v2["ruleSet"].as_str().unwrap().starts_with("v2@"), "{v2}");
    }

    // Status, list and cancel, as moto's replay API answers them (its replays finish before StartReplay returns).
    let (ok, status, stderr) = weft(&["replay", "status", &name, "--function", &function]);
    assert!(
        ok && status.starts_with(&format!("{name} COMPLETED")) && status.contains("100% replayed"),
        "{status}{stderr}"
    );
    let account = format!("\n{function}: 3 events replayed: 3 written, 0 dropped, 0 dead-lettered, 0 failed\n");
    assert!(status.ends_with(&account), "what weft did with the replay, from its logs: {status}{stderr}");
    let (_, other, _) = weft(&["replay", "status", &after, "--function", &function]);
    assert!(
        other.ends_with(&format!("{function}: 0 events replayed: 0 written, 0 dropped, 0 dead-lettered, 0 failed\n")),
        "{other}"
    );
    let (ok, newest, _) = weft(&["replay", "status", "--archive", &bus.archive]);
    assert!(ok && newest.starts_with(&format!("{after} ")), "the archive's newest replay: {newest}");
    let (ok, list, _) = weft(&["replay", "list", "--archive", &bus.archive]);
    assert!(ok && list.lines().count() == 2 && list.contains(&name) && list.contains(&after), "{list}");
    // A name already taken is refused, with EventBridge's reason.
    let taken = ["replay", "start", "--archive", &bus.archive, "--rule", &bus.rule, "--from", &from, "--to", &to];
    let (ok, _, stderr) = weft(&[&taken[..], &["--name", &after]].concat());
    assert!(
        !ok && stderr.contains(&format!("ResourceAlreadyExistsException: Replay {after} already exists")),
        "{stderr}"
    );
    let (ok, cancelled, stderr) = weft(&["replay", "cancel", &name]);
    assert!(ok && cancelled.starts_with(&format!("{name} CANCELLING")), "{cancelled}{stderr}");
    let (_, status, _) = weft(&["replay", "status", &name, "--once"]);
    assert!(status.starts_with(&format!("{name} CANCELLED")), "{status}");
}

#[test]
fn a_replay_start_is_refused_with_what_is_wrong_before_anything_is_asked() {
    let (ok, _, stderr) = weft(&[
        "replay",
        "start",
        "--archive",
        "a",
        "--rule",
        "r",
        "--from",
        "yesterday",
        "--to",
        "2026-12-01T00:00:00Z",
    ]);
    assert!(!ok && stderr.contains("`yesterday` is not a time"), "{stderr}");
    let (ok, _, stderr) = weft(&[
        "replay",
        "start",
        "--archive",
        "a",
        "--rule",
        "r",
        "--from",
        "2026-12-02T00:00:00Z",
        "--to",
        "2026-12-01T00:00:00Z",
    ]);
    assert!(!ok && stderr.contains("is not before --to"), "{stderr}");
    let (ok, _, stderr) = weft(&[
        "replay",
        "start",
        "--archive",
        "a",
        "--rule",
        "r",
        "--from",
        "2026-12-01T00:00:00Z",
        "--to",
        "2026-12-02T00:00:00Z",
        "--name",
        "no spaces",
    ]);
    assert!(!ok && stderr.contains("is not a replay name"), "{stderr}");
}
