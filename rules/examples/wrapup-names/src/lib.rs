//! Wrap-up names: stitches the name of an `acw` or `wrapup` event's `wrapupCode` from a lookup table.
//!
//! Genesys' system codes (`ININ-WRAP-UP-TIMEOUT`, `ININ-WRAP-UP-SKIPPED`, ...) are not in the wrap-up API, so no
//! table has them: they get readable names here. In a chain it adds `wrapupName` to the records of the module
//! before it (e.g. `builtin:default`); alone it writes a small record of its own.
//!
//! Parameters: `table` (default `wrapup-codes`), `onMiss`: what a code in no table becomes — `null` (default:
//! `wrapupName: null`), `code` (the code itself), `drop`, or `error` (the rule's on-error policy applies).

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
    "wrapup-codes".into()
}

#[derive(Deserialize, Default, Clone, Copy, PartialEq)]
#[serde(rename_all = "kebab-case")]
enum OnMiss {
    #[default]
    Null,
    Code,
    Drop,
    Error,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    #[serde(borrow)]
    conversation_id: Option<Str<'a>>,
    #[serde(borrow)]
    participant_id: Option<Str<'a>>,
    #[serde(borrow)]
    queue_id: Option<Str<'a>>,
    #[serde(borrow)]
    wrapup_code: Option<Str<'a>>,
    event_time: Option<i64>,
}

/// The record written when this module runs alone.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct WrapupRecord<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    conversation_id: Option<&'a str>,
    participant_id: Option<&'a str>,
    queue_id: Option<&'a str>,
    timestamp: Option<i64>,
    wrapup_code: &'a str,
    wrapup_name: Option<&'a str>,
}

/// Readable names for the codes Genesys sets itself. Other `ININ-` codes get a name made from the code.
const SYSTEM_CODES: &[(&str, &str)] = &[
    ("ININ-WRAP-UP-TIMEOUT", "Wrap-up timed out"),
    ("ININ-WRAP-UP-SKIPPED", "Wrap-up skipped"),
    ("ININ-OUTBOUND-TRANSFERRED-TO-QUEUE", "Outbound: transferred to queue"),
    ("ININ-OUTBOUND-PREVIEW-SKIPPED", "Outbound: preview skipped"),
    ("ININ-OUTBOUND-MACHINE", "Outbound: answering machine"),
];

/// The name of a system code: the table above, or the code made readable (`ININ-GOT-LOST` → `Got lost`).
pub fn system_name(code: &str) -> Option<String> {
    if let Some((_, name)) = SYSTEM_CODES.iter().find(|(c, _)| *c == code) {
        return Some((*name).to_owned());
    }
    let rest = code.strip_prefix("ININ-")?;
    let words = rest.to_ascii_lowercase().replace('-', " ");
    let mut chars = words.chars();
    let first = chars.next()?;
    Some(first.to_ascii_uppercase().to_string() + chars.as_str())
}

#[weft_sdk::rule]
pub fn wrapup_names(event: Event) -> Result<Outcome, RuleError> {
    let params: Params = weft_sdk::params()?;
    let envelope: Envelope<Body> = event.parse()?;
    let body = envelope.detail.event_body;
    let Some(code) = body.wrapup_code.as_deref() else {
        // Nothing to stitch: a chain's records go on unchanged; alone, there is nothing to write.
        if event.records.is_empty() {
            return Ok(Outcome::drop("no wrap-up code"));
        }
        return Ok(Outcome::Records(event.records));
    };
    let name = match weft_sdk::lookup(&params.table, code).or_else(|| system_name(code)) {
        Some(name) => Some(name),
        None => match params.on_miss {
            OnMiss::Null => None,
            OnMiss::Code => Some(code.to_owned()),
            OnMiss::Drop => return Ok(Outcome::drop("wrap-up code not in the table")),
            OnMiss::Error => {
                return Err(RuleError::new(
                    "lookup-missing",
                    format!("wrap-up code {code} is not in table {}", params.table),
                ));
            }
        },
    };
    if event.records.is_empty() {
        let record = WrapupRecord {
            id: &event.id,
            conversation_id: body.conversation_id.as_deref(),
            participant_id: body.participant_id.as_deref(),
            queue_id: body.queue_id.as_deref(),
            timestamp: body.event_time,
            wrapup_code: code,
            wrapup_name: name.as_deref(),
        };
        return Ok(Record::json(event.partition_key(), &record)?.into());
    }
    let mut records = event.records;
    for record in &mut records {
        record.set("wrapupName", &name)?;
    }
    Ok(Outcome::Records(records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_sdk::IntoOutcome;
    use weft_sdk::testing::{reset, set_params, set_table};

    const ACW: &str = include_str!("../tests/golden/acw-known-code.json");

    fn event(code: &str) -> Event {
        let case: serde_json::Value = serde_json::from_str(ACW).unwrap();
        let mut envelope = case["event"].clone();
        envelope["detail"]["eventBody"]["wrapupCode"] = code.into();
        Event::from_envelope_json(envelope.to_string()).unwrap()
    }

    #[test]
    fn system_codes_have_names_without_a_table() {
        assert_eq!(system_name("ININ-WRAP-UP-TIMEOUT").as_deref(), Some("Wrap-up timed out"));
        assert_eq!(system_name("ININ-SOMETHING-NEW").as_deref(), Some("Something new"));
        assert_eq!(system_name("3c9a0d4e"), None);
    }

    #[test]
    fn a_miss_is_handled_as_the_parameters_say() {
        reset();
        set_table("wrapup-codes", [("known", "Sale")]);
        let name = |outcome: Outcome| match outcome {
            Outcome::Records(r) => serde_json::from_str::<serde_json::Value>(&r[0].data).unwrap()["wrapupName"].clone(),
            other => panic!("{other:?}"),
        };
        assert_eq!(name(wrapup_names(event("known")).into_outcome()), "Sale");
        assert_eq!(name(wrapup_names(event("unknown")).into_outcome()), serde_json::Value::Null);
        set_params(r#"{"onMiss": "code"}"#);
        assert_eq!(name(wrapup_names(event("unknown")).into_outcome()), "unknown");
        set_params(r#"{"onMiss": "drop"}"#);
        assert_eq!(wrapup_names(event("unknown")).into_outcome(), Outcome::drop("wrap-up code not in the table"));
        set_params(r#"{"onMiss": "error"}"#);
        assert!(
            matches!(wrapup_names(event("unknown")).into_outcome(), Outcome::Error(e) if e.code == "lookup-missing")
        );
    }
}
