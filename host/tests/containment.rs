//! The engine's limits against a module that misbehaves on purpose (`rules/hostile`): each attack costs only the
//! event that asked for it, with a reason naming the module and the limit, and the next event runs.

mod common;

use std::time::{Duration, Instant};

use common::{event, hostile_rules, run_with};
use serde_json::json;
use weft::engine::Limits;
use weft::verdict::Verdict;

fn attack(id: &str, attack: &str) -> String {
    event(id, "acw", json!({"conversationId": id, "attack": attack}))
}

/// Runs `[good, attack, good]` one call per event and in one batch; returns the attack's dead letter.
fn contained(name: &str, limits: Limits) -> weft::verdict::dead_letter::DeadLetter {
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

/// A module's words are bounded where they cross: a 1 MiB code of terminal escapes becomes a short safe class, a
/// 1 MiB reason or message is cut to 4 KiB and says how long it was.
#[test]
fn codes_reasons_and_messages_are_bounded_at_the_boundary() {
    let code = contained("hostile-code", Limits::default());
    assert_eq!(code.error_class.len(), 64, "{:?}", code.error_class);
    assert!(code.error_class.bytes().all(|b| b.is_ascii_alphanumeric() || b"._:-".contains(&b)));
    let message = contained("huge-message", Limits::default());
    assert!(
        message.reason.len() < 4200 && message.reason.ends_with("(1048576 bytes in all)"),
        "{}",
        message.reason.len()
    );
    let input = [attack("before", "none"), attack("bad", "huge-drop"), attack("after", "none")].join("\n");
    let (out, summary) = run_with(hostile_rules(Limits::default()), &input, 64);
    assert_eq!((summary.events_written, summary.dropped), (2, 1));
    let reason = &out.dropped[0].reason;
    assert!(reason.len() < 4200 && reason.ends_with("(1048576 bytes in all)"), "{}", reason.len());
}

/// An answer over the copy allowance (records per event × their bytes, plus a few KiB of text) is stopped before the
/// host copies it, named in the dead letter; a batch of such answers is retried event by event, each answer checked
/// before the next call, and the process stays small.
#[test]
fn an_answer_over_the_copy_allowance_is_refused_before_it_is_copied() {
    let limits = Limits::default();
    let allowance = limits.copy_allowance(1);
    let huge = |id: &str| event(id, "acw", json!({"conversationId": id, "attack": "huge-drop", "size": 7 << 20}));
    let mut input = vec![attack("before", "none")];
    // Five: together over the batch call's ceiling (32 MiB), so the batch is retried event by event.
    input.extend((0..5).map(|i| huge(&format!("huge{i}"))));
    input.push(attack("after", "none"));
    let (out, summary) = run_with(hostile_rules(limits), &input.join("\n"), 64);
    assert_eq!((summary.events_written, summary.dead_lettered), (2, 5), "{:?}", out.dead_letters);
    for letter in &out.dead_letters {
        assert_eq!(letter.error_class, "copy-limit", "{}", letter.reason);
        let expected = format!("hostile.wasm: copy limit of {allowance} bytes exceeded");
        assert!(letter.reason.starts_with(&expected), "{}", letter.reason);
    }
    let peak = common::memory_kib("VmHWM") / 1024;
    println!("peak RSS with five 7 MiB answers in one batch: {peak} MiB (copy allowance {allowance} bytes per event)");
    assert!(peak < 256, "peak RSS {peak} MiB");
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
    let good: Vec<_> =
        (0..50).map(|i| weft::input::envelope::parse(attack(&format!("g{i}"), "none")).unwrap()).collect();
    rules.process_batch(&good);
    for event in &good {
        rules.process(event);
    }
    assert_eq!(rules.modules().next().unwrap().instantiations(), 1, "one instance for 100 good events");
    let bad = weft::input::envelope::parse(attack("bad", "panic")).unwrap();
    for _ in 0..3 {
        rules.process(&bad);
        rules.process(&good[0]);
    }
    assert_eq!(rules.modules().next().unwrap().instantiations(), 4, "one new instance per trap");
}

#[test]
fn a_lookup_flood_hits_its_budget() {
    let dead = contained("lookup-flood", Limits::default());
    assert_eq!(dead.error_class, "lookup-limit");
    assert_eq!(dead.reason, "hostile.wasm: lookup limit of 1000 calls per event exceeded");
}

#[test]
fn a_module_importing_a_capability_weft_does_not_grant_is_refused_at_load_naming_it() {
    // Valid component, asks for the process environment (WASI). weft grants no WASI interface at all.
    let component = wat::parse_str(
        r#"(component
            (import "wasi:cli/environment@0.2.0" (instance
                (export "get-arguments" (func (result (list string))))))
        )"#,
    )
    .unwrap();
    let error =
        weft::engine::RuleModule::from_file(common::engine(), "wasi.wasm", &component).err().unwrap().to_string();
    assert!(error.starts_with("module wasi.wasm: does not fit weft's rule world"), "{error}");
    assert!(error.contains("wasi:cli/environment@0.2.0"), "the import is named: {error}");
    // A core module built for WASI (the preview1 ABI) is refused the same way, naming the import module.
    let core = wat::parse_str(
        r#"(module (import "wasi_snapshot_preview1" "environ_get" (func (param i32 i32) (result i32))) (memory (export "memory") 1))"#,
    )
    .unwrap();
    let error = weft::engine::RuleModule::from_file(common::engine(), "core.wasm", &core).err().unwrap().to_string();
    assert!(error.contains("wasi_snapshot_preview1"), "{error}");
}

#[test]
fn ten_thousand_traps_in_a_row_do_not_grow_memory() {
    let mut rules = hostile_rules(Limits::default());
    let events: Vec<weft::input::Event> =
        (0..10_000).map(|i| weft::input::envelope::parse(attack(&format!("t{i}"), "panic")).unwrap()).collect();
    let warm = rules.process_batch(&events[..1_000]);
    assert!(warm.iter().all(|d| matches!(d, Verdict::DeadLetter(l) if l.error_class == "panic")));
    let before = common::memory_kib("VmRSS");
    for chunk in events[1_000..].chunks(64) {
        let verdicts = rules.process_batch(chunk);
        assert!(verdicts.iter().all(|d| matches!(d, Verdict::DeadLetter(l) if l.error_class == "panic")));
    }
    let after = common::memory_kib("VmRSS");
    let instances = rules.modules().next().unwrap().instantiations();
    println!(
        "RSS over 9,000 trapping events after 1,000 to warm up: {before} KiB → {after} KiB; {instances} instances"
    );
    assert!(instances >= 10_000, "every trap discarded its instance ({instances})");
    assert!(after.saturating_sub(before) < 16 * 1024, "RSS grew from {before} KiB to {after} KiB");
}

#[test]
fn a_hung_module_costs_its_event_about_its_deadline() {
    let mut rules = hostile_rules(Limits::default());
    let hung = weft::input::envelope::parse(attack("hung", "loop")).unwrap();
    let started = Instant::now();
    let verdict = rules.process(&hung);
    let took = started.elapsed();
    println!("hung module → dead letter: {took:?} (deadline 100 ms)");
    assert!(matches!(verdict, Verdict::DeadLetter(l) if l.error_class == "deadline-exceeded"));
    assert!(took >= Duration::from_millis(100) && took < Duration::from_secs(2), "{took:?}");
}

#[test]
fn a_module_failing_event_after_event_is_quarantined_then_tried_again() {
    let mut rules = common::quarantining_hostile_rules(3, 1);
    let classes = |rules: &mut weft::rules::RuleSet, kind: &str, n: usize| -> Vec<String> {
        (0..n)
            .map(|i| match rules.process(&weft::input::envelope::parse(attack(&format!("{kind}{i}"), kind)).unwrap()) {
                Verdict::DeadLetter(letter) => letter.error_class,
                Verdict::Records(_) => "records".into(),
                Verdict::Dropped(dropped) => dropped.reason,
            })
            .collect()
    };
    assert_eq!(classes(&mut rules, "panic", 5), ["panic", "panic", "panic", "quarantined", "quarantined"]);
    let calls = rules.modules().next().unwrap().instantiations();
    assert_eq!(calls, 3, "a quarantined module is not called");
    assert_eq!(rules.rules()[0].health(), (3, true));
    assert_eq!(classes(&mut rules, "none", 1), ["quarantined"], "a good event during the cool-down is not tried");
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(classes(&mut rules, "none", 2), ["records", "records"], "after the cool-down the module runs again");
    assert_eq!(rules.rules()[0].health(), (0, false));
}

#[test]
fn the_invocations_time_bounds_the_rules_and_is_not_held_against_the_rule() {
    use weft::judge::Judge;
    use weft::verdict::Verdict;
    use weft::verdict::dead_letter::Stage;
    // A module allowed 30 s per event, in an invocation with 300 ms left for rules: the call is cut at the
    // invocation's budget, and the events it leaves no time for are dead-lettered `deadline` (to be redriven),
    // whatever the rule's on-error policy, and not counted against the rule.
    let limits = Limits { time_per_event: Duration::from_secs(30), ..Limits::default() };
    let mut judge = Judge::new(hostile_rules(limits)).with_batch_size(64);
    let input = [attack("slow", "loop"), attack("next", "none"), attack("last", "none")].join("\n");
    let cutoff = Instant::now() + Duration::from_millis(300);
    let judged = judge.judge_until(weft::input::split(input.as_bytes(), "t".into()), Some(cutoff));
    let outcomes: Vec<(Stage, &str)> = judged
        .iter()
        .map(|j| match &j.verdict {
            Verdict::DeadLetter(d) => (d.stage, d.error_class.as_str()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(outcomes, [(Stage::Rule, "deadline"); 3]);
    assert_eq!(judge.rules().rules()[0].health(), (0, false), "not the rule's failure");
    // With time, the same judge (and module) runs the good events.
    let good = [attack("next", "none"), attack("last", "none")].join("\n");
    let judged = judge.judge(weft::input::split(good.as_bytes(), "t".into()));
    assert!(judged.iter().all(|j| matches!(&j.verdict, Verdict::Records(r) if r.len() == 1)));
}
