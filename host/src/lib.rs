//! weft: Genesys Cloud conversation events in, Amazon Kinesis records out, decided by WebAssembly rules.
//!
//! The folders are the stages an event goes through, top to bottom; each uses only the ones above it:
//! - [`input`]: bytes → chunks, one per event (JSON, JSON lines, `}{`), each with where it came from; a chunk's
//!   envelope checked and its topic classified ([`input::envelope`]);
//! - [`privacy`]: what of a module's or an event's text may reach logs, metrics and message attributes;
//! - [`engine`]: wasmtime — compiling, instantiating and calling rule modules within their limits;
//! - [`verdict`]: what can become of an event — its [`verdict::Verdict`] (records, dropped, dead letter) and,
//!   after delivery, its [`verdict::Fate`];
//! - [`rules`]: a rule set (manifest, matching, tables, chains, on-error policy, quarantine) runs an event
//!   through its modules → a verdict;
//! - [`judge`]: input chunks → envelopes → rules → one verdict per event, surviving panics, rolling back a rule
//!   set that fails from its first events;
//! - [`delivery`]: records to Kinesis, dead letters to SQS (or S3 beside them), within the invocation's budget →
//!   one fate per event;
//! - [`rollout`]: rule sets into a running system — sources, signature and self-test, hot swap;
//! - [`metrics`]: what every stage counted, as CloudWatch Embedded Metric Format documents;
//! - [`history`]: events that come again — EventBridge replays of the Genesys bus's archive — known for what they
//!   are (counted by replay, stamped, kept apart), and the replays themselves driven from the command line.
//!
//! The two front doors sit on top: [`lambda`] (the handler and its configuration) and the `weft` CLI (`cli/`,
//! in the binary). [`aws`] builds the SDK clients both use, [`logs`] formats their log lines; [`schema`] writes
//! `schemas/` from these types.

pub mod input;

pub mod privacy;

pub mod engine;

pub mod verdict;

pub mod rules;

pub mod judge;

pub mod delivery;

pub mod rollout;

pub mod metrics;

pub mod history;

pub mod aws;
pub mod lambda;
pub mod logs;
pub mod schema;
