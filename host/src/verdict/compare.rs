//! What a new rule set would change: two verdicts on the same event compared, and the differences over many
//! events added up into a report (`weft rules diff`).
//!
//! Records are matched by the rule that made them and their index among that rule's records; their data is
//! compared as JSON, path by path, without the `_weft` lineage member (it names the rule set's version, which
//! differs by definition). The report names events by id, never by content, unless it was made
//! [`Report::showing_values`] for a local investigation.

use std::collections::BTreeMap;

use serde_json::Value;

pub use crate::verdict::report::{Examples, RecordCounts, Report};
use crate::verdict::{Record, Verdict};

/// How one event's verdict differs between the old rule set and the new.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Difference {
    /// The new rule set writes a record the old one did not (by rule, stream and index).
    Added {
        rule: String,
        stream: String,
    },
    Removed {
        rule: String,
        stream: String,
    },
    /// A record both write, with the paths that differ (`partitionKey`, `data.mediaType`, `data.queues[0]`).
    Changed {
        rule: String,
        stream: String,
        changes: Vec<Change>,
    },
    /// The event's outcome changed kind: `records`, `dropped: REASON`, `dead-letter: CLASS`.
    Outcome {
        old: String,
        new: String,
    },
}

/// One path of a record that differs, with both values (shown only on request: they are event contents).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub path: String,
    pub old: Value,
    pub new: Value,
}

/// Compares two verdicts on one event; no differences means the same records (or the same drop or failure).
pub fn compare(old: &Verdict, new: &Verdict) -> Vec<Difference> {
    match (old, new) {
        (Verdict::Records(old), Verdict::Records(new)) => compare_records(old, new),
        _ if outcome(old) == outcome(new) => Vec::new(),
        _ => vec![Difference::Outcome { old: outcome(old), new: outcome(new) }],
    }
}

fn outcome(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Records(_) => "records".into(),
        Verdict::Dropped(dropped) => format!("dropped: {}", dropped.reason),
        Verdict::DeadLetter(letter) => format!("dead-letter: {}", letter.error_class),
    }
}

fn compare_records(old: &[Record], new: &[Record]) -> Vec<Difference> {
    let key = |r: &Record| (r.id.rule.clone(), r.id.index);
    let old: BTreeMap<_, &Record> = old.iter().map(|r| (key(r), r)).collect();
    let new: BTreeMap<_, &Record> = new.iter().map(|r| (key(r), r)).collect();
    let stream = |r: &Record| r.stream.clone().unwrap_or_else(|| "(default)".into());
    let mut differences = Vec::new();
    for (id, record) in &old {
        match new.get(id) {
            None => differences.push(Difference::Removed { rule: id.0.to_string(), stream: stream(record) }),
            // The same text is the same record: most records of a candidate are, and parsing them would cost a
            // shadow several times what the rules cost.
            Some(other) if same_text(record, other) => {}
            Some(other) => {
                let mut changes = Vec::new();
                let text = |s: &str| Value::String(s.to_owned());
                if record.partition_key != other.partition_key {
                    let (old, new) = (text(&record.partition_key), text(&other.partition_key));
                    changes.push(Change { path: "partitionKey".to_owned(), old, new });
                }
                if record.stream != other.stream {
                    let (old, new) = (Value::from(record.stream.clone()), Value::from(other.stream.clone()));
                    changes.push(Change { path: "stream".to_owned(), old, new });
                }
                let (a, b) = (data(record), data(other));
                json_paths(&a, &b, "data", &mut changes);
                if !changes.is_empty() {
                    differences.push(Difference::Changed { rule: id.0.to_string(), stream: stream(other), changes });
                }
            }
        }
    }
    for (id, record) in &new {
        if !old.contains_key(id) {
            differences.push(Difference::Added { rule: id.0.to_string(), stream: stream(record) });
        }
    }
    differences
}

fn same_text(a: &Record, b: &Record) -> bool {
    a.partition_key == b.partition_key
        && a.stream == b.stream
        && without_lineage(a.data.get()) == without_lineage(b.data.get())
}

/// A record's data as text, cut before the lineage member weft appends last (`"_weft":{…}}`; a quote inside a
/// string is escaped, so the last `"_weft":` is that member).
fn without_lineage(text: &str) -> &str {
    text.rfind("\"_weft\":").map_or(text, |at| &text[..at])
}

/// A record's data without its lineage member.
fn data(record: &Record) -> Value {
    let mut value: Value = serde_json::from_str(record.data.get()).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.remove("_weft");
    }
    value
}

/// The paths at which `a` and `b` differ: members and elements are followed, anything else compared whole.
fn json_paths(a: &Value, b: &Value, at: &str, out: &mut Vec<Change>) {
    match (a, b) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                json_paths(value, b.get(key).unwrap_or(&Value::Null), &member(at, key), out);
            }
            for (key, value) in b {
                if !a.contains_key(key) && !value.is_null() {
                    out.push(Change { path: member(at, key), old: Value::Null, new: value.clone() });
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (a, b)) in a.iter().zip(b).enumerate() {
                json_paths(a, b, &format!("{at}[{i}]"), out);
            }
        }
        _ if a != b => out.push(Change { path: at.to_owned(), old: a.clone(), new: b.clone() }),
        _ => {}
    }
}

fn member(at: &str, key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        format!("{at}.{key}")
    } else {
        format!("{at}[{}]", serde_json::to_string(key).expect("a string serialises"))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::verdict::RecordId;

    fn record(rule: &str, index: usize, key: &str, data: &str) -> Record {
        Record {
            partition_key: key.into(),
            data: crate::verdict::RecordData::new(data.into()).unwrap(),
            stream: None,
            id: RecordId { rule: rule.into(), index },
        }
    }

    #[test]
    fn changed_paths_are_named_and_lineage_is_ignored() {
        let old = Verdict::Records(vec![
            record("a", 0, "c1", r#"{"x":1,"q":["s",2],"_weft":{"ruleSet":"v1"},"gone":true}"#),
            record("b", 0, "c1", "1"),
        ]);
        let new = Verdict::Records(vec![
            record("a", 0, "c2", r#"{"x":1,"q":["s",3],"_weft":{"ruleSet":"v2"},"new key":null,"added":0}"#),
            record("c", 0, "c1", "1"),
        ]);
        let differences = compare(&old, &new);
        assert_eq!(
            differences,
            [
                Difference::Changed {
                    rule: "a".into(),
                    stream: "(default)".into(),
                    changes: vec![
                        change("partitionKey", json!("c1"), json!("c2")),
                        change("data.q[1]", json!(2), json!(3)),
                        change("data.gone", json!(true), Value::Null),
                        change("data.added", Value::Null, json!(0)),
                    ],
                },
                Difference::Removed { rule: "b".into(), stream: "(default)".into() },
                Difference::Added { rule: "c".into(), stream: "(default)".into() },
            ]
        );
        assert!(compare(&old, &old).is_empty());
        let mut report = Report::new(1);
        report.add("e1", &differences);
        report.add("e2", &differences);
        report.add("e3", &[]);
        let text = report.to_string();
        assert!(text.starts_with("3 events compared, 2 changed\n"), "{text}");
        assert!(text.contains("  changed a -> (default): data.q[1]: 2 (e.g. e1)\n"), "{text}");
        assert!(text.contains("  records b -> (default): 0 added, 2 removed, 0 changed\n"), "{text}");
        assert!(!text.contains("2 -> 3"), "values only on request: {text}");

        let mut shown = Report::new(1).showing_values();
        shown.add("e1", &differences);
        shown.add("e2", &differences);
        let text = shown.to_string();
        assert!(text.contains("  changed a -> (default): data.q[1]: 2 (e.g. e1)\n    e1: 2 -> 3\n"), "{text}");
        assert!(
            text.contains("  changed a -> (default): partitionKey: 2 (e.g. e1)\n    e1: \"c1\" -> \"c2\"\n"),
            "{text}"
        );
        let json = serde_json::to_value(&shown).unwrap();
        assert_eq!(json["paths"]["a -> (default): data.gone"]["values"], json!(["true -> null"]));
    }

    /// Text equal up to the lineage weft appends is the same record; text that differs is compared as JSON, so a
    /// difference of layout alone is none.
    #[test]
    fn the_same_text_but_lineage_is_the_same_record() {
        let verdict = |data: &str| Verdict::Records(vec![record("a", 0, "c1", data)]);
        let v1 = verdict(r#"{"x":"a\"_weft\":1","_weft":{"ruleSet":"v1"}}"#);
        assert!(compare(&v1, &verdict(r#"{"x":"a\"_weft\":1","_weft":{"ruleSet":"v2"}}"#)).is_empty());
        assert!(compare(&v1, &verdict(r#"{ "x": "a\"_weft\":1" }"#)).is_empty(), "no lineage, other layout");
        let changed = compare(&v1, &verdict(r#"{"x":"b","_weft":{"ruleSet":"v2"}}"#));
        assert!(matches!(&changed[..], [Difference::Changed { changes, .. }] if changes[0].path == "data.x"));
    }

    fn change(path: &str, old: Value, new: Value) -> Change {
        Change { path: path.into(), old, new }
    }
}
