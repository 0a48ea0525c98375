//! The rule author's toolkit, as a rule author runs it: `weft rules new`, `weft rules test` (which builds), on the
//! examples and on a freshly scaffolded crate.

mod common;

use std::process::Command;
use std::time::Instant;

fn weft(args: &[&str], dir: &std::path::Path) -> (bool, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).current_dir(dir).output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn every_example_passes_its_golden_tests_on_a_fresh_build() {
    for (example, cases) in [("wrapup-names", 4), ("queue-names", 4), ("redact-pii", 3)] {
        let (ok, out) = weft(&["rules", "test", &format!("rules/examples/{example}")], &common::repo());
        assert!(ok, "{example}:\n{out}");
        assert!(out.contains(&format!("{cases} passed, 0 failed")), "{example}:\n{out}");
        assert!(out.contains(&format!("target/rules/weft/weft-example-{example}.wasm")), "{out}");
    }
}

#[test]
fn a_new_rule_builds_and_passes_its_tests_as_generated_and_a_wrong_expectation_fails_with_a_diff() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let (ok, out) = weft(&["rules", "new", "my-rule"], dir.path());
    assert!(ok, "{out}");
    let (ok, out) = weft(&["rules", "test", "my-rule"], dir.path());
    println!("weft rules new → passing weft rules test: {:.1} s", started.elapsed().as_secs_f64());
    assert!(ok, "{out}");
    assert!(out.contains("2 passed, 0 failed"), "{out}");

    let case = dir.path().join("my-rule/tests/golden/customer-start.json");
    let text =
        std::fs::read_to_string(&case).unwrap().replace("\"kind\": \"customer.start\"", "\"kind\": \"customer.end\"");
    std::fs::write(&case, text).unwrap();
    let (ok, out) = weft(&["rules", "test", "my-rule"], dir.path());
    assert!(!ok, "{out}");
    assert!(out.contains("records[0].data.kind: expected \"customer.end\", got \"customer.start\""), "{out}");
    assert!(out.contains("1 passed, 1 failed"), "{out}");

    let (ok, out) = weft(&["rules", "new", "my-rule"], dir.path());
    assert!(!ok && out.contains("my-rule already exists"), "{out}");
}

#[test]
fn the_contact_centre_rule_set_runs_from_the_command_line() {
    let (ok, out) = weft(&["rules", "test", "rules/contact-centre.json"], &common::repo());
    assert!(ok && out.contains("3 passed, 0 failed"), "{out}");
    let (ok, out) = weft(&["run", "--rules", "rules/contact-centre.json", "samples/events"], &common::repo());
    assert!(ok, "{out}");
    assert!(out.contains("29 events in: 27 written as 31 records, 2 dropped, 0 dead-lettered"), "{out}");
}
