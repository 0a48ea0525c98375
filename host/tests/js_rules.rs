//! Rules written in TypeScript and JavaScript: the scaffolds build and pass their golden tests, a type error fails
//! the build, the TypeScript queue-names example writes its Rust twin's records byte for byte, and a hostile
//! JavaScript module is contained as a Rust one is. Needs the npm tools: `WEFT_JS_TOOLS`, or the ones
//! `scripts/setup.sh` puts in `.node/` (the tests fail, never skip, without them).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use common::guest::{self, Toolchain};
use weft::engine::Limits;
use weft::rules::RuleSet;
use weft::rules::manifest::Manifest;

fn js_tools() -> Toolchain {
    let dir = std::env::var_os("WEFT_JS_TOOLS").unwrap_or_else(|| common::repo().join(".node").into_os_string());
    let componentize = Path::new(&dir).join("node_modules/.bin/componentize-qjs");
    assert!(componentize.exists(), "componentize-qjs is not at {} (run scripts/setup.sh)", componentize.display());
    ("WEFT_JS_TOOLS", dir)
}

#[test]
fn the_setup_installs_the_js_tools_weft_builds_with() {
    let source = include_str!("../src/cli/javascript.rs");
    let after = &source[source.find("pub const JS_TOOLS: &str =").expect("javascript.rs pins the npm tools")..];
    let pinned = after.split('"').nth(1).unwrap();
    // What scripts/setup.sh installs with `npm ci`: the package file's dependencies, and the lockfile's tree.
    let read = |file: &str| -> serde_json::Value {
        serde_json::from_str(&std::fs::read_to_string(common::repo().join("scripts/js-tools").join(file)).unwrap())
            .unwrap()
    };
    let (package, lock) = (read("package.json"), read("package-lock.json"));
    for tool in pinned.split(' ') {
        let (name, version) = tool.rsplit_once('@').unwrap();
        assert_eq!(package["dependencies"][name], version, "scripts/js-tools/package.json: {name}");
        assert_eq!(lock["packages"][format!("node_modules/{name}")]["version"], version, "the lockfile: {name}");
    }
    // Besides them, only the suite's own: asl-validator checks the backfill state machine (host/tests/terraform.rs),
    // playwright-core drives Chromium through `weft studio` (host/tests/studio.rs).
    assert_eq!(package["dependencies"]["asl-validator"], "4.0.0");
    assert_eq!(package["dependencies"]["playwright-core"], "1.65.2");
    assert_eq!(package["dependencies"].as_object().unwrap().len(), pinned.split(' ').count() + 2);
}

#[test]
fn the_typescript_types_are_generated_from_the_genesys_field_tables() {
    let repo = common::repo();
    let tables = repo.join("../shared/reference/genesys-detail-events.json");
    let out = Command::new("python3").arg(repo.join("guest-sdk/tools/gen_ts_events.py")).arg(&tables).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let checked_in = std::fs::read_to_string(repo.join("guest-sdk/js/events.ts")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == checked_in,
        "guest-sdk/js/events.ts is not what gen_ts_events.py makes of {}: regenerate it",
        tables.display()
    );
    // All 16 topics, each with its body type and its kind.
    assert_eq!(checked_in.matches("*/\nexport interface ").count(), 3 + 16 + 1 + 2);
    assert_eq!(checked_in.matches("/** Body of `").count(), 16);
    let bodies = &checked_in[checked_in.find("export interface Bodies {").unwrap()..];
    assert_eq!(bodies[..bodies.find('}').unwrap()].matches(": ").count(), 16);
}

#[test]
fn a_typescript_rule_from_the_scaffold_passes_its_golden_tests() {
    guest::scaffold_passes("ts", "rule.ts", &js_tools());
}

#[test]
fn a_javascript_rule_from_the_scaffold_passes_its_golden_tests() {
    guest::scaffold_passes("js", "rule.js", &js_tools());
}

#[test]
fn a_type_error_fails_the_build_and_names_the_line() {
    let tools = js_tools();
    let dir = tempfile::tempdir().unwrap();
    guest::weft(&["rules", "new", "typo", "--lang", "ts"], dir.path(), &tools);
    let rule = dir.path().join("typo/rule.ts");
    let text = std::fs::read_to_string(&rule).unwrap();
    // `mediaType` may be absent: calling a method on it without a check is what strict TypeScript refuses.
    std::fs::write(&rule, text.replace("mediaType: body.mediaType ?? null", "mediaType: body.mediaType.trim()"))
        .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["rules", "build", "typo"])
        .current_dir(dir.path())
        .env(tools.0, &tools.1)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("tsc failed") && stderr.contains("rule.ts(26,") && stderr.contains("possibly 'undefined'"),
        "{stderr}"
    );
    assert!(!dir.path().join("typo/build/typo.wasm").exists());
}

#[test]
fn the_typescript_queue_names_writes_its_rust_twins_records_byte_for_byte() {
    let ts = guest::build("rules/examples/queue-names-ts", "rule.ts", &js_tools());
    // On QuickJS a JavaScript rule is a small module (docs/writing-rules.md, "Engines, measured": 1.7 MB; the
    // SpiderMonkey build was 11.8 MB), small enough to compile in a cold start without `--precompile`.
    assert!(ts.len() < 2 << 20, "the TypeScript twin is {} bytes", ts.len());
    let rust = std::fs::read(common::repo().join("rules/dist/queue-names.wasm")).unwrap();
    // Alone and behind the default rule (where the module sets `queueName` on the record it is given), each with
    // two `onMiss`, with the example rule set's queue table, which names some of the samples' queues and not others.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(common::repo().join("rules/tables/queues.json"), dir.path().join("queues.json")).unwrap();
    let rules = |bytes: &[u8]| {
        std::fs::write(dir.path().join("queue-names.wasm"), bytes).unwrap();
        let sha256 = weft::engine::ModuleId::new("queue-names.wasm", bytes).sha256;
        let pin = |on_miss: &str| serde_json::json!({"module": "queue-names.wasm", "sha256": sha256, "params": {"onMiss": on_miss}});
        let manifest = serde_json::json!({
            "name": "twins",
            "tables": {"queues": {"file": "queues.json"}},
            "rules": [
                {"name": "alone", "modules": [pin("null")]},
                {"name": "alone-id", "modules": [pin("id")]},
                {"name": "chained", "modules": [{"module": "builtin:default"}, pin("null")]},
                {"name": "chained-id", "modules": [{"module": "builtin:default"}, pin("id")]},
            ],
        });
        let path = dir.path().join("manifest.json");
        std::fs::write(&path, manifest.to_string()).unwrap();
        Manifest::load_file(&path, guest::engine(), &Limits::default()).unwrap()
    };
    let input = guest::samples();
    let from_ts = guest::verdicts(rules(&ts), &input);
    // A dead letter from the Rust twin names where in the envelope's text its parser stopped; the TypeScript one
    // reads a parsed value and has no position.
    let without_position = |v: &String| match v.rsplit_once(" at line ") {
        Some((before, at)) if at.split(" column ").all(|n| n.parse::<u32>().is_ok()) => before.to_owned(),
        _ => v.clone(),
    };
    let from_rust: Vec<String> = guest::verdicts(rules(&rust), &input).iter().map(without_position).collect();
    assert_eq!(from_ts.len(), 29);
    for (i, (ts, rust)) in from_ts.iter().zip(&from_rust).enumerate() {
        assert_eq!(ts, rust, "event {i}");
    }
    let all = from_rust.join("\n");
    let named = all.matches("\"queueName\":\"Support (voice)\"").count();
    assert!(named >= 4, "the samples' queues are named: {named}");
    assert!(all.contains("\"queueName\":null"), "some of the samples' queues are not in the table");
    assert!(all.contains("invalid-event: queue-names.wasm: `detail.eventBody.eventTime`: invalid type: string"));
}

#[test]
fn a_javascript_module_is_contained_like_a_rust_one() {
    let logs = common::Captured::weft_logs(tracing::Level::DEBUG);
    let module = guest::module("rules/hostile-js", "rule.js", &js_tools());
    // Built with the pinned componentize-qjs, the module finds QuickJS in the code weft ships (a compile of 0.4–0.6 s
    // instead of 1.5–2.5), so all that follows is contained on that code. An update of componentize-qjs without a
    // new guest-sdk/js/quickjs.wasm (scripts/build-examples.sh) fails here.
    let compiled = module.compiled().expect("compiled as it was loaded");
    assert!(compiled.shipped * 10 >= compiled.functions * 9, "{compiled}");
    let rules = |limits| RuleSet::single("hostile", module.clone(), Arc::from("null"), limits);
    // The default limits but time, for what is not about time: an interpreter building 10,000 records takes tens of
    // milliseconds, more on a loaded machine.
    let unhurried = Limits { time_per_event: Duration::from_secs(30), ..Limits::default() };
    let attacks = [
        "throw",
        "none",
        "throw-string",
        "error",
        "memory",
        "none",
        "many-records",
        "clock",
        "event-date",
        "new-date",
        "performance",
        "random",
        "crypto",
        "wrong-answer",
        "print",
        "none",
    ];
    let expected = [
        "exception: hostile-js.wasm: RangeError: thrown on purpose",
        "1 record",
        "exception: hostile-js.wasm: thrown: a string, not an Error",
        "on-purpose: hostile-js.wasm: the event asked for an error",
        "memory-limit: hostile-js.wasm: memory limit of 67108864 bytes exceeded",
        "1 record",
        "too-many-records: hostile-js.wasm: 10000 records for one event is over the limit of 100",
        "no-clock: hostile-js.wasm: weft rules have no clock (no WASI is granted): use eventBody.eventTime",
        "dropped: 2025-11-27T10:00:00.000Z 1764237600000",
        "no-clock: hostile-js.wasm: weft rules have no clock (no WASI is granted): use eventBody.eventTime",
        "no-clock: hostile-js.wasm: weft rules have no clock (no WASI is granted): use eventBody.eventTime",
        "no-random: hostile-js.wasm: weft rules have no randomness (no WASI is granted): derive what you need from \
         the event, e.g. a hash of its id",
        "no-random: hostile-js.wasm: weft rules have no randomness (no WASI is granted): derive what you need from \
         the event, e.g. a hash of its id",
        "exception: hostile-js.wasm: TypeError: a rule returns a Record, an array of Records or drop(reason), not \
         Object",
        "1 record",
        "1 record",
    ];
    assert_eq!(guest::outcomes(rules(unhurried.clone()), &attacks), expected);
    assert_eq!(
        guest::outcomes(rules(Limits::default()), &["loop", "none"]),
        ["deadline-exceeded: hostile-js.wasm: deadline of 100ms exceeded", "1 record"]
    );
    // Without WASI, console output and the SDK's note of an exception go to weft's log (at debug, as every rule's
    // lines unless WEFT_RULE_LOGS says otherwise), tagged with the module.
    let logged = logs.lines().join("\n");
    for line in ["a line from console.log()", "the rule threw RangeError: thrown on purpose"] {
        assert!(logged.contains(line) && logged.contains("hostile-js.wasm"), "{line} is not in the log:\n{logged}");
    }
    // A record over Kinesis' limit is refused as such, within weft's default memory (QuickJS builds a 2 MB string
    // in about that; SpiderMonkey asked for 139 MB and needed a raised limit).
    assert_eq!(
        guest::outcomes(rules(unhurried), &["huge-record", "none"]),
        [
            "record-too-large: hostile-js.wasm: record 0: 2097158 bytes is over the limit of 1048576 bytes per record",
            "1 record"
        ]
    );
}
