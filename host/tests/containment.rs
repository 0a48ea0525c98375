//! The engine's limits against a module that misbehaves on purpose (`rules/hostile`): each attack costs only the
//! event that asked for it, with a reason naming the module and the limit, and the next event runs.

mod common;

use std::time::{Duration, Instant};

use common::{event, hostile_rules, run_with};
use serde_json::json;
use weft::engine::Limits;

fn attack(id: &str, attack: &str) -> String {
    event(id, "acw", json!({"conversationId": id, "attack": attack}))
}

/// Runs `[good, attack, good]` one call per event and in one batch; returns the attack's dead letter.
fn contained(name: &str, limits: Limits) -> weft::dead_letter::DeadLetter {
    let input = [attack("before", "none"), attack("bad", name), attack("after", "none")].join("\n");
    let mut dead = None;
    for batch in [1, 64] {
        let (out, summary) = run_with(hostile_rules(limits.clone()), &input, batch);
        assert_eq!(
            summary.events_written, 2,
            "{name} (batch {batch}): the good events are written: {:?}",
            out.dead_letters
        );
        let keys: Vec<&str> = out.records.iter().map(|r| r.partition_key.as_str()).collect();
        assert_eq!(keys, ["c-before", "c-after"], "{name} (batch {batch})");
        assert_eq!(out.dead_letters.len(), 1, "{name} (batch {batch})");
        let letter = out.dead_letters[0].clone();
        assert_eq!(letter.event_id.as_deref(), Some("bad"));
        assert_eq!(letter.module.as_ref().unwrap().name, "hostile.wasm");
        assert!(letter.reason.starts_with("hostile.wasm: "), "{}", letter.reason);
        dead = Some(letter);
    }
    dead.unwrap()
}

#[test]
fn an_infinite_loop_hits_the_deadline() {
    let limits = Limits { time_per_event: Duration::from_millis(20), ..Limits::default() };
    let started = Instant::now();
    let dead = contained("loop", limits);
    assert_eq!(dead.error_class, "deadline-exceeded");
    assert_eq!(dead.reason, "hostile.wasm: deadline of 20ms exceeded");
    // Two runs, the batch run spending up to 3 × 20 ms before falling back: far below a second either way.
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[test]
fn unbounded_memory_hits_the_cap() {
    let limits = Limits { memory_bytes: 16 << 20, ..Limits::default() };
    let dead = contained("memory", limits);
    assert_eq!(dead.error_class, "memory-limit");
    assert!(dead.reason.contains("memory limit of 16777216 bytes exceeded"), "{}", dead.reason);
}

#[test]
fn a_panic_keeps_its_message() {
    let dead = contained("panic", Limits::default());
    assert_eq!(dead.error_class, "panic");
    assert!(dead.reason.contains("hostile module panicked on purpose"), "{}", dead.reason);
}

#[test]
fn deep_recursion_is_a_trap() {
    // A Rust guest keeps its frames on a stack in linear memory (1 MiB): recursion runs off its bottom before
    // it exhausts the wasm stack.
    let dead = contained("recurse", Limits::default());
    assert_eq!(dead.error_class, "trap");
    assert_eq!(
        dead.reason,
        "hostile.wasm: module trapped: out of bounds memory access (in a Rust module, usually its stack running out: deep recursion)"
    );
}

#[test]
fn output_weft_cannot_write_is_refused() {
    let huge = contained("huge-record", Limits::default());
    assert_eq!(huge.error_class, "record-too-large");
    assert!(huge.reason.contains("over the limit of 1048576 bytes per record"), "{}", huge.reason);
    let many = contained("many-records", Limits::default());
    assert_eq!(many.error_class, "too-many-records");
    assert_eq!(many.reason, "hostile.wasm: 10000 records for one event is over the limit of 100");
    let not_json = contained("not-json", Limits::default());
    assert_eq!(not_json.error_class, "invalid-output");
    assert!(not_json.reason.contains("record 0: data is not JSON"), "{}", not_json.reason);
    let empty_key = contained("empty-key", Limits::default());
    assert!(empty_key.reason.contains("partition key is empty"), "{}", empty_key.reason);
}

#[test]
fn a_rule_error_is_dead_lettered_with_its_code() {
    let dead = contained("error", Limits::default());
    assert_eq!(dead.error_class, "on-purpose");
    assert_eq!(dead.reason, "hostile.wasm: the event asked for an error");
}

#[test]
fn a_log_flood_is_cut_and_the_event_still_written() {
    // A generous deadline: this is about the log cap, not about time (100,000 host calls in a debug build on a
    // loaded machine can take longer than the default 100 ms).
    let limits = Limits { time_per_event: Duration::from_secs(30), ..Limits::default() };
    let (out, _) = run_with(hostile_rules(limits), &attack("flood", "log-flood"), 1);
    assert_eq!(out.records.len(), 1, "{:?}", out.dead_letters);
}

#[test]
fn the_instance_is_reused_and_rebuilt_only_after_a_trap() {
    let mut rules = hostile_rules(Limits::default());
    let good: Vec<_> = (0..50).map(|i| weft::envelope::parse(&attack(&format!("g{i}"), "none")).unwrap()).collect();
    rules.process_batch(&good);
    for event in &good {
        rules.process(event);
    }
    assert_eq!(rules.modules().next().unwrap().instantiations(), 1, "one instance for 100 good events");
    let bad = weft::envelope::parse(&attack("bad", "panic")).unwrap();
    for _ in 0..3 {
        rules.process(&bad);
        rules.process(&good[0]);
    }
    assert_eq!(rules.modules().next().unwrap().instantiations(), 4, "one new instance per trap");
}
