//! Precompiled modules (`weft rules publish --precompile`), against the local S3 with the real CLI: a signed rule
//! set's native code is loaded instead of compiled — proved with an engine whose compile budget no compile can
//! meet — while an unsigned deployment compiles the `.wasm`, and native code that is not the pinned one refuses
//! the rule set.

mod common;

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};
use weft::engine::{Engine, Limits, ModuleId};
use weft::judge::Judge;
use weft::rollout::reload::Reloader;
use weft::rollout::source::Trust;
use weft::verdict::Verdict;

use common::aws::{self, clients, create_bucket, unique};

fn weft(args: &[&str], dir: &std::path::Path) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).current_dir(dir).envs(aws::env()).output().unwrap();
    (out.status.success(), String::from_utf8(out.stdout).unwrap(), String::from_utf8_lossy(&out.stderr).into_owned())
}

fn reloader(s3: &aws_sdk_s3::Client, bucket: &str, engine: &Engine, trust: Trust) -> Reloader {
    reloader_of("p/manifest.json", s3, bucket, engine, trust)
}

fn reloader_of(key: &str, s3: &aws_sdk_s3::Client, bucket: &str, engine: &Engine, trust: Trust) -> Reloader {
    let key = key.to_owned();
    Reloader::new(s3.clone(), bucket.to_owned(), key, engine.clone(), Limits::default(), trust, Duration::from_secs(60))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_rule_set_runs_its_precompiled_modules_and_an_unsigned_one_compiles_them() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("precompiled");
    create_bucket(&c, &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let wasm = std::fs::read(common::repo().join("rules/dist/redact-pii.wasm")).unwrap();
    std::fs::write(dir.path().join("redact.wasm"), &wasm).unwrap();
    let manifest = json!({"name": "native", "rules": [{"name": "all", "modules": [{"module": "builtin:default"},
        {"module": "redact.wasm", "sha256": ModuleId::new("", &wasm).sha256,
         "params": {"key": "weft-precompiled-test", "fields": ["sessionId"]}}]}]});
    std::fs::write(dir.path().join("m.json"), manifest.to_string()).unwrap();
    let (ok, _, stderr) = weft(&["rules", "keygen", "rules.key"], dir.path());
    assert!(ok, "{stderr}");
    let public = std::fs::read_to_string(dir.path().join("rules.key.pub")).unwrap();
    let signed = ["--key", "rules.key", "--deployment", "test"];
    let (ok, stdout, stderr) = weft(
        &[&["rules", "publish", "m.json", "--bucket", &bucket, "--prefix", "p", "--precompile"][..], &signed].concat(),
        dir.path(),
    );
    assert!(ok && stdout.contains("(signed)"), "{stdout}{stderr}");

    // The manifest pins the native code for this machine's target (and says which it could not make).
    let object = c.s3.get_object().bucket(&bucket).key("p/manifest.json").send().await.unwrap();
    let published: Value = serde_json::from_slice(&object.body.collect().await.unwrap().into_bytes()).unwrap();
    let forms = published["rules"][0]["modules"][1]["precompiled"].as_array().unwrap().clone();
    let here = forms.iter().find(|f| f["target"] == weft::engine::TARGET).expect("precompiled for this target");
    let file = format!("p/{}", here["file"].as_str().unwrap());
    for target in ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"] {
        let made = forms.iter().any(|f| f["target"] == target);
        assert!(made != stderr.contains(&format!("not precompiled for {target}")), "{target}: {stderr}");
    }

    // An engine that can compile nothing: only native code loads.
    let engine = Engine::new().unwrap().with_compile_budget(Duration::from_nanos(1));
    let keys = weft::rules::signing::public_keys(&public).unwrap();
    let trust = Trust { public_keys: keys, deployment: Some("test".into()), min_sequence: 0 };
    let rules = reloader(&c.s3, &bucket, &engine, trust.clone()).load_now().await.expect("the native code loads");
    let event = common::event("e1", "customer.start", json!({"conversationId": "c1", "sessionId": "s-1"}));
    let judged = Judge::new(rules).judge(weft::input::split(event.as_bytes(), "t".into()));
    let Verdict::Records(records) = &judged[0].verdict else { panic!("{:?}", judged[0].verdict) };
    let data: Value = serde_json::from_str(records[0].data.get()).unwrap();
    assert!(data["sessionId"].as_str().unwrap().starts_with("hmac-sha256:"), "the module ran: {data}");

    // Unsigned, the same bucket is compiled from the .wasm: refused by this engine's budget.
    let unsigned = reloader(&c.s3, &bucket, &engine, Trust::default()).load_now().await.err().unwrap();
    assert!(unsigned.to_string().contains("budget"), "{unsigned}");

    // Other native code under the pinned name refuses the rule set, whatever the signature says.
    c.s3.put_object().bucket(&bucket).key(&file).body(b"not the pinned code".to_vec().into()).send().await.unwrap();
    let tampered = reloader(&c.s3, &bucket, &engine, trust.clone()).load_now().await.err().unwrap();
    assert!(tampered.to_string().contains("sha256"), "{tampered}");

    // Native code made with other engine settings (no deadline), pinned and signed: wasmtime refuses it, and the
    // module is compiled instead (by an engine that may compile).
    let other =
        wasmtime::Engine::new(&weft::engine::config::engine_config(false, weft::engine::TARGET).unwrap()).unwrap();
    let other = other.precompile_component(&wasm).unwrap();
    let sha = ModuleId::new("", &other).sha256;
    c.s3.put_object().bucket(&bucket).key("p/other.cwasm").body(other.into()).send().await.unwrap();
    let mut manifest = published.clone();
    manifest["rules"][0]["modules"][1]["precompiled"] =
        json!([{"target": weft::engine::TARGET, "file": "other.cwasm", "sha256": sha}]);
    let key =
        weft::rules::signing::signing_key(&std::fs::read_to_string(dir.path().join("rules.key")).unwrap()).unwrap();
    let bytes = serde_json::to_vec(&manifest).unwrap();
    let signature = weft::rules::signing::sign(&key, &bytes);
    let put = c.s3.put_object().bucket(&bucket).key("p/other-settings.json").body(bytes.into());
    put.metadata(weft::rules::signing::SIGNATURE_METADATA, signature).send().await.unwrap();
    let refused = reloader_of("p/other-settings.json", &c.s3, &bucket, &engine, trust.clone()).load_now().await;
    assert!(refused.is_err(), "wasmtime refuses it, and this engine cannot compile");
    let compiling = Engine::new().unwrap();
    let reloader = reloader_of("p/other-settings.json", &c.s3, &bucket, &compiling, trust);
    let loaded = reloader.load_now().await;
    assert!(loaded.is_ok(), "compiled when the native code does not fit: {:?}", loaded.err());
}
