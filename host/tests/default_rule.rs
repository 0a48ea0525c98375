//! The default rule against the Java blueprint's own fixtures, all 16 topics, and inputs the blueprint failed on.

mod common;

use common::{data, event, run_default};
use serde_json::{Value, json};

fn read(path: &str) -> String {
    std::fs::read_to_string(data(path)).unwrap()
}

fn only_record(input: &str) -> (String, Value) {
    let (out, _) = run_default(input);
    assert_eq!(out.records.len(), 1, "dropped: {:?}, dead: {:?}", out.dropped, out.dead_letters);
    let record = &out.records[0];
    (record.partition_key.clone(), serde_json::from_str(record.data.get()).unwrap())
}

/// The blueprint's inputs, what its code wrote for each (`written/`) and its test fixture (`test-fixtures/`); see
/// `tests/data/blueprint/README.md`.
const BLUEPRINT: [(&str, &str, &str); 3] = [
    (
        "aws-event-bridge-conversation-start-event.json",
        "conversation-start-event.json",
        "aws-kinesis-conversation-start-event.json",
    ),
    (
        "aws-event-bridge-conversation-end-event.json",
        "conversation-end-event.json",
        "aws-kinesis-conversation-end-event.json",
    ),
    (
        "aws-event-bridge-conversation-end-event-no-external-contact-id.json",
        "conversation-end-event-no-external-contact-id.json",
        "aws-kinesis-conversation-end-event-without-journey-session.json",
    ),
];

/// The record's data exactly as written, and its partition key.
fn only_record_text(input: &str) -> (String, String) {
    let (out, _) = run_default(input);
    assert_eq!(out.records.len(), 1, "dropped: {:?}, dead: {:?}", out.dropped, out.dead_letters);
    (out.records[0].partition_key.clone(), out.records[0].data.get().to_owned())
}

#[test]
fn blueprint_inputs_give_byte_for_byte_what_the_blueprint_code_wrote() {
    for (input, written, _) in BLUEPRINT {
        let (key, text) = only_record_text(&read(&format!("blueprint/input/{input}")));
        let expected = read(&format!("blueprint/written/{written}"));
        assert_eq!(format!("{text}\n"), expected, "{input}: byte for byte against written/{written}");
        let record: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(key, record["conversationId"].as_str().unwrap(), "{input}: partition key");
    }
}

#[test]
fn blueprint_inputs_pass_the_blueprint_test_fixtures_leniently() {
    // As the blueprint's own tests compared: every key of the fixture is there with the fixture's value; the
    // record may have more (the fixtures leave out wrapupCode and externalContactId).
    for (input, _, fixture) in BLUEPRINT {
        let (_, text) = only_record_text(&read(&format!("blueprint/input/{input}")));
        let record: Value = serde_json::from_str(&text).unwrap();
        let fixture: Value = serde_json::from_str(&read(&format!("blueprint/test-fixtures/{fixture}"))).unwrap();
        for (field, value) in fixture.as_object().unwrap() {
            assert_eq!(record.get(field), Some(value), "{input}: field `{field}` of test-fixtures/{fixture}");
        }
    }
}

#[test]
fn key_order_is_the_order_jackson_wrote() {
    let (_, text) = only_record_text(&read("blueprint/input/aws-event-bridge-conversation-start-event.json"));
    // Read the order from the text itself, not from a map whose order depends on serde_json's features.
    let record: Value = serde_json::from_str(&text).unwrap();
    let mut keys: Vec<(usize, &str)> =
        record.as_object().unwrap().keys().map(|k| (text.find(&format!("\"{k}\":")).unwrap(), k.as_str())).collect();
    keys.sort();
    assert_eq!(
        keys.into_iter().map(|(_, k)| k).collect::<Vec<_>>(),
        [
            "version",
            "conversationId",
            "topicName",
            "timestamp",
            "mediaType",
            "provider",
            "direction",
            "sessionId",
            "customerId",
            "wrapupCode",
            "duration",
            "externalContactId",
            "_id"
        ]
    );
}

#[test]
fn other_topic_families_are_dropped_not_failed() {
    let mut input = read("blueprint/input/aws-event-bridge-non-conversation-event.json");
    for audit in [
        "v2.audits.entitytype.OAuthClient.entityid__oauth-client-delete-blueprint.json",
        "v2.audits.entitytype.UserPresence.entityid__user-presence-blueprint.json",
    ] {
        input.push_str(&std::fs::read_to_string(common::repo().join("../shared/fixtures/genesys").join(audit)).unwrap_or_else(|_| {
            // Without ../shared (a lone checkout), an audit envelope of the same shape.
            r#"{"version":"0","id":"a1","detail-type":"v2.audits.entitytype.{id}.entityid.{id}","detail":{"topicName":"v2.audits.entitytype.Queue.entityid.q1","eventBody":{"eventTime":"2021-05-31T09:49:25.000Z"}}}"#.into()
        }));
    }
    let (out, summary) = run_default(&input);
    assert_eq!(summary.events_in, 3);
    assert_eq!(out.dropped.len(), 3, "{:?}", out.dead_letters);
    for dropped in &out.dropped {
        assert_eq!(dropped.reason, "not a conversation detail event");
        assert_eq!(dropped.module.as_ref().unwrap().name, "builtin:default");
    }
}

#[test]
fn acw_carries_wrapup_code_and_first_external_contact() {
    // The blueprint's documented acw record, as an input; duration is null on acw (the blueprint's code set it on
    // customer.end only) and `personKey` was never an event field.
    let example: Value =
        serde_json::from_str(&read("blueprint/test-fixtures/example-kinesis-stream-data.json")).unwrap();
    let input = json!({
        "version": "0", "id": example["_id"], "detail-type": "v2.detail.events.conversation.{id}.acw",
        "detail": {
            "topicName": example["topicName"], "version": "2",
            "eventBody": {
                "eventTime": example["timestamp"], "conversationId": example["conversationId"], "participantId": example["customerId"],
                "sessionId": example["sessionId"], "mediaType": "CHAT", "provider": "PureCloud Webchat v2", "direction": "INBOUND",
                "wrapupCode": example["wrapupCode"], "wrapupDurationMs": 20,
                "conversationExternalContactIds": [example["externalContactId"], "second-id"]
            }
        }
    });
    let (_, text) = only_record_text(&input.to_string());
    assert_eq!(format!("{text}\n"), read("blueprint/written/acw.json"), "byte for byte against written/acw.json");
    // acw without contact ids or code: the keys are there, as null.
    let (_, bare) = only_record(&event("e2", "acw", json!({"conversationId": "c1"})));
    assert_eq!(bare["wrapupCode"], Value::Null);
    assert_eq!(bare["externalContactId"], Value::Null);
    assert!(bare.as_object().unwrap().contains_key("externalContactId"));
}

#[test]
fn every_topic_gives_the_thirteen_keys() {
    let body = json!({"eventTime": 7, "conversationId": "c9", "participantId": "p", "sessionId": "s", "mediaType": "EMAIL",
                      "provider": "x", "direction": "OUTBOUND", "interactingDurationMs": 5, "wrapupCode": "w",
                      "conversationExternalContactIds": ["x1", "x2"]});
    for kind in weft_sdk::Kind::KNOWN {
        let kind = kind.as_str();
        let (key, record) = only_record(&event("e", kind, body.clone()));
        assert_eq!(key, "c9", "{kind}");
        assert_eq!(record.as_object().unwrap().len(), 13, "{kind}: {record}");
        assert_eq!(record["timestamp"], 7, "{kind}");
        assert_eq!(record["mediaType"], "EMAIL", "{kind}");
        assert_eq!(record["externalContactId"], "x1", "{kind}: on every topic");
        assert_eq!(record["duration"], if kind == "customer.end" { json!(5) } else { Value::Null }, "{kind}");
        assert_eq!(record["wrapupCode"], if kind == "acw" { json!("w") } else { Value::Null }, "{kind}");
    }
    // Missing or empty contact ids: null, and the event is kept.
    for ids in [json!(null), json!([])] {
        let (_, record) = only_record(&event("e", "customer.start", json!({"conversationExternalContactIds": ids})));
        assert_eq!(record["externalContactId"], Value::Null);
        assert_eq!(record.as_object().unwrap().len(), 13);
    }
}

#[test]
fn missing_fields_unknown_kinds_and_unknown_values_never_fail() {
    // No eventBody at all: a record of nulls, keyed by the topic's conversation id.
    let bare = r#"{"id":"e1","detail-type":"v2.detail.events.conversation.{id}.customer.start","detail":{"topicName":"v2.detail.events.conversation.c1.customer.start"}}"#;
    let (key, record) = only_record(bare);
    assert_eq!(key, "c1");
    assert_eq!(record["conversationId"], Value::Null);
    assert_eq!(record["_id"], "e1");
    // A kind Genesys adds later, an enum value not in any list, fields nobody knows, explicit nulls.
    let future = event(
        "e2",
        "survey.sent",
        json!({"conversationId": "c2", "mediaType": "HOLOGRAM", "brandNewField": {"x": [1]}, "provider": null}),
    );
    let (_, record) = only_record(&future);
    assert_eq!(record["mediaType"], "HOLOGRAM");
    assert_eq!(record["provider"], Value::Null);
}

#[test]
fn wrong_types_are_dead_lettered_naming_the_field() {
    let input = event(
        "e1",
        "customer.end",
        json!({"conversationId": "c1", "eventTime": "yesterday", "ani": "tel:+15555550123"}),
    );
    let (out, _) = run_default(&format!("{input}\n{}", event("e2", "acw", json!({"conversationId": "c2"}))));
    assert_eq!(out.records.len(), 1, "the next event is still processed");
    let dead = &out.dead_letters[0];
    assert_eq!(dead.error_class, "invalid-event");
    assert_eq!(dead.rule.as_deref(), Some("builtin:default"));
    assert!(
        dead.reason.starts_with("builtin:default: `detail.eventBody.eventTime`: invalid type: string"),
        "{}",
        dead.reason
    );
    assert!(!dead.reason.contains("yesterday"), "values are withheld from reasons: {}", dead.reason);
    assert_eq!(dead.event_id.as_deref(), Some("e1"));
    assert_eq!(dead.source.as_ref().unwrap().line(), Some(1));
}

/// weft runs its default rule natively; its component (which lineage names by hash) must answer the same.
/// The events: the samples, the blueprint's inputs, pretty-printed copies, and one-byte mutations of every sample
/// that are still envelopes (wrong types, broken strings, other kinds: errors and drops as well as records). Each
/// is asked alone and in one batch, and the answers are compared whole: records, drop reasons, error codes and
/// messages.
#[test]
fn the_native_rule_answers_what_its_component_answers() {
    let engine = weft::engine::Engine::new().unwrap();
    let instance = |module: weft::engine::RuleModule| {
        let tables = std::sync::Arc::new(weft::engine::Tables::new());
        weft::engine::RuleInstance::new(module, "null".into(), tables, weft::engine::Limits::default())
    };
    let (native, _) = weft::rules::embedded::default_module(&engine).unwrap();
    let (component, _) = weft::rules::embedded::default_component(&engine).unwrap();
    assert!(native.native().is_some() && component.native().is_none());
    assert_eq!(native.id(), component.id(), "the native rule is named by its component's hash");
    let (mut native, mut component) = (instance(native), instance(component));
    let events: Vec<_> =
        variants().iter().filter_map(|text| weft::input::envelope::parse(text.as_str()).ok()).collect();
    let inputs: Vec<_> = events.iter().map(weft::engine::wit_event).collect();
    let (mut records, mut drops, mut errors) = (0, 0, 0);
    for input in &inputs {
        let answer = format!("{:?}", native.process(input).unwrap());
        assert_eq!(answer, format!("{:?}", component.process(input).unwrap()), "event {}", input.envelope);
        match answer.split('(').next().unwrap() {
            "Outcome::Records" => records += 1,
            "Outcome::Drop" => drops += 1,
            _ => errors += 1,
        }
    }
    let batch = |instance: &mut weft::engine::RuleInstance| format!("{:?}", instance.process_batch(&inputs).unwrap());
    assert_eq!(batch(&mut native), batch(&mut component));
    assert_eq!(native.instantiations(), 0, "nothing of the component ran for the native rule");
    // Enough of each kind of answer that a difference in any would show.
    assert!(records > 500 && drops > 50 && errors > 50, "{records} records, {drops} drops, {errors} errors");
}

/// Every sample and blueprint input, pretty-printed, mutated one byte at a time, and with odd values.
fn variants() -> Vec<String> {
    let mut texts: Vec<String> = std::fs::read_dir(common::repo().join("samples/events"))
        .unwrap()
        .flat_map(|file| {
            std::fs::read_to_string(file.unwrap().path()).unwrap().lines().map(str::to_owned).collect::<Vec<_>>()
        })
        .collect();
    texts.extend(BLUEPRINT.iter().map(|(input, _, _)| read(&format!("blueprint/input/{input}"))));
    let pretty: Vec<String> = texts
        .iter()
        .map(|text| serde_json::to_string_pretty(&serde_json::from_str::<Value>(text).unwrap()).unwrap())
        .collect();
    let mut mutated = Vec::new();
    for text in &texts {
        for at in (0..text.len()).step_by(7) {
            for byte in [b'"', b'0', b'x', b'\\', b'}', b'.'] {
                let mut bytes = text.clone().into_bytes();
                bytes[at] = byte;
                mutated.extend(String::from_utf8(bytes).ok());
            }
        }
    }
    texts.extend(pretty);
    texts.extend(mutated);
    texts.extend(odd_values());
    texts
}

/// Fields the rule reads, given values of the wrong type or of unusual spelling (escapes, `-0`, exponents).
fn odd_values() -> Vec<String> {
    let odd = [
        json!("yesterday"),
        json!(-0),
        json!(1e3),
        json!(9223372036854775808u64),
        json!(["a"]),
        json!({"a": 1}),
        json!(null),
        json!(true),
        json!("A\"\\é😀\n\t\u{1}"),
        json!(""),
    ];
    let fields = ["eventTime", "conversationId", "mediaType", "interactingDurationMs", "wrapupCode"];
    let mut texts = Vec::new();
    for kind in ["customer.end", "acw", "acd.start"] {
        for field in fields.iter().chain(&["conversationExternalContactIds"]) {
            for value in &odd {
                let body = json!({"conversationId": "c1", "eventTime": 1, field.to_string(): value});
                let text = event("e1", kind, body).to_string();
                // The same envelope with its conversation id spelt in \u escapes (serde_json writes none).
                texts.push(text.replace("\"c1\"", r#""\u0063\u0031""#));
                texts.push(text);
            }
        }
    }
    texts
}

/// Natively run built-in rules, through a stand-in rule function: what a panic and the invocation's cutoff do.
mod native {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::{Duration, Instant};

    use weft::engine::native::NativeRule;
    use weft::engine::{CallError, Engine, Limits, RuleInstance, Tables, wit_event};
    use weft::rules::embedded::default_component;

    fn instance(rule: NativeRule) -> RuleInstance {
        let (component, _) = default_component(&Engine::new().unwrap()).unwrap();
        RuleInstance::new(component.run_natively(rule), "null".into(), Arc::new(Tables::new()), Limits::default())
    }

    fn events(n: usize) -> Vec<weft::input::Event> {
        let text =
            |i| format!(r#"{{"id":"e{i}","detail-type":"v2.audits.entitytype.{{id}}.entityid.{{id}}","detail":{{}}}}"#);
        (0..n).map(|i| weft::input::envelope::parse(text(i)).unwrap()).collect()
    }

    #[test]
    fn a_panic_in_a_native_rule_fails_the_call_with_its_message_and_the_next_call_runs() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn panics_on_e1(event: weft_sdk::Event) -> weft_sdk::Outcome {
            CALLS.fetch_add(1, Ordering::Relaxed);
            assert_ne!(event.id, "e1", "a bug in a built-in rule");
            weft_sdk::Outcome::drop("fine")
        }
        let mut rule = instance(panics_on_e1);
        let events = events(3);
        let inputs: Vec<_> = events.iter().map(wit_event).collect();
        let failed = rule.process_batch(&inputs).unwrap_err();
        assert!(
            matches!(&failed, CallError::Panic { message } if message.contains("a bug in a built-in rule")),
            "{failed}"
        );
        assert_eq!(failed.class(), "panic");
        assert!(rule.process(&inputs[0]).is_ok() && rule.process(&inputs[2]).is_ok(), "its neighbours still run");
        assert_eq!((CALLS.load(Ordering::Relaxed), rule.instantiations()), (4, 0));
    }

    #[test]
    fn no_event_starts_once_the_invocations_time_for_rules_is_up() {
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        fn counts(_: weft_sdk::Event) -> weft_sdk::Outcome {
            CALLS.fetch_add(1, Ordering::Relaxed);
            weft_sdk::Outcome::drop("fine")
        }
        let mut rule = instance(counts);
        let events = events(2);
        let inputs: Vec<_> = events.iter().map(wit_event).collect();
        rule.set_cutoff(Some(Instant::now() + Duration::from_secs(60)));
        assert_eq!(rule.process_batch(&inputs).unwrap().len(), 2);
        rule.set_cutoff(Some(Instant::now()));
        assert_eq!(rule.process_batch(&inputs).unwrap_err(), CallError::OutOfTime);
        assert_eq!(rule.process(&inputs[0]).unwrap_err(), CallError::OutOfTime);
        assert_eq!(CALLS.load(Ordering::Relaxed), 2, "only the calls before the cutoff ran");
        assert_eq!(rule.take_stats().events, 5, "every event asked is counted, as a module's are");
    }
}
