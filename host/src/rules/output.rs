//! A rule's records on their way out: Kinesis' limits checked, the partition key taken from the data, the
//! lineage member stamped on.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::{Limits, wit};
use crate::input::provenance::{Provenance, record_id};
use crate::rules::RuleSetVersion;
use crate::rules::matching::Path;
use crate::verdict::{InvalidRecord, Record, RecordData, RecordId};

/// A rule's lineage member, less what differs from record to record (the event, the record's place and identity).
#[derive(Clone)]
pub(super) struct Lineage {
    head: String,
    tail: String,
    rule_set: String,
    rule: String,
}

impl Lineage {
    pub(super) fn new(version: &RuleSetVersion, rule: &str, tables: &BTreeMap<String, String>) -> Lineage {
        fn json(value: &(impl serde::Serialize + ?Sized)) -> String {
            serde_json::to_string(value).expect("lineage members serialise")
        }
        Lineage {
            head: format!("\"_weft\":{{\"ruleSet\":{},\"rule\":{},", json(&version.0), json(rule)),
            tail: format!(",\"tables\":{}}}", json(tables)),
            rule_set: version.0.clone(),
            rule: rule.to_owned(),
        }
    }
}

/// What lineage stamps on one event's records: the rule's member, and where the event came from.
#[derive(Clone, Copy)]
pub(super) struct Stamp<'a> {
    pub(super) lineage: &'a Lineage,
    pub(super) provenance: &'a Provenance,
}

impl Stamp<'_> {
    /// `"_weft":{"ruleSet":…,"rule":…,"event":…,"record":N,"id":…,"replay":…,"tables":{…}}`: `event` is this
    /// delivery's envelope id, `id` the record's identity (the same for every delivery of the event under this rule
    /// set: a replay included), `replay` only on a replayed event's records.
    pub(super) fn member(&self, event_id: &str, index: usize) -> String {
        let json = |text: &str| serde_json::to_string(text).expect("strings serialise");
        let identity = self.provenance.identity.as_deref().unwrap_or(event_id);
        let id = record_id(identity, &self.lineage.rule_set, &self.lineage.rule, index);
        let replay = self.provenance.replay.as_deref().map(|r| format!(",\"replay\":{}", json(r))).unwrap_or_default();
        let (head, tail, event) = (&self.lineage.head, &self.lineage.tail, json(event_id));
        format!("{head}\"event\":{event},\"record\":{index},\"id\":\"{id}\"{replay}{tail}")
    }
}

/// The records of rule `rule`, checked for Kinesis.
pub(super) fn to_records(
    rule: &Arc<str>,
    records: Vec<wit::OutputRecordResult>,
    limits: &Limits,
) -> Result<Vec<Record>, InvalidRecord> {
    let bytes: usize = records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
    if bytes > limits.event_bytes {
        return Err(InvalidRecord::EventTooLarge { bytes, limit: limits.event_bytes });
    }
    let id = |index| RecordId { rule: rule.clone(), index };
    records
        .into_iter()
        .enumerate()
        .map(|(i, r)| Record::new(id(i), r.partition_key, r.data, r.stream, limits))
        .collect()
}

pub(super) fn check_count(records: &[wit::OutputRecordResult], limits: &Limits) -> Result<(), InvalidRecord> {
    if records.len() > limits.records_per_event {
        return Err(InvalidRecord::TooMany { count: records.len(), limit: limits.records_per_event });
    }
    Ok(())
}

/// The partition key a path selects in a record's data: a string, or a number or boolean as written.
pub(super) fn partition_key(path: &Path, data: &RecordData) -> Result<String, String> {
    let value: Value = serde_json::from_str(data.get()).map_err(|e| e.to_string())?;
    let key = match path.select(&value).first() {
        Some(Value::String(s)) => s.clone(),
        Some(v @ (Value::Number(_) | Value::Bool(_))) => v.to_string(),
        Some(_) => return Err(format!("partition key path `{}` selects an object, array or null", path.text())),
        None => return Err(format!("partition key path `{}` selects nothing", path.text())),
    };
    match key.chars().count() {
        1..=256 => Ok(key),
        n => Err(format!("partition key from `{}` is {n} characters (Kinesis needs 1 to 256)", path.text())),
    }
}

/// Adds the lineage member to a record whose data is a JSON object; other data is left as it is.
pub(super) fn stamp_record(data: &str, member: &str) -> Option<RecordData> {
    let body = data.trim_end().strip_suffix('}')?;
    let empty = body.trim_start().strip_prefix('{')?.trim().is_empty();
    let text = if empty { format!("{{{member}}}") } else { format!("{body},{member}}}") };
    RecordData::new(text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_is_added_to_objects_only() {
        let member = r#""_weft":{"ruleSet":"v1"}"#;
        assert_eq!(stamp_record(r#"{"a":1}"#, member).unwrap().get(), r#"{"a":1,"_weft":{"ruleSet":"v1"}}"#);
        assert_eq!(stamp_record("{ }", member).unwrap().get(), r#"{"_weft":{"ruleSet":"v1"}}"#);
        assert!(stamp_record("[1]", member).is_none());
        assert!(stamp_record("\"}\"", member).is_none());
    }

    #[test]
    fn partition_keys_come_from_strings_numbers_and_booleans() {
        let data = |s: &str| RecordData::new(s.into()).unwrap();
        let path = Path::parse("$.queue.id").unwrap();
        assert_eq!(partition_key(&path, &data(r#"{"queue":{"id":"q1"}}"#)).unwrap(), "q1");
        assert_eq!(partition_key(&path, &data(r#"{"queue":{"id":7}}"#)).unwrap(), "7");
        assert!(partition_key(&path, &data(r#"{"queue":{}}"#)).unwrap_err().contains("selects nothing"));
        assert!(partition_key(&path, &data(r#"{"queue":{"id":""}}"#)).unwrap_err().contains("0 characters"));
    }
}
