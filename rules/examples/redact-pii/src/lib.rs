//! PII redaction: replaces `ani`, `dnis`, `addressFrom`, `addressTo` and `callbackNumbers` with a keyed hash
//! (HMAC-SHA256 under a key from the parameters), so a stream can join on a caller without carrying the number.
//!
//! The same number under the same key always hashes the same; without the key the hash cannot be reversed by
//! trying every phone number, as a plain hash could. Alone, it writes `{_id, topicName, eventBody}` with the body
//! redacted; in a chain, it redacts those members of the records of the module before it.
//!
//! Parameters: `key` (required: a secret of at least 16 characters), `fields` (default: the five above).

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;
use weft_sdk::{Envelope, Event, Outcome, Record, RuleError};

const PII_FIELDS: [&str; 5] = ["ani", "dnis", "addressFrom", "addressTo", "callbackNumbers"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Params {
    key: Option<String>,
    fields: Option<Vec<String>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RedactedEvent<'a> {
    #[serde(rename = "_id")]
    id: &'a str,
    topic_name: Option<&'a str>,
    event_body: Map<String, Value>,
}

/// `hmac-sha256:` and the hex digest of `value` under `key`.
pub fn keyed_hash(key: &[u8], value: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(value.as_bytes());
    let digest = mac.finalize().into_bytes();
    let mut out = String::with_capacity(12 + 64);
    out.push_str("hmac-sha256:");
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Replaces each named member: a string by its hash, an array by its members' hashes, anything else by the
/// hash of its JSON text.
fn redact(object: &mut Map<String, Value>, fields: &[String], key: &[u8]) {
    for field in fields {
        let Some(value) = object.get_mut(field) else { continue };
        *value = match value.take() {
            Value::Null => Value::Null,
            Value::String(s) => Value::String(keyed_hash(key, &s)),
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| match item {
                        Value::String(s) => Value::String(keyed_hash(key, &s)),
                        other => Value::String(keyed_hash(key, &other.to_string())),
                    })
                    .collect(),
            ),
            other => Value::String(keyed_hash(key, &other.to_string())),
        };
    }
}

#[weft_sdk::rule]
pub fn redact_pii(event: Event) -> Result<Outcome, RuleError> {
    let params: Params = weft_sdk::params()?;
    let key = match params.key {
        Some(key) if key.len() >= 16 => key,
        _ => return Err(RuleError::new("invalid-params", "`key` is required: a secret of at least 16 characters")),
    };
    let fields: Vec<String> = params.fields.unwrap_or_else(|| PII_FIELDS.map(String::from).to_vec());
    if !event.records.is_empty() {
        let mut records = event.records;
        for record in &mut records {
            let mut object: Map<String, Value> = record.data()?;
            redact(&mut object, &fields, key.as_bytes());
            record.data = serde_json::to_string(&object)?;
        }
        return Ok(Outcome::Records(records));
    }
    let envelope: Envelope<Option<Map<String, Value>>> = event.parse()?;
    let mut body = envelope.detail.event_body.unwrap_or_default();
    redact(&mut body, &fields, key.as_bytes());
    let record = RedactedEvent { id: &event.id, topic_name: event.topic_name.as_deref(), event_body: body };
    Ok(Record::json(event.partition_key(), &record)?.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_keyed_and_stable() {
        let a = keyed_hash(b"k1-0123456789abcdef", "tel:+15555550123");
        assert_eq!(a, keyed_hash(b"k1-0123456789abcdef", "tel:+15555550123"));
        assert_ne!(a, keyed_hash(b"k2-0123456789abcdef", "tel:+15555550123"));
        assert!(a.starts_with("hmac-sha256:") && a.len() == 12 + 64);
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        assert_eq!(
            keyed_hash(b"Jefe", "what do ya want for nothing?"),
            "hmac-sha256:5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
