//! The weft guest SDK: write a rule module as one function.
//!
//! ```ignore
//! use weft_sdk::{Event, Outcome, Record, RuleError};
//!
//! #[weft_sdk::rule]
//! fn voice_only(event: Event) -> Result<Outcome, RuleError> {
//!     let envelope = event.conversation()?;
//!     if envelope.detail.event_body.media_type() != Some(&weft_sdk::MediaType::Voice) {
//!         return Ok(Outcome::drop("not a voice interaction"));
//!     }
//!     Ok(Record::json(event.partition_key(), &envelope.detail.event_body)?.into())
//! }
//! ```
//!
//! Build it with `weft rules build` (wasm32, speed-optimised, checked against weft's WIT world). The same function
//! compiles natively too, so it can be unit-tested with `cargo test` (see [`testing`]).

#[cfg(any(test, all(feature = "arena", target_arch = "wasm32", not(target_feature = "atomics"))))]
mod arena;
mod envelope;
mod event;
mod host;
mod json;
mod open_enum;
mod outcome;
mod text;
mod topic;
mod topics;

#[cfg(target_arch = "wasm32")]
#[doc(hidden)]
pub mod __private;
pub mod testing;

pub use envelope::{Detail, Envelope, Metadata};
pub use event::Event;
pub use host::{Level, log, lookup, params, params_json};
pub use outcome::{IntoOutcome, Outcome, Record, RuleError};
pub use text::Str;
pub use topic::{CONVERSATION_TEMPLATE_PREFIX, Topic, classify};
pub use topics::*;
pub use weft_sdk_macro::rule;

/// A call's allocations are freed together after it; see [`arena`] for why a bump arena.
#[cfg(all(feature = "arena", target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: arena::Arena = arena::Arena::new();

// Lets the `#[weft_sdk::rule]` expansion name this crate from its own tests.
extern crate self as weft_sdk;

/// The example rule of docs/writing-rules.md, compiled and run natively here so the page cannot drift from the API.
#[cfg(test)]
mod readme_example {
    use crate::{Event, MediaType, Outcome, Record, RuleError};

    #[crate::rule]
    fn voice_only(event: Event) -> Result<Outcome, RuleError> {
        let envelope = event.conversation()?; // typed body of the event's topic
        let body = &envelope.detail.event_body;
        if body.media_type() != Some(&MediaType::Voice) {
            return Ok(Outcome::drop("not a voice interaction"));
        }
        let queue = body.queue_id().and_then(|id| crate::lookup("queues", id));
        let data = serde_json::json!({"conversationId": body.conversation_id(), "queue": queue});
        Ok(Record::json(event.partition_key(), &data)?.into())
    }

    fn event(media: &str) -> Event {
        let json = format!(
            r#"{{"id":"e1","detail-type":"v2.detail.events.conversation.{{id}}.acd.start","detail":{{"topicName":"v2.detail.events.conversation.c1.acd.start","eventBody":{{"conversationId":"c1","mediaType":"{media}","queueId":"q1"}}}}}}"#
        );
        Event::from_envelope_json(json).unwrap()
    }

    #[test]
    fn stitches_voice_and_drops_the_rest() {
        crate::testing::set_table("queues", [("q1", "Billing")]);
        let outcome = crate::IntoOutcome::into_outcome(voice_only(event("VOICE")));
        let Outcome::Records(records) = outcome else { panic!("{outcome:?}") };
        assert_eq!(records[0].partition_key, "c1");
        assert_eq!(records[0].data, r#"{"conversationId":"c1","queue":"Billing"}"#);
        assert_eq!(
            crate::IntoOutcome::into_outcome(voice_only(event("CHAT"))),
            Outcome::drop("not a voice interaction")
        );
        assert_eq!(
            crate::IntoOutcome::into_outcome(voice_only(event("HOLOGRAM"))),
            Outcome::drop("not a voice interaction")
        );
    }

    #[test]
    fn typed_bodies_keep_unknown_enum_values_and_name_bad_fields() {
        let envelope = event("HOLOGRAM").conversation().unwrap();
        assert_eq!(envelope.detail.event_body.media_type(), Some(&MediaType::Unrecognized("HOLOGRAM".into())));
        assert!(matches!(envelope.detail.event_body, crate::ConversationEvent::AcdStart(_)));
        let bad = Event::from_envelope_json(
            r#"{"id":"e1","detail-type":"v2.detail.events.conversation.{id}.acd.end","detail":{"eventBody":{"connectedDurationMs":"long"}}}"#,
        )
        .unwrap();
        let error = bad.conversation().unwrap_err();
        assert_eq!(error.code, "invalid-event");
        assert!(
            error.message.starts_with("`detail.eventBody.connectedDurationMs`: invalid type: string"),
            "{}",
            error.message
        );
    }
}
