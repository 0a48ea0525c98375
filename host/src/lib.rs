//! weft: Genesys Cloud conversation events in, Amazon Kinesis records out, decided by WebAssembly rules.
//!
//! The data path, top to bottom:
//! - [`input`]: bytes → chunks, one per event (JSON, JSON lines, `}{`), each with where it came from;
//! - [`envelope`]: chunk → [`weft_sdk::Event`], the envelope checked and its topic classified;
//! - [`rules`]: the rule set runs the event through its modules ([`engine`]) → a [`rules::Disposition`];
//! - [`record`], [`dead_letter`]: records for Kinesis, drops and dead letters for everything else;
//! - [`pipeline`]: all of the above, with the counts that prove every event ends in exactly one place;
//! - [`sink`]: delivery — records to Kinesis, dead letters to SQS (or both to local files for `weft run`).
//!
//! Around it: [`lambda`] (the handler), [`config`] (its environment), [`aws`] (clients).

pub mod aws;
pub mod componentize;
pub mod config;
pub mod dead_letter;
pub mod embedded;
pub mod engine;
pub mod envelope;
pub mod golden;
pub mod input;
pub mod lambda;
pub mod manifest;
pub mod matching;
pub mod pipeline;
pub mod record;
pub mod reload;
pub mod rule_source;
pub mod rules;
pub mod schema;
pub mod signing;
pub mod sink;
pub mod tables;
