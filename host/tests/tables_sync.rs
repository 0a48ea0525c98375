//! `weft tables sync` against a stand-in for the Genesys Cloud API (`fake_genesys.py`, whose every page is checked
//! against the official SDK's models) and the local S3 (moto): the synced tables are re-pinned in the manifest, a
//! rule set loaded from S3 as a Lambda loads it stitches the new names, a wrap-up code added in Genesys appears
//! in records after the next sync, and faults (429 with Retry-After, 500, an expired token, a listing that shrank)
//! are handled as the docs say.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use common::aws;
use serde_json::{Value, json};

const CLIENT_ID: &str = "weft-sync";
const CLIENT_SECRET: &str = "not-a-real-secret";

/// The fake Genesys Cloud API, running until dropped.
struct FakeGenesys {
    child: Child,
    port: u16,
}

impl FakeGenesys {
    fn start() -> FakeGenesys {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let python = common::repo().join(".venv/bin/python");
        assert!(python.is_file(), "no {} (run scripts/setup.sh)", python.display());
        let mut child = Command::new(python)
            .arg(common::repo().join("host/tests/fake_genesys.py"))
            .args([&port.to_string(), CLIENT_ID, CLIENT_SECRET])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut ready = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut ready).unwrap();
        assert_eq!(ready.trim(), "ready", "the fake Genesys Cloud API did not start");
        FakeGenesys { child, port }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One request to the fake's control endpoints: the answer's JSON.
    fn call(&self, method: &str, path: &str, body: &Value) -> Value {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let body = body.to_string();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nhost: fake\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, json) = answer.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"), "{head}");
        serde_json::from_str(json).unwrap()
    }

    fn set(&self, source: &str, entities: Value) {
        self.call("POST", &format!("/fake/entities/{source}"), &entities);
    }

    fn stats(&self) -> Value {
        self.call("GET", "/fake/stats", &Value::Null)
    }
}

impl Drop for FakeGenesys {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn division() -> Value {
    json!({"id": "0f4c0a27-5b8e-4f5e-9c7d-1b2a3c4d5e6f", "name": "Home", "selfUri": "/api/v2/authorization/divisions/0f4c0a27-5b8e-4f5e-9c7d-1b2a3c4d5e6f"})
}

/// `count` wrap-up codes as the API lists them: `code-N`, named `Code N`.
fn wrapup_codes(count: usize) -> Value {
    (0..count)
        .map(|i| {
            json!({"id": format!("code-{i}"), "name": format!("Code {i}"), "division": division(),
                   "dateCreated": "2026-01-05T09:00:00Z", "createdBy": "admin", "selfUri": format!("/api/v2/routing/wrapupcodes/code-{i}")})
        })
        .collect()
}

fn users() -> Value {
    json!([
        {"id": "user-1", "name": "Ada Agent", "division": division(), "email": "ada@example.com", "state": "active",
         "username": "ada@example.com", "version": 3, "selfUri": "/api/v2/users/user-1"},
        {"id": "user-2", "name": "Departed Dan", "division": division(), "email": "dan@example.com", "state": "deleted",
         "username": "dan@example.com", "version": 7, "selfUri": "/api/v2/users/user-2"},
    ])
}

fn weft(args: &[&str], dir: &Path, extra: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir(dir)
        .envs(aws::env())
        .env("GENESYS_CLIENT_ID", CLIENT_ID)
        .env("GENESYS_CLIENT_SECRET", CLIENT_SECRET)
        .env_remove("WEFT_RULES_PUBLIC_KEY")
        .envs(extra.iter().copied())
        .output()
        .unwrap()
}

fn ok(output: Output) -> String {
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{text}");
    text
}

/// A rule set of the wrap-up names example alone over synced tables of wrap-up codes and users, published to a new
/// bucket: its location, and the directory it was published from.
async fn published(key: bool) -> (String, tempfile::TempDir) {
    let clients = aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = aws::unique("tables-sync");
    aws::create_bucket(&clients, &bucket).await;
    let dir = tempfile::tempdir().unwrap();
    let module = std::fs::read(common::repo().join("rules/dist/wrapup-names.wasm")).unwrap();
    std::fs::write(dir.path().join("wrapup-names.wasm"), &module).unwrap();
    // Exported by hand once, as CSV: the sync replaces it with a JSON table.
    std::fs::write(dir.path().join("wrapup-codes.csv"), "id,name,division\ncode-0,Old name of code 0,Home\n").unwrap();
    std::fs::write(dir.path().join("users.json"), "{}").unwrap();
    let manifest = json!({
        "name": "synced",
        "lineage": true,
        "tables": {
            "wrapup-codes": {"file": "wrapup-codes.csv", "key": "id", "value": "name",
                             "sync": {"source": "wrapupCodes", "refreshMinutes": 60}},
            "users": {"file": "users.json", "sync": {"source": "users"}},
        },
        "rules": [{"name": "wrap-ups", "match": {"kinds": ["acw"]},
                   "modules": [{"module": "wrapup-names.wasm", "sha256": weft::engine::ModuleId::new("", &module).sha256}]}],
    });
    std::fs::write(dir.path().join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    let mut args = vec!["rules", "publish", "manifest.json", "--bucket", &bucket, "--prefix", "prod"];
    if key {
        ok(weft(&["rules", "keygen", "rules.key"], dir.path(), &[]));
        args.extend(["--key", "rules.key", "--deployment", "weft"]);
    }
    ok(weft(&args, dir.path(), &[]));
    (format!("s3://{bucket}/prod/manifest.json"), dir)
}

/// The record the rule set at `location`, loaded as a Lambda loads it, writes for an acw with `code`.
fn record(location: &str, code: &str, dir: &Path, extra: &[(&str, &str)]) -> Value {
    let event = common::event("e1", "acw", json!({"wrapupCode": code, "conversationId": "c1"}));
    std::fs::write(dir.join("event.json"), event).unwrap();
    let out = ok(weft(&["run", "--rules", location, "event.json"], dir, extra));
    serde_json::from_str(out.lines().find(|l| l.starts_with('{')).expect("a record")).unwrap()
}

/// The `wrapupName` of that record: the name the rule stitched.
fn stitched(location: &str, code: &str, dir: &Path, extra: &[(&str, &str)]) -> Value {
    record(location, code, dir, extra)["data"]["wrapupName"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn synced_tables_are_repinned_and_stitched_and_a_new_code_appears_after_the_next_sync() {
    let genesys = FakeGenesys::start();
    genesys.set("wrapupCodes", wrapup_codes(250));
    genesys.set("users", users());
    let (location, dir) = published(false).await;
    assert_eq!(stitched(&location, "code-0", dir.path(), &[]), "Old name of code 0");

    // Three pages of codes, one of users (the departed one too: state=any), through a 429, a 500 and an expired
    // token, each answered as the API documents.
    genesys.call("POST", "/fake/faults", &json!({"status": 429, "retryAfter": 1}));
    genesys.call("POST", "/fake/faults", &json!({"status": 500}));
    let out = ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    assert!(out.contains("wrapup-codes: 250 rows, changed") && out.contains("users: 2 rows, changed"), "{out}");
    assert!(out.contains("published synced@"), "{out}");
    let synced = record(&location, "code-0", dir.path(), &[]);
    assert_eq!(synced["data"]["wrapupName"], "Code 0");
    assert_eq!(stitched(&location, "code-249", dir.path(), &[]), "Code 249");
    // Lineage names the table version the record was stitched with: the one the sync pinned.
    let clients = aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (bucket, key) = location["s3://".len()..].split_once('/').unwrap();
    let manifest = clients.s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    let manifest: Value = serde_json::from_slice(&manifest.body.collect().await.unwrap().into_bytes()).unwrap();
    let pinned = &manifest["tables"]["wrapup-codes"]["sha256"];
    assert_eq!(manifest["tables"]["wrapup-codes"]["file"], format!("tables/{}.json", pinned.as_str().unwrap()));
    assert_eq!(&synced["data"]["_weft"]["tables"]["wrapup-codes"], pinned);
    let stats = genesys.stats();
    assert_eq!(stats["drift"], json!([]), "the fake answered what the API models do not have");
    assert_eq!(stats["throttled"], 1);
    // 3 pages of codes + 1 of users, plus the 429 and the 500 answered again.
    assert_eq!(stats["requests"], 6, "{stats}");

    // A supervisor adds a wrap-up code; the sync's token expires halfway: it gets a new one and goes on.
    let mut codes = wrapup_codes(250);
    codes.as_array_mut().unwrap().push(json!({"id": "code-new", "name": "Callback booked", "division": division()}));
    genesys.set("wrapupCodes", codes);
    assert_eq!(stitched(&location, "code-new", dir.path(), &[]), Value::Null);
    let tokens = genesys.stats()["tokens"].as_u64().unwrap();
    genesys.call("POST", "/fake/faults", &json!({"status": 401, "expire": true, "after": 2}));
    let out = ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    assert!(out.contains("wrapup-codes: 251 rows, changed") && out.contains("users: 2 rows, unchanged"), "{out}");
    assert_eq!(stitched(&location, "code-new", dir.path(), &[]), "Callback booked");
    let stats = genesys.stats();
    assert_eq!(stats["tokens"].as_u64().unwrap(), tokens + 2, "one token at the start, one after it expired");
    assert_eq!(stats["drift"], json!([]));

    // Nothing changed: nothing is published (no new version for the Lambdas to swap to), but the status says when
    // each table was last confirmed.
    let out = ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    assert!(out.contains("wrapup-codes: 251 rows, unchanged") && !out.contains("published"), "{out}");
    // Pages that give only their pageCount are followed by number: the same 251 rows.
    genesys.call("POST", "/fake/paging", &json!({"nextUri": false}));
    let out = ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    assert!(out.contains("wrapup-codes: 251 rows, unchanged"), "{out}");
    let status = ok(weft(&["tables", "status", &location], dir.path(), &[]));
    let line = status.lines().find(|l| l.starts_with("wrapup-codes")).expect("the table's line");
    assert!(
        line.contains("WrapupCodes") && line.contains("251") && line.contains("ago") && !line.contains("stale"),
        "{status}"
    );
    // A sync that last confirmed the table long ago (more than twice its refreshMinutes): marked stale.
    let old = json!({"wrapup-codes": {"syncedAt": "2020-01-01T00:00:00Z", "rows": 251}}).to_string();
    let status_key = key.replace("manifest.json", "tables/sync-status.json");
    clients.s3.put_object().bucket(bucket).key(status_key).body(old.into_bytes().into()).send().await.unwrap();
    let status = ok(weft(&["tables", "status", &location], dir.path(), &[]));
    let line = status.lines().find(|l| l.starts_with("wrapup-codes")).expect("the table's line");
    assert!(line.ends_with("ago (stale)"), "{status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listing_that_shrank_is_refused_and_nothing_is_published() {
    let genesys = FakeGenesys::start();
    genesys.set("wrapupCodes", wrapup_codes(40));
    genesys.set("users", users());
    let (location, dir) = published(false).await;
    // The first answer says the rate-limit window is spent for a second: the sync waits for the reset rather than
    // sending its next request into a 429.
    genesys.call("POST", "/fake/window", &json!({"after": 1, "reset": 1}));
    ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    let stats = genesys.stats();
    assert_eq!((stats["early"].as_u64(), stats["requests"].as_u64()), (Some(0), Some(2)), "{stats}");
    // An answer of 10 codes where 40 were published: under the default minRatio (0.5).
    genesys.set("wrapupCodes", wrapup_codes(10));
    let out = weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("table `wrapup-codes`: the listing has 10 rows where the published table has 40"), "{text}");
    assert_eq!(stitched(&location, "code-39", dir.path(), &[]), "Code 39", "the published table is still in place");
    let out = ok(weft(&["tables", "sync", &location, "--domain", &genesys.url(), "--force"], dir.path(), &[]));
    assert!(out.contains("wrapup-codes: 10 rows, changed"), "{out}");
    assert_eq!(stitched(&location, "code-39", dir.path(), &[]), Value::Null);
}

/// A publication that lands while the sync is listing is not overwritten: the sync writes the manifest only over
/// the version it read (S3's If-Match), and says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_publication_during_the_sync_is_not_overwritten() {
    let genesys = FakeGenesys::start();
    genesys.set("wrapupCodes", wrapup_codes(3));
    let (location, dir) = published(false).await;
    // The first listing request is throttled for 3 s: the sync has read the manifest and waits.
    genesys.call("POST", "/fake/faults", &json!({"status": 429, "retryAfter": 3}));
    let sync = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["tables", "sync", &location, "--domain", &genesys.url()])
        .envs(aws::env())
        .env("GENESYS_CLIENT_ID", CLIENT_ID)
        .env("GENESYS_CLIENT_SECRET", CLIENT_SECRET)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    while genesys.stats()["throttled"] == 0 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Meanwhile someone publishes a new version (a new table name makes it another manifest).
    let manifest = std::fs::read_to_string(dir.path().join("manifest.json")).unwrap();
    std::fs::write(dir.path().join("manifest.json"), manifest.replace("\"synced\"", "\"republished\"")).unwrap();
    let (bucket, _) = location["s3://".len()..].split_once('/').unwrap();
    ok(weft(&["rules", "publish", "manifest.json", "--bucket", bucket, "--prefix", "prod"], dir.path(), &[]));
    let out = sync.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("changed while this ran"), "{stderr}");
    let clients = aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let now = clients.s3.get_object().bucket(bucket).key("prod/manifest.json").send().await.unwrap();
    let now: Value = serde_json::from_slice(&now.body.collect().await.unwrap().into_bytes()).unwrap();
    assert_eq!(now["name"], "republished", "the publication in between stays");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_rule_set_is_synced_signed_or_not_at_all_and_bad_credentials_are_named() {
    let genesys = FakeGenesys::start();
    genesys.set("wrapupCodes", wrapup_codes(3));
    let (location, dir) = published(true).await;
    let out = weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is signed, and the Lambdas would refuse it unsigned"));
    let signed =
        ["tables", "sync", &location, "--domain", &genesys.url(), "--key", "rules.key", "--deployment", "weft"];
    let bad = weft(&signed, dir.path(), &[("GENESYS_CLIENT_SECRET", "wrong")]);
    let text = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success() && text.contains("the token request was refused (401)"), "{text}");
    assert!(!text.contains("wrong"), "the secret is never printed: {text}");
    let out = ok(weft(&signed, dir.path(), &[]));
    assert!(out.contains("(signed)"), "{out}");
    let public = std::fs::read_to_string(dir.path().join("rules.key.pub")).unwrap();
    let trust = [("WEFT_RULES_PUBLIC_KEY", public.trim()), ("WEFT_DEPLOYMENT", "weft")];
    assert_eq!(stitched(&location, "code-2", dir.path(), &trust), "Code 2");
}

#[test]
fn a_lookup_that_misses_is_counted_per_table() {
    use std::sync::Arc;
    let bytes = std::fs::read(common::repo().join("rules/dist/wrapup-names.wasm")).unwrap();
    let module = weft::engine::RuleModule::from_file(common::engine(), "wrapup-names.wasm", &bytes).unwrap();
    let table = [("code-1".to_owned(), "One".to_owned())].into_iter().collect();
    let tables: weft::engine::Tables = [("wrapup-codes".to_owned(), table)].into_iter().collect();
    let tables = Arc::new(tables);
    let rules = weft::rules::RuleSet::with_tables("w", module, Arc::from("null"), tables, Default::default());
    let mut judge = weft::judge::Judge::new(rules).with_batch_size(1);
    let input: String = ["code-1", "code-2", "code-3", "code-2"]
        .iter()
        .enumerate()
        .map(|(i, code)| common::event(&format!("e{i}"), "acw", json!({"wrapupCode": code})) + "\n")
        .collect();
    judge.judge(weft::input::split(input.as_bytes(), "t".into()));
    let stats = judge.take_stats();
    let (_, calls) = &stats.rules[0].modules[0];
    // What the metrics publish as TableMisses with the dimension Table=wrapup-codes (the emf unit test proves the
    // document).
    assert_eq!(calls.misses, [("wrapup-codes".to_owned(), 3)].into());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sync_runs_as_a_lambda_with_its_secrets_in_secrets_manager_and_a_failed_sync_fails_the_invocation() {
    let genesys = FakeGenesys::start();
    genesys.set("wrapupCodes", wrapup_codes(5));
    let (location, dir) = published(true).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&aws::sdk_config(&aws::endpoint()).await);
    let (client, key) = (aws::unique("genesys-client"), aws::unique("rules-signing-key"));
    let oauth = json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}).to_string();
    secrets.create_secret().name(&client).secret_string(oauth).send().await.unwrap();
    let private = std::fs::read_to_string(dir.path().join("rules.key")).unwrap();
    secrets.create_secret().name(&key).secret_string(private).send().await.unwrap();

    let api = common::runtime_api::RuntimeApi::start();
    let mut function = api.function();
    function
        .env("WEFT_ROLE", "tables-sync")
        .env("WEFT_RULES", &location)
        .env("GENESYS_DOMAIN", genesys.url())
        .env("GENESYS_CREDENTIALS_SECRET", &client)
        .env("WEFT_RULES_SIGNING_KEY_SECRET", &key)
        .env("WEFT_DEPLOYMENT", "weft");
    // What the Terraform module's schedule sends.
    let scheduled = r#"{"weft": "tables-sync"}"#;
    let (api, (status, body)) = api.first_invocation(function, scheduled).await;
    assert_eq!(status, 200, "{body}");
    let report: Value = serde_json::from_str(&body).unwrap();
    let report =
        report["report"].as_array().unwrap().iter().map(|l| l.as_str().unwrap()).collect::<Vec<_>>().join("\n");
    assert!(report.contains("wrapup-codes: 5 rows, changed") && report.contains("(signed)"), "{report}");
    let public = std::fs::read_to_string(dir.path().join("rules.key.pub")).unwrap();
    let trust = [("WEFT_RULES_PUBLIC_KEY", public.trim()), ("WEFT_DEPLOYMENT", "weft")];
    assert_eq!(stitched(&location, "code-4", dir.path(), &trust), "Code 4");

    // The OAuth client's secret is rotated in Secrets Manager but not in Genesys: the next run fails, and says why.
    let rotated = json!({"clientId": CLIENT_ID, "clientSecret": "rotated-only-here"}).to_string();
    secrets.put_secret_value().secret_id(&client).secret_string(rotated).send().await.unwrap();
    let (status, body) = common::runtime_api::invoke(api.port, scheduled).await.unwrap();
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("the token request was refused (401)"), "{body}");
    let output = api.function_output();
    assert!(output.contains("tables sync failed"), "{output}");
    assert!(!output.contains(CLIENT_SECRET) && !output.contains("rotated-only-here"), "no secret in the logs");
}

/// What a running Lambda sees: the event function's handler with its reloader polling the rule set, while the
/// sync publishes new tables; it stitches the new name without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_lambda_swaps_to_the_synced_tables_by_the_ordinary_hot_swap() {
    use std::time::{Duration, Instant};
    use weft::delivery::{Delivery, LetterPort, RecordPort};
    let genesys = FakeGenesys::start();
    genesys.set("wrapupCodes", wrapup_codes(3));
    let (location, dir) = published(false).await;
    let clients = aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (bucket, key) = location["s3://".len()..].split_once('/').unwrap();
    let engine = common::engine().clone();
    let poll = Duration::from_secs(1);
    let limits = weft::engine::Limits::default();
    let trust = weft::rollout::source::Trust::default();
    let reloader = weft::rollout::reload::Reloader::new(
        clients.s3.clone(),
        bucket.into(),
        key.into(),
        engine,
        limits,
        trust,
        poll,
    );
    let rules = reloader.load_now().await.unwrap();
    let captured = common::Captured::default();
    let delivery = Delivery::new(RecordPort::Lines(Box::new(captured.clone())), LetterPort::Lines(None), None);
    let handler =
        weft::lambda::Handler::hot_swapping(Some(weft::judge::Judge::new(rules)), delivery, Some(reloader), 64, 3);
    let (handler, captured) = (&handler, &captured);
    let name = |n: usize| async move {
        let text = common::event(&format!("e{n}"), "acw", json!({"wrapupCode": "code-1", "conversationId": "c1"}));
        let payload = serde_json::value::RawValue::from_string(text).unwrap();
        handler.handle(&payload, "r", Instant::now() + Duration::from_secs(30)).await.unwrap();
        let line = captured.lines().pop().unwrap();
        serde_json::from_str::<Value>(&line).unwrap()["data"]["wrapupName"].clone()
    };
    assert_eq!(name(0).await, Value::Null, "code-1 is not in the published table");
    ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    let started = Instant::now();
    let mut n = 1;
    while name(n).await != "Code 1" {
        assert!(started.elapsed() < Duration::from_secs(30), "the running handler never swapped to the synced tables");
        tokio::time::sleep(Duration::from_millis(200)).await;
        n += 1;
    }
}

/// The repo's own example rule set (`rules/contact-centre.json` and what it names), copied into `dir` with its
/// `queues` and `wrapup-codes` tables marked `sync`, as docs/writing-rules.md tells a user to.
fn example_with_synced_tables(dir: &Path) {
    let rules = common::repo().join("rules");
    for file in ["tables/queues.json", "tables/wrapup-codes.csv", "dist/queue-names.wasm", "dist/wrapup-names.wasm"]
        .into_iter()
        .chain(["dist/redact-pii.wasm"])
    {
        std::fs::create_dir_all(dir.join(file).parent().unwrap()).unwrap();
        std::fs::copy(rules.join(file), dir.join(file)).unwrap();
    }
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(rules.join("contact-centre.json")).unwrap()).unwrap();
    manifest["tables"]["queues"]["sync"] = json!({"source": "queues", "refreshMinutes": 60});
    manifest["tables"]["wrapup-codes"]["sync"] = json!({"source": "wrapupCodes", "refreshMinutes": 60});
    std::fs::write(dir.join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
}

/// `count` queues as the API lists them: `queue-N`, named `Queue N`.
fn queues(count: usize) -> Value {
    (0..count)
        .map(|i| {
            json!({"id": format!("queue-{i}"), "name": format!("Queue {i}"), "division": division(),
                   "selfUri": format!("/api/v2/routing/queues/queue-{i}")})
        })
        .collect()
}

/// The manifest object now at `location`: its bytes and ETag.
async fn manifest_at(location: &str) -> (Vec<u8>, Option<String>) {
    let clients = aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (bucket, key) = location["s3://".len()..].split_once('/').unwrap();
    let object = clients.s3.get_object().bucket(bucket).key(key).send().await.unwrap();
    let etag = object.e_tag().map(str::to_owned);
    (object.body.collect().await.unwrap().into_bytes().to_vec(), etag)
}

/// The flow a user follows from the docs: the example set, its tables marked `sync`, published, then synced
/// against an organisation whose queues and wrap-up codes are not the hand-made ones. Its self-tests carry their
/// own rows, so the synced version passes them, is published, and loads where a Lambda loads it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_rule_set_synced_against_an_organisation_of_its_own_publishes_and_loads() {
    let genesys = FakeGenesys::start();
    genesys.set("queues", queues(3));
    genesys.set("wrapupCodes", wrapup_codes(4));
    let dir = tempfile::tempdir().unwrap();
    example_with_synced_tables(dir.path());
    let bucket = aws::unique("example-sync");
    aws::create_bucket(&aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await, &bucket).await;
    ok(weft(&["rules", "publish", "manifest.json", "--bucket", &bucket, "--prefix", "prod"], dir.path(), &[]));
    let location = format!("s3://{bucket}/prod/manifest.json");

    let out = ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    assert!(out.contains("queues: 3 rows, changed") && out.contains("wrapup-codes: 4 rows, changed"), "{out}");
    assert!(out.contains("published contact-centre@"), "{out}");
    // Loaded as a Lambda loads it (self-tests included), it stitches the organisation's names.
    let event =
        common::event("e1", "acw", json!({"wrapupCode": "code-2", "queueId": "queue-1", "conversationId": "c1"}));
    std::fs::write(dir.path().join("event.json"), event).unwrap();
    let out = ok(weft(&["run", "--rules", &location, "event.json"], dir.path(), &[]));
    let stitched: Vec<Value> = out
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["stream"] == "genesys-wrapups")
        .collect();
    assert_eq!(stitched.len(), 1, "{out}");
    assert_eq!(
        (&stitched[0]["data"]["queueName"], &stitched[0]["data"]["wrapupName"]),
        (&json!("Queue 1"), &json!("Code 2"))
    );
    let status = ok(weft(&["tables", "status", &location], dir.path(), &[]));
    assert!(!status.contains("refused"), "{status}");
}

/// A self-test that reads the live table pins rows a real organisation may not have: a sync whose listing breaks it
/// is refused before anything is written (no table uploaded, the manifest untouched), names the test and the
/// field, exits non-zero, and `weft tables status` shows the refusal instead of calling the table fresh. In AWS the
/// same refusal fails the sync's invocation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sync_that_would_fail_a_self_test_pinning_live_rows_is_refused_and_publishes_nothing() {
    let genesys = FakeGenesys::start();
    let dir = tempfile::tempdir().unwrap();
    let module = std::fs::read(common::repo().join("rules/dist/wrapup-names.wasm")).unwrap();
    std::fs::write(dir.path().join("wrapup-names.wasm"), &module).unwrap();
    std::fs::write(dir.path().join("wrapup-codes.json"), r#"{"code-0": "Billing question"}"#).unwrap();
    let event: Value = serde_json::from_str(&common::event("t1", "acw", json!({"wrapupCode": "code-0"}))).unwrap();
    let manifest = json!({
        "name": "pinned",
        "tables": {"wrapup-codes": {"file": "wrapup-codes.json", "sync": {"source": "wrapupCodes"}}},
        "rules": [{"name": "wrap-ups", "match": {"kinds": ["acw"]},
                   "modules": [{"module": "wrapup-names.wasm", "sha256": weft::engine::ModuleId::new("", &module).sha256}]}],
        "tests": [{"name": "code-0 reads as Billing question in the live table", "event": event,
                   "expect": {"records": [{"data": {"_id": "t1", "conversationId": null, "participantId": null,
                       "queueId": null, "timestamp": null, "wrapupCode": "code-0", "wrapupName": "Billing question"}}]}}],
    });
    std::fs::write(dir.path().join("manifest.json"), serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    let bucket = aws::unique("pinned-sync");
    let clients = aws::clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    aws::create_bucket(&clients, &bucket).await;
    ok(weft(&["rules", "publish", "manifest.json", "--bucket", &bucket, "--prefix", "prod"], dir.path(), &[]));
    let location = format!("s3://{bucket}/prod/manifest.json");
    let (before, etag) = manifest_at(&location).await;
    let objects = |clients: &weft::aws::Clients| {
        let (s3, bucket) = (clients.s3.clone(), bucket.clone());
        async move {
            let listed = s3.list_objects_v2().bucket(&bucket).prefix("prod/tables/").send().await.unwrap();
            let keys = listed.contents().iter().filter_map(|o| o.key().map(str::to_owned));
            // Table files, not the sync's own notes beside them.
            keys.filter(|k| !k.ends_with("sync-status.json")).collect::<Vec<_>>()
        }
    };
    let tables_before = objects(&clients).await;

    // The organisation calls code-0 something else.
    genesys.set("wrapupCodes", wrapup_codes(2));
    let out = weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("were not published") && stderr.contains("the Lambdas would refuse it"), "{stderr}");
    assert!(
        stderr.contains("code-0 reads as Billing question in the live table")
            && stderr.contains(r#"records[0].data.wrapupName: expected "Billing question", got "Code 0""#),
        "the refusal names the test and the field: {stderr}"
    );
    assert_eq!(manifest_at(&location).await, (before, etag), "the manifest is untouched");
    assert_eq!(objects(&clients).await, tables_before, "no table was uploaded");
    let status = weft(&["tables", "status", &location], dir.path(), &[]);
    let text = String::from_utf8_lossy(&status.stdout);
    assert_eq!(status.status.code(), Some(1), "{text}");
    let line = text.lines().find(|l| l.starts_with("wrapup-codes")).expect("the table's line");
    assert!(line.ends_with("never"), "a refused sync confirms nothing: {text}");
    assert!(text.contains("the last sync was refused") && text.contains("expected \"Billing question\""), "{text}");

    // The scheduled Lambda form: the same refusal fails its invocation (which the module's alarm watches).
    let secrets = aws_sdk_secretsmanager::Client::new(&aws::sdk_config(&aws::endpoint()).await);
    let client = aws::unique("genesys-client");
    let oauth = json!({"clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET}).to_string();
    secrets.create_secret().name(&client).secret_string(oauth).send().await.unwrap();
    let api = common::runtime_api::RuntimeApi::start();
    let mut function = api.function();
    function
        .env("WEFT_ROLE", "tables-sync")
        .env("WEFT_RULES", &location)
        .env("GENESYS_DOMAIN", genesys.url())
        .env("GENESYS_CREDENTIALS_SECRET", &client);
    let (_api, (status, body)) = api.first_invocation(function, r#"{"weft": "tables-sync"}"#).await;
    assert_ne!(status, 200, "{body}");
    assert!(body.contains("the Lambdas would refuse it") && body.contains("wrapupName"), "{body}");

    // A sync that passes clears the refusal.
    genesys.set("wrapupCodes", json!([{"id": "code-0", "name": "Billing question", "division": division()}]));
    ok(weft(&["tables", "sync", &location, "--domain", &genesys.url()], dir.path(), &[]));
    let status = ok(weft(&["tables", "status", &location], dir.path(), &[]));
    assert!(!status.contains("refused"), "{status}");
}
