//! From a chunk of input to an event the rules can take: the envelope is checked (JSON, an object with `id`,
//! `detail-type` and `detail`) and classified (topic kind, conversation id) once, here, for every rule. Envelopes
//! of the usual shape are read in one pass ([`super::head`]); serde_json reads the others.

use weft_sdk::{Kind, RuleError};

use super::EventText;

/// Why a chunk is not an event. The class is stable (`invalid-json`, `not-an-envelope`), the reason says where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct ParseError {
    pub class: &'static str,
    pub reason: String,
}

/// One checked envelope: what the host read of it, and its text as it arrived. The SDK's [`weft_sdk::Event`] with
/// the text held as [`EventText`], shared with the input rather than copied into the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// The EventBridge envelope `id`.
    pub id: String,
    /// The envelope `detail-type` (the topic template).
    pub detail_type: String,
    /// `detail.topicName`, when present.
    pub topic_name: Option<String>,
    /// The conversation detail kind; `None` for other topic families.
    pub kind: Option<Kind>,
    /// The conversation id from the topic name.
    pub conversation_id: Option<String>,
    /// The envelope exactly as delivered.
    pub envelope: EventText,
}

impl Event {
    /// What the SDK read of an envelope (its copy of the text left out), with the text as it arrived.
    fn read(read: weft_sdk::Event, text: EventText) -> Event {
        let weft_sdk::Event { id, detail_type, topic_name, kind, conversation_id, .. } = read;
        Event { id, detail_type, topic_name, kind, conversation_id, envelope: text }
    }

    /// The event as the SDK's type (a copy of the text), for rules run natively.
    pub fn to_sdk(&self) -> weft_sdk::Event {
        let (id, detail_type, topic_name) = (self.id.clone(), self.detail_type.clone(), self.topic_name.clone());
        weft_sdk::Event::from_head(id, detail_type, topic_name, self.envelope.to_string())
    }
}

/// Parses one envelope. `text` is kept verbatim in the event (rules and dead letters get exactly what arrived).
pub fn parse(text: impl Into<EventText>) -> Result<Event, ParseError> {
    let text = text.into();
    let event = match super::head::read(&text) {
        Some(head) => {
            let (id, detail_type) = (head.id.to_owned(), head.detail_type.to_owned());
            let topic_name = head.topic_name.map(str::to_owned);
            Event::read(weft_sdk::Event::from_head(id, detail_type, topic_name, String::new()), text)
        }
        // What the one-pass reader is not sure of, and every envelope that is wrong, serde_json reads and explains.
        None => match weft_sdk::Event::from_envelope_json(text.as_str()) {
            Ok(read) => Event::read(read, text),
            Err(RuleError { code, message }) => {
                let class = if code == "invalid-json" { "invalid-json" } else { "not-an-envelope" };
                return Err(ParseError { class, reason: message });
            }
        },
    };
    if event.id.is_empty() {
        return Err(ParseError {
            class: "not-an-envelope",
            reason: "`id`: is empty (records need it as `_id`)".into(),
        });
    }
    if event.detail_type.is_empty() {
        return Err(ParseError { class: "not-an-envelope", reason: "`detail-type`: is empty".into() });
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_conversation_event_is_classified() {
        let event = parse(r#"{"id":"e1","detail-type":"v2.detail.events.conversation.{id}.acw","detail":{"topicName":"v2.detail.events.conversation.c1.acw"}}"#).unwrap();
        assert_eq!(event.kind.map(|k| k.as_str().to_owned()).as_deref(), Some("acw"));
        assert_eq!(event.conversation_id.as_deref(), Some("c1"));
    }

    #[test]
    fn errors_name_the_field_and_the_class() {
        let missing = parse(r#"{"id":"e1","detail":{}}"#).unwrap_err();
        assert_eq!(missing.class, "not-an-envelope");
        assert!(missing.reason.contains("missing field `detail-type`"), "{}", missing.reason);
        let wrong = parse(r#"{"id":5,"detail-type":"x","detail":{}}"#).unwrap_err();
        assert_eq!(wrong.class, "not-an-envelope");
        assert!(wrong.reason.starts_with("`id`: invalid type: integer"), "{}", wrong.reason);
        assert!(wrong.reason.contains("integer (value withheld)"), "{}", wrong.reason);
        let topic = parse(r#"{"id":"e1","detail-type":"x","detail":{"topicName":["a"]}}"#).unwrap_err();
        assert!(topic.reason.starts_with("`detail.topicName`: invalid type: sequence"), "{}", topic.reason);
        let broken = parse(r#"{"id":"e1","detail-type":"x","detail":{"a":tru}}"#).unwrap_err();
        assert_eq!(broken.class, "invalid-json");
        assert!(broken.reason.contains("line 1 column"), "{}", broken.reason);
        assert_eq!(
            parse(r#"{"id":"","detail-type":"x","detail":{}}"#).unwrap_err().reason,
            "`id`: is empty (records need it as `_id`)"
        );
    }
}
