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
//! Build it with `weft rules build` (wasm32, size-optimised, checked against weft's WIT world). The same function
//! compiles natively too, so it can be unit-tested with `cargo test` (see [`testing`]).

mod envelope;
mod event;
mod host;
mod open_enum;
mod outcome;
mod topic;
mod topics;

#[doc(hidden)]
pub mod __private;
pub mod testing;

pub use envelope::{Detail, Envelope, Metadata};
pub use event::Event;
pub use host::{Level, log, lookup, params, params_json};
pub use outcome::{IntoOutcome, Outcome, Record, RuleError};
pub use topic::{CONVERSATION_TEMPLATE_PREFIX, Topic, classify};
pub use topics::*;
pub use weft_sdk_macro::rule;
