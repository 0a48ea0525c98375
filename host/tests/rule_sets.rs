//! Rule sets from manifests: loading and refusing them, matching, chains, fan-out, failure policies, lineage,
//! and conservation over a mixed corpus.

mod common;

use std::collections::BTreeMap;

use serde_json::{Value, json};
use weft::engine::{Limits, ModuleId};
use weft::judge::Judge;
use weft::judge::check;
use weft::rules::manifest::Manifest;
use weft::rules::{NO_RULE_MATCHED, SKIPPED};

use common::{engine, event, hostile_wasm, repo, run_with};

fn contact_centre() -> weft::rules::RuleSet {
    Manifest::load_file(&repo().join("rules/contact-centre.json"), engine(), &Limits::default()).unwrap()
}

/// A manifest in a fresh directory, with the hostile module beside it as `hostile.wasm`.
fn manifest_dir(manifest: &Value) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hostile.wasm"), hostile_wasm()).unwrap();
    std::fs::write(dir.path().join("manifest.json"), manifest.to_string()).unwrap();
    dir
}

fn load(manifest: &Value) -> Result<weft::rules::RuleSet, String> {
    let dir = manifest_dir(manifest);
    Manifest::load_file(&dir.path().join("manifest.json"), engine(), &Limits::default()).map_err(|e| e.to_string())
}

fn hostile_sha() -> String {
    ModuleId::new("", hostile_wasm()).sha256
}

#[test]
fn the_contact_centre_rule_set_passes_its_own_tests() {
    let bytes = std::fs::read(repo().join("rules/contact-centre.json")).unwrap();
    let cases = Manifest::parse(&bytes).unwrap().manifest.tests;
    assert_eq!(cases.len(), 3);
    let mut judge = Judge::new(contact_centre()).with_batch_size(1);
    for case in &cases {
        assert_eq!(check::check(&mut judge, case), Vec::<String>::new(), "{:?}", case.name);
    }
}

#[test]
fn a_chain_of_three_fans_out_to_its_own_stream_with_lineage_and_every_event_is_accounted_for() {
    let mut corpus = String::new();
    for file in ["voice-inbound-call", "outbound-campaign", "chat-to-voicemail", "other-topics"] {
        corpus += &std::fs::read_to_string(repo().join(format!("samples/events/{file}.jsonl"))).unwrap();
    }
    corpus += "{\"broken\": \n";
    let (out, summary) = run_with(contact_centre(), &corpus, 64);
    assert!(summary.balanced());
    assert_eq!(
        (summary.events_in, summary.events_written, summary.records_out, summary.dropped, summary.dead_lettered),
        (30, 27, 31, 2, 1),
        "{summary}"
    );
    let mut by_stream: BTreeMap<Option<String>, Vec<Value>> = BTreeMap::new();
    for record in &out.records {
        by_stream.entry(record.stream.clone()).or_default().push(serde_json::from_str(record.data.get()).unwrap());
    }
    assert_eq!(by_stream[&None].len(), 27, "every conversation event gets its shared-fields record");
    let wrapups = &by_stream[&Some("genesys-wrapups".to_owned())];
    assert_eq!(wrapups.len(), 2, "one per acw");
    // default → queue names → wrap-up names: each module's field is there, in chain order.
    let known = wrapups.iter().find(|r| r["wrapupCode"] == "356ff972-8720-5cfc-a9b9-fcf60d7ea76e").unwrap();
    assert_eq!((&known["queueName"], &known["wrapupName"]), (&json!("Support (voice)"), &json!("Billing question")));
    let keys: Vec<&str> = known.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(&keys[keys.len() - 3..], ["queueName", "wrapupName", "_weft"]);
    // A queue and a code in no table: the queue's name is null, the system code gets its readable name.
    let system = wrapups.iter().find(|r| r["wrapupCode"] == "ININ-WRAP-UP-TIMEOUT").unwrap();
    assert_eq!((&system["queueName"], &system["wrapupName"]), (&Value::Null, &json!("Wrap-up timed out")));
    let lineage = &known["_weft"];
    assert_eq!(lineage["rule"], "wrap-ups");
    // The record's identity: the event, the rule, the record's index among the rule's records.
    assert_eq!((&lineage["event"], &lineage["record"]), (&known["_id"], &json!(0)));
    assert!(lineage["ruleSet"].as_str().unwrap().starts_with("contact-centre@"));
    let tables = std::fs::read(repo().join("rules/tables/queues.json")).unwrap();
    assert_eq!(lineage["tables"]["queues"], ModuleId::new("", &tables).sha256);
    // Only inbound voice customer events reach the redaction rule, and no number leaves it in clear.
    let callers = &by_stream[&Some("genesys-callers".to_owned())];
    assert_eq!(callers.len(), 2);
    for caller in callers {
        let body = &caller["eventBody"];
        assert_eq!((&body["mediaType"], &body["direction"]), (&json!("VOICE"), &json!("INBOUND")));
        assert!(body["ani"].as_str().unwrap().starts_with("hmac-sha256:"));
    }
    assert!(!out.records.iter().any(|r| r.data.get().contains("tel:+")), "no phone number in any record");
    assert_eq!(out.dead_letters[0].error_class, "invalid-json");
}

#[test]
fn an_event_no_rule_matches_is_dropped_and_counted() {
    let rules = load(&json!({"rules": [{"name": "acw-only", "match": {"kinds": ["acw"]}, "modules": [{"module": "builtin:default"}]}]}))
        .unwrap();
    let input = event("e1", "customer.start", json!({"conversationId": "c1"})) + "\n" + &event("e2", "acw", json!({}));
    let (out, summary) = run_with(rules, &input, 64);
    assert_eq!((summary.events_written, summary.dropped), (1, 1));
    assert_eq!(out.dropped[0].reason, NO_RULE_MATCHED);
    assert_eq!(out.dropped[0].rule, None);
    assert!(out.dropped[0].rule_set.as_deref().is_some_and(|v| v.len() == 12), "the version names the rule set");
}

#[test]
fn a_failing_module_costs_what_its_rule_says() {
    let rule = |policy: &str| {
        json!({"rules": [{
            "name": "customer",
            "modules": [{"module": "hostile.wasm", "sha256": hostile_sha()}],
            "onError": policy,
        }]})
    };
    let input = event("bad", "customer.end", json!({"attack": "panic", "conversationId": "c1"}))
        + "\n"
        + &event("good", "customer.end", json!({"conversationId": "c2"}));

    let (out, summary) = run_with(load(&rule("dead-letter")).unwrap(), &input, 64);
    assert_eq!((summary.dead_lettered, summary.events_written), (1, 1), "the next event still works");
    let letter = &out.dead_letters[0];
    assert_eq!((letter.error_class.as_str(), letter.rule.as_deref()), ("panic", Some("customer")));
    assert!(letter.reason.contains("hostile module panicked on purpose"), "{}", letter.reason);
    assert!(letter.rule_set.is_some());

    let (out, summary) = run_with(load(&rule("skip")).unwrap(), &input, 64);
    assert_eq!((summary.dropped, summary.events_written, summary.dead_lettered), (1, 1, 0));
    assert_eq!((out.dropped[0].reason.as_str(), out.dropped[0].rule.as_deref()), (SKIPPED, Some("customer")));

    let (out, summary) = run_with(load(&rule("default")).unwrap(), &input, 64);
    assert_eq!((summary.events_written, summary.dead_lettered), (2, 0));
    let fallback: Value = serde_json::from_str(out.records[0].data.get()).unwrap();
    assert_eq!((&fallback["_id"], &fallback["conversationId"]), (&json!("bad"), &json!("c1")), "the default record");
}

#[test]
fn a_dead_lettering_failure_fails_the_whole_event_so_a_redrive_cannot_write_twice() {
    let rules = load(&json!({"rules": [
        {"name": "shared", "modules": [{"module": "builtin:default"}]},
        {"name": "customer", "modules": [{"module": "hostile.wasm", "sha256": hostile_sha()}], "output": {"stream": "other"}},
    ]}))
    .unwrap();
    let input = event("bad", "customer.end", json!({"attack": "error"})) + "\n" + &event("good", "acw", json!({}));
    let (out, summary) = run_with(rules, &input, 64);
    assert_eq!((summary.dead_lettered, summary.events_written, summary.records_out), (1, 1, 2));
    assert_eq!(out.dead_letters[0].error_class, "on-purpose");
    assert_eq!(out.records.iter().filter(|r| r.stream.as_deref() == Some("other")).count(), 1, "fan-out");
}

#[test]
fn partition_keys_come_from_the_record_when_the_rule_says() {
    let rules = load(&json!({"rules": [{"name": "by-session", "modules": [{"module": "builtin:default"}],
        "output": {"partitionKey": "$.sessionId"}}]}))
    .unwrap();
    let input = event("e1", "customer.start", json!({"conversationId": "c1", "sessionId": "s1"}))
        + "\n"
        + &event("e2", "customer.start", json!({"conversationId": "c2"}));
    let (out, _) = run_with(rules, &input, 64);
    assert_eq!(out.records[0].partition_key, "s1");
    assert_eq!(out.dead_letters[0].error_class, "partition-key", "a null session id is no key");
    assert!(out.dead_letters[0].reason.contains("`$.sessionId` selects an object, array or null"));
}

#[test]
fn a_rule_set_that_does_not_load_is_refused_naming_the_rule_and_the_field() {
    let default = json!({"module": "builtin:default"});
    let zeros = "0".repeat(64);
    let mismatch = format!(
        "rule set manifest: rules[0] (\"a\").modules[0]: hostile.wasm: sha256 is {}, the manifest says {zeros}",
        hostile_sha()
    );
    let cases: Vec<(Value, &str)> = vec![
        (json!({"rules": []}), "rule set manifest: rules: the rule set has no rules"),
        (
            json!({"rules": [{"name": "a", "modules": [default], "onErorr": "skip"}]}),
            "rule set manifest: rules[0].onErorr: unknown field `onErorr`",
        ),
        (
            json!({"rules": [{"name": "a", "match": {"where": [{"path": "$.detail[?"}]}, "modules": [default]}]}),
            "rule set manifest: rules[0] (\"a\").match.where[0].path: `$.detail[?` is not JSONPath",
        ),
        (
            json!({"rules": [{"name": "a", "match": {"kinds": ["acw", "customer.ennd"]}, "modules": [default]}]}),
            "rule set manifest: rules[0] (\"a\").match.kinds[1]: unknown kind `customer.ennd`",
        ),
        (
            json!({"rules": [{"name": "a", "modules": [default]}, {"name": "a", "modules": [default]}]}),
            "rule set manifest: rules[1] (\"a\").name: another rule is already named `a`",
        ),
        (
            json!({"rules": [{"name": "a", "modules": [{"module": "missing.wasm", "sha256": zeros}]}]}),
            "rule set manifest: rules[0] (\"a\").modules[0]: missing.wasm: cannot read",
        ),
        (
            json!({"rules": [{"name": "a", "modules": [{"module": "hostile.wasm"}]}]}),
            "rule set manifest: rules[0] (\"a\").modules[0].sha256: a module file needs its `sha256`",
        ),
        (json!({"rules": [{"name": "a", "modules": [{"module": "hostile.wasm", "sha256": zeros}]}]}), &mismatch),
        (
            json!({"rules": [{"name": "a", "modules": [default], "output": {"stream": "no spaces"}}]}),
            "rule set manifest: rules[0] (\"a\").output.stream: `no spaces` is not a valid Kinesis stream name",
        ),
        (
            json!({"tables": {"q": {"file": "hostile.wasm"}}, "rules": [{"name": "a", "modules": [default]}]}),
            "rule set manifest: tables.q: hostile.wasm: not a JSON object of keys to values",
        ),
        // 1e19 seconds once overflowed the clock and panicked the host while it held the rules' lock.
        (
            json!({"rules": [{"name": "a", "modules": [default], "quarantine": {"coolDownSeconds": 10_000_000_000_000_000_000u64}}]}),
            "rule set manifest: rules[0] (\"a\").quarantine.coolDownSeconds: 10000000000000000000 is outside 0 to 86400",
        ),
        // The operator's limits are ceilings: a rule set may lower them, not raise them.
        (
            json!({"rules": [{"name": "a", "modules": [default], "limits": {"memoryMb": 4096}}]}),
            "rule set manifest: rules[0] (\"a\").limits.memoryMb: 4096 is over the deployment's 64 (a rule set may lower a limit, not raise it)",
        ),
        (
            json!({"rules": [{"name": "a", "modules": [default], "limits": {"timePerEventMs": 60000}}]}),
            "rule set manifest: rules[0] (\"a\").limits.timePerEventMs: 60000 is over the deployment's 100",
        ),
        (
            json!({"rules": [{"name": "a", "modules": [default], "limits": {"moduleBytes": 104857600}}]}),
            "rule set manifest: rules[0] (\"a\").limits.moduleBytes: 104857600 is over the deployment's 20971520",
        ),
        // Counts are bounded before anything is fetched.
        (
            json!({"rules": (0..257).map(|i| json!({"name": format!("r{i}"), "modules": [default]})).collect::<Vec<_>>()}),
            "rule set manifest: rules: 257 is over the limit of 256",
        ),
        (
            json!({"rules": [{"name": "a", "modules": vec![default.clone(); 17]}]}),
            "rule set manifest: rules[0] (\"a\").modules: 17 is over the limit of 16",
        ),
        // Files stay inside the rule set's folder.
        (
            json!({"rules": [{"name": "a", "modules": [{"module": "../hostile.wasm", "sha256": zeros}]}]}),
            "rule set manifest: rules[0] (\"a\").modules[0]: ../hostile.wasm: names a file outside the rule set's folder",
        ),
        (
            json!({"tables": {"q": {"file": "/etc/passwd"}}, "rules": [{"name": "a", "modules": [default]}]}),
            "rule set manifest: tables.q: /etc/passwd: names a file outside the rule set's folder",
        ),
    ];
    for (manifest, expected) in &cases {
        let error = load(manifest).err().unwrap_or_else(|| panic!("{manifest} loaded"));
        assert!(error.starts_with(expected), "{manifest}\n  got:      {error}\n  expected: {expected}");
    }
    assert!(
        Manifest::parse(b"{\"rules\": [")
            .err()
            .unwrap()
            .to_string()
            .starts_with("rule set manifest: rules: EOF while parsing a list"),
        "broken JSON"
    );
}

#[test]
fn a_rule_set_may_lower_the_deployments_limits() {
    let default = json!({"module": "builtin:default"});
    let lowered =
        json!({"rules": [{"name": "a", "modules": [default], "limits": {"memoryMb": 8, "timePerEventMs": 20}}]});
    let rules = load(&lowered).unwrap();
    let limits = rules.modules().next().unwrap().limits().clone();
    assert_eq!((limits.memory_bytes, limits.time_per_event), (8 << 20, std::time::Duration::from_millis(20)));
    let operator = Limits { memory_bytes: 256 << 20, ..Limits::default() };
    let dir = manifest_dir(&json!({"rules": [{"name": "a", "modules": [default], "limits": {"memoryMb": 128}}]}));
    let rules = Manifest::load_file(&dir.path().join("manifest.json"), engine(), &operator).unwrap();
    assert_eq!(rules.modules().next().unwrap().limits().memory_bytes, 128 << 20, "under the operator's 256");
}

#[test]
fn a_module_that_is_not_a_rule_is_refused_at_load() {
    // Valid wasm, but a bare core module: not built with weft's SDK, no rule world in it.
    let core = b"\0asm\x01\0\0\0";
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bare.wasm"), core).unwrap();
    let sha = ModuleId::new("", core).sha256;
    let manifest = json!({"rules": [{"name": "a", "modules": [{"module": "bare.wasm", "sha256": sha}]}]});
    std::fs::write(dir.path().join("m.json"), manifest.to_string()).unwrap();
    let error =
        Manifest::load_file(&dir.path().join("m.json"), engine(), &Limits::default()).err().unwrap().to_string();
    assert!(
        error.starts_with(
            "rule set manifest: rules[0] (\"a\").modules[0]: module bare.wasm: does not fit weft's rule world"
        ),
        "{error}"
    );
    // Random bytes are not wasm at all.
    std::fs::write(dir.path().join("bare.wasm"), b"MZ\x90\0random").unwrap();
    let sha = ModuleId::new("", b"MZ\x90\0random").sha256;
    let manifest = json!({"rules": [{"name": "a", "modules": [{"module": "bare.wasm", "sha256": sha}]}]});
    std::fs::write(dir.path().join("m.json"), manifest.to_string()).unwrap();
    let error =
        Manifest::load_file(&dir.path().join("m.json"), engine(), &Limits::default()).err().unwrap().to_string();
    assert!(error.contains("not a WebAssembly file"), "{error}");
}

#[test]
fn records_are_checked_for_size_after_the_lineage_is_added() {
    let manifest = |lineage: bool| json!({"lineage": lineage, "rules": [{"name": "sized", "modules": [{"module": "hostile.wasm", "sha256": hostile_sha()}]}]});
    // Partition key (`c-big`, the topic's conversation id) plus data: 10 bytes under Kinesis' 1 MiB.
    let size = weft::engine::KINESIS_MAX_RECORD_BYTES - "c-big".len() - 10;
    let input = event("big", "acw", json!({"attack": "record-of-size", "size": size}));
    let (out, _) = run_with(load(&manifest(false)).unwrap(), &input, 1);
    assert_eq!(out.records.len(), 1, "it fits as the module made it");
    let (out, summary) = run_with(load(&manifest(true)).unwrap(), &input, 1);
    assert_eq!((summary.events_written, summary.dead_lettered), (0, 1), "with its lineage it would not");
    let letter = &out.dead_letters[0];
    assert_eq!(letter.error_class, "record-too-large");
    assert!(letter.reason.contains("over the limit of 1048576 bytes per record"), "{}", letter.reason);
}
