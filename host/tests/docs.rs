//! Every `weft` command the README and `docs/` show is run here, in page order, as a reader would type it: in a
//! working directory with the repository's `rules/` and `samples/`, against the local AWS API server with the
//! deployment's stream, queue and rules bucket (`$STREAM`, `$DLQ_URL`, `$RULES_BUCKET`) created on it. A command
//! that fails, or a command of another program the test does not know about, fails the test: the pages cannot
//! drift from the code.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::aws::{self, clients, create_bucket, create_queue, create_stream, unique};

/// The pages, in the order a reader meets them (later pages use what earlier ones published).
const PAGES: &[&str] =
    &["README.md", "docs/writing-rules.md", "docs/operating.md", "docs/guarantees.md", "docs/internals.md"];

/// Commands of other programs the pages show, which this test does not run, and why.
const NOT_RUN: &[(&str, &str)] = &[
    ("scripts/test.sh", "the suite this test is part of"),
    ("scripts/build-lambda.sh", "cross-compiles the Lambda for arm64; its runtime is tested by lambda_runtime.rs"),
    ("terraform", "needs an AWS account; the Terraform checks are host/tests/terraform.rs"),
    ("cp", "copies the Terraform example's settings, for terraform"),
    ("cargo run --release", "a release build of its own: the same `weft bench` as the quick look run here"),
    ("weft studio", "serves a page until stopped: host/tests/studio.rs drives it in a browser"),
];

/// Variables the pages read from the deployment (`NAME=$(terraform output …)`), provided here.
const VARIABLES: &[&str] = &["STREAM", "DLQ_URL", "RULES_BUCKET"];

/// The output a page shows: each plain ``` block whose first line starts with `weft:` (what weft prints), as its
/// lines. Some command of the same page must print every one of them.
fn shown_outputs(page: &str) -> Vec<Vec<String>> {
    let blocks: Vec<&str> = page.split("```").collect();
    (1..blocks.len())
        .step_by(2)
        .filter(|&i| blocks[i].starts_with('\n') && blocks[i].trim_start().starts_with("weft:"))
        .map(|i| blocks[i].lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect())
        .collect()
}

/// The shell lines of a page's ```sh blocks, continuation lines joined, comments removed.
fn shell_lines(page: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut in_block = false;
    let mut pending = String::new();
    for line in page.lines() {
        match line.trim_start() {
            "```sh" if !in_block => in_block = true,
            "```" if in_block => in_block = false,
            text if in_block => {
                let text = without_comment(text);
                match text.strip_suffix('\\') {
                    Some(head) => pending.push_str(head),
                    None => {
                        pending.push_str(&text);
                        if !pending.trim().is_empty() {
                            lines.push(pending.trim().to_owned());
                        }
                        pending.clear();
                    }
                }
            }
            _ => {}
        }
    }
    lines
}

/// The line up to a `#` that starts a comment (after a space, outside quotes).
fn without_comment(line: &str) -> String {
    let (mut single, mut double, mut previous) = (false, false, ' ');
    for (at, c) in line.char_indices() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '#' if !single && !double && previous.is_whitespace() => return line[..at].trim_end().to_owned(),
            _ => {}
        }
        previous = c;
    }
    line.trim_end().to_owned()
}

/// What the test does with one line.
#[derive(Debug, PartialEq)]
enum Step {
    /// Run it, as `weft ARGS`.
    Weft(String),
    /// A variable the deployment provides.
    Variable(String),
    /// Shown, not run (see [`NOT_RUN`]).
    NotRun,
}

fn step(line: &str) -> Result<Step, String> {
    if let Some((name, command)) = line.split_once("=$(") {
        if !VARIABLES.contains(&name) {
            return Err(format!("`{line}` sets {name}, which this test does not provide"));
        }
        // What it reads from the deployment must be one of the example's outputs.
        if let Some(output) = command.split("output -raw ").nth(1) {
            let output = output.trim_end_matches(')');
            let outputs = std::fs::read_to_string(common::repo().join("terraform/examples/complete/outputs.tf"))
                .map_err(|e| e.to_string())?;
            if !outputs.contains(&format!("output \"{output}\"")) {
                return Err(format!("`{line}`: terraform/examples/complete has no output `{output}`"));
            }
        }
        return Ok(Step::Variable(name.to_owned()));
    }
    if NOT_RUN.iter().any(|(prefix, _)| line.starts_with(prefix)) {
        return Ok(Step::NotRun);
    }
    if let Some(args) = line.strip_prefix("weft ") {
        return Ok(Step::Weft(args.to_owned()));
    }
    for prefix in ["cargo run -p weft -- ", "cargo run -q -p weft -- "] {
        if let Some(args) = line.strip_prefix(prefix) {
            return Ok(Step::Weft(args.to_owned()));
        }
    }
    Err(format!("`{line}`: a command no test runs; run it here or list it in NOT_RUN with the reason"))
}

/// A working directory with the repository's rule sets and samples, as in a checkout.
fn workdir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for name in ["rules", "samples"] {
        std::os::unix::fs::symlink(common::repo().join(name), dir.path().join(name)).unwrap();
    }
    dir
}

fn run(args: &str, dir: &Path, env: &[(&str, String)]) -> (bool, String) {
    let weft = PathBuf::from(env!("CARGO_BIN_EXE_weft"));
    let path = format!("{}:{}", weft.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
    let output = Command::new("bash")
        .arg("-c")
        .arg(format!("weft {args}"))
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("WEFT_RULES")
        .env_remove("WEFT_RULES_PUBLIC_KEY")
        // Python, TypeScript and JavaScript rules are built with the tools scripts/setup.sh installs.
        .env("WEFT_COMPONENTIZE_PY", common::repo().join(".venv/bin/componentize-py"))
        .env("WEFT_JS_TOOLS", common::repo().join(".node"))
        .envs(aws::env())
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_the_docs_show_runs() {
    use aws_sdk_s3::types::{BucketVersioningStatus, VersioningConfiguration};
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, bucket) = (unique("docs-stream"), unique("docs-rules"));
    create_stream(&c, &stream, 1).await;
    let dlq_url = create_queue(&c, &unique("docs-dlq")).await;
    create_bucket(&c, &bucket).await;
    // The Terraform module's rules bucket is versioned (what `weft rules rollback` reads).
    let versioning = VersioningConfiguration::builder().status(BucketVersioningStatus::Enabled).build();
    c.s3.put_bucket_versioning().bucket(&bucket).versioning_configuration(versioning).send().await.unwrap();
    let env = [("STREAM", stream.clone()), ("DLQ_URL", dlq_url), ("RULES_BUCKET", bucket)];

    let dir = workdir();
    let mut ran = Vec::new();
    for page in PAGES {
        let text = std::fs::read_to_string(common::repo().join(page)).unwrap();
        let mut outputs = Vec::new();
        for line in shell_lines(&text) {
            match step(&line).unwrap_or_else(|e| panic!("{page}: {e}")) {
                Step::Weft(args) => {
                    let (ok, out) = run(&args, dir.path(), &env);
                    assert!(ok, "{page}: `weft {args}` failed:\n{out}");
                    outputs.push(out);
                    ran.push(args);
                }
                Step::Variable(_) | Step::NotRun => {}
            }
        }
        for shown in shown_outputs(&text) {
            let printed = outputs.iter().any(|out| shown.iter().all(|line| out.contains(line.as_str())));
            assert!(printed, "{page}: no command of the page prints what it shows:\n{}", shown.join("\n"));
        }
    }
    // The pages show these; if extraction broke, far fewer would run.
    for command in [
        "run samples/events",
        "rules new my-rule",
        "rules publish",
        "redrive",
        "tail",
        "rules rollback",
        "rules promote",
    ] {
        assert!(ran.iter().any(|args| args.starts_with(command)), "no `weft {command}` ran: {ran:#?}");
    }
    assert!(ran.len() >= 20, "{ran:#?}");
    println!("{} weft commands from the pages ran", ran.len());
    let readme = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    assert!(shown_outputs(&readme).iter().flatten().any(|l| l.contains("29 events in")), "the quick start's output");
    // What the pages' commands did landed where the pages say: the samples' 27 records in the stream.
    let written = aws::read_stream(&c, &stream).await;
    assert_eq!(written.len(), 27, "weft run --stream wrote the samples' records");
}

#[test]
fn what_weft_prints_is_told_from_other_plain_blocks() {
    let page = "```sh\nweft run x\n```\ntext\n```\nweft: 3 events in\n  dropped 1\n```\n```json\n{}\n```\n```\nfields @timestamp\n```\n";
    assert_eq!(shown_outputs(page), [vec!["weft: 3 events in".to_owned(), "dropped 1".to_owned()]]);
}

#[test]
fn the_extraction_joins_continuations_drops_comments_and_knows_every_program() {
    let page = "text\n```sh\nweft tail --stream \"$STREAM\" \\\n    --limit 2   # comment\nterraform apply\n\
                X=$(terraform output -raw x)\n```\n```json\n{\"not\": \"shell\"}\n```\n";
    let lines = shell_lines(page);
    assert_eq!(lines, ["weft tail --stream \"$STREAM\" --limit 2", "terraform apply", "X=$(terraform output -raw x)"]);
    assert_eq!(step(&lines[0]), Ok(Step::Weft("tail --stream \"$STREAM\" --limit 2".into())));
    assert_eq!(step(&lines[1]), Ok(Step::NotRun));
    assert!(step(&lines[2]).unwrap_err().contains("sets X"));
    assert_eq!(step("STREAM=$(terraform output -raw stream_name)"), Ok(Step::Variable("STREAM".into())));
    assert!(step("STREAM=$(terraform output -raw no_such_output)").unwrap_err().contains("no output"));
    assert!(step("curl https://example.invalid").unwrap_err().contains("no test runs"));
    assert_eq!(without_comment("weft run --params '{\"a\": \"#1\"}' x # why"), "weft run --params '{\"a\": \"#1\"}' x");
}

#[test]
fn every_relative_link_in_the_pages_resolves() {
    let mut broken = Vec::new();
    for page in PAGES {
        let path = common::repo().join(page);
        let text = std::fs::read_to_string(&path).unwrap();
        for (at, _) in text.match_indices("](") {
            let target = &text[at + 2..];
            let target = &target[..target.find(')').unwrap_or(0)];
            let file = target.split('#').next().unwrap_or_default();
            if file.is_empty() || file.contains("://") {
                continue;
            }
            if !path.parent().unwrap().join(file).exists() {
                broken.push(format!("{page}: {target}"));
            }
        }
    }
    assert!(broken.is_empty(), "links to nothing:\n{}", broken.join("\n"));
}
