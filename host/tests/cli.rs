//! `weft run` as a user runs it: the binary, real files, standard input, exit codes.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

fn weft(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(args)
        .current_dir(common::repo())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn lines(path: &std::path::Path) -> Vec<Value> {
    std::fs::read_to_string(path).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_quick_start_prints_the_golden_records() {
    let out = weft(&["run", "samples/events"], b"");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let golden = std::fs::read_to_string(common::repo().join("samples/expected/records.jsonl")).unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), golden, "byte-for-byte against samples/expected/records.jsonl");
    assert!(stderr.contains("29 events in: 27 written as 27 records, 2 dropped, 0 dead-lettered"), "{stderr}");
    assert!(stderr.contains("dropped 2: not a conversation detail event"), "{stderr}");
}

#[test]
fn malformed_input_is_dead_lettered_with_where_and_what_and_the_rest_runs() {
    let dir = tempfile::tempdir().unwrap();
    let good = |id: &str| common::event(id, "customer.start", json!({"conversationId": id}));
    let input = format!(
        "{}\nthis is not json\n{{\"id\": \"x\", \"detail-type\": tru}}\n{{\"id\":\"e3\",\"detail\":{{}}}}\n{}{}\n{{\"unterminated\": \n{}\n",
        good("a1"),
        good("a2"),
        good("a3"),
        good("a4")
    );
    let file = dir.path().join("events.jsonl");
    std::fs::write(&file, &input).unwrap();
    let (dead, dropped) = (dir.path().join("dead.jsonl"), dir.path().join("dropped.jsonl"));
    let out = weft(
        &[
            "run",
            file.to_str().unwrap(),
            "--dead-letters",
            dead.to_str().unwrap(),
            "--dropped",
            dropped.to_str().unwrap(),
        ],
        b"",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "dead letters → exit 1: {stderr}");
    let keys: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["partitionKey"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys, ["a1", "a2", "a3", "a4"]);
    let letters = lines(&dead);
    let summary: Vec<(String, String, u64)> = letters
        .iter()
        .map(|l| {
            (
                l["stage"].as_str().unwrap().to_owned(),
                l["errorClass"].as_str().unwrap().to_owned(),
                l["source"]["line"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("parse".into(), "invalid-json".into(), 2),
            ("parse".into(), "invalid-json".into(), 3),
            ("parse".into(), "not-an-envelope".into(), 4),
            ("parse".into(), "invalid-json".into(), 6)
        ]
    );
    let file_name = file.display().to_string();
    assert_eq!(
        letters[0]["reason"],
        format!(
            "{file_name}:2 (byte {}): expected a JSON object (an EventBridge envelope), found `this is not json`",
            input.find("this").unwrap()
        )
    );
    assert!(
        letters[1]["reason"].as_str().unwrap().contains("expected ident at line 1 column"),
        "{}",
        letters[1]["reason"]
    );
    assert!(
        letters[2]["reason"].as_str().unwrap().ends_with("envelope: missing field `detail-type` at line 1 column 23"),
        "{}",
        letters[2]["reason"]
    );
    assert!(letters[3]["reason"].as_str().unwrap().contains("unterminated object"), "{}", letters[3]["reason"]);
    // The original event rides along verbatim: as JSON where it was JSON, as text where not.
    assert_eq!(letters[2]["event"], json!({"id": "e3", "detail": {}}));
    assert_eq!(letters[0]["event"], "this is not json");
    assert_eq!(letters[0]["schemaVersion"], 1);
    assert!(lines(&dropped).is_empty());
    let total: u64 = 4 + letters.len() as u64;
    assert!(
        stderr.contains(&format!(
            "{total} events in: 4 written as 4 records, 0 dropped, {} dead-lettered",
            letters.len()
        )),
        "{stderr}"
    );
}

#[test]
fn stdin_takes_objects_back_to_back_like_firehose_files() {
    let body = |id: &str| common::event(id, "acd.start", json!({"conversationId": id, "queueId": "q"}));
    let input = format!(
        "{}{}{}",
        body("f1"),
        body("f2"),
        std::fs::read_to_string(common::data("blueprint/input/aws-event-bridge-non-conversation-event.json")).unwrap()
    );
    let dir = tempfile::tempdir().unwrap();
    let dropped = dir.path().join("dropped.jsonl");
    let out = weft(&["run", "-", "--dropped", dropped.to_str().unwrap()], input.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 2);
    let drops = lines(&dropped);
    assert_eq!(drops.len(), 1);
    assert_eq!(drops[0]["reason"], "not a conversation detail event");
    assert_eq!(drops[0]["stage"], "rule");
    assert_eq!(drops[0]["event"]["detail-type"], "v2.something.but.conversation.{id}.customer.start");
}

#[test]
fn usage_and_io_errors_exit_2() {
    let missing = weft(&["run", "no/such/file.json"], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no/such/file.json: no such file or directory"));
    assert_eq!(weft(&["run"], b"").status.code(), Some(2));
    assert_eq!(weft(&["frobnicate"], b"").status.code(), Some(2));
}

#[test]
fn a_module_file_runs_in_place_of_the_default_rule() {
    // The hostile test module, as `cargo build --target wasm32-unknown-unknown` leaves it (a core module).
    let repo = common::repo();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let core = weft::engine::componentize::cargo_build_wasm(
        std::path::Path::new(&cargo),
        &repo,
        "weft-rule-hostile",
        &repo.join("target/rules"),
    )
    .unwrap();
    let input =
        [common::event("m1", "acw", json!({"attack": "none"})), common::event("m2", "acw", json!({"attack": "error"}))]
            .join("\n");
    let out = weft(&["run", "--module", core.to_str().unwrap(), "--params", "{\"k\":1}", "-"], input.as_bytes());
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout, "{\"partitionKey\":\"c-m1\",\"data\":{\"ok\":\"m1\"}}\n");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dead-lettered 1: on-purpose"));
    let bad = weft(&["run", "--module", "Cargo.toml", "-"], b"");
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .contains("module Cargo.toml: not a WebAssembly component weft can compile: not a WebAssembly file"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let bad_params = weft(&["run", "--module", core.to_str().unwrap(), "--params", "{", "-"], b"");
    assert!(String::from_utf8_lossy(&bad_params.stderr).contains("--params is not JSON"));
}

/// A file several times the size of `weft run`'s read buffer (1 MiB): events cut by reads, objects back to back
/// (`}{`), a broken line starting just before the first buffer boundary and a pretty-printed event across the second
/// come out as if the file were read whole: every record, in order, and the dead letter at its true line and byte.
/// Peak RSS of the largest child this process has waited for, in MiB.
fn children_peak_mib() -> u64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage fills the struct it is given; zeroed is a valid rusage.
    let usage = unsafe {
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, usage.as_mut_ptr()), 0);
        usage.assume_init()
    };
    usage.ru_maxrss as u64 / 1024
}

#[test]
fn peak_memory_does_not_grow_with_the_input() {
    let dir = tempfile::tempdir().unwrap();
    let mut peaks = Vec::new();
    for megabytes in [4, 32] {
        let file = dir.path().join(format!("{megabytes}.jsonl"));
        let mut input = String::with_capacity(megabytes << 20);
        let mut i = 0;
        while input.len() < megabytes << 20 {
            let body = json!({"conversationId": format!("c{i}"), "participantId": "p", "eventTime": i});
            input.push_str(&common::event(&format!("m{i}"), "customer.start", body));
            input.push('\n');
            i += 1;
        }
        std::fs::write(&file, &input).unwrap();
        let status = Command::new(env!("CARGO_BIN_EXE_weft"))
            .args(["run", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success());
        // The largest child so far: the 32 MB run's peak once it has run, if it is the larger.
        peaks.push(children_peak_mib());
    }
    println!("peak RSS of weft run: {peaks:?} MiB over 4 and 32 MB of events");
    assert!(peaks[1] <= 64, "peak RSS {} MiB over 32 MB of events", peaks[1]);
    assert!(peaks[1] <= peaks[0] + 8, "peak RSS grew with the input: {peaks:?} MiB");
}

#[test]
fn judged_on_several_threads_records_and_dead_letters_keep_the_input_order() {
    // Four slices of 1,000 events. The first slice's 10th event loops until its deadline (100 ms), so the other
    // threads finish later slices first and their verdicts must wait for it.
    let mut input = String::new();
    let mut expected = Vec::new();
    for i in 0..4_000 {
        let attack = if i == 9 { "loop" } else { "none" };
        input.push_str(&common::event(&format!("p{i}"), "customer.start", json!({"attack": attack})));
        input.push('\n');
        if i % 997 == 500 {
            input.push_str("not json\n");
        }
        if i != 9 {
            expected.push(format!("p{i}"));
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let (file, module) = (dir.path().join("events.jsonl"), dir.path().join("hostile.wasm"));
    std::fs::write(&file, &input).unwrap();
    std::fs::write(&module, common::hostile_wasm()).unwrap();
    let run = |jobs: &str| {
        let dead = dir.path().join(format!("dead-{jobs}.jsonl"));
        let args = ["run", file.to_str().unwrap(), "--module", module.to_str().unwrap(), "--batch", "1"];
        let out = weft(&[&args[..], &["--jobs", jobs, "--dead-letters", dead.to_str().unwrap()]].concat(), b"");
        (out, lines(&dead))
    };
    let (out, letters) = run("3");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(stderr.contains("4004 events in: 3999 written as 3999 records, 0 dropped, 5 dead-lettered"), "{stderr}");
    let ids: Vec<String> = String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["data"]["ok"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, expected);
    let places: Vec<(String, u64)> = letters
        .iter()
        .map(|l| (l["errorClass"].as_str().unwrap().to_owned(), l["source"]["line"].as_u64().unwrap()))
        .collect();
    let lines_of = |needle: &str| -> Vec<u64> {
        input.lines().enumerate().filter(|(_, l)| l.contains(needle)).map(|(n, _)| n as u64 + 1).collect()
    };
    let mut want: Vec<(String, u64)> =
        lines_of("not json").into_iter().map(|n| ("invalid-json".to_owned(), n)).collect();
    want.insert(0, ("deadline-exceeded".into(), lines_of(r#""attack":"loop""#)[0]));
    assert_eq!(places, want);
    // One thread: the same records byte for byte, the same dead letters but for when they failed.
    let (one, one_letters) = run("1");
    assert_eq!(one.stdout, out.stdout);
    let timeless = |mut letters: Vec<Value>| {
        letters.iter_mut().for_each(|l| drop(l.as_object_mut().unwrap().remove("failedAt")));
        letters
    };
    assert_eq!(timeless(one_letters), timeless(letters));
}

#[test]
fn a_file_larger_than_the_read_buffer_is_streamed_with_positions_kept() {
    const READ: usize = 1 << 20;
    let event =
        |i: usize| common::event(&format!("s{i}"), "customer.start", json!({"conversationId": format!("s{i}")}));
    let (mut input, mut expected) = (String::new(), Vec::new());
    // Events up to a few bytes before `boundary`, then spaces up to where `next` must start.
    let fill_to = |input: &mut String, expected: &mut Vec<String>, start: usize| {
        while input.len() + 400 < start {
            let i = expected.len();
            input.push_str(&event(i));
            // Every third event back to back with the next, as Firehose writes them.
            input.push_str(if i.is_multiple_of(3) { "" } else { "\n" });
            expected.push(format!("s{i}"));
        }
        input.push('\n');
        input.push_str(&" ".repeat(start - input.len()));
    };
    fill_to(&mut input, &mut expected, READ - 6);
    let broken = (input.len(), input.matches('\n').count() + 1);
    input.push_str("this is not json\n");
    fill_to(&mut input, &mut expected, 2 * READ - 100);
    let pretty = serde_json::to_string_pretty(&serde_json::from_str::<Value>(&event(999_999)).unwrap()).unwrap();
    input.push_str(&pretty);
    expected.push("s999999".into());
    input.push('\n');
    let len = input.len();
    fill_to(&mut input, &mut expected, len + READ / 2);
    assert!(input.len() > 2 * READ + READ / 4);

    let dir = tempfile::tempdir().unwrap();
    let (file, dead) = (dir.path().join("big.jsonl"), dir.path().join("dead.jsonl"));
    std::fs::write(&file, &input).unwrap();
    let out = weft(&["run", file.to_str().unwrap(), "--dead-letters", dead.to_str().unwrap()], b"");
    let keys: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["partitionKey"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(keys.len(), expected.len(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(keys, expected);
    let letters = lines(&dead);
    assert_eq!(letters.len(), 1);
    assert_eq!(letters[0]["source"]["line"], broken.1 as u64);
    assert_eq!(letters[0]["source"]["offset"], broken.0 as u64);
    assert_eq!(letters[0]["event"], "this is not json");
}
