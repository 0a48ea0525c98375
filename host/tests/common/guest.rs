//! Rules in the other guest languages (Python, TypeScript, JavaScript): building a project of the repository with
//! the `weft` binary as an author would, and judging events with what it built.

use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::Duration;

use weft::engine::{Engine, RuleModule};
use weft::judge::Judge;
use weft::rules::RuleSet;
use weft::verdict::Verdict;

/// Where the language's toolchain is: the environment variable that `weft rules build` reads, and its value.
pub type Toolchain = (&'static str, OsString);

/// Runs the `weft` binary in `dir` with the toolchain; fails the test unless it succeeds.
pub fn weft(args: &[&str], dir: &Path, toolchain: &Toolchain) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir(dir)
        .env(toolchain.0, &toolchain.1)
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

/// `weft rules new queue-rule --lang LANG`, then `weft rules test`: the project has its files, and the Rust
/// scaffold's own golden cases pass — the rule in LANG writes the same records, byte for byte as JSON.
pub fn scaffold_passes(lang: &str, rule_file: &str, toolchain: &Toolchain) {
    let dir = tempfile::tempdir().unwrap();
    weft(&["rules", "new", "queue-rule", "--lang", lang], dir.path(), toolchain);
    let project = dir.path().join("queue-rule");
    for file in [rule_file, "README.md", ".gitignore", "tests/golden/customer-start.json"] {
        assert!(project.join(file).is_file(), "the scaffold has no {file}");
    }
    let out = weft(&["rules", "test", "queue-rule"], dir.path(), toolchain);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok    a voice call's customer.start becomes one record keyed by conversation"),
        "{stdout}"
    );
    assert!(stdout.contains("2 passed, 0 failed"), "{stdout}");
    assert!(project.join("build/queue-rule.wasm").is_file());
}

/// An engine that waits for the big modules of interpreted languages to compile in a debug build.
pub fn engine() -> &'static Engine {
    static ENGINE: OnceLock<Engine> = OnceLock::new();
    ENGINE.get_or_init(|| Engine::new().unwrap().with_compile_budget(Duration::from_secs(600)))
}

/// A project of the repository (`rules/...`: `rule_file` and maybe `tests/golden/`), built from a copy by `weft
/// rules test` when it has golden cases (which must all pass), else by `weft rules build`: the component.
pub fn build(path: &str, rule_file: &str, toolchain: &Toolchain) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let name = Path::new(path).file_name().unwrap().to_str().unwrap();
    let (source, project) = (super::repo().join(path), dir.path().join(name));
    std::fs::create_dir_all(project.join("tests/golden")).unwrap();
    std::fs::copy(source.join(rule_file), project.join(rule_file)).unwrap();
    let golden: Vec<_> = std::fs::read_dir(source.join("tests/golden")).into_iter().flatten().flatten().collect();
    for case in &golden {
        std::fs::copy(case.path(), project.join("tests/golden").join(case.file_name())).unwrap();
    }
    if golden.is_empty() {
        weft(&["rules", "build", name], dir.path(), toolchain);
    } else {
        let out = weft(&["rules", "test", name], dir.path(), toolchain);
        let passed = format!("{} passed, 0 failed", golden.len());
        assert!(String::from_utf8_lossy(&out.stdout).contains(&passed), "{}", String::from_utf8_lossy(&out.stdout));
    }
    std::fs::read(project.join(format!("build/{name}.wasm"))).unwrap()
}

/// [`build`], compiled here once more.
pub fn module(path: &str, rule_file: &str, toolchain: &Toolchain) -> RuleModule {
    let name = Path::new(path).file_name().unwrap().to_str().unwrap();
    RuleModule::from_file(engine(), &format!("{name}.wasm"), &build(path, rule_file, toolchain)).unwrap()
}

/// Each event's verdict as text: records as their partition key and data exactly as written.
pub fn verdicts(rules: RuleSet, input: &str) -> Vec<String> {
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

/// Each event's outcome in short, as the hostile-module tests compare them: the number of records, the drop, or
/// the dead letter's class and reason (without what a memory limit was asked for, which depends on the heap).
pub fn outcomes(rules: RuleSet, attacks: &[&str]) -> Vec<String> {
    let mut judge = Judge::new(rules).with_batch_size(1);
    let input: String = attacks
        .iter()
        .enumerate()
        .map(|(i, attack)| {
            super::event(&format!("e{i}"), "customer.start", serde_json::json!({"attack": attack})) + "\n"
        })
        .collect();
    judge
        .judge(weft::input::split(input.as_bytes(), "t".into()))
        .iter()
        .map(|j| match &j.verdict {
            Verdict::Records(records) => format!("{} record", records.len()),
            Verdict::Dropped(dropped) => format!("dropped: {}", dropped.reason),
            Verdict::DeadLetter(letter) => {
                let reason = letter.reason.split(" (asked for ").next().unwrap();
                format!("{}: {reason}", letter.error_class)
            }
        })
        .collect()
}

/// The sample events (`samples/events/`), as one input.
pub fn samples() -> String {
    let mut files: Vec<_> = std::fs::read_dir(super::repo().join("samples/events")).unwrap().flatten().collect();
    files.sort_by_key(|e| e.path());
    files.into_iter().map(|e| std::fs::read_to_string(e.path()).unwrap()).collect()
}
