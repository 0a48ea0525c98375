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

/// A Python module of the repository (`rules/...`, a directory with rule.py), built from a copy by `weft rules
/// test` when it has golden cases (which must all pass), else by `weft rules build`; compiled here once more.
fn python_module(path: &str) -> RuleModule {
    let dir = tempfile::tempdir().unwrap();
    let name = Path::new(path).file_name().unwrap().to_str().unwrap();
    let (source, project) = (common::repo().join(path), dir.path().join(name));
    std::fs::create_dir_all(project.join("tests/golden")).unwrap();
    std::fs::copy(source.join("rule.py"), project.join("rule.py")).unwrap();
    let golden: Vec<_> = std::fs::read_dir(source.join("tests/golden")).into_iter().flatten().flatten().collect();
    for case in &golden {
        std::fs::copy(case.path(), project.join("tests/golden").join(case.file_name())).unwrap();
    }
    if golden.is_empty() {
        weft(&["rules", "build", name], dir.path());
    } else {
        let out = weft(&["rules", "test", name], dir.path());
        let passed = format!("{} passed, 0 failed", golden.len());
        assert!(String::from_utf8_lossy(&out.stdout).contains(&passed), "{}", String::from_utf8_lossy(&out.stdout));
    }
    let bytes = std::fs::read(project.join(format!("build/{name}.wasm"))).unwrap();
    let engine = Engine::new().unwrap().with_compile_budget(Duration::from_secs(600));
    RuleModule::from_file(&engine, &format!("{name}.wasm"), &bytes).unwrap()
}

/// Each event's verdict as text: records as their partition key and data exactly as written.
fn verdicts(rules: RuleSet, input: &str) -> Vec<String> {
    let mut judge = Judge::new(rules).with_batch_size(1);
    judge
        .judge(weft::input::split(input.as_bytes(), "t".into()))
        .iter()
        .map(|j| match &j.verdict {
            Verdict::Records(records) => {
                records.iter().map(|r| format!("{} {}", r.partition_key, r.data.get())).collect::<Vec<_>>().join("\n")
            }
            Verdict::Dropped(dropped) => format!("dropped: {}", dropped.reason),
            Verdict::DeadLetter(letter) => format!("{}: {}", letter.error_class, letter.reason),
        })
        .collect()
}

#[test]
fn the_python_redact_pii_writes_its_rust_twins_records_byte_for_byte() {
    let python = python_module("rules/examples/redact-pii-python");
    let rust_bytes = std::fs::read(common::repo().join("rules/dist/redact-pii.wasm")).unwrap();
    let rust = RuleModule::from_file(common::engine(), "redact-pii.wasm", &rust_bytes).unwrap();
    let input: String = std::fs::read_dir(common::repo().join("samples/events"))
        .unwrap()
        .map(|e| std::fs::read_to_string(e.unwrap().path()).unwrap())
        .collect();
    let params: Arc<str> = Arc::from(r#"{"key":"weft-example-key-0001"}"#);
    let from_python = verdicts(RuleSet::single("redact", python, params.clone(), Limits::default()), &input);
    let from_rust = verdicts(RuleSet::single("redact", rust, params, Limits::default()), &input);
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
            Verdict::DeadLetter(letter) => {
                let reason = letter.reason.split(" (asked for ").next().unwrap();
                format!("{}: {reason}", letter.error_class)
            }
        })
        .collect();
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
