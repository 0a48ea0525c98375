//! `weft studio` in a real browser: Debian's Chromium, headless, driven by playwright-core (both installed by
//! scripts/setup.sh) through `studio/browser.cjs`, against the studio started here on the samples, an edited copy
//! of the example rule set, `--against builtin:default`, and a dead-letter queue on the local AWS API server. The
//! script checks what a person would see; this test then checks AWS: the one redriven dead letter's record is on
//! the stream, and the other letters are still on the queue. Screenshots of each page go to target/studio/.

mod common;

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use common::aws;

/// The example rule set, with its first rule named after the default rule and stitching queue names onto its
/// record, so that the diff against `builtin:default` compares the same rule's records path by path.
fn rule_set(dir: &Path) -> std::path::PathBuf {
    let rules = dir.join("rules");
    for folder in ["dist", "tables"] {
        std::fs::create_dir_all(rules.join(folder)).unwrap();
        for entry in std::fs::read_dir(common::repo().join("rules").join(folder)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), rules.join(folder).join(entry.file_name())).unwrap();
        }
    }
    let example = std::fs::read_to_string(common::repo().join("rules/contact-centre.json")).unwrap();
    let mut manifest: serde_json::Value = serde_json::from_str(&example).unwrap();
    let wrap_ups = manifest["rules"][1]["modules"].clone();
    manifest["rules"][0] = serde_json::json!({"name": "builtin:default", "modules": [wrap_ups[0], wrap_ups[1]]});
    // Its self-tests expect the example's records, which this rule set and the edit made on the page change; and
    // without lineage (which stamps every record with the rule set's version) an edit of the queue table changes
    // the records of that queue's events only, which the page counts.
    manifest.as_object_mut().unwrap().remove("tests");
    manifest.as_object_mut().unwrap().remove("lineage");
    let path = rules.join("manifest.json");
    std::fs::write(&path, serde_json::to_string_pretty(&manifest).unwrap()).unwrap();
    path
}

/// Three dead letters on `queue`, as the Lambda makes them: the voice sample's two acd events, which Kinesis
/// refused (their stream is missing), and one line that is not JSON.
fn dead_letters(dir: &Path, queue: &str) {
    let voice = std::fs::read_to_string(common::repo().join("samples/events/voice-inbound-call.jsonl")).unwrap();
    let mut lines: Vec<&str> = voice.lines().filter(|l| l.contains(".{id}.acd.")).collect();
    assert!(lines.iter().any(|l| l.contains("fc713fae-8cda-5291-9e2d-a58aba00bf8e")), "the browser opens this one");
    lines.push("{\"id\": broken");
    let events = dir.join("failed.jsonl");
    std::fs::write(&events, lines.join("\n")).unwrap();
    let missing = aws::unique("missing");
    let run = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["run", "--stream", &missing, "--dlq", queue])
        .arg(&events)
        .envs(aws::env())
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(1), "{}", String::from_utf8_lossy(&run.stderr));
}

/// Starts `weft studio --no-open` with `args` (against the local AWS API server) and returns it with the address
/// it printed.
fn studio(args: &[&std::ffi::OsStr]) -> (Child, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["studio", "--no-open"])
        .args(args)
        .envs(aws::env())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    let url = first.trim().strip_prefix("weft studio: ").unwrap_or_else(|| panic!("no address: {first:?}")).to_owned();
    assert!(url.starts_with("http://127.0.0.1:") && url.contains("/?token="), "{url}");
    (child, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_in_a_browser_sees_verdicts_a_live_edit_the_diff_and_dead_letters_and_redrives_one() {
    let endpoint = aws::endpoint();
    let clients = aws::clients(&endpoint, &endpoint, &endpoint).await;
    let (stream, queue) = (aws::unique("studio"), aws::unique("studio-dlq"));
    aws::create_stream(&clients, &stream, 1).await;
    let queue = aws::create_queue(&clients, &queue).await;
    let dir = tempfile::tempdir().unwrap();
    let manifest = rule_set(dir.path());
    dead_letters(dir.path(), &queue);
    assert_eq!(aws::queue_depth(&clients, &queue).await, 3);

    let samples = common::repo().join("samples/events");
    let args = ["--against", "builtin:default", "--dlq", &queue, "--stream", &stream, "--rules"].map(OsStr::new);
    let (mut child, url) = studio(&[&args[..], &[manifest.as_os_str(), samples.as_os_str()]].concat());
    let shots = common::repo().join("target/studio");
    std::fs::create_dir_all(&shots).unwrap();
    let browser = Command::new("node")
        .arg(common::repo().join("host/tests/studio/browser.cjs"))
        .arg(&url)
        .env("NODE_PATH", common::repo().join(".node/node_modules"))
        .env("STUDIO_MANIFEST", &manifest)
        .env("STUDIO_TABLE", dir.path().join("rules/tables/queues.json"))
        .env("STUDIO_SHOTS", &shots)
        .output()
        .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let said = String::from_utf8_lossy(&browser.stdout);
    assert!(browser.status.success(), "{said}\n{}", String::from_utf8_lossy(&browser.stderr));
    let outcome: serde_json::Value = serde_json::from_str(said.lines().last().unwrap()).unwrap();

    let records = aws::read_stream(&clients, &stream).await;
    assert_eq!(records.len(), 1, "the one redriven dead letter's record, nothing else: {records:?}");
    let record: serde_json::Value = serde_json::from_str(&records[0].1).unwrap();
    assert_eq!(record["_id"], outcome["event"]);
    assert_eq!(record["queueName"], "Support (renamed)", "written by the rules as edited on disk");
    let left = aws::drain_queue(&clients, &queue).await;
    assert_eq!(left.len(), 2, "the letters not selected stay on the queue");
    assert!(left.iter().all(|(body, _, _)| !body.contains(outcome["event"].as_str().unwrap())));
    for page in ["events", "diff", "letters", "status"] {
        assert!(shots.join(format!("{page}.png")).is_file(), "a screenshot of the {page} page");
    }
}

/// A GET to the studio with its token, over a plain socket: (status, JSON body).
fn get(url: &str, path: &str) -> (u16, serde_json::Value) {
    use std::io::{Read, Write};
    let (base, token) = url.split_once("/?token=").unwrap();
    let address = base.trim_start_matches("http://");
    let mut socket = std::net::TcpStream::connect(address).unwrap();
    let separator = if path.contains('?') { '&' } else { '?' };
    let request =
        format!("GET {path}{separator}token={token} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    socket.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_status_page_says_what_rules_status_and_tables_status_say_and_letters_come_from_a_file() {
    let endpoint = aws::endpoint();
    let clients = aws::clients(&endpoint, &endpoint, &endpoint).await;
    let bucket = aws::unique("studio-rules");
    aws::create_bucket(&clients, &bucket).await;
    let weft = |args: &[&str]| Command::new(env!("CARGO_BIN_EXE_weft")).args(args).envs(aws::env()).output().unwrap();
    let manifest = common::repo().join("rules/contact-centre.json");
    let published = weft(&["rules", "publish", manifest.to_str().unwrap(), "--bucket", &bucket, "--prefix", "p"]);
    assert!(published.status.success(), "{}", String::from_utf8_lossy(&published.stderr));
    let version = String::from_utf8(published.stdout).unwrap();
    let version = version.split_whitespace().nth(1).unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let (broken, letters) = (dir.path().join("broken.jsonl"), dir.path().join("letters.jsonl"));
    std::fs::write(&broken, "{\"id\": broken\n").unwrap();
    let run = weft(&["run", "--dead-letters", letters.to_str().unwrap(), broken.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(1));

    let location = format!("s3://{bucket}/p/manifest.json");
    let samples = common::repo().join("samples/events");
    let args = [OsStr::new("--rules"), OsStr::new(&location), OsStr::new("--dead-letters"), letters.as_os_str()];
    let (mut child, url) = studio(&[&args[..], &[samples.as_os_str()]].concat());
    let (status, page) = get(&url, "/api/status");
    let (_, state) = get(&url, "/api/state");
    let (_, listed) = get(&url, "/api/letters");
    let _ = child.kill();
    let _ = child.wait();

    assert_eq!(status, 200, "{page}");
    assert_eq!(page["location"], location.as_str());
    assert_eq!(page["rules"]["published"]["version"], version.as_str(), "what `weft rules status` says: {page}");
    let tables = page["tables"]["lines"].as_array().unwrap();
    assert!(tables[0].as_str().unwrap().starts_with("table"), "what `weft tables status` prints: {tables:?}");
    assert!(tables.iter().any(|line| line.as_str().unwrap().starts_with("queues ")), "{tables:?}");
    assert_eq!(state["judgement"]["version"], version.as_str(), "the events are judged by the published rule set");
    assert_eq!(state["judgement"]["counts"]["events"], 29);
    let listed = listed["letters"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0]["stage"].as_str(), listed[0]["class"].as_str()), (Some("parse"), Some("invalid-json")));
}
