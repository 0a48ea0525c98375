//! Glue used by `#[weft_sdk::rule]`; not part of the API.

pub mod bindings {
    wit_bindgen::generate!({
        world: "rule",
        path: "wit",
        pub_export_macro: true,
        export_macro_name: "__export_rule_world",
        default_bindings_module: "::weft_sdk::__private::bindings",
    });
}

use std::sync::Once;

pub use bindings::Guest;
use bindings::weft::rules::types as wit;
pub use wit::{Event as WitEvent, Outcome as WitOutcome};

use crate::{Event, IntoOutcome, Kind, Level, Outcome, Record, RuleError};

/// Runs one event through the rule function, converting between the WIT types and the SDK's.
pub fn call<O: IntoOutcome>(event: WitEvent, rule: impl FnOnce(Event) -> O) -> WitOutcome {
    static PANIC_HOOK: Once = Once::new();
    PANIC_HOOK.call_once(|| {
        // wasm32 cannot unwind: a panic aborts the instance. Say why first, so the host's dead letter carries the
        // message and not just "unreachable".
        std::panic::set_hook(Box::new(|info| crate::log(Level::Error, &format!("rule panicked: {info}"))));
    });
    into_wit(rule(from_wit(event)).into_outcome())
}

fn from_wit(event: WitEvent) -> Event {
    Event {
        id: event.id,
        detail_type: event.detail_type,
        topic_name: event.topic_name,
        kind: event.kind.as_deref().map(Kind::parse),
        conversation_id: event.conversation_id,
        envelope: event.envelope,
        records: event
            .records
            .into_iter()
            .map(|r| Record { partition_key: r.partition_key, data: r.data, stream: r.stream })
            .collect(),
    }
}

fn into_wit(outcome: Outcome) -> WitOutcome {
    match outcome {
        Outcome::Records(records) => WitOutcome::Records(
            records
                .into_iter()
                .map(|r| wit::OutputRecord { partition_key: r.partition_key, data: r.data, stream: r.stream })
                .collect(),
        ),
        Outcome::Drop(reason) => WitOutcome::Drop(reason),
        Outcome::Error(RuleError { code, message }) => WitOutcome::Error(wit::RuleError { code, message }),
    }
}
