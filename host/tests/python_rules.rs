//! Rules written in Python: the scaffold builds and passes its golden tests, and a hostile Python module is
//! contained as a Rust one is. Needs componentize-py: `WEFT_COMPONENTIZE_PY`, or the one `scripts/setup.sh` puts
//! in `.venv/` (the tests fail, never skip, without it).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::time::Duration;

use weft::engine::{Engine, Limits, RuleModule};
use weft::judge::Judge;
use weft::rules::RuleSet;
use weft::verdict::Verdict;

fn componentize_py() -> PathBuf {
    let path = std::env::var_os("WEFT_COMPONENTIZE_PY")
        .map_or_else(|| common::repo().join(".venv/bin/componentize-py"), PathBuf::from);
    assert!(path.is_file(), "componentize-py is not at {} (run scripts/setup.sh)", path.display());
    path
}

fn weft(args: &[&str], dir: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir(dir)
        .env("WEFT_COMPONENTIZE_PY", componentize_py())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "weft {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn the_setup_installs_the_componentize_py_weft_builds_with() {
    let setup = std::fs::read_to_string(common::repo().join("scripts/setup.sh")).unwrap();
    let pinned = include_str!("../src/cli/python.rs")
        .lines()
        .find_map(|l| l.strip_prefix("pub const COMPONENTIZE_PY: &str = \""))
        .and_then(|rest| rest.strip_suffix("\";"))
        .expect("python.rs pins componentize-py");
    assert!(setup.contains(&format!("\"{pinned}\"")), "scripts/setup.sh does not install {pinned}");
}

#[test]
fn the_python_types_are_generated_from_the_genesys_field_tables() {
    let repo = common::repo();
    let tables = repo.join("../shared/reference/genesys-detail-events.json");
    let out =
        Command::new("python3").arg(repo.join("guest-sdk/tools/gen_python_events.py")).arg(&tables).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let checked_in = std::fs::read_to_string(repo.join("guest-sdk/python/weft/events.py")).unwrap();
    assert!(
        String::from_utf8(out.stdout).unwrap() == checked_in,
        "guest-sdk/python/weft/events.py is not what gen_python_events.py makes of {}: regenerate it",
        tables.display()
    );
    // All 16 topics, each with its body type.
    assert_eq!(checked_in.matches("(TypedDict, total=False):\n    \"\"\"Body of `").count(), 16);
}

#[test]
fn a_python_rule_from_the_scaffold_passes_its_golden_tests() {
    let dir = tempfile::tempdir().unwrap();
    weft(&["rules", "new", "queue-rule", "--lang", "python"], dir.path());
    let project = dir.path().join("queue-rule");
    for file in ["rule.py", "README.md", ".gitignore", "tests/golden/customer-start.json"] {
        assert!(project.join(file).is_file(), "the scaffold has no {file}");
    }
    let out = weft(&["rules", "test", "queue-rule"], dir.path());
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The Rust scaffold's own golden cases: the Python rule writes the same records, byte for byte as JSON.
    assert!(
        stdout.contains("ok    a voice call's customer.start becomes one record keyed by conversation"),
        "{stdout}"
    );
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(project.join("build/queue-rule.wasm").is_file());
}

/// The hostile Python module (rules/hostile-python), built by `weft rules build` from a copy of it, compiled once.
fn hostile_python() -> RuleModule {
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("hostile-python");
    std::fs::create_dir(&project).unwrap();
    std::fs::copy(common::repo().join("rules/hostile-python/rule.py"), project.join("rule.py")).unwrap();
    weft(&["rules", "build", "hostile-python"], dir.path());
    let bytes = std::fs::read(project.join("build/hostile-python.wasm")).unwrap();
    let engine = Engine::new().unwrap().with_compile_budget(Duration::from_secs(600));
    RuleModule::from_file(&engine, "hostile-python.wasm", &bytes).unwrap()
}

#[test]
fn a_python_module_is_contained_like_a_rust_one() {
    let module = hostile_python();
    let rules = RuleSet::single("hostile", module, Arc::from("null"), Limits::default());
    let mut judge = Judge::new(rules).with_batch_size(1);
    let attacks = [
        "raise",
        "none",
        "error",
        "loop",
        "none",
        "memory",
        "none",
        "huge-record",
        "clock",
        "wrong-answer",
        "print",
        "none",
    ];
    let input: String = attacks
        .iter()
        .enumerate()
        .map(|(i, attack)| {
            common::event(&format!("e{i}"), "customer.start", serde_json::json!({"attack": attack})) + "\n"
        })
        .collect();
    let judged = judge.judge(weft::input::split(input.as_bytes(), "t".into()));
    let outcomes: Vec<String> = judged
        .iter()
        .map(|j| match &j.verdict {
            Verdict::Records(records) => format!("{} record", records.len()),
            Verdict::Dropped(dropped) => format!("dropped: {}", dropped.reason),
            Verdict::DeadLetter(letter) => format!("{}: {}", letter.error_class, letter.reason),
        })
        .collect();
    let expected = [
        "exception: hostile-python.wasm: ValueError: raised on purpose",
        "1 record",
        "on-purpose: hostile-python.wasm: the event asked for an error",
        "deadline-exceeded: hostile-python.wasm: deadline of 100ms exceeded",
        "1 record",
        "memory-limit: hostile-python.wasm: memory limit of 67108864 bytes exceeded (asked for 67633152)",
        "1 record",
        "record-too-large: hostile-python.wasm: record 0: 2097158 bytes is over the limit of 1048576 bytes per record",
        "no-clock: hostile-python.wasm: weft rules have no clock (no WASI is granted): use eventBody.eventTime",
        "exception: hostile-python.wasm: TypeError: a rule returns a Record, a list of Records or drop(reason), not dict",
        "1 record",
        "1 record",
    ];
    assert_eq!(outcomes, expected);
}
