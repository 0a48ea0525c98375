//! Hot swap from S3 (the local AWS API server): a new rule set version is swapped in under load within one poll
//! interval, every event processed by exactly one version and none lost; broken versions are refused with the
//! reason while the last good one keeps running.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{Value, json};
use weft::delivery::{Delivery, LetterPort, RecordPort};
use weft::engine::{Limits, ModuleId};
use weft::judge::Judge;
use weft::lambda::Handler;
use weft::rollout::reload::Reloader;
use weft::rollout::source::Trust;

use common::aws::{self, clients, create_bucket, unique};
use common::proxy::{Faults, Proxy};
use common::{Captured, engine, event, hostile_wasm};

const POLL: Duration = Duration::from_secs(1);

/// (event id, rule set version) of every record the handler wrote so far.
fn stamps(captured: &Captured) -> Vec<(String, String)> {
    captured
        .lines()
        .iter()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            let data = &record["data"];
            (data["_id"].as_str().unwrap().to_owned(), data["_weft"]["ruleSet"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// A reloader of `s3://bucket/p/manifest.json`, polling every [`POLL`].
fn reloader(s3: &aws_sdk_s3::Client, bucket: &str, trust: Trust) -> Reloader {
    Reloader::new(
        s3.clone(),
        bucket.to_owned(),
        "p/manifest.json".into(),
        engine().clone(),
        Limits::default(),
        trust,
        POLL,
    )
}

fn handler(reloader: Reloader, judge: Option<Judge>, captured: &Captured) -> Handler {
    let delivery = Delivery::new(RecordPort::Lines(Box::new(captured.clone())), LetterPort::Lines(None), None);
    Handler::hot_swapping(judge, delivery, Some(reloader), 64, ROLLBACK_AFTER)
}

/// A new version failing this many first events in a row is rolled back.
const ROLLBACK_AFTER: u64 = 3;

async fn handle(handler: &Handler, id: &str) -> Result<Value, String> {
    let text = event(id, "customer.start", json!({"conversationId": format!("c-{id}")}));
    let payload = RawValue::from_string(text).unwrap();
    handler.handle(&payload, id, Instant::now() + Duration::from_secs(30)).await.map_err(|e| e.to_string())
}

fn default_only(name: &str) -> Value {
    json!({"name": name, "lineage": true, "rules": [{"name": "all", "modules": [{"module": "builtin:default"}]}]})
}

/// Puts files, then the manifest (optionally with a signature), as `weft rules publish` lays them out.
async fn put(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest: &Value,
    files: &[(&str, Vec<u8>)],
    signature: Option<String>,
) {
    for (name, bytes) in files {
        s3.put_object().bucket(bucket).key(format!("p/{name}")).body(bytes.clone().into()).send().await.unwrap();
    }
    let mut request =
        s3.put_object().bucket(bucket).key("p/manifest.json").body(manifest.to_string().into_bytes().into());
    if let Some(signature) = signature {
        request = request.metadata(weft::rules::signing::SIGNATURE_METADATA, signature);
    }
    request.send().await.unwrap();
}

fn version_of(manifest: &Value) -> String {
    weft::rules::RuleSetVersion::new(
        manifest["name"].as_str(),
        &ModuleId::new("", manifest.to_string().as_bytes()).sha256,
    )
    .0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_version_is_swapped_in_under_load_within_one_poll_interval_and_no_event_is_lost() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("rules");
    create_bucket(&c, &bucket).await;
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let publish = {
        let (dir, bucket) = (dir.clone(), bucket.clone());
        move |name: &str| {
            let path = dir.path().join(format!("{name}.json"));
            std::fs::write(&path, default_only(name).to_string()).unwrap();
            let out = Command::new(env!("CARGO_BIN_EXE_weft"))
                .args(["rules", "publish"])
                .arg(&path)
                .args(["--bucket", &bucket, "--prefix", "p"])
                .envs(aws::env())
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            String::from_utf8(out.stdout).unwrap()
        }
    };
    assert!(publish("v1").starts_with("published v1@"));

    let reloader = reloader(&c.s3, &bucket, Trust::default());
    let rules = reloader.load_now().await.unwrap();
    let captured = Captured::default();
    let handler = handler(reloader, Some(Judge::new(rules)), &captured);

    // Events flow continuously; v2 is published a second in, from another thread, with the real command.
    let (published_tx, published_rx) = std::sync::mpsc::channel();
    let publisher = {
        let publish = publish.clone();
        let publish_v2 = move || {
            std::thread::sleep(Duration::from_secs(1));
            let printed = publish("v2");
            published_tx.send(Instant::now()).unwrap();
            printed
        };
        tokio::task::spawn_blocking(publish_v2)
    };
    let started = Instant::now();
    let mut handled: Vec<(String, Instant)> = Vec::new();
    let mut i = 0;
    while started.elapsed() < Duration::from_secs(6) {
        let id = format!("e{i}");
        let answer = handle(&handler, &id).await.unwrap();
        assert_eq!(answer["eventsWritten"], 1, "{answer}");
        handled.push((id, Instant::now()));
        i += 1;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(publisher.await.unwrap().starts_with("published v2@"));
    let published_at = published_rx.recv().unwrap();

    let stamps = stamps(&captured);
    assert_eq!(stamps.len(), handled.len(), "one record per event, none lost");
    assert!(stamps.iter().zip(&handled).all(|((stamped, _), (id, _))| stamped == id), "in order, each once");
    let first_v2 = stamps.iter().position(|(_, v)| v.starts_with("v2@")).expect("v2 took over");
    assert!(stamps[..first_v2].iter().all(|(_, v)| v.starts_with("v1@")), "v1 before the swap");
    assert!(stamps[first_v2..].iter().all(|(_, v)| v.starts_with("v2@")), "v2 after it, never v1 again");
    let switch = handled[first_v2].1.saturating_duration_since(published_at);
    println!(
        "published → first event on v2: {switch:?} (poll interval {POLL:?}); {} events, {first_v2} on v1",
        stamps.len()
    );
    assert!(switch <= POLL + Duration::from_secs(2), "switched {switch:?} after publishing");
    let status = handler.reloader().unwrap().status();
    assert!(status.active.as_deref().is_some_and(|v| v.starts_with("v2@")), "{status:?}");
    assert!(status.last_known_good.as_deref().is_some_and(|v| v.starts_with("v1@")), "{status:?}");
    assert_eq!(status.swaps, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_versions_are_refused_with_the_reason_and_the_last_good_one_keeps_running() {
    let proxy = Proxy::start(aws::endpoint().trim_start_matches("http://"), Faults::default()).await;
    // The reloader reads through the proxy; the test writes directly.
    let c = clients(&aws::endpoint(), &aws::endpoint(), &proxy.url).await;
    let direct = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("rules");
    create_bucket(&direct, &bucket).await;
    let key = weft::rules::signing::generate().unwrap();
    let other = weft::rules::signing::generate().unwrap();
    let sign = |manifest: &Value| Some(weft::rules::signing::sign(&key, manifest.to_string().as_bytes()));
    // What `weft rules publish --key --deployment test` puts in a manifest; the good version is sequence 10.
    let scoped = |mut manifest: Value, sequence: u64| {
        manifest["scope"] = json!({"deployment": "test", "sequence": sequence});
        manifest
    };

    let good = scoped(default_only("good"), 10);
    put(&direct.s3, &bucket, &good, &[], sign(&good)).await;
    // Two keys configured, as during a rotation: the new one signs; `other` is neither.
    let retiring = weft::rules::signing::generate().unwrap();
    let trust = Trust {
        public_keys: vec![retiring.verifying_key(), key.verifying_key()],
        deployment: Some("test".into()),
        min_sequence: 0,
    };
    let reloader = reloader(&c.s3, &bucket, trust);
    let rules = reloader.load_now().await.unwrap();
    let captured = Captured::default();
    let handler = handler(reloader, Some(Judge::new(rules)), &captured);
    let good_version = version_of(&good);

    let hostile = hostile_wasm().to_vec();
    let hostile_sha = ModuleId::new("", &hostile).sha256;
    let half = hostile[..hostile.len() / 2].to_vec();
    let bare = b"\0asm\x01\0\0\0".to_vec();
    let with_module = |name: &str, file: &str, sha: &str| {
        scoped(
            json!({"name": name, "lineage": true, "rules": [{"name": "m", "modules": [{"module": file, "sha256": sha}]}]}),
            11,
        )
    };
    let bad_path = scoped(
        json!({"name": "path", "lineage": true, "rules": [{"name": "m", "match": {"where": [{"path": "$..[?"}]}, "modules": [{"module": "builtin:default"}]}]}),
        11,
    );
    let mut failing_test = scoped(default_only("selftest"), 11);
    failing_test["tests"] = json!([{"name": "expects a drop", "event": serde_json::from_str::<Value>(&event("t", "acw", json!({}))).unwrap(), "expect": {"dropped": "never"}}]);
    let unsigned = scoped(default_only("unsigned"), 11);
    let mut unpinned = scoped(default_only("unpinned"), 11);
    unpinned["tables"] = json!({"q": {"file": "tables/q.json"}});
    // A signature for this rule set, here, now: not an older publication, not another deployment's, not expired.
    let replayed = scoped(default_only("replayed"), 9);
    let mut staging = scoped(default_only("staging"), 12);
    staging["scope"]["deployment"] = "staging".into();
    let mut expired = scoped(default_only("expired"), 12);
    expired["scope"]["expires"] = "2020-01-01T00:00:00Z".into();
    let unscoped = default_only("unscoped");
    let wrongly_signed = scoped(default_only("wrongly-signed"), 11);
    let unreachable = with_module("unreachable", &format!("modules/{hostile_sha}.wasm"), &hostile_sha);

    let mismatch = with_module("mismatch", "modules/m.wasm", &"ab".repeat(32));
    let corrupt = with_module("corrupt", "modules/half.wasm", &ModuleId::new("", &half).sha256);
    let not_a_rule = with_module("bare", "modules/bare.wasm", &ModuleId::new("", &bare).sha256);
    // (manifest, files beside it, signature, the refusal's reason)
    type Case<'a> = (&'a Value, Vec<(&'a str, Vec<u8>)>, Option<String>, String);
    let cases: Vec<Case> = vec![
        (
            &mismatch,
            vec![("modules/m.wasm", hostile.clone())],
            sign(&mismatch),
            format!("modules/m.wasm: sha256 is {hostile_sha}"),
        ),
        (
            &corrupt,
            vec![("modules/half.wasm", half.clone())],
            sign(&corrupt),
            "not a WebAssembly component weft can compile".into(),
        ),
        (
            &not_a_rule,
            vec![("modules/bare.wasm", bare.clone())],
            sign(&not_a_rule),
            "does not fit weft's rule world".into(),
        ),
        (&bad_path, vec![], sign(&bad_path), "rules[0] (\"m\").match.where[0].path: `$..[?` is not JSONPath".into()),
        (
            &failing_test,
            vec![],
            sign(&failing_test),
            "self-test failed: expects a drop: expected a drop (\"never\")".into(),
        ),
        (&unsigned, vec![], None, "the rule set is not signed".into()),
        (&replayed, vec![], sign(&replayed), "the rule set's sequence 9 is older than 11".into()),
        (&staging, vec![], sign(&staging), "the rule set is signed for deployment `staging`, not `test`".into()),
        (&expired, vec![], sign(&expired), "the rule set's signature expired at 2020-01-01T00:00:00Z".into()),
        (&unscoped, vec![], sign(&unscoped), "the signed rule set has no `scope`".into()),
        (
            &unpinned,
            vec![("tables/q.json", b"{\"a\": \"b\"}".to_vec())],
            sign(&unpinned),
            "table `q` has no sha256: a signed rule set must pin every file it names".into(),
        ),
        (
            &wrongly_signed,
            vec![],
            Some(weft::rules::signing::sign(&other, wrongly_signed.to_string().as_bytes())),
            "the signature does not verify".into(),
        ),
    ];
    let mut n = 0;
    let mut pump = async |handler: &Handler, until: &dyn Fn(&weft::rollout::reload::Status) -> bool| {
        let started = Instant::now();
        loop {
            n += 1;
            handle(handler, &format!("r{n}")).await.unwrap();
            let status = handler.reloader().unwrap().status();
            if until(&status) {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "no verdict: {status:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    for (manifest, files, signature, reason) in cases {
        let before = handler.reloader().unwrap().status().checks;
        put(&direct.s3, &bucket, manifest, &files, signature).await;
        let status = pump(&handler, &|s| {
            s.checks > before + 1 || s.refused.as_ref().is_some_and(|r| r.reason.contains(reason.as_str()))
        })
        .await;
        let refusal = status.refused.as_ref().expect("refused");
        assert!(refusal.reason.contains(reason.as_str()), "{}: {}", manifest["name"], refusal.reason);
        assert_eq!(status.active.as_deref(), Some(good_version.as_str()), "the last good version stays active");
        let (_, last) = stamps(&captured).pop().unwrap();
        assert_eq!(last, good_version, "events are still processed by it");
    }

    // S3 unreachable part way through a fetch: refused for now, retried at the next poll, not remembered as bad.
    proxy.faults.lock().unwrap().reset_paths = vec!["/modules/".into()];
    put(
        &direct.s3,
        &bucket,
        &unreachable,
        &[(&format!("modules/{hostile_sha}.wasm"), hostile.clone())],
        sign(&unreachable),
    )
    .await;
    let status = pump(&handler, &|s| {
        s.refused.as_ref().is_some_and(|r| r.reason.contains(&format!("s3://{bucket}/p/modules/")))
    })
    .await;
    assert_eq!(status.active.as_deref(), Some(good_version.as_str()));
    proxy.faults.lock().unwrap().reset_paths.clear();
    let recovered = version_of(&unreachable);
    let status = pump(&handler, &|s| s.active.as_deref() == Some(recovered.as_str())).await;
    assert_eq!(status.last_known_good.as_deref(), Some(good_version.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cold_start_without_its_rule_set_fails_invocations_until_one_is_published() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("rules");
    create_bucket(&c, &bucket).await;
    let reloader = reloader(&c.s3, &bucket, Trust::default());
    assert!(reloader.load_now().await.is_err());
    let captured = Captured::default();
    let handler = handler(reloader, None, &captured);
    let error = handle(&handler, "early").await.unwrap_err();
    assert!(error.starts_with("no rule set is loaded: s3://") && error.contains("NoSuchKey"), "{error}");
    assert!(stamps(&captured).is_empty(), "nothing written on no rule set");
    let manifest = default_only("late");
    put(&c.s3, &bucket, &manifest, &[], None).await;
    handle(&handler, "later").await.unwrap();
    assert_eq!(stamps(&captured), [("later".to_owned(), version_of(&manifest))]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_that_passes_its_self_test_but_fails_live_events_is_rolled_back_to_the_last_good_one() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("rules");
    create_bucket(&c, &bucket).await;
    let good = default_only("good");
    put(&c.s3, &bucket, &good, &[], None).await;
    let reloader = reloader(&c.s3, &bucket, Trust::default());
    let rules = reloader.load_now().await.unwrap();
    let captured = Captured::default();
    let handler = handler(reloader, Some(Judge::new(rules)), &captured);
    handle(&handler, "before").await.unwrap();

    // The hostile module fails every event that does not say otherwise; its self-test event says otherwise.
    let hostile = hostile_wasm().to_vec();
    let sha = ModuleId::new("", &hostile).sha256;
    let test_event: Value = serde_json::from_str(&event("t", "acw", json!({"attack": "none"}))).unwrap();
    let bad = json!({"name": "bad", "lineage": true,
        "rules": [{"name": "m", "modules": [{"module": "modules/h.wasm", "sha256": sha, "params": {"attack": "error"}}]}],
        "tests": [{"name": "passes", "event": test_event, "expect": {"records": [{"data": {"ok": "t"}}]}}]});
    put(&c.s3, &bucket, &bad, &[("modules/h.wasm", hostile)], None).await;

    let (good_version, bad_version) = (version_of(&good), version_of(&bad));
    let (mut dead, mut n) = (0, 0);
    let started = Instant::now();
    let status = loop {
        n += 1;
        let answer = handle(&handler, &format!("live{n}")).await.unwrap();
        dead += answer["deadLettered"].as_u64().unwrap();
        let status = handler.reloader().unwrap().status();
        if status.rolled_back.is_some() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never rolled back: {status:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(
        dead, ROLLBACK_AFTER,
        "its first events failed (dead-lettered, to be redriven), then it was rolled back"
    );
    let rolled = status.rolled_back.unwrap();
    assert_eq!(
        (rolled.from.as_deref(), rolled.to.as_deref()),
        (Some(bad_version.as_str()), Some(good_version.as_str()))
    );
    assert_eq!(status.active.as_deref(), Some(good_version.as_str()));
    assert_eq!(handler.versions().0.as_deref(), Some(good_version.as_str()), "the judge runs the good one again");
    // And stays on it: the bad manifest is not loaded again (it would take a new publish).
    tokio::time::sleep(POLL + Duration::from_millis(200)).await;
    for i in 0..3 {
        let answer = handle(&handler, &format!("after{i}")).await.unwrap();
        assert_eq!(answer["eventsWritten"], 1, "{answer}");
        tokio::time::sleep(Duration::from_millis(400)).await;
    }
    let (id, version) = stamps(&captured).pop().unwrap();
    assert_eq!((id.as_str(), version.as_str()), ("after2", good_version.as_str()));
}

fn weft_rules(args: &[&str]) -> (bool, String, String) {
    weft_rules_with(args, &[])
}

/// `weft rules ARGS` with these variables set (what the operator's shell knows of the deployment).
fn weft_rules_with(args: &[&str], vars: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weft"));
    command.arg("rules").args(args).envs(aws::env());
    for name in ["WEFT_RULES_PUBLIC_KEY", "WEFT_DEPLOYMENT", "WEFT_RULES_MIN_SEQUENCE"] {
        command.env_remove(name);
    }
    let out = command.envs(vars.iter().copied()).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The manifest object at `s3://bucket/p/NAME`, or `None` when there is none.
async fn object(s3: &aws_sdk_s3::Client, bucket: &str, name: &str) -> Option<Vec<u8>> {
    let object = s3.get_object().bucket(bucket).key(format!("p/{name}")).send().await.ok()?;
    Some(object.body.collect().await.unwrap().into_bytes().to_vec())
}

/// Promote and rollback write only what the deployment's Lambdas would load, checked by the Lambda's own loader
/// with the deployment's trust: a signed candidate under a trust floor raised since it was published is not
/// promoted; an earlier signed version older than what runs, or one failing its own self-test, is not put back.
/// Each refusal leaves S3 as it was and says why; the same candidate under the floor as it is promotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn promote_and_rollback_write_nothing_a_lambda_would_refuse() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = versioned_bucket(&c, "gate").await;
    let key = weft::rules::signing::generate().unwrap();
    let public = weft::rules::signing::to_hex(key.verifying_key().as_bytes());
    let signed = |mut manifest: Value, sequence: u64| {
        manifest["scope"] = json!({"deployment": "test", "sequence": sequence});
        let signature = weft::rules::signing::sign(&key, manifest.to_string().as_bytes());
        (manifest, signature)
    };
    let (active, signature) = signed(default_only("active"), 5);
    put(&c.s3, &bucket, &active, &[], Some(signature)).await;
    let mut shadow = default_only("candidate");
    shadow["rollout"] = json!({"mode": "shadow"});
    let (candidate, signature) = signed(shadow, 7);
    let body = candidate.to_string().into_bytes();
    let put_candidate = c.s3.put_object().bucket(&bucket).key("p/candidate.json").body(body.into());
    put_candidate.metadata(weft::rules::signing::SIGNATURE_METADATA, signature).send().await.unwrap();
    let location = format!("s3://{bucket}/p/manifest.json");
    let (active_bytes, candidate_bytes) =
        (object(&c.s3, &bucket, "manifest.json").await, object(&c.s3, &bucket, "candidate.json").await);
    let trust = [("WEFT_RULES_PUBLIC_KEY", public.as_str()), ("WEFT_DEPLOYMENT", "test")];

    // The deployment's floor has moved above the candidate's sequence since it was published: refused with the
    // deployment's key, and without it too (the scope is checked even where the signature cannot be).
    let raised = [trust[0], trust[1], ("WEFT_RULES_MIN_SEQUENCE", "8")];
    for vars in [&raised[..], &raised[2..]] {
        let (ok, _, stderr) = weft_rules_with(&["promote", &location], vars);
        assert!(!ok && stderr.contains("nothing was promoted"), "{stderr}");
        assert!(
            stderr.contains("the Lambdas would refuse it") && stderr.contains("sequence 7 is older than 8"),
            "{stderr}"
        );
    }
    // Signed with another key than the deployment's: refused.
    let other = weft::rules::signing::generate().unwrap();
    let other = weft::rules::signing::to_hex(other.verifying_key().as_bytes());
    let (ok, _, stderr) = weft_rules_with(&["promote", &location, "--public-key", &other], &trust[1..]);
    assert!(!ok && stderr.contains("the signature does not verify"), "{stderr}");
    assert_eq!(object(&c.s3, &bucket, "manifest.json").await, active_bytes, "the active version is untouched");
    assert_eq!(object(&c.s3, &bucket, "candidate.json").await, candidate_bytes, "the candidate stays");
    // The deployment's trust as it is: promoted, its very bytes.
    let (ok, stdout, stderr) = weft_rules_with(&["promote", &location], &trust);
    assert!(ok && stdout.starts_with(&format!("promoted {}", version_of(&candidate))), "{stdout}{stderr}");
    assert_eq!(object(&c.s3, &bucket, "manifest.json").await, candidate_bytes);

    // The version before (sequence 5) is older than what runs now (7): a rollback of its bytes would be refused as
    // replayed, so it is not written.
    let (ok, _, stderr) = weft_rules_with(&["rollback", &location], &trust);
    assert!(
        !ok && stderr.contains("nothing was rolled back") && stderr.contains("sequence 5 is older than 8"),
        "{stderr}"
    );
    assert_eq!(object(&c.s3, &bucket, "manifest.json").await, candidate_bytes);

    // An unsigned earlier version that fails its own self-test (written by hand, not by weft) is not put back.
    let bucket = versioned_bucket(&c, "gate-unsigned").await;
    let mut broken = default_only("broken");
    broken["tests"] = json!([{"name": "audit events are records", "event":
        serde_json::from_str::<Value>(&event("a1", "customer.start", json!({}))).unwrap(),
        "expect": {"dropped": "not what the default rule says"}}]);
    put(&c.s3, &bucket, &broken, &[], None).await;
    let good = default_only("good");
    put(&c.s3, &bucket, &good, &[], None).await;
    let location = format!("s3://{bucket}/p/manifest.json");
    let (ok, _, stderr) = weft_rules_with(&["rollback", &location], &[]);
    assert!(!ok && stderr.contains("self-test failed: audit events are records"), "{stderr}");
    let now: Value = serde_json::from_slice(&object(&c.s3, &bucket, "manifest.json").await.unwrap()).unwrap();
    assert_eq!(now, good, "the current version stays");
}

/// `weft rules publish` checks a signed publication with the deployment's key when the shell has it: signed with
/// another key, nothing is uploaded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_signed_with_a_key_the_deployment_does_not_trust_is_not_uploaded() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("untrusted");
    create_bucket(&c, &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.json"), default_only("v1").to_string()).unwrap();
    let key_file = dir.path().join("rules.key");
    std::fs::write(&key_file, weft::rules::signing::to_hex(&weft::rules::signing::generate().unwrap().to_bytes()))
        .unwrap();
    let deployed = weft::rules::signing::generate().unwrap();
    let deployed = weft::rules::signing::to_hex(deployed.verifying_key().as_bytes());
    let manifest = dir.path().join("manifest.json");
    let (manifest, key_file) = (manifest.to_str().unwrap(), key_file.to_str().unwrap());
    let args = ["publish", manifest, "--bucket", &bucket, "--prefix", "p", "--key", key_file, "--deployment", "test"];
    let (ok, _, stderr) = weft_rules_with(&args, &[("WEFT_RULES_PUBLIC_KEY", &deployed)]);
    assert!(!ok && stderr.contains("nothing was published"), "{stderr}");
    assert!(stderr.contains("the signature does not verify with any configured public key"), "{stderr}");
    assert_eq!(object(&c.s3, &bucket, "manifest.json").await, None);
    // Without the deployment's key in the shell, the signer's own is the check: it publishes.
    let (ok, stdout, stderr) = weft_rules_with(&args, &[]);
    assert!(ok && stdout.contains("(signed)"), "{stdout}{stderr}");
}

/// A new bucket with versioning on, as the Terraform module makes the rules bucket (what rollbacks read).
async fn versioned_bucket(c: &weft::aws::Clients, prefix: &str) -> String {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let bucket = unique(prefix);
    create_bucket(c, &bucket).await;
    let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(versioning).send().await.unwrap();
    bucket
}

/// A signed version is put back signed again, with a sequence above the current one (an older signed sequence
/// would be refused as a replay); without the key the CLI says so instead of copying it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_version_is_rolled_back_by_signing_it_again_with_a_new_sequence() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = versioned_bucket(&c, "signed-rollback").await;
    let key = weft::rules::signing::generate().unwrap();
    for (name, sequence) in [("v1", 1), ("v2", 2)] {
        let mut manifest = default_only(name);
        manifest["scope"] = json!({"deployment": "test", "sequence": sequence});
        let signature = weft::rules::signing::sign(&key, manifest.to_string().as_bytes());
        put(&c.s3, &bucket, &manifest, &[], Some(signature)).await;
    }
    let location = format!("s3://{bucket}/p/manifest.json");
    let (ok, _, stderr) = weft_rules(&["rollback", &location]);
    assert!(!ok && stderr.contains("is signed") && stderr.contains("--key"), "{stderr}");
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("rules.key");
    std::fs::write(&key_file, weft::rules::signing::to_hex(&key.to_bytes())).unwrap();
    let (ok, stdout, stderr) =
        weft_rules(&["rollback", &location, "--key", key_file.to_str().unwrap(), "--deployment", "test"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("signed again with a new sequence"), "{stdout}");
    let now = c.s3.get_object().bucket(&bucket).key("p/manifest.json").send().await.unwrap();
    let signature = now.metadata().unwrap()[weft::rules::signing::SIGNATURE_METADATA].clone();
    let bytes = now.body.collect().await.unwrap().into_bytes();
    let manifest: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(manifest["name"], "v1", "v1's rules are back");
    assert!(manifest["scope"]["sequence"].as_u64().unwrap() > 2, "{}", manifest["scope"]);
    assert_eq!(weft::rules::signing::verify(&[key.verifying_key()], &bytes, Some(&signature)), Ok(()));
    // And a Lambda running v2 (sequence 2) accepts it.
    let trust = Trust { public_keys: vec![key.verifying_key()], deployment: Some("test".into()), min_sequence: 3 };
    let reloader = reloader(&c.s3, &bucket, trust);
    assert!(reloader.load_now().await.is_ok(), "above the floor of the version it replaces");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_sees_what_each_deployment_runs_and_rolls_back_with_the_cli() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = versioned_bucket(&c, "rules").await;
    let (v1, v2) = (default_only("v1"), default_only("v2"));
    put(&c.s3, &bucket, &v1, &[], None).await;
    let reloader = reloader(&c.s3, &bucket, Trust::default());
    let rules = reloader.load_now().await.unwrap();
    let captured = Captured::default();
    let handler = handler(reloader, Some(Judge::new(rules)), &captured);
    put(&c.s3, &bucket, &v2, &[], None).await;
    let (v1_version, v2_version) = (version_of(&v1), version_of(&v2));
    let until_active = async |version: &str| {
        let started = Instant::now();
        let mut n = 0;
        while handler.reloader().unwrap().status().active.as_deref() != Some(version) {
            assert!(started.elapsed() < Duration::from_secs(20), "{version} never became active");
            n += 1;
            handle(&handler, &format!("{version}-{n}")).await.unwrap();
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    until_active(&v2_version).await;

    let location = format!("s3://{bucket}/p/manifest.json");
    let started = Instant::now();
    let status: Value = loop {
        let (ok, stdout, stderr) = weft_rules(&["status", &location]);
        assert!(ok, "{stderr}");
        let status: Value = serde_json::from_str(&stdout).unwrap();
        // The deployment's report is written in the background.
        if status["deployments"]["weft"]["active"] == v2_version.as_str() {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{status}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(status["published"]["version"], v2_version.as_str());
    assert_eq!(status["earlier"][0]["version"], v1_version.as_str());
    assert_eq!(status["deployments"]["weft"]["lastKnownGood"], v1_version.as_str());

    let (ok, stdout, stderr) = weft_rules(&["rollback", &location]);
    assert!(ok, "{stderr}");
    assert!(stdout.starts_with(&format!("rolled back {location} to {v1_version}")), "{stdout}");
    until_active(&v1_version).await;
    let (id, version) = stamps(&captured).pop().unwrap();
    assert!(id.starts_with(&v1_version) && version == v1_version, "{id}: {version}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_set_reads_are_retried_when_s3_fails_for_a_moment() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("rules");
    create_bucket(&c, &bucket).await;
    let manifest = default_only("retried");
    put(&c.s3, &bucket, &manifest, &[], None).await;
    // Two 500s: the first GET and its first retry fail, the third attempt loads.
    let proxy =
        Proxy::start(aws::endpoint().trim_start_matches("http://"), Faults { server_errors: 2, ..Faults::default() })
            .await;
    let flaky = clients(&aws::endpoint(), &aws::endpoint(), &proxy.url).await;
    let reloader = reloader(&flaky.rules_s3(), &bucket, Trust::default());
    reloader.load_now().await.unwrap();
    assert_eq!(reloader.status().active, Some(version_of(&manifest)));
}
