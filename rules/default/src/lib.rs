//! weft's default rule: one record of shared fields per conversation detail event.
//!
//! The record is a drop-in for what Genesys' Java event-streaming blueprint's code wrote (same thirteen keys, same
//! values, same order, nulls included), keyed by conversation id. Unlike the blueprint it takes all 16
//! conversation topics and any kind Genesys adds later, keeps events whose `conversationExternalContactIds` is
//! empty or missing, never fails on a missing optional field, and drops (rather than fails on) events of other
//! topic families.

use serde::{Deserialize, Serialize};
use weft_sdk::{Event, Outcome, Record, RuleError, Str};

/// The reason given for events that are not conversation detail events (audits, agent state, ...).
pub const NOT_A_CONVERSATION: &str = "not a conversation detail event";

#[weft_sdk::rule]
pub fn shared_fields(event: Event) -> Result<Outcome, RuleError> {
    let Some(kind) = &event.kind else {
        return Ok(Outcome::drop(NOT_A_CONVERSATION));
    };
    let input: Input = event.parse()?;
    let body = input.detail.event_body.unwrap_or_default();
    let record = SharedFields {
        version: input.detail.version,
        conversation_id: body.conversation_id.clone(),
        topic_name: event.topic_name.as_deref(),
        timestamp: body.event_time,
        media_type: body.media_type,
        provider: body.provider,
        direction: body.direction,
        session_id: body.session_id,
        customer_id: body.participant_id,
        wrapup_code: if kind.as_str() == "acw" { body.wrapup_code } else { None },
        duration: if kind.as_str() == "customer.end" { body.interacting_duration_ms } else { None },
        external_contact_id: body.conversation_external_contact_ids.and_then(|ids| ids.into_iter().next()),
        id: &event.id,
    };
    let key = record.conversation_id.as_deref().unwrap_or_else(|| event.partition_key()).to_owned();
    Ok(Record::json(key, &record)?.into())
}

/// The record the default rule writes: what the Java blueprint's code put on the stream, byte for byte.
///
/// The blueprint serialised a Lombok class with Jackson's defaults, so all thirteen keys are always written (nulls
/// included) in its declaration order, except `_id`, which Jackson puts after the others because it is renamed. Its
/// tests compared leniently against fixtures that leave keys out; consumers saw this. Every conversation detail
/// topic contributes the same keys, taken from its `eventBody`; a field the topic does not carry is `null` (the
/// `attributes` topic carries only `eventTime`, `conversationId` and `participantId`).
#[derive(Debug, Serialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct SharedFields<'a> {
    /// `detail.version`, the notification version (the string `"2"`).
    pub version: Option<Str<'a>>,
    /// `eventBody.conversationId`; also the record's partition key.
    pub conversation_id: Option<Str<'a>>,
    /// `detail.topicName`, the concrete topic (its suffix is the event kind).
    pub topic_name: Option<&'a str>,
    /// `eventBody.eventTime`, epoch milliseconds: order a conversation's records by this.
    pub timestamp: Option<i64>,
    /// `eventBody.mediaType` (VOICE, CHAT, EMAIL, MESSAGE, ...; new values pass through as sent).
    pub media_type: Option<Str<'a>>,
    /// `eventBody.provider`.
    pub provider: Option<Str<'a>>,
    /// `eventBody.direction` (INBOUND, OUTBOUND).
    pub direction: Option<Str<'a>>,
    /// `eventBody.sessionId`.
    pub session_id: Option<Str<'a>>,
    /// `eventBody.participantId`: the participant the event is about (the customer on customer.* topics, the agent
    /// on user.* and acw).
    pub customer_id: Option<Str<'a>>,
    /// `eventBody.wrapupCode` on `acw` (a wrap-up code id, or a system code such as `ININ-WRAP-UP-TIMEOUT`); `null`
    /// on every other topic, the `wrapup` topic included, as the blueprint wrote it.
    pub wrapup_code: Option<Str<'a>>,
    /// `eventBody.interactingDurationMs` on `customer.end`; `null` on every other topic (as the blueprint wrote it).
    pub duration: Option<i64>,
    /// The first of `eventBody.conversationExternalContactIds`, on every topic; `null` when the list is missing or
    /// empty (the blueprint dropped such events; weft keeps them). Joins a conversation to its external contact.
    pub external_contact_id: Option<Str<'a>>,
    /// The EventBridge envelope `id`; redeliveries of one event share it, so consumers deduplicate on it.
    #[serde(rename = "_id")]
    pub id: &'a str,
}

/// The part of the envelope the default rule reads, borrowed from the event where JSON escapes allow.
#[derive(Deserialize)]
struct Input<'a> {
    #[serde(borrow)]
    detail: InputDetail<'a>,
}

#[derive(Deserialize)]
struct InputDetail<'a> {
    #[serde(default, borrow)]
    version: Option<Str<'a>>,
    #[serde(rename = "eventBody", default, borrow)]
    event_body: Option<Body<'a>>,
}

#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(default)]
    event_time: Option<i64>,
    #[serde(default, borrow)]
    conversation_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    participant_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    session_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    media_type: Option<Str<'a>>,
    #[serde(default, borrow)]
    provider: Option<Str<'a>>,
    #[serde(default, borrow)]
    direction: Option<Str<'a>>,
    #[serde(default)]
    interacting_duration_ms: Option<i64>,
    #[serde(default, borrow)]
    wrapup_code: Option<Str<'a>>,
    #[serde(default, borrow)]
    conversation_external_contact_ids: Option<Vec<Str<'a>>>,
}
