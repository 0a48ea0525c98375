//! The real Lambda runtime client end to end (`common::runtime_api`): the `weft` binary runs as the function under
//! a local runtime API server and is invoked with an EventBridge event and with an SQS batch, against the local
//! AWS API server.

mod common;

use common::aws::{self, clients, create_queue, create_stream, queue_depth, read_stream, unique};
use common::runtime_api::{RuntimeApi, invoke};
use serde_json::{Value, json};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lambda_serves_eventbridge_and_sqs_invocations_under_the_runtime_api() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let (stream, queue) = (unique("lambda"), unique("lambda-dlq"));
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &queue).await;
    let api = RuntimeApi::start();
    let mut function = api.function();
    function.env("WEFT_STREAM", &stream).env("WEFT_DLQ_URL", &dlq).env("WEFT_LOG", "weft=debug");
    let direct =
        std::fs::read_to_string(common::data("blueprint/input/aws-event-bridge-conversation-end-event.json")).unwrap();
    let (api, (status, body)) = api.first_invocation(function, &direct).await;
    let (port, function_log) = (api.port, api.function_log.clone());
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
    let logs = api.function_output();
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
