//! Rules built into weft, run as native code.
//!
//! The sandbox is for code weft did not write. The built-in default rule is weft's own, compiled into this binary
//! from the same crate as its component (`rules/default`), as trusted as the host code that checks an envelope
//! before any rule sees it. In wasm it cost the process more than a quarter of its instructions (55.4k an event
//! against 40.1k natively; valgrind, 4,999 events minus one): wasmtime's boundary, copying the event into the
//! module, and Cranelift's code with a deadline check in every loop. So a built-in rule runs natively, through the
//! SDK types every module is written against, and the host checks its answer as it checks any module's.
//!
//! What the sandbox gave it and this does not: a deadline that can stop a call, and a memory limit. The default
//! rule reads an event in one pass, its time and memory linear in the event's size. A panic in it is caught here
//! and dead-letters the event, as a module's panic would.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Instant;

use super::{CallError, wit};

/// A rule function as the SDK's attribute macro leaves it natively: an event in, an outcome out.
pub type NativeRule = fn(weft_sdk::Event) -> weft_sdk::Outcome;

/// The default rule, natively.
pub fn default_rule(event: weft_sdk::Event) -> weft_sdk::Outcome {
    weft_sdk::IntoOutcome::into_outcome(weft_rule_default::shared_fields(event))
}

/// Runs `rule` on each event, as one call. A panic fails the call with its message, and so does `cutoff` passing
/// before an event (the invocation's time for rules is up): the caller then asks the events one by one, as after a
/// module's trap or interrupt. No event is started after the cutoff, and one takes microseconds.
pub(super) fn run(
    rule: NativeRule,
    events: &[wit::Event<'_>],
    cutoff: Option<Instant>,
) -> Result<Vec<wit::Outcome>, CallError> {
    let answers = catch_unwind(AssertUnwindSafe(|| {
        events
            .iter()
            .map(|event| match cutoff.is_some_and(|cutoff| Instant::now() >= cutoff) {
                true => Err(CallError::OutOfTime),
                false => Ok(answer(rule(sdk_event(event)))),
            })
            .collect()
    }));
    answers.unwrap_or_else(|panic| {
        let message = panic_message(panic.as_ref()).unwrap_or("a panic with no message").to_owned();
        Err(CallError::Panic { message })
    })
}

/// The event as the SDK hands it to a module (the module's copy of the envelope included).
fn sdk_event(event: &wit::Event<'_>) -> weft_sdk::Event {
    let records = event.records.iter().map(|r| weft_sdk::Record {
        partition_key: r.partition_key.to_owned(),
        data: r.data.to_owned(),
        stream: r.stream.map(str::to_owned),
    });
    weft_sdk::Event {
        id: event.id.to_owned(),
        detail_type: event.detail_type.to_owned(),
        topic_name: event.topic_name.map(str::to_owned),
        kind: event.kind.map(weft_sdk::Kind::parse),
        conversation_id: event.conversation_id.map(str::to_owned),
        envelope: event.envelope.to_owned(),
        records: records.collect(),
    }
}

/// The outcome as it would have come out of a module.
fn answer(outcome: weft_sdk::Outcome) -> wit::Outcome {
    match outcome {
        weft_sdk::Outcome::Records(records) => wit::Outcome::Records(
            records
                .into_iter()
                .map(|r| wit::OutputRecordResult { partition_key: r.partition_key, data: r.data, stream: r.stream })
                .collect(),
        ),
        weft_sdk::Outcome::Drop(reason) => wit::Outcome::Drop(reason),
        weft_sdk::Outcome::Error(e) => wit::Outcome::Error(wit::RuleError { code: e.code, message: e.message }),
    }
}

/// What a panic said, when it said it in words (`panic!` with a message, `expect`, an assertion).
pub fn panic_message(panic: &(dyn std::any::Any + Send)) -> Option<&str> {
    panic.downcast_ref::<&str>().copied().or_else(|| panic.downcast_ref::<String>().map(String::as_str))
}
