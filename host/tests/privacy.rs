//! No personal data in logs, metrics or message attributes, enforced by the host: a module logs, panics with, drops
//! with and fails with a caller's name, phone number and e-mail address taken from the event. None of them may
//! appear in any log line weft writes at the production level (`info`), in any metric document, or in any message
//! attribute on the dead-letter queue — while the dead letters' bodies keep the whole event. At `debug`, a module's
//! lines appear with the phone number and the address redacted.

mod common;

use std::time::{Duration, Instant};

use serde_json::json;
use serde_json::value::RawValue;
use weft::delivery::{Delivery, LetterPort, RecordPort};
use weft::engine::Limits;
use weft::judge::Judge;
use weft::lambda::Handler;
use weft::metrics::{MetricsConfig, Publisher};

use common::aws::{self, clients, create_queue, create_stream, drain_queue, unique};
use common::{Captured, event, sqs_batch};

const NAME: &str = "Jane Quartermaine";
const PHONE: &str = "+1 (317) 555-0142";
const EMAIL: &str = "jane.q@example.com";

/// What would identify the caller, in the forms it could take in text (the phone number's digits alone, too).
const TELLS: &[&str] = &["Quartermaine", "555-0142", "5550142", "jane.q@", "example.com"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn module_text_reaches_no_log_line_metric_or_attribute_and_the_dead_letter_keeps_the_event() {
    let logs = Captured::weft_logs(tracing::Level::DEBUG);

    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let stream = unique("privacy");
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &unique("privacy-dlq")).await;
    let delivery = Delivery::new(
        RecordPort::Kinesis(c.kinesis_sink(&stream)),
        LetterPort::Queue(c.dead_letter_queue(&dlq, None)),
        None,
    );
    let metrics = Captured::default();
    let publisher = Publisher::new(MetricsConfig::new("weft-privacy"), Box::new(metrics.clone()));
    let handler = Handler::new(Judge::new(common::hostile_rules(Limits::default())), delivery).with_metrics(publisher);

    let caller = format!("{NAME} {PHONE} {EMAIL}");
    let bodies: Vec<String> = ["log", "panic", "drop", "error"]
        .iter()
        .map(|leak| {
            event(&format!("leak-{leak}"), "customer.start", json!({"attack": "leak", "leak": leak, "caller": caller}))
        })
        .collect();
    let payload = RawValue::from_string(sqs_batch(&bodies)).unwrap();
    let answer = handler.handle(&payload, "req-privacy", Instant::now() + Duration::from_secs(30)).await.unwrap();
    assert_eq!(answer, json!({"batchItemFailures": []}));

    // A direct invocation answers with counts only.
    let direct = RawValue::from_string(bodies[2].clone()).unwrap();
    let answer = handler.handle(&direct, "req-direct", Instant::now() + Duration::from_secs(30)).await.unwrap();
    assert_eq!(answer["dropped"], 1, "{answer}");
    assert!(TELLS.iter().all(|tell| !answer.to_string().contains(tell)), "{answer}");

    let lines = logs.lines();
    let production: Vec<&String> = lines.iter().filter(|l| !l.contains(r#""level":"DEBUG""#)).collect();
    assert!(production.iter().any(|l| l.contains("batched invocation")), "the summary line is there: {lines:#?}");
    let documents = metrics.lines();
    assert!(documents.len() >= 4, "{documents:#?}");
    let letters = drain_queue(&c, &dlq).await;
    assert_eq!(letters.len(), 2, "the panic and the error are dead letters");
    let attributes: Vec<String> = letters.iter().map(|(_, stage, class)| format!("{stage} {class}")).collect();
    let mut sorted = attributes.clone();
    sorted.sort();
    assert_eq!(sorted, ["rule module-error", "rule panic"], "weft's words, not the module's code");
    for tell in TELLS {
        for line in &production {
            assert!(!line.contains(tell), "`{tell}` in a log line: {line}");
        }
        for document in &documents {
            assert!(!document.contains(tell), "`{tell}` in a metric document: {document}");
        }
        for attribute in &attributes {
            assert!(!attribute.contains(tell), "`{tell}` in a message attribute: {attribute}");
        }
    }
    for (body, ..) in &letters {
        let letter: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(letter["event"]["detail"]["eventBody"]["caller"], caller.as_str(), "the body keeps the event");
    }
    let coded = letters.iter().find(|(_, _, class)| class == "module-error").unwrap();
    let letter: serde_json::Value = serde_json::from_str(&coded.0).unwrap();
    let code = weft::privacy::code(&format!("bad-{caller}"));
    assert_eq!(letter["errorClass"], code, "the body keeps the module's own code (as a safe class)");

    // At `debug` the module's lines are there, their numbers and addresses redacted (a name cannot be recognised:
    // that is why they are at `debug`).
    let module_lines: Vec<&String> = lines.iter().filter(|l| l.contains(r#""message":"rule log""#)).collect();
    assert!(!module_lines.is_empty(), "{lines:#?}");
    for line in &module_lines {
        assert!(line.contains(r#""level":"DEBUG""#), "a module's line at its own level: {line}");
        assert!(line.contains("[number]") && line.contains("[email]"), "{line}");
        assert!(!line.contains("555-0142") && !line.contains("jane.q@"), "{line}");
    }
}
