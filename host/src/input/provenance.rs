//! Where an event came from, and what makes it the same event when it comes again. The envelope's `id` names one
//! delivery: EventBridge gives a replayed event a new one (moto does; AWS does not promise to keep it), and
//! Genesys' own retries arrive under new ids too. What Genesys published is the `detail`; its canonical form
//! (written back compactly: members in their order, no insignificant whitespace, escapes resolved) hashes to the
//! same identity however the envelope around it was re-serialised.

use serde::Deserialize;
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

/// An envelope's replay, and the identity of the Genesys event it carries.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Provenance {
    /// `replay-name`, which EventBridge adds to every event a replay sends.
    pub replay: Option<String>,
    /// sha256 of the canonical `detail`, hex (`None`: the envelope has no `detail` to identify it by).
    pub identity: Option<String>,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "replay-name", default)]
    replay: Option<String>,
    #[serde(borrow, default)]
    detail: Option<&'a RawValue>,
}

impl Provenance {
    /// Reads an envelope (JSON text that already parsed as one): its replay and its event's identity.
    pub fn of(envelope: &str) -> Provenance {
        let Ok(envelope) = serde_json::from_str::<Envelope<'_>>(envelope) else { return Provenance::default() };
        let identity = envelope.detail.and_then(|detail| {
            // The detail written back compactly straight into the hash: no tree of it is built.
            let mut hash = Hashing(Sha256::new());
            let mut reader = serde_json::Deserializer::from_str(detail.get());
            serde_transcode::transcode(&mut reader, &mut serde_json::Serializer::new(&mut hash)).ok()?;
            Some(hex(&hash.0.finalize()))
        });
        Provenance { replay: envelope.replay, identity }
    }
}

/// A writer into a hash.
struct Hashing(Sha256);

impl std::io::Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The replay an envelope came from, found without parsing it (every live event pays only the search) and read
/// alone when it is there (its event's identity is lineage's business).
pub fn replay_name(envelope: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Replayed {
        #[serde(rename = "replay-name", default)]
        replay: Option<String>,
    }
    memchr::memmem::find(envelope.as_bytes(), b"\"replay-name\"")?;
    serde_json::from_str::<Replayed>(envelope).ok()?.replay
}

/// A record's identity: its event's, the rule set version and rule that made it, and its place among the rule's
/// records — the same on every delivery of the same event under the same rule set, another under another version
/// (whose records are new, and stamped with it). 32 hex digits (128 bits of sha256).
pub fn record_id(event: &str, rule_set: &str, rule: &str, index: usize) -> String {
    let mut hash = Sha256::new();
    for part in [event.as_bytes(), rule_set.as_bytes(), rule.as_bytes(), index.to_string().as_bytes()] {
        hash.update((part.len() as u64).to_le_bytes());
        hash.update(part);
    }
    hex(&hash.finalize()[..16])
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
        let _ = write!(out, "{b:02x}");
        out
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIVE: &str = r#"{"version":"0","id":"a1","detail-type":"t","source":"s","time":"2025-11-27T10:00:00Z",
        "detail":{"topicName":"v2.detail.events.conversation.c1.acw","version":"2",
                  "eventBody":{"wrapupCode":"Caf\u00e9","eventTime":1764237600000},"metadata":{"CorrelationId":"x"}}}"#;

    #[test]
    fn a_replayed_envelope_carries_the_same_event_whatever_its_id_and_layout() {
        // What moto's replay sends: a new id, `replay-name`, the detail written back by Python (spaces after
        // separators, non-ASCII escaped).
        let replayed = r#"{"version": "0", "id": "b2", "detail-type": "t", "source": "s", "replay-name": "r1",
            "detail": {"topicName": "v2.detail.events.conversation.c1.acw", "version": "2",
                       "eventBody": {"wrapupCode": "Café", "eventTime": 1764237600000},
                       "metadata": {"CorrelationId": "x"}}}"#;
        let (live, again) = (Provenance::of(LIVE), Provenance::of(replayed));
        assert_eq!(live.replay, None);
        assert_eq!(again.replay.as_deref(), Some("r1"));
        assert_eq!(live.identity, again.identity);
        assert_eq!(live.identity.as_ref().map(String::len), Some(64));
        assert_eq!(replay_name(replayed).as_deref(), Some("r1"));
        assert_eq!(replay_name(LIVE), None);
        // Another event (one field of its body differs) is another identity.
        let other = Provenance::of(&LIVE.replace("1764237600000", "1764237600001"));
        assert_ne!(other.identity, live.identity);
    }

    #[test]
    fn record_ids_change_with_the_rule_set_rule_and_place_only() {
        let id = record_id("e", "v1@abc", "wrap-ups", 0);
        assert_eq!(id.len(), 32);
        assert_eq!(id, record_id("e", "v1@abc", "wrap-ups", 0));
        for other in [
            record_id("f", "v1@abc", "wrap-ups", 0),
            record_id("e", "v2@def", "wrap-ups", 0),
            record_id("e", "v1@abc", "wrap-upsx", 0),
            record_id("e", "v1@abc", "wrap-ups", 1),
            // Parts are length-prefixed: moving a character from one to the next is another id.
            record_id("e", "v1@ab", "cwrap-ups", 0),
        ] {
            assert_ne!(other, id);
        }
    }
}
