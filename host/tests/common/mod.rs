//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod aws;
pub mod guest;
pub mod proxy;
pub mod runtime_api;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use weft::engine::{Engine, Limits, ModuleId, RuleModule};
use weft::judge::Judge;
use weft::rules::RuleSet;
use weft::verdict::dead_letter::{DeadLetter, Dropped};
use weft::verdict::record::Record;
use weft::verdict::{Fate, Summary, Verdict};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

pub fn data(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(path)
}

/// Everything the rules produced, in order.
#[derive(Default)]
pub struct Collected {
    pub records: Vec<Record>,
    pub dropped: Vec<Dropped>,
    pub dead_letters: Vec<DeadLetter>,
}

/// One engine per test binary (each starts an epoch thread).
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().unwrap())
}

/// Runs `input` through `rules`, checks that every event got exactly one verdict, and returns them.
pub fn run_with(rules: RuleSet, input: &str, batch: usize) -> (Collected, Summary) {
    let mut judge = Judge::new(rules).with_batch_size(batch);
    let chunks: Vec<_> = weft::input::split(input.as_bytes(), "test".into()).collect();
    let events = chunks.len();
    let judged = judge.judge(chunks);
    assert_eq!(judged.len(), events, "one verdict per event");
    let mut out = Collected::default();
    let mut fates = Vec::new();
    for item in judged {
        fates.push(match item.verdict {
            Verdict::Records(records) => {
                let fate = Fate::Written { records: records.len() };
                out.records.extend(records);
                fate
            }
            Verdict::Dropped(dropped) => {
                let fate = Fate::Dropped { reason: dropped.reason.clone() };
                out.dropped.push(dropped);
                fate
            }
            Verdict::DeadLetter(letter) => {
                let fate = Fate::DeadLettered { stage: letter.stage, class: letter.error_class.clone() };
                out.dead_letters.push(*letter);
                fate
            }
        });
    }
    let mut summary = Summary::default();
    summary.count(&fates);
    assert!(summary.balanced(), "{summary:?}");
    (out, summary)
}

pub fn run_default(input: &str) -> (Collected, Summary) {
    run_with(RuleSet::embedded_default(engine(), Limits::default()).unwrap(), input, 64)
}

/// The hostile test module as a component, built once per test binary.
pub fn hostile_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| built_rule("weft-rule-hostile"))
}

/// The module written against the WIT without the SDK (rules/hostile-abi), as a component.
pub fn hostile_abi_wasm() -> &'static [u8] {
    static WASM: OnceLock<Vec<u8>> = OnceLock::new();
    WASM.get_or_init(|| built_rule("weft-rule-hostile-abi"))
}

/// Builds one of the workspace's rule crates for wasm, as `weft rules build` does, and wraps it into a component.
fn built_rule(package: &str) -> Vec<u8> {
    let repo = repo();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let core =
        weft::engine::componentize::cargo_build_wasm(Path::new(&cargo), &repo, package, &repo.join("target/rules"))
            .unwrap();
    weft::engine::componentize::componentize(&std::fs::read(core).unwrap()).unwrap()
}

/// The hostile test module, compiled.
pub fn hostile_module() -> RuleModule {
    let wasm = hostile_wasm();
    RuleModule::compile(engine(), ModuleId::new("hostile.wasm", wasm), wasm).unwrap()
}

pub fn hostile_rules(limits: Limits) -> RuleSet {
    RuleSet::single("hostile", hostile_module(), Arc::from("null"), limits)
}

/// The hostile module as the only rule of a manifest-loaded rule set, quarantined after `after` failed events in a
/// row for `cool_down_seconds` (a single module alone is never quarantined).
pub fn quarantining_hostile_rules(after: u32, cool_down_seconds: u64) -> RuleSet {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("hostile.wasm"), hostile_wasm()).unwrap();
    let sha = ModuleId::new("", hostile_wasm()).sha256;
    let manifest = serde_json::json!({"rules": [{"name": "flaky", "modules": [{"module": "hostile.wasm", "sha256": sha}],
        "quarantine": {"after": after, "coolDownSeconds": cool_down_seconds}}]});
    std::fs::write(dir.path().join("m.json"), manifest.to_string()).unwrap();
    weft::rules::manifest::Manifest::load_file(&dir.path().join("m.json"), engine(), &Limits::default()).unwrap()
}

/// A writer that keeps everything written to it (records, or log lines), for a test to read back.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// What was written so far, line by line.
    pub fn lines(&self) -> Vec<String> {
        let bytes = self.0.lock().unwrap_or_else(PoisonError::into_inner).clone();
        String::from_utf8(bytes).unwrap().lines().map(str::to_owned).collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'w> tracing_subscriber::fmt::MakeWriter<'w> for Captured {
    type Writer = Captured;

    fn make_writer(&'w self) -> Captured {
        self.clone()
    }
}

impl Captured {
    /// From now on, weft's own log lines up to `level`, through its own formatter, for the whole test binary (the
    /// AWS SDK's and wasmtime's lines are theirs, not weft's log format's business).
    pub fn weft_logs(level: tracing::Level) -> Captured {
        use tracing_subscriber::Layer;
        use tracing_subscriber::layer::SubscriberExt;
        let captured = Captured::default();
        let weft_only = tracing_subscriber::filter::Targets::new().with_target("weft", level);
        let subscriber =
            tracing_subscriber::registry().with(weft::logs::layer(captured.clone()).with_filter(weft_only));
        tracing::subscriber::set_global_default(subscriber).unwrap();
        captured
    }
}

/// A conversation event of `kind` with the given eventBody fields.
pub fn event(id: &str, kind: &str, body: serde_json::Value) -> String {
    serde_json::json!({
        "version": "0",
        "id": id,
        "detail-type": format!("v2.detail.events.conversation.{{id}}.{kind}"),
        "source": "aws.partner/genesys.com/cloud/org/test",
        "time": "2025-11-27T10:00:00Z",
        "detail": {
            "topicName": format!("v2.detail.events.conversation.c-{id}.{kind}"),
            "version": "2",
            "eventBody": body,
        }
    })
    .to_string()
}

/// An SQS event source mapping's invocation carrying `bodies`, one message each (ids `m0`, `m1`, ...).
pub fn sqs_batch<S: AsRef<str>>(bodies: &[S]) -> String {
    let records: Vec<serde_json::Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| serde_json::json!({"messageId": format!("m{i}"), "receiptHandle": "r", "body": body.as_ref(), "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1", "attributes": {}, "messageAttributes": {}}))
        .collect();
    serde_json::json!({"Records": records}).to_string()
}

/// A memory figure of this process from /proc/self/status, in KiB: `VmRSS` now, `VmHWM` at its peak (nextest runs
/// each test in a process of its own, so the peak is the test's).
pub fn memory_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.strip_prefix(field).is_some_and(|rest| rest.starts_with(':'))).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}
