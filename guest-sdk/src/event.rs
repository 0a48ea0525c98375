//! The event a rule receives.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::{ConversationEvent, Envelope, Kind, Record, RuleError, classify};

/// One input event: what the host already knows about it, the envelope as JSON text, and (in a chain) the records
/// the previous module produced. Parsing is on demand, so a rule pays only for what it reads.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The EventBridge envelope `id`.
    pub id: String,
    /// The envelope `detail-type` (the topic template).
    pub detail_type: String,
    /// `detail.topicName`, when present.
    pub topic_name: Option<String>,
    /// The conversation detail kind; `None` for other topic families (audits, agent state, ...).
    pub kind: Option<Kind>,
    /// The conversation id from the topic name.
    pub conversation_id: Option<String>,
    /// The envelope exactly as delivered.
    pub envelope: String,
    /// The records of the previous module in this rule's chain; empty for the first module.
    pub records: Vec<Record>,
}

impl Event {
    /// Builds an event from envelope JSON the way the host does (for tests and native tools).
    pub fn from_envelope_json(envelope: impl Into<String>) -> Result<Event, RuleError> {
        #[derive(Deserialize)]
        struct Head<'a> {
            #[serde(borrow)]
            id: Cow<'a, str>,
            #[serde(rename = "detail-type", borrow)]
            detail_type: Cow<'a, str>,
            #[serde(borrow)]
            detail: HeadDetail<'a>,
        }
        #[derive(Deserialize)]
        struct HeadDetail<'a> {
            #[serde(rename = "topicName", default, borrow)]
            topic_name: Option<Cow<'a, str>>,
        }
        let envelope = envelope.into();
        let head: Head = parse_json(&envelope, "")?;
        let (id, detail_type) = (head.id.into_owned(), head.detail_type.into_owned());
        Ok(Event::from_head(id, detail_type, head.detail.topic_name.map(Cow::into_owned), envelope))
    }

    /// An event from its envelope's `id`, `detail-type` and `detail.topicName`, already read by the caller, and
    /// the envelope (not parsed again).
    pub fn from_head(id: String, detail_type: String, topic_name: Option<String>, envelope: String) -> Event {
        let topic = classify(&detail_type, topic_name.as_deref());
        let (kind, conversation_id) = (topic.kind.map(Kind::parse), topic.conversation_id.map(str::to_owned));
        Event { id, detail_type, topic_name, kind, conversation_id, records: Vec::new(), envelope }
    }

    /// True for the conversation detail topics (`v2.detail.events.conversation.{id}.*`).
    pub fn is_conversation(&self) -> bool {
        self.kind.is_some()
    }

    /// The partition key weft uses by default: the conversation id, else the envelope id.
    pub fn partition_key(&self) -> &str {
        self.conversation_id.as_deref().unwrap_or(&self.id)
    }

    /// The whole envelope with its body typed by kind. Fails with `not-a-conversation-event` for other topic
    /// families, and with `invalid-event` (naming the field) when a field has the wrong type.
    pub fn conversation(&self) -> Result<Envelope<ConversationEvent>, RuleError> {
        let Some(kind) = &self.kind else {
            return Err(RuleError::new(
                "not-a-conversation-event",
                format!("`{}` is not a conversation detail topic", self.detail_type),
            ));
        };
        let envelope: Envelope<Option<&RawValue>> = self.parse()?;
        let body = envelope.detail.event_body.map_or("{}", RawValue::get);
        let typed =
            ConversationEvent::deserialize(kind, &mut serde_json::Deserializer::from_str(body)).or_else(|_| {
                let mut de = serde_json::Deserializer::from_str(body);
                let mut track = serde_path_to_error::Track::new();
                serde::de::DeserializeSeed::deserialize(
                    BodySeed(kind),
                    serde_path_to_error::Deserializer::new(&mut de, &mut track),
                )
                .map_err(|e| invalid_event("detail.eventBody.", &track.path().to_string(), &e))
            })?;
        Ok(envelope.map_body(|_| typed))
    }

    /// Reads the envelope into any type of yours (borrowing from the envelope where it can): the fastest way to
    /// read a few fields. Errors name the field that did not fit.
    pub fn parse<'a, T: Deserialize<'a>>(&'a self) -> Result<T, RuleError> {
        parse_json(&self.envelope, "")
    }
}

struct BodySeed<'k>(&'k Kind);

impl<'de> serde::de::DeserializeSeed<'de> for BodySeed<'_> {
    type Value = ConversationEvent;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        ConversationEvent::deserialize(self.0, deserializer)
    }
}

/// Parses at full speed; only when that fails, parses again tracking the path, to say which field was wrong.
pub(crate) fn parse_json<'a, T: Deserialize<'a>>(json: &'a str, prefix: &str) -> Result<T, RuleError> {
    serde_json::from_str(json).or_else(|_| {
        let mut de = serde_json::Deserializer::from_str(json);
        let value: T = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| invalid_event(prefix, &e.path().to_string(), e.inner()))?;
        de.end().map_err(|e| invalid_event(prefix, "", &e))?;
        Ok(value)
    })
}

/// `invalid-json` when the text is not JSON at all, `invalid-event` when it is JSON of the wrong shape; the
/// message names the field (as a path) and the position.
fn invalid_event(prefix: &str, path: &str, error: &serde_json::Error) -> RuleError {
    let message = crate::outcome::scrub(&error.to_string());
    if error.is_syntax() || error.is_eof() {
        return RuleError::new("invalid-json", message);
    }
    let at = if path == "." || path.is_empty() {
        prefix.trim_end_matches('.').to_owned()
    } else {
        format!("{prefix}{path}")
    };
    let at = if at.is_empty() { "envelope".to_owned() } else { format!("`{at}`") };
    RuleError::new("invalid-event", format!("{at}: {message}"))
}
