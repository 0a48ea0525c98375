//! The real Lambda runtime client end to end: `cargo lambda watch --only-lambda-apis` serves the Lambda runtime API
//! on loopback, the `weft` binary this test was built with runs as the function (it finds `AWS_LAMBDA_RUNTIME_API`
//! and becomes the Lambda), and is invoked with an EventBridge event and with an SQS batch, against the local AWS API
//! server. The test runs the binary itself rather than letting cargo lambda build one: that build resolves features
//! differently from the test build and took minutes.

mod common;

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use common::aws::{self, clients, create_queue, create_stream, queue_depth, read_stream, unique};
use serde_json::{Value, json};

/// A child process and everything it started, stopped together.
struct Group(Child);

impl Drop for Group {
    fn drop(&mut self) {
        // SIGKILL to the whole group (cargo lambda ignores SIGTERM); `--` so that `-PGID` is not read as an option.
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// POSTs `body` to the invoke endpoint; the answer's status and body.
async fn invoke(port: u16, body: &str) -> std::io::Result<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!(
        "POST /2015-03-31/functions/_/invocations HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let answer = common::proxy::read_message(&mut stream, &mut Vec::new(), false)
        .await
        .ok_or_else(|| std::io::Error::other("no answer"))?;
    let status = answer.start.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Ok((status, String::from_utf8_lossy(&answer.body).into_owned()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_serves_eventbridge_and_sqs_invocations_under_the_runtime_api() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique("lambda"), unique("lambda-dlq"));
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &queue).await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let log = common::repo().join(format!("target/lambda-watch-{port}.log"));
    let spawn = |command: &mut Command, log: &std::path::Path| {
        let child = command
            .stdout(Stdio::from(std::fs::File::create(log).unwrap()))
            .stderr(Stdio::from(std::fs::File::create(log.with_extension("err")).unwrap()))
            .stdin(Stdio::null())
            .process_group(0)
            .spawn()
            .expect("cargo-lambda is installed by scripts/setup.sh");
        Group(child)
    };
    let _apis = spawn(
        Command::new(common::repo().join(".venv/bin/cargo-lambda"))
            .args(["lambda", "watch", "--only-lambda-apis", "--invoke-address", "127.0.0.1", "--invoke-port"])
            .arg(port.to_string())
            .current_dir(common::repo().join("host")),
        &log,
    );
    // What cargo lambda tells a function started outside it to set; it serves that function as `_`.
    let function_log = log.with_extension("function.log");
    let mut function = Command::new(env!("CARGO_BIN_EXE_weft"));
    function
        .envs(aws::env())
        .env("WEFT_STREAM", &stream)
        .env("WEFT_DLQ_URL", &dlq)
        .env("AWS_LAMBDA_RUNTIME_API", format!("http://127.0.0.1:{port}/.rt"))
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("WEFT_LOG", "weft=debug");
    let mut _function: Option<Group> = None;

    // The function starts once the runtime API answers; the first invocation waits for both.
    let direct =
        std::fs::read_to_string(common::data("blueprint/input/aws-event-bridge-conversation-end-event.json")).unwrap();
    let started = Instant::now();
    let (status, body) = loop {
        if _function.is_none() && TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            _function = Some(spawn(&mut function, &function_log));
        }
        match invoke(port, &direct).await {
            Ok(answer) if answer.0 != 0 => break answer,
            _ if started.elapsed() < Duration::from_secs(60) => tokio::time::sleep(Duration::from_millis(500)).await,
            other => panic!("the runtime API server did not answer: {other:?}; see {}", log.display()),
        }
    };
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((answer["eventsIn"].as_u64(), answer["eventsWritten"].as_u64()), (Some(1), Some(1)), "{answer}");

    // Batched: three messages, one of them not an envelope (dead-lettered, so not a batch item failure).
    let events = ["aws-event-bridge-conversation-start-event.json", "aws-event-bridge-non-conversation-event.json"]
        .map(|f| std::fs::read_to_string(common::data(&format!("blueprint/input/{f}"))).unwrap());
    let bodies = [events[0].as_str(), events[1].as_str(), "{\"detail\": 1}"];
    let (status, body) = invoke(port, &common::sqs_batch(&bodies)).await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap(), json!({"batchItemFailures": []}));

    // Two records (end, start), one drop (the non-conversation event), one dead letter.
    // Byte for byte what the blueprint's code wrote for those inputs.
    let written: Vec<String> = read_stream(&c, &stream).await.into_iter().map(|(_, d)| d + "\n").collect();
    let expected: Vec<String> = ["conversation-end-event.json", "conversation-start-event.json"]
        .map(|f| std::fs::read_to_string(common::data(&format!("blueprint/written/{f}"))).unwrap())
        .to_vec();
    assert_eq!(written, expected);
    assert_eq!(queue_depth(&c, &dlq).await, 1);

    // Cold start, as the function logged it: main to the first poll, engine and default rule ready.
    let logs = std::fs::read_to_string(&function_log).unwrap_or_default()
        + &std::fs::read_to_string(function_log.with_extension("err")).unwrap_or_default();
    let init = logs.lines().find(|l| l.contains("weft ready")).expect("the function logs when it is ready");
    println!("cold start: {init}");
    assert!(!logs.contains("tel:+"), "no personal data in the logs");

    // The metrics, on standard output (the logs are on standard error): per invocation, the function's document
    // first; the cold start reported once, on the first.
    let stdout = std::fs::read_to_string(&function_log).unwrap();
    let documents: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).expect("standard output holds only EMF documents")).collect();
    let functions: Vec<&Value> =
        documents.iter().filter(|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == json!([["Function"]])).collect();
    assert_eq!(functions.len(), 2, "one function document per invocation: {stdout}");
    let counts =
        |d: &Value| ["EventsIn", "EventsWritten", "Dropped", "DeadLettered", "ColdStart"].map(|k| d[k].as_u64());
    assert_eq!(counts(functions[0]), [Some(1), Some(1), Some(0), Some(0), Some(1)], "{}", functions[0]);
    assert_eq!(counts(functions[1]), [Some(3), Some(1), Some(1), Some(1), Some(0)], "{}", functions[1]);
    assert!(functions[0]["InitTime"].as_f64().is_some_and(|ms| ms > 0.0) && functions[1].get("InitTime").is_none());
    assert!(documents.iter().all(|d| d["Function"] == "_" && d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "weft"));
}
