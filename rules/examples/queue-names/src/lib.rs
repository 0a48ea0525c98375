//! Queue names: stitches the name of an event's `queueId` (acd, user, acw, wrapup, voicemail events) from a
//! lookup table of queue id → name (export it from `GET /api/v2/routing/queues`).
//!
//! In a chain it adds `queueName` to the records of the module before it; alone it writes `{_id,
//! conversationId, queueId, queueName, timestamp}`. Events without a `queueId` pass through a chain unchanged
//! (alone: dropped, "no queue").
//!
//! Parameters: `table` (default `queues`), `onMiss`: `null` (default), `id` (the id itself), `drop` or `error`.

use serde::{Deserialize, Serialize};
use weft_sdk::{Envelope, Event, Outcome, Record, RuleError, Str};

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Params {
    #[serde(default = "default_table")]
    table: String,
    #[serde(default)]
    on_miss: OnMiss,
}

fn default_table() -> String {
    "queues".into()
}

#[derive(Deserialize, Default, Clone, Copy)]
#[serde(rename_all = "kebab-case")]
enum OnMiss {
    #[default]
    Null,
    Id,
    Drop,
    Error,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(borrow)]
    conversation_id: Option<Str<'a>>,
    #[serde(borrow)]
    queue_id: Option<Str<'a>>,
    event_time: Option<i64>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct QueueRecord<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    conversation_id: Option<&'a str>,
    queue_id: &'a str,
    queue_name: Option<&'a str>,
    timestamp: Option<i64>,
}

#[weft_sdk::rule]
pub fn queue_names(event: Event) -> Result<Outcome, RuleError> {
    let params: Params = weft_sdk::params()?;
    let envelope: Envelope<Body> = event.parse()?;
    let body = envelope.detail.event_body;
    let Some(queue) = body.queue_id.as_deref() else {
        if event.records.is_empty() {
            return Ok(Outcome::drop("no queue"));
        }
        return Ok(Outcome::Records(event.records));
    };
    let name = match weft_sdk::lookup(&params.table, queue) {
        Some(name) => Some(name),
        None => match params.on_miss {
            OnMiss::Null => None,
            OnMiss::Id => Some(queue.to_owned()),
            OnMiss::Drop => return Ok(Outcome::drop("queue not in the table")),
            OnMiss::Error => {
                return Err(RuleError::new(
                    "lookup-missing",
                    format!("queue {queue} is not in table {}", params.table),
                ));
            }
        },
    };
    if event.records.is_empty() {
        let record = QueueRecord {
            id: &event.id,
            conversation_id: body.conversation_id.as_deref(),
            queue_id: queue,
            queue_name: name.as_deref(),
            timestamp: body.event_time,
        };
        return Ok(Record::json(event.partition_key(), &record)?.into());
    }
    let mut records = event.records;
    for record in &mut records {
        record.set("queueName", &name)?;
    }
    Ok(Outcome::Records(records))
}
