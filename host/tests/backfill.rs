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
    // The deployment's own rule set, which the backfill's items name another instead of: it writes only `acw`.
    let mut deployed = manifest();
    deployed["rules"][0]["match"]["kinds"] = json!(["acw"]);
    let body = deployed.to_string().into_bytes();
    c.s3.put_object().bucket(&bucket).key("deployed/manifest.json").body(body.into()).send().await.unwrap();
    Setup { rules: format!("s3://{bucket}/rules/manifest.json"), bucket, stream, dlq, c }
}

/// The backfill role's function under a runtime API whose invocations have `timeout` seconds.
fn function(api: &RuntimeApi, s: &Setup) -> std::process::Command {
    let mut function = api.function();
    function
        .env("WEFT_ROLE", "backfill")
        .env("WEFT_STREAM", &s.stream)
        .env("WEFT_DLQ_URL", &s.dlq)
        .env("WEFT_RULES", format!("s3://{}/deployed/manifest.json", s.bucket))
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
    let item = json!({"bucket": s.bucket, "key": "2025/11/27/part-1", "rules": s.rules}).to_string();
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
    // The backfill names its rule set; every invocation of the object judges with it, not the deployment's.
    let mut item =
        json!({"bucket": s.bucket, "key": "firehose/part-2.gz", "secondsPerInvocation": 2, "rules": s.rules});
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

/// A dry run (`--diff`): every event of the object judged by the backfill's rule set and by a candidate, over
/// invocations that stop after a batch each and resume where the last stopped; nothing reaches the stream or the
/// queue, and the report the last answer carries is the one `weft rules diff` makes over the same events.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_writes_nothing_and_its_report_is_the_rules_diff_of_the_object() {
    const EVENTS: usize = 600;
    let s = setup().await;
    // The candidate also writes `customer.end` and keys records by their topic.
    let mut proposed = manifest();
    proposed["rules"][0]["match"]["kinds"] = json!(["customer.start", "customer.end"]);
    proposed["rules"][0]["output"] = json!({"partitionKey": "$.topicName"});
    let body = proposed.to_string().into_bytes();
    s.c.s3.put_object().bucket(&s.bucket).key("candidate/manifest.json").body(body.into()).send().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut text = String::new();
    for n in 0..EVENTS {
        text += &envelope(n, ["customer.start", "customer.end", "acd.start"][n % 3]);
        text.push('\n');
    }
    std::fs::write(dir.path().join("events.jsonl"), &text).unwrap();
    s.c.s3.put_object().bucket(&s.bucket).key("dry/part-1").body(text.into_bytes().into()).send().await.unwrap();

    let api = RuntimeApi::start();
    let candidate = format!("s3://{}/candidate/manifest.json", s.bucket);
    let mut item = json!({"bucket": s.bucket, "key": "dry/part-1", "rules": s.rules, "diff": candidate,
                          "secondsPerInvocation": 0});
    let command = function(&api, &s);
    let (api, mut answer) = api.first_invocation(command, &item.to_string()).await;
    let mut invocations = 1;
    loop {
        assert_eq!(answer.0, 200, "{}\n{}", answer.1, api.function_output());
        item = serde_json::from_str(&answer.1).unwrap();
        if item["done"] == true {
            break;
        }
        assert!(invocations < 200, "no end in sight: {item}");
        answer = invoke(api.port, &item.to_string()).await.unwrap();
        invocations += 1;
    }
    assert!(invocations >= 3, "a batch an invocation: {invocations} invocations");
    assert_eq!(item["invocations"], invocations);
    let counts = &item["counts"];
    let thirds = json!(EVENTS.div_ceil(3));
    assert_eq!(
        (&counts["events"], &counts["written"]),
        (&json!(EVENTS), &thirds),
        "what the rule set would do: {item}"
    );
    assert!(aws::read_stream(&s.c, &s.stream).await.is_empty(), "a dry run writes nothing");
    assert!(aws::drain_queue(&s.c, &s.dlq).await.is_empty());

    std::fs::write(dir.path().join("deployed.json"), manifest().to_string()).unwrap();
    std::fs::write(dir.path().join("candidate.json"), proposed.to_string()).unwrap();
    let local = std::process::Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["rules", "diff", "--json", "--examples", "3"])
        .args([dir.path().join("deployed.json"), dir.path().join("candidate.json"), dir.path().join("events.jsonl")])
        .output()
        .unwrap();
    let mut expected: Value = serde_json::from_slice(&local.stdout).unwrap();
    assert_eq!(item["report"], expected.take(), "{}", String::from_utf8_lossy(&local.stderr));
    assert_eq!(item["report"]["outcomes"]["dropped: no rule matched -> records"]["count"], json!(EVENTS / 3));
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

/// What moto's Step Functions (with execution on) and its Lambda (without Docker: a stub answering what is queued)
/// make of the backfill state machine: set up by boto3, as an operator's script would.
const MACHINE: &str = r#"
import json, sys, time, urllib.request
import boto3
endpoint, bucket, definition = sys.argv[1], sys.argv[2], open(sys.argv[3]).read()
def moto(path, body):
    request = urllib.request.Request(endpoint + path, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
    urllib.request.urlopen(request).read()
moto("/moto-api/config", {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
kw = dict(endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
iam, lam, sfn = boto3.client("iam", **kw), boto3.client("lambda", **kw), boto3.client("stepfunctions", **kw)
role = iam.create_role(RoleName=bucket, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
function = lam.create_function(FunctionName=bucket, Runtime="provided.al2023", Role=role, Handler="bootstrap",
                               Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18})["FunctionArn"]
for name, value in [("function_arn", function), ("max_concurrency", "2"), ("results_bucket", bucket),
                    ("results_prefix", "backfill/results")]:
    definition = definition.replace("${" + name + "}", value)
machine = sfn.create_state_machine(name=bucket, definition=definition, roleArn=role)["stateMachineArn"]
# What the function answers, in order: the first object in two invocations, the others in one; the last answer is
# not the backfill role's (no boolean `done`) and fails its object.
answers = [{"key": "p/a", "done": False, "counts": {"events": 5}}, {"key": "p/a", "done": True, "counts": {"events": 9}},
           {"key": "p/b", "done": True, "counts": {"events": 2}}, {"key": "p/c", "done": True, "counts": {"events": 1}},
           {"key": "p/d", "done": "not an answer"}]
moto("/moto-api/static/lambda-simple/response", {"results": [json.dumps(a) for a in answers], "region": "us-east-1"})
print(machine)
"#;

/// `weft backfill start` hands the state machine the prefix, the stream and the rule set; its Distributed Map lists
/// the objects and invokes the function for each until it answers `done`; `weft backfill status` reads the map run.
/// (One execution per server: moto 5.2.1's StartExecution fails with a 500 once an execution has run a map.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_is_started_on_the_state_machine_and_followed_to_its_map_runs_end() {
    let s = setup().await;
    for key in ["p/a", "p/b", "p/c", "p/d"] {
        s.c.s3.put_object().bucket(&s.bucket).key(key).body(b"{}".to_vec().into()).send().await.unwrap();
    }
    let definition = common::repo().join("terraform/modules/weft/backfill.asl.json");
    let python = common::repo().join(".venv/bin/python");
    let out = std::process::Command::new(python)
        .args(["-c", MACHINE, &aws::endpoint(), &s.bucket, definition.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let machine = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let weft = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_weft")).args(args).envs(aws::env()).output().unwrap();
        (
            out.status.success(),
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let location = format!("s3://{}/p/", s.bucket);
    let (ok, execution, stderr) = weft(&[
        "backfill",
        "start",
        &location,
        "--stream",
        &s.stream,
        "--rules",
        &s.rules,
        "--state-machine",
        &machine,
    ]);
    assert!(ok, "{stderr}");
    let execution = execution.trim().to_owned();
    assert!(execution.starts_with("arn:aws:states:"), "{execution}");
    let (ok, status, stderr) = weft(&["backfill", "status", &execution]);
    assert!(ok, "{stderr}");
    // An answer that is not the backfill role's (no boolean `done`) fails its item instead of looping: moto ends
    // the execution SUCCEEDED where AWS, tolerating no failed item, ends it FAILED; the map run's counts agree.
    assert!(status.starts_with(&format!("{execution} ")), "{status}");
    assert!(status.contains(": 3 of 4 objects succeeded, 1 failed, 0 running\n"), "{status}");
    // The newest execution of the state machine, when none is named.
    let (ok, newest, _) = weft(&["backfill", "status", "--state-machine", &machine, "--once"]);
    assert!(ok && newest.starts_with(&execution), "{newest}");
    let (ok, _, stderr) =
        weft(&["backfill", "start", "bucket-without-scheme/p", "--stream", "s", "--state-machine", &machine]);
    assert!(!ok && stderr.contains("is not an S3 location of history"), "{stderr}");
}
