//! Attacks a module can make only below the SDK (`rules/hostile-abi`, written with wit-bindgen alone and, where
//! even that refuses, the raw canonical ABI): aliased answers, answers of the wrong length, import arguments no
//! binding would produce, hostile start functions. Each costs its event a dead letter naming what was wrong (or
//! refuses the rule set at load), the host stays small, and the next event is processed.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{engine, event, hostile_abi_wasm, run_with};
use serde_json::json;
use weft::engine::{Engine, Limits, ModuleId, RuleModule};
use weft::rules::RuleSet;
use weft::verdict::dead_letter::DeadLetter;

const MODULE: &str = "hostile-abi.wasm";

fn attack(id: &str, attack: &str) -> String {
    event(id, "acw", json!({"conversationId": id, "attack": attack}))
}

fn module_on(engine: &Engine) -> RuleModule {
    RuleModule::compile(engine, ModuleId::new(MODULE, hostile_abi_wasm()), hostile_abi_wasm()).unwrap()
}

fn rules(limits: Limits) -> RuleSet {
    RuleSet::single("hostile-abi", module_on(engine()), Arc::from("null"), limits)
}

/// Runs `[good, attack, good]` one call per event and in one batch; returns the attack's dead letter.
fn contained(name: &str, limits: Limits) -> DeadLetter {
    let input = [attack("before", "none"), attack("bad", name), attack("after", "none")].join("\n");
    let mut dead = None;
    for batch in [1, 64] {
        let (out, summary) = run_with(rules(limits.clone()), &input, batch);
        let ids: Vec<_> = out.records.iter().map(|r| r.partition_key.as_str()).collect();
        assert_eq!(ids, ["before", "after"], "{name} (batch {batch}): {:?}", out.dead_letters);
        assert_eq!((summary.events_written, summary.dead_lettered), (2, 1), "{name} (batch {batch})");
        let letter = out.dead_letters[0].clone();
        assert_eq!(letter.event_id.as_deref(), Some("bad"));
        assert!(letter.reason.starts_with(&format!("{MODULE}: ")), "{}", letter.reason);
        assert!(letter.reason.len() < 4300, "{name}: a {} byte reason", letter.reason.len());
        dead = Some(letter);
    }
    println!("{name}: contained; peak RSS of the test process so far {} MiB", peak_mib());
    dead.unwrap()
}

fn peak_mib() -> u64 {
    common::memory_kib("VmHWM") / 1024
}

/// 200,000 records whose data alias one 1 MiB buffer: 200 GB once lifted. Stopped by weft's copy allowance, named.
#[test]
fn an_aliased_list_is_stopped_by_the_copy_allowance() {
    let limits = Limits::default();
    let dead = contained("aliased-list", limits.clone());
    assert_eq!(dead.error_class, "copy-limit", "{}", dead.reason);
    let allowance = limits.copy_allowance(1);
    assert!(dead.reason.starts_with(&format!("{MODULE}: copy limit of {allowance} bytes exceeded")), "{}", dead.reason);
    println!("peak RSS after an aliased 200 GB answer: {} MiB", peak_mib());
    assert!(peak_mib() < 256, "peak RSS {} MiB", peak_mib());
}

/// A batch answer with one outcome too many, or none: it says nothing of any one event, so each event is asked
/// alone (`process`), and answered as it should be; a single-event batch is asked again the same way.
#[test]
fn a_batch_answer_of_the_wrong_length_is_asked_again_event_by_event() {
    for wrong in ["extra-outcome", "no-outcomes"] {
        let input = [attack("before", "none"), attack("wrong", wrong), attack("after", "none")].join("\n");
        for batch in [1, 64] {
            let mut rules = rules(Limits::default());
            let events: Vec<_> = input.lines().map(|line| weft::input::envelope::parse(line).unwrap()).collect();
            let mut verdicts = Vec::new();
            for chunk in events.chunks(batch) {
                verdicts.extend(rules.process_batch(chunk));
            }
            let written: Vec<_> = verdicts
                .iter()
                .map(|verdict| match verdict {
                    weft::verdict::Verdict::Records(records) => records[0].partition_key.clone(),
                    other => panic!("{wrong} (batch {batch}): {other:?}"),
                })
                .collect();
            assert_eq!(written, ["before", "wrong", "after"], "{wrong} (batch {batch})");
            // One wrong batch call (of three events, or of the attacking event alone), then one call per event of
            // it; the other two events' calls (batch 1) answered rightly.
            let calls = rules.take_stats().rules[0].modules[0].1.calls;
            assert_eq!(calls, 4, "{wrong} (batch {batch})");
        }
    }
}

/// Import arguments no binding would produce: each traps its event with wasmtime's reason, never the host.
#[test]
fn malformed_import_arguments_cost_only_their_event() {
    for (name, says) in [
        ("log-invalid-utf8", "invalid utf-8"),
        ("log-bad-level", "discriminant"),
        ("lookup-out-of-bounds", "out of bounds"),
    ] {
        let dead = contained(name, Limits::default());
        assert_eq!(dead.error_class, "trap", "{name}: {}", dead.reason);
        assert!(dead.reason.to_lowercase().contains(says), "{name}: {}", dead.reason);
    }
}

/// An import argument (a log line, a lookup key) past the call's copy allowance is refused before it is copied:
/// 40 MiB is past one event's allowance and past a batch's ceiling (32 MiB).
#[test]
fn import_arguments_past_the_copy_allowance_are_refused() {
    let limits = unhurried();
    for name in ["log-huge", "lookup-huge"] {
        let dead = contained(name, limits.clone());
        assert_eq!(dead.error_class, "copy-limit", "{name}: {}", dead.reason);
    }
    assert!(peak_mib() < 256, "peak RSS {} MiB", peak_mib());
}

/// Answers past every bound and full of terminal escapes: a 1 MiB stream name, a 1 MiB partition key, a 32 MiB
/// drop reason, a 12 MiB error code and message. Dead letters name the limit; no reason carries more than a few KiB, nor a raw escape.
#[test]
fn hostile_answers_are_bounded_and_escaped() {
    let limits = unhurried();
    let stream = contained("hostile-stream", limits.clone());
    assert_eq!(stream.error_class, "invalid-output", "{}", stream.reason);
    assert!(stream.reason.contains("is not a valid Kinesis stream name"), "{}", stream.reason);
    assert!(!stream.reason.contains('\u{1b}') && !stream.reason.contains('\u{7}'), "{}", stream.reason);
    let key = contained("hostile-key", limits.clone());
    assert_eq!(key.error_class, "invalid-output", "{}", key.reason);
    assert!(key.reason.contains("partition key is 1048576 characters long"), "{}", key.reason);
    for name in ["huge-drop", "huge-error"] {
        let dead = contained(name, limits.clone());
        assert_eq!(dead.error_class, "copy-limit", "{name}: {}", dead.reason);
    }
    assert!(peak_mib() < 256, "peak RSS {} MiB", peak_mib());
}

/// The default limits but time: writing tens of MiB in wasm takes tens of milliseconds, more on a loaded machine,
/// and the tests that do it are about size, not time.
fn unhurried() -> Limits {
    Limits { time_per_event: std::time::Duration::from_secs(30), ..Limits::default() }
}

fn manifest_with(init: &str, limits: &Limits, engine: &Engine) -> Result<RuleSet, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(MODULE), hostile_abi_wasm()).unwrap();
    let sha = ModuleId::new("", hostile_abi_wasm()).sha256;
    let manifest = json!({"rules": [{"name": "starts", "modules": [{"module": MODULE, "sha256": sha,
        "params": {"init": init}}]}]});
    std::fs::write(dir.path().join("m.json"), manifest.to_string()).unwrap();
    weft::rules::manifest::Manifest::load_file(&dir.path().join("m.json"), engine, limits).map_err(|e| e.to_string())
}

/// A start function that never returns, allocates without bound or traps is run under the same limits as a call,
/// when the rule set loads: the rule set is refused (a hot swap keeps the version it runs), naming the limit.
#[test]
fn a_hostile_start_function_refuses_its_rule_set_at_load() {
    let limits = Limits { time_per_event: Duration::from_millis(50), memory_bytes: 16 << 20, ..Limits::default() };
    let refused = |init: &str| manifest_with(init, &limits, engine()).err().unwrap_or_else(|| panic!("{init} loaded"));
    let hang = refused("loop");
    assert!(hang.contains("rules[0] (\"starts\").modules[0]"), "{hang}");
    assert!(hang.contains("could not be started: deadline of 50ms exceeded"), "{hang}");
    // Growing to the limit is about memory, not time: under the deadline a loaded machine could miss it.
    let roomy = Limits { time_per_event: Duration::from_secs(30), ..limits.clone() };
    let hoard = manifest_with("memory", &roomy, engine()).err().expect("memory loaded");
    assert!(hoard.contains("could not be started: memory limit of 16777216 bytes exceeded"), "{hoard}");
    let trap = refused("trap");
    assert!(trap.contains("could not be started: module could not be instantiated"), "{trap}");
    assert!(manifest_with("none", &limits, engine()).is_ok(), "the same module starting normally loads");
}

/// Run as a single module (no manifest to refuse), the same start functions dead-letter the events, each naming
/// the limit, and never hang the caller.
#[test]
fn a_hostile_start_function_costs_the_events_of_a_single_module() {
    let limits = Limits { time_per_event: Duration::from_millis(50), memory_bytes: 16 << 20, ..Limits::default() };
    // The memory case under a generous deadline: it is about memory, and a loaded machine could miss 50 ms.
    let roomy = Limits { time_per_event: Duration::from_secs(30), ..limits.clone() };
    for (init, class, says, limits) in [
        ("loop", "deadline-exceeded", "deadline of 50ms exceeded", &limits),
        ("memory", "memory-limit", "memory limit of 16777216 bytes exceeded", &roomy),
    ] {
        let params = Arc::from(json!({"init": init}).to_string());
        let rules = RuleSet::single("starts", module_on(engine()), params, limits.clone());
        let (out, summary) = run_with(rules, &[attack("a", "none"), attack("b", "none")].join("\n"), 1);
        assert_eq!(summary.dead_lettered, 2, "{init}");
        for letter in &out.dead_letters {
            assert_eq!(letter.error_class, class, "{init}: {}", letter.reason);
            assert!(letter.reason.contains(says), "{init}: {}", letter.reason);
        }
    }
}

/// Memory across all instances is bounded by the engine's budget, not only per instance: with a 40 MiB budget,
/// modules that each stay under their own 32 MiB limit cannot together pass it; the instance that would is refused,
/// naming the budget, and gives back what it held.
#[test]
fn memory_across_instances_is_bounded_by_the_budget() {
    let engine = Engine::new().unwrap().with_memory_budget(40 << 20);
    let limits = Limits { memory_bytes: 32 << 20, ..Limits::default() };
    let grow = |id: &str, size: u64| event(id, "acw", json!({"conversationId": id, "attack": "grow", "size": size}));
    let mut first = RuleSet::single("first", module_on(&engine), Arc::from("null"), limits.clone());
    let mut second = RuleSet::single("second", module_on(&engine), Arc::from("null"), limits.clone());
    let parse = |text: &str| weft::input::envelope::parse(text).unwrap();
    // 24 MiB held by the first instance: within its limit and the budget.
    assert!(matches!(first.process(&parse(&grow("a", 24 << 20))), weft::verdict::Verdict::Records(_)));
    let held = engine.memory_budget().held();
    assert!(held >= 24 << 20, "{held}");
    // 24 MiB more in the second: within its own limit, past the budget.
    match second.process(&parse(&grow("b", 24 << 20))) {
        weft::verdict::Verdict::DeadLetter(letter) => {
            assert_eq!(letter.error_class, "memory-limit", "{}", letter.reason);
            assert!(
                letter.reason.contains("memory of all rule instances together would pass 41943040 bytes"),
                "{}",
                letter.reason
            );
        }
        other => panic!("{other:?}"),
    }
    // The refused instance was thrown away with what it held; when the first goes, the second fits.
    drop(first);
    assert!(engine.memory_budget().held() < 4 << 20, "{}", engine.memory_budget().held());
    assert!(matches!(second.process(&parse(&grow("c", 24 << 20))), weft::verdict::Verdict::Records(_)));
}

/// Cranelift cannot be stopped, so a compile runs against a budget on its own thread: a module that takes longer
/// is refused, naming the budget, and the load goes on (here a budget no compile can meet stands in for a module
/// built to compile slowly).
#[test]
fn a_compile_over_its_budget_is_refused() {
    let wasm = hostile_abi_wasm();
    let hurried = Engine::new().unwrap().with_compile_budget(Duration::from_micros(1));
    let refused = RuleModule::compile(&hurried, ModuleId::new(MODULE, wasm), wasm).err().expect("refused");
    assert_eq!(refused.to_string(), format!("module {MODULE}: compiling it took longer than the budget of 1µs"));
    let started = std::time::Instant::now();
    module_on(engine());
    println!(
        "compiling {} KB took {:?} (budget {:?})",
        wasm.len() / 1024,
        started.elapsed(),
        engine().compile_budget()
    );
}
