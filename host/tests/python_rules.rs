//! Rules written in Python: the scaffold builds and passes its golden tests, and a hostile Python module is
//! contained as a Rust one is. Needs componentize-py: `WEFT_COMPONENTIZE_PY`, or the one `scripts/setup.sh` puts
//! in `.venv/` (the tests fail, never skip, without it).

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use common::guest::{self, Toolchain};
use weft::engine::{Limits, RuleModule};
use weft::rules::RuleSet;

fn componentize_py() -> Toolchain {
    let path = std::env::var_os("WEFT_COMPONENTIZE_PY")
        .unwrap_or_else(|| common::repo().join(".venv/bin/componentize-py").into_os_string());
    assert!(
        Path::new(&path).is_file(),
        "componentize-py is not at {} (run scripts/setup.sh)",
        Path::new(&path).display()
    );
    ("WEFT_COMPONENTIZE_PY", path)
}

fn python_module(path: &str) -> RuleModule {
    guest::module(path, "rule.py", &componentize_py())
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
    guest::scaffold_passes("python", "rule.py", &componentize_py());
}

#[test]
fn the_python_redact_pii_writes_its_rust_twins_records_byte_for_byte() {
    let python = python_module("rules/examples/redact-pii-python");
    let rust_bytes = std::fs::read(common::repo().join("rules/dist/redact-pii.wasm")).unwrap();
    let rust = RuleModule::from_file(common::engine(), "redact-pii.wasm", &rust_bytes).unwrap();
    let input = guest::samples();
    let params: Arc<str> = Arc::from(r#"{"key":"weft-example-key-0001"}"#);
    let from_python = guest::verdicts(RuleSet::single("redact", python, params.clone(), Limits::default()), &input);
    let from_rust = guest::verdicts(RuleSet::single("redact", rust, params, Limits::default()), &input);
    assert_eq!(from_python.len(), 29);
    // The same module name in both, so that dead letters would compare too.
    let from_python: Vec<String> =
        from_python.iter().map(|v| v.replace("redact-pii-python.wasm", "redact-pii.wasm")).collect();
    assert_eq!(from_python, from_rust);
    let hashed = from_rust.iter().filter(|v| v.contains("\"ani\":\"hmac-sha256:")).count();
    assert!(hashed >= 4, "the samples' inbound callers are hashed: {hashed}");
}

#[test]
fn a_python_module_is_contained_like_a_rust_one() {
    let module = python_module("rules/hostile-python");
    let rules = RuleSet::single("hostile", module, Arc::from("null"), Limits::default());
    let outcomes = guest::outcomes(
        rules,
        &[
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
        ],
    );
    let expected = [
        "exception: hostile-python.wasm: ValueError: raised on purpose",
        "1 record",
        "on-purpose: hostile-python.wasm: the event asked for an error",
        "deadline-exceeded: hostile-python.wasm: deadline of 100ms exceeded",
        "1 record",
        // What the interpreter asked for last depends on its heap: only the limit is compared.
        "memory-limit: hostile-python.wasm: memory limit of 67108864 bytes exceeded",
        "1 record",
        "record-too-large: hostile-python.wasm: record 0: 2097158 bytes is over the limit of 1048576 bytes per record",
        "no-clock: hostile-python.wasm: weft rules have no clock (no WASI is granted): use eventBody.eventTime",
        "exception: hostile-python.wasm: TypeError: a rule returns a Record, a list of Records or drop(reason), not dict",
        "1 record",
        "1 record",
    ];
    assert_eq!(outcomes, expected);
}
