//! The JSON Schemas in `schemas/`, generated from the Rust types so they cannot drift from what weft reads and
//! writes. `weft schemas DIR` writes them; a test fails when the checked-in ones differ.

use schemars::{JsonSchema, schema_for};
use weft_sdk::{ConversationEvent, Envelope};

use crate::verdict::dead_letter::{DeadLetter, DeadLetterMessage, Dropped};
use crate::verdict::record::Record;

/// Every schema weft publishes: file name and pretty-printed JSON (with a final newline).
pub fn all() -> Vec<(&'static str, String)> {
    vec![
        (
            "envelope.schema.json",
            render::<Envelope<ConversationEvent>>(
                "An EventBridge event from Genesys Cloud, with the eventBody of the 16 conversation detail topics.",
            ),
        ),
        (
            "default-record.schema.json",
            render::<weft_rule_default::SharedFields>(
                "The record weft's default rule writes to Kinesis for every conversation detail event: what the Java blueprint's code wrote, all thirteen keys on every topic, in its order. Identity: a record is identified by its event's envelope id (`_id`), the rule that made it and its index among that rule's records, the same on every retry and redrive under the same rule set; the default rule writes one record per event, so `_id` identifies it, and a rule set with `lineage` adds `_weft.rule`, `_weft.event` and `_weft.record` (the index) to every record. Deduplicate on it: a record can be written twice only when Kinesis took a call whose answer was lost.",
            ),
        ),
        ("run-output.schema.json", render::<Record>("One line of `weft run` output: a record and where it goes.")),
        (
            "dead-letter.schema.json",
            render::<DeadLetter>(
                "An event weft could not deliver, with the reason; sent to the dead-letter queue and redrivable.",
            ),
        ),
        (
            "dead-letter-message.schema.json",
            render::<DeadLetterMessage>(
                "The body of a message on the dead-letter queue: a dead letter, or (over SQS's 256 KiB) its summary and where in S3 it is kept whole.",
            ),
        ),
        ("dropped.schema.json", render::<Dropped>("An event a rule filtered out (`weft run --dropped`).")),
        ("metrics.schema.json", {
            let mut text =
                serde_json::to_string_pretty(&crate::metrics::catalog::schema()).expect("a schema serialises");
            text.push('\n');
            text
        }),
        (
            "rule-set.schema.json",
            render::<crate::rules::manifest::Manifest>(
                "A weft rule set manifest: rules (match, module chain, output, on-error) and lookup tables.",
            ),
        ),
    ]
}

fn render<T: JsonSchema>(description: &str) -> String {
    let mut schema = schema_for!(T);
    schema.insert("description".into(), description.into());
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serialises");
    text.push('\n');
    text
}
