//! Safe rollout against the local S3, with the real `weft rules` commands: a candidate published beside the active
//! rule set runs as a shadow (its differences counted by rule and kind, nothing of it written) or as a canary for a
//! stable share of conversations (each conversation on one version, its records stamped with it); promote and
//! rollback under continuous events lose nothing and write nothing twice; a failing canary is rolled back and its
//! events are delivered by the active set.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{Value, json};
use weft::delivery::{Delivery, LetterPort, RecordPort};
use weft::engine::Limits;
use weft::judge::Judge;
use weft::judge::candidate::Settings;
use weft::lambda::Handler;
use weft::metrics::{MetricsConfig, Publisher};
use weft::rollout::reload::Reloader;
use weft::rollout::source::Trust;

use common::aws::{self, clients, create_bucket, unique};
use common::{Captured, engine, hostile_wasm};

const POLL: Duration = Duration::from_secs(1);

fn weft_rules(args: &[&str], dir: &Path) -> String {
    let out =
        Command::new(env!("CARGO_BIN_EXE_weft")).arg("rules").args(args).current_dir(dir).envs(aws::env()).output();
    let out = out.unwrap();
    assert!(out.status.success(), "weft rules {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// The active rule set: the default record, voice and the other media under rules of their own.
fn active() -> Value {
    let media = |media: Value| json!({"where": [{"path": "$.detail.eventBody.mediaType", "in": media}]});
    json!({"name": "v1", "lineage": true, "rules": [
        {"name": "voice", "match": media(json!(["VOICE"])), "modules": [{"module": "builtin:default"}]},
        {"name": "others", "match": media(json!(["EMAIL", "CHAT"])), "modules": [{"module": "builtin:default"}]},
    ]})
}

/// The candidate: voice records get their session id hashed (one field, one media type), and voice `acw` events
/// are no longer written (dropped: no rule matches them).
fn candidate() -> Value {
    let mut manifest = active();
    manifest["name"] = "v2".into();
    let voice = &mut manifest["rules"][0];
    voice["match"]["kinds"] = json!(["customer.*"]);
    let sha = sha256(&std::fs::read(common::repo().join("rules/dist/redact-pii.wasm")).unwrap());
    voice["modules"].as_array_mut().unwrap().push(json!({"module": "dist/redact-pii.wasm", "sha256": sha,
        "params": {"key": "weft-rollout-test-key", "fields": ["sessionId"]}}));
    manifest
}

fn sha256(bytes: &[u8]) -> String {
    weft::engine::ModuleId::new("", bytes).sha256
}

/// A directory with the manifests, the example modules beside them.
fn workdir(manifests: &[(&str, &Value)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(common::repo().join("rules/dist"), dir.path().join("dist")).unwrap();
    for (name, manifest) in manifests {
        std::fs::write(dir.path().join(name), manifest.to_string()).unwrap();
    }
    dir
}

/// One Genesys event of `conversation`: its id says which conversation and kind it is.
fn genesys(conversation: &str, kind: &str, media: &str) -> String {
    repeated(conversation, kind, media, "")
}

/// The same, its id ending in `again` (`conv-1.customer.end.3`).
fn repeated(conversation: &str, kind: &str, media: &str, again: &str) -> String {
    json!({
        "version": "0",
        "id": format!("{conversation}.{kind}{again}"),
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{kind}"),
        "source": "aws.partner/genesys.com/cloud/org/test",
        "time": "2026-12-01T10:00:00Z",
        "detail": {
            "topicName": format!("v2.detail.events.conversation.{conversation}.{kind}"),
            "version": "2",
            "eventBody": {"eventTime": 1764583200000u64, "conversationId": conversation,
                "sessionId": format!("session-{conversation}"), "mediaType": media, "direction": "INBOUND"},
        }
    })
    .to_string()
}

/// A Lambda container of the deployment, on `s3://bucket/p/manifest.json`: records and metrics captured.
struct Container {
    handler: Handler,
    records: Captured,
    metrics: Captured,
}

async fn container(s3: &aws_sdk_s3::Client, bucket: &str, settings: Settings) -> Container {
    let reloader = Reloader::new(
        s3.clone(),
        bucket.to_owned(),
        "p/manifest.json".into(),
        engine().clone(),
        Limits::default(),
        Trust::default(),
        POLL,
    );
    let rules = reloader.load_now().await.unwrap();
    let (records, metrics) = (Captured::default(), Captured::default());
    let delivery = Delivery::new(RecordPort::Lines(Box::new(records.clone())), LetterPort::Lines(None), None);
    let handler = Handler::hot_swapping(Some(Judge::new(rules)), delivery, Some(reloader), 64, 10)
        .with_candidates(settings)
        .with_metrics(Publisher::new(MetricsConfig::new("weft"), Box::new(metrics.clone())));
    Container { handler, records, metrics }
}

impl Container {
    /// One SQS-batched invocation; every message is delivered, dropped or dead-lettered (none failed).
    async fn handle(&self, events: &[String]) -> Value {
        let payload = RawValue::from_string(common::sqs_batch(events)).unwrap();
        let answer = self.handler.handle(&payload, "r", Instant::now() + Duration::from_secs(60)).await.unwrap();
        assert_eq!(answer["batchItemFailures"], json!([]), "nothing left to Lambda's retries");
        answer
    }

    /// Invokes with neutral events until `ready` holds of the reloader's status (within 20 s).
    async fn until(&self, what: &str, ready: impl Fn(&weft::rollout::reload::Status) -> bool) {
        let started = Instant::now();
        let mut n = 0;
        while !ready(&self.handler.reloader().unwrap().status()) {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{what}: {:?}",
                self.handler.reloader().unwrap().status()
            );
            n += 1;
            self.handle(&[genesys(&format!("warm-{what}-{n}"), "customer.start", "EMAIL")]).await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        // The next invocation takes what the check made ready.
        self.handle(&[genesys(&format!("warm-{what}-taken"), "customer.start", "EMAIL")]).await;
    }

    /// (event id, rule set version) of every record written.
    fn stamps(&self) -> Vec<(String, String)> {
        self.records
            .lines()
            .iter()
            .map(|line| {
                let data = &serde_json::from_str::<Value>(line).unwrap()["data"];
                (data["_id"].as_str().unwrap().to_owned(), data["_weft"]["ruleSet"].as_str().unwrap().to_owned())
            })
            .collect()
    }

    /// The metrics documents written from line `from` on.
    fn documents(&self, from: usize) -> Vec<Value> {
        self.metrics.lines()[from..].iter().map(|l| serde_json::from_str(l).unwrap()).collect()
    }
}

fn sum(documents: &[Value], metric: &str) -> u64 {
    documents.iter().filter_map(|d| d[metric].as_u64()).sum()
}

/// `weft rules publish ARGS` to `s3://bucket/p/`.
fn publish(dir: &Path, bucket: &str, args: &[&str]) -> String {
    let mut all = vec!["publish"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--bucket", bucket, "--prefix", "p"]);
    weft_rules(&all, dir)
}

/// The version `weft rules publish` printed.
fn version(published: &str) -> String {
    published.strip_prefix("published ").unwrap().split_whitespace().next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shadow_counts_exactly_what_the_candidate_changes_and_writes_nothing_of_it() {
    let logs = Captured::weft_logs(tracing::Level::INFO);
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("shadow");
    create_bucket(&c, &bucket).await;
    let dir = workdir(&[("v1.json", &active()), ("v2.json", &candidate())]);
    let publish = |args: &[&str]| publish(dir.path(), &bucket, args);
    let v1 = version(&publish(&["v1.json"]));
    // No budget to speak of here: every event is compared (the budget has a test of its own).
    let settings = Settings { shadow_budget_percent: 100_000, ..Settings::default() };
    let container = container(&c.s3, &bucket, settings).await;
    let published = publish(&["v2.json", "--shadow"]);
    assert!(published.ends_with("/p/candidate.json as a shadow candidate\n"), "{published}");
    let v2 = version(&published);
    container.until("shadow", |s| s.candidate.as_ref().and_then(|c| c.version.as_deref()) == Some(&v2)).await;

    let (from_records, from_metrics) = (container.records.lines().len(), container.metrics.lines().len());
    let mut events = Vec::new();
    for n in 0..20 {
        let media = ["VOICE", "EMAIL", "CHAT", "VOICE"][n % 4];
        for kind in ["customer.start", "customer.end", "acw"] {
            events.push(genesys(&format!("conv-{n}"), kind, media));
        }
    }
    for batch in events.chunks(10) {
        container.handle(batch).await;
    }
    let voice_conversations = 10;

    let docs = container.documents(from_metrics);
    let mut differences: BTreeMap<(String, String), u64> = BTreeMap::new();
    for doc in docs.iter().filter(|d| d.get("ShadowDifferences").is_some()) {
        let key = (doc["Rule"].as_str().unwrap().to_owned(), doc["Kind"].as_str().unwrap().to_owned());
        *differences.entry(key).or_default() += doc["ShadowDifferences"].as_u64().unwrap();
    }
    assert_eq!(
        differences,
        BTreeMap::from([
            (("voice".into(), "changed".into()), 2 * voice_conversations),
            (("voice".into(), "outcome".into()), voice_conversations),
        ]),
        "the session id of voice records, and voice acw events dropped"
    );
    assert_eq!(sum(&docs, "ShadowDiffering"), 3 * voice_conversations);
    assert_eq!((sum(&docs, "ShadowEvents"), sum(&docs, "ShadowSkipped")), (events.len() as u64, 0));
    assert!(docs.iter().any(|d| d["CandidateVersion"] == v2.as_str()));
    // Sampled into the logs: the first ten differing events by id and paths, never their values.
    let sampled: Vec<Value> = logs
        .lines()
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|l| l["metric"] == "ShadowDifference")
        .collect();
    assert_eq!(sampled.len(), 10, "{sampled:#?}");
    assert_eq!(sampled[0]["event"], "conv-0.customer.start");
    assert_eq!(sampled[0]["differences"], "changed voice: data.sessionId");
    assert_eq!(sampled[2]["differences"], "outcome records → dropped (no-rule-matched)");
    assert!(!logs.lines().iter().any(|l| l.contains("session-conv")), "a value reached the logs");
    // Nothing of the candidate is written: every event's one record is the active version's.
    let written = &container.stamps()[from_records..];
    assert_eq!(written.len(), events.len());
    assert!(written.iter().all(|(_, version)| *version == v1), "{written:?}");

    // The offline diff over the same events names the same differences.
    std::fs::write(dir.path().join("events.jsonl"), events.join("\n")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["rules", "diff", "v1.json", "v2.json", "events.jsonl", "--json"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["eventsChanged"], 3 * voice_conversations);
    let paths: Vec<&String> = report["paths"].as_object().unwrap().keys().collect();
    assert_eq!(paths, ["voice -> (default): data.sessionId"]);
    assert_eq!(report["outcomes"]["records -> dropped: no rule matched"]["count"], voice_conversations);

    // What the deployment reports: the candidate, its mode, and its differences so far.
    let location = format!("s3://{bucket}/p/manifest.json");
    let status: Value = serde_json::from_str(&weft_rules(&["status", &location], dir.path())).unwrap();
    assert_eq!(status["candidate"]["version"], v2.as_str());
    assert_eq!(status["candidate"]["rollout"], json!({"mode": "shadow"}));
    // And what the deployment saw of it, written at most once per poll interval: after one, the next invocation
    // writes its totals.
    let started = Instant::now();
    let seen = loop {
        tokio::time::sleep(POLL).await;
        container.handle(&[genesys("conv-after", "customer.start", "EMAIL")]).await;
        let status: Value = serde_json::from_str(&weft_rules(&["status", &location], dir.path())).unwrap();
        let seen = status["deployments"]["weft"]["candidate"].clone();
        if seen["totals"]["differing"] == 3 * voice_conversations {
            break seen;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{status}");
    };
    assert_eq!((&seen["version"], &seen["rollout"]), (&json!(v2), &json!({"mode": "shadow"})));
    assert_eq!(seen["totals"]["skipped"], 0, "{seen}");
    // Withdrawn: the container stops shadowing at its next check.
    let withdrawn = weft_rules(&["rollback", &location, "--candidate"], dir.path());
    assert!(withdrawn.starts_with(&format!("withdrew the candidate {v2}")), "{withdrawn}");
    container.until("withdrawn", |s| s.candidate.is_none()).await;
    let from_metrics = container.metrics.lines().len();
    container.handle(&events[..10]).await;
    assert_eq!(sum(&container.documents(from_metrics), "ShadowEvents"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_canary_keeps_each_conversation_on_one_version_through_promote_and_rollback() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("canary");
    create_bucket(&c, &bucket).await;
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(versioning).send().await.unwrap();
    let dir = workdir(&[("v1.json", &active()), ("v2.json", &candidate())]);
    let publish = |args: &[&str]| publish(dir.path(), &bucket, args);
    let v1 = version(&publish(&["v1.json"]));
    let container = container(&c.s3, &bucket, Settings::default()).await;
    let v2 = version(&publish(&["v2.json", "--canary", "50"]));
    container.until("canary", |s| s.candidate.as_ref().and_then(|c| c.version.as_deref()) == Some(&v2)).await;

    // 1,000 conversations, two events each, in invocations of 20.
    let from = container.records.lines().len();
    let events: Vec<String> = (0..1000)
        .flat_map(|n| ["customer.start", "customer.end"].map(|kind| genesys(&format!("conv-{n}"), kind, "CHAT")))
        .collect();
    for batch in events.chunks(20) {
        container.handle(batch).await;
    }
    let by_conversation = |stamps: &[(String, String)]| {
        let mut versions: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for (id, version) in stamps {
            let conversation = id.split('.').next().unwrap().to_owned();
            versions.entry(conversation).or_default().insert(version.clone());
        }
        versions
    };
    let versions = by_conversation(&container.stamps()[from..]);
    assert_eq!(versions.len(), 1000);
    assert!(versions.values().all(|v| v.len() == 1), "a conversation on two versions");
    let on_canary: BTreeSet<String> =
        versions.iter().filter(|(_, v)| v.contains(&v2)).map(|(conversation, _)| conversation.clone()).collect();
    assert!((430..=570).contains(&on_canary.len()), "{} of 1,000 conversations on the canary", on_canary.len());
    assert!(versions.values().all(|v| v.contains(&v1) || v.contains(&v2)));

    // Promote, then roll back, while the same conversations go on: each event written once, a canary
    // conversation stays on v2 until the rollback, the others move to v2 with the promotion.
    let location = format!("s3://{bucket}/p/manifest.json");
    let from = container.records.lines().len();
    let mut sent = Vec::new();
    let mut phase = 0;
    let (started, mut promoted) = (Instant::now(), Instant::now());
    for round in 0.. {
        assert!(started.elapsed() < Duration::from_secs(60), "phase {phase} never completed");
        let conversation = |i: usize| format!("conv-{}", (round * 20 + i) % 1000);
        let batch: Vec<String> =
            (0..20).map(|i| repeated(&conversation(i), "customer.end", "CHAT", &format!(".{round}"))).collect();
        container.handle(&batch).await;
        sent.extend(batch);
        let status = container.handler.reloader().unwrap().status();
        match phase {
            0 if round == 3 => {
                assert!(weft_rules(&["promote", &location], dir.path()).starts_with(&format!("promoted {v2}")));
                (phase, promoted) = (1, Instant::now());
            }
            1 if status.active.as_deref() == Some(&v2) && status.candidate.is_none() => {
                eprintln!(
                    "promoted → switched {:?} after `weft rules promote` returned (poll {POLL:?})",
                    promoted.elapsed()
                );
                let rolled = weft_rules(&["rollback", &location], dir.path());
                assert!(rolled.starts_with(&format!("rolled back {location} to {v1}")), "{rolled}");
                phase = 2;
            }
            2 if status.active.as_deref() == Some(&v1) => phase = 3,
            3 => break,
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    let written = &container.stamps()[from..];
    let ids: BTreeSet<&String> = written.iter().map(|(id, _)| id).collect();
    assert_eq!((ids.len(), written.len()), (sent.len(), sent.len()), "every event written once");
    // Until the rollback reached the container, a canary conversation was only ever on v2.
    let rollback_at = written.iter().rposition(|(_, v)| *v == v2).unwrap();
    for (id, version) in &written[..rollback_at] {
        if on_canary.contains(id.split('.').next().unwrap()) {
            assert_eq!(version, &v2, "{id} left the canary before the rollback");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_canary_never_costs_an_event_and_is_rolled_back() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("bad-canary");
    create_bucket(&c, &bucket).await;
    let hostile = hostile_wasm();
    // It passes its self-test (the test event asks for nothing) and panics on every live event.
    let test_event: Value = serde_json::from_str(&genesys("t", "customer.start", "CHAT")).unwrap();
    let mut test_event = test_event;
    test_event["detail"]["eventBody"]["attack"] = "none".into();
    let bad = json!({"name": "bad", "lineage": true,
        "rules": [{"name": "m", "modules": [{"module": "hostile.wasm", "sha256": sha256(hostile),
            "params": {"attack": "panic"}}]}],
        "tests": [{"name": "passes", "event": test_event, "expect": {"records": [{"data": {"ok": "t.customer.start"}}]}}]});
    let dir = workdir(&[("v1.json", &active()), ("bad.json", &bad)]);
    std::fs::write(dir.path().join("hostile.wasm"), hostile).unwrap();
    let publish = |args: &[&str]| publish(dir.path(), &bucket, args);
    let v1 = version(&publish(&["v1.json"]));
    let container = container(&c.s3, &bucket, Settings::default()).await;
    let bad_version = version(&publish(&["bad.json", "--canary", "100"]));
    container
        .until("bad canary", |s| s.candidate.as_ref().and_then(|c| c.version.as_deref()) == Some(&bad_version))
        .await;

    let (from_records, from_metrics) = (container.records.lines().len(), container.metrics.lines().len());
    let events: Vec<String> = (0..100).map(|n| genesys(&format!("c{n}"), "customer.start", "CHAT")).collect();
    for batch in events.chunks(10) {
        container.handle(batch).await;
    }
    let written = &container.stamps()[from_records..];
    assert_eq!(written.len(), events.len(), "every event delivered");
    assert!(written.iter().all(|(_, version)| *version == v1), "by the active set");
    let docs = container.documents(from_metrics);
    let status = container.handler.reloader().unwrap().status();
    let rolled = status.candidate.unwrap().rolled_back.expect("the status says it was rolled back");
    assert_eq!((rolled.version.as_str(), rolled.canary_failed_percent), (bad_version.as_str(), 100.0));
    // Rolled back once it had judged enough events (one warm-up event, then batches of 10), long before the end.
    let min = weft::judge::candidate::CANARY_MIN_EVENTS;
    assert!((min..min + 10).contains(&rolled.canary_events), "{rolled:?}");
    assert_eq!(sum(&docs, "CanaryFallbacks"), rolled.canary_events - 1, "each one judged by the active set");
    assert_eq!(sum(&docs, "CanaryEvents"), rolled.canary_events - 1);
    assert_eq!(sum(&docs, "CanaryRollbacks"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_candidate_that_does_not_load_is_refused_and_the_active_set_runs_alone() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("refused-candidate");
    create_bucket(&c, &bucket).await;
    let dir = workdir(&[("v1.json", &active())]);
    let v1 = version(&publish(dir.path(), &bucket, &["v1.json"]));
    let container = container(&c.s3, &bucket, Settings::default()).await;
    // A module whose bytes are not the ones its manifest pins, put where a candidate goes.
    let candidate = json!({"name": "broken", "rollout": {"mode": "canary", "percent": 100}, "rules": [{"name": "m",
        "modules": [{"module": "modules/m.wasm", "sha256": sha256(b"other bytes")}]}]});
    c.s3.put_object().bucket(&bucket).key("p/modules/m.wasm").body(b"\0asm".to_vec().into()).send().await.unwrap();
    let body = candidate.to_string().into_bytes().into();
    c.s3.put_object().bucket(&bucket).key("p/candidate.json").body(body).send().await.unwrap();
    container.until("refused", |s| s.candidate.as_ref().is_some_and(|c| c.refused.is_some())).await;
    let status = container.handler.reloader().unwrap().status();
    let refused = status.candidate.unwrap().refused.unwrap();
    assert!(refused.reason.contains("sha256"), "{}", refused.reason);

    let from = container.records.lines().len();
    let events: Vec<String> = (0..30).map(|n| genesys(&format!("r{n}"), "customer.start", "VOICE")).collect();
    container.handle(&events).await;
    let written = &container.stamps()[from..];
    assert_eq!(written.len(), 30);
    assert!(written.iter().all(|(_, version)| *version == v1), "{written:?}");
}
