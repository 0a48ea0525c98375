//! What a new rule set would change over many events: each event's differences (`compare`) counted by rule, path
//! and outcome, with a few event ids as examples. Reports over different events merge, so one over a month of
//! history can be made object by object (a backfill's dry run) and summed.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::verdict::compare::{Change, Difference};

/// Differences over many events, counted, with up to `examples` event ids each.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub events: u64,
    pub events_changed: u64,
    /// Per rule and stream (`rule -> stream`): records added, removed, changed.
    pub records: BTreeMap<String, RecordCounts>,
    /// Per rule, stream and path of changed records: how many, and examples.
    pub paths: BTreeMap<String, Examples>,
    /// Per change of outcome (`records -> dropped: not a voice call`): how many, and examples.
    pub outcomes: BTreeMap<String, Examples>,
    /// Changes at paths past the report's bound (a [`Report::bounded`] one), counted together.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_paths: u64,
    /// Changes of outcome past the report's bound (drop reasons are the rules' text: they can be many), together.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub other_outcomes: u64,
    #[serde(skip)]
    examples: usize,
    /// At most this many paths, and this many changes of outcome, are named (0: no bound).
    #[serde(skip)]
    most_named: usize,
    /// Whether examples of changed paths carry the old and new values (event contents: local use only).
    #[serde(skip)]
    show_values: bool,
}

#[derive(Debug, Default, Clone, Copy, Serialize, Deserialize)]
pub struct RecordCounts {
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
}

#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Examples {
    pub count: u64,
    /// Event ids, at most the report's number of examples.
    pub events: Vec<String>,
    /// With values shown: `old -> new` (as JSON) for each of `events`, in the same order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

impl Report {
    pub fn new(examples: usize) -> Report {
        Report { examples, ..Report::default() }
    }

    /// The same report, its examples of changed paths with the values before and after.
    pub fn showing_values(self) -> Report {
        Report { show_values: true, ..self }
    }

    /// The same report naming at most `named` changed paths and `named` changes of outcome; the others are
    /// counted as `otherPaths` and `otherOutcomes`. A report that travels (a backfill's, in every answer of its
    /// invocations) stays within what its carrier holds.
    pub fn bounded(self, named: usize) -> Report {
        Report { most_named: named, ..self }
    }

    /// Adds another report over other events, as if its events had been added to this one: counts summed,
    /// examples kept up to this report's number.
    pub fn merge(&mut self, other: Report) {
        self.events += other.events;
        self.events_changed += other.events_changed;
        self.other_paths += other.other_paths;
        self.other_outcomes += other.other_outcomes;
        for (place, c) in other.records {
            let counts = self.records.entry(place).or_default();
            (counts.added, counts.removed, counts.changed) =
                (counts.added + c.added, counts.removed + c.removed, counts.changed + c.changed);
        }
        let (most, named) = (self.examples, self.most_named);
        for (path, examples) in other.paths {
            match named_entry(&mut self.paths, path, named) {
                Some(entry) => entry.merge(examples, most),
                None => self.other_paths += examples.count,
            }
        }
        for (change, examples) in other.outcomes {
            match named_entry(&mut self.outcomes, change, named) {
                Some(entry) => entry.merge(examples, most),
                None => self.other_outcomes += examples.count,
            }
        }
    }

    /// Counts one event's differences (none: an unchanged event).
    pub fn add(&mut self, event_id: &str, differences: &[Difference]) {
        self.events += 1;
        if differences.is_empty() {
            return;
        }
        let clipped;
        let event_id = if self.most_named > 0 && event_id.len() > MOST_BYTES {
            clipped = crate::privacy::clip(event_id, MOST_BYTES);
            clipped.as_str()
        } else {
            event_id
        };
        self.events_changed += 1;
        for difference in differences {
            match difference {
                Difference::Added { rule, stream } => self.counts(rule, stream).added += 1,
                Difference::Removed { rule, stream } => self.counts(rule, stream).removed += 1,
                Difference::Changed { rule, stream, changes } => {
                    self.counts(rule, stream).changed += 1;
                    for Change { path, old, new } in changes {
                        let (examples, show) = (self.examples, self.show_values);
                        let key = format!("{rule} -> {stream}: {path}");
                        let Some(entry) = named_entry(&mut self.paths, key, self.most_named) else {
                            self.other_paths += 1;
                            continue;
                        };
                        if show && entry.events.len() < examples {
                            entry.values.push(format!("{old} -> {new}"));
                        }
                        note(entry, event_id, examples);
                    }
                }
                Difference::Outcome { old, new } => {
                    let examples = self.examples;
                    match named_entry(&mut self.outcomes, format!("{old} -> {new}"), self.most_named) {
                        Some(entry) => note(entry, event_id, examples),
                        None => self.other_outcomes += 1,
                    }
                }
            }
        }
    }

    fn counts(&mut self, rule: &str, stream: &str) -> &mut RecordCounts {
        self.records.entry(format!("{rule} -> {stream}")).or_default()
    }
}

impl Examples {
    fn merge(&mut self, other: Examples, examples: usize) {
        self.count += other.count;
        let room = examples.saturating_sub(self.events.len());
        // Values stay beside their events: both sides have them for every event, or they are left out.
        if self.values.len() == self.events.len() && other.values.len() == other.events.len() {
            self.values.extend(other.values.into_iter().take(room));
        }
        self.events.extend(other.events.into_iter().take(room));
    }
}

/// The longest key or event id a bounded report keeps (longer ones are clipped, the same way each time).
const MOST_BYTES: usize = 200;

/// The entry of `key`; none when `map` names as many keys as it may (`most`, 0: no bound) and not this one. A
/// bounded map's keys are clipped: paths and drop reasons come from the rules, and can be any length.
fn named_entry(map: &mut BTreeMap<String, Examples>, key: String, most: usize) -> Option<&mut Examples> {
    let key = if most > 0 && key.len() > MOST_BYTES { crate::privacy::clip(&key, MOST_BYTES) } else { key };
    if most > 0 && map.len() >= most && !map.contains_key(&key) {
        return None;
    }
    Some(map.entry(key).or_default())
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn note(entry: &mut Examples, event_id: &str, examples: usize) {
    entry.count += 1;
    if entry.events.len() < examples {
        entry.events.push(event_id.to_owned());
    }
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "{} events compared, {} changed", self.events, self.events_changed)?;
        for (place, c) in &self.records {
            writeln!(f, "  records {place}: {} added, {} removed, {} changed", c.added, c.removed, c.changed)?;
        }
        for (path, examples) in &self.paths {
            writeln!(f, "  changed {path}: {} (e.g. {})", examples.count, examples.events.join(", "))?;
            for (event, values) in examples.events.iter().zip(&examples.values) {
                writeln!(f, "    {event}: {values}")?;
            }
        }
        if self.other_paths > 0 {
            writeln!(f, "  changed at other paths: {}", self.other_paths)?;
        }
        for (change, examples) in &self.outcomes {
            writeln!(f, "  outcome {change}: {} (e.g. {})", examples.count, examples.events.join(", "))?;
        }
        if self.other_outcomes > 0 {
            writeln!(f, "  other changes of outcome: {}", self.other_outcomes)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;

    fn changed(path: &str) -> Difference {
        let change = Change { path: path.into(), old: json!(1), new: json!(2) };
        Difference::Changed { rule: "r".into(), stream: "s".into(), changes: vec![change] }
    }

    fn events() -> Vec<(String, Vec<Difference>)> {
        let outcome = Difference::Outcome { old: "records".into(), new: "dropped: test".into() };
        (0..9)
            .map(|n| {
                let differences = match n % 3 {
                    0 => vec![],
                    1 => vec![
                        changed(&format!("data.p{}", n % 2)),
                        Difference::Added { rule: "a".into(), stream: "s".into() },
                    ],
                    _ => vec![outcome.clone()],
                };
                (format!("e{n}"), differences)
            })
            .collect()
    }

    /// A report made in parts (objects of a backfill, each in its own invocation, the parts carried as JSON) and
    /// merged is the report made in one go over the same events, examples included.
    #[test]
    fn reports_over_parts_merge_into_the_report_over_the_whole() {
        let mut whole = Report::new(2);
        events().iter().for_each(|(id, d)| whole.add(id, d));
        let mut merged = Report::new(2);
        for part in events().chunks(4) {
            let mut report = Report::new(2);
            part.iter().for_each(|(id, d)| report.add(id, d));
            let carried: Report = serde_json::from_str(&serde_json::to_string(&report).unwrap()).unwrap();
            merged.merge(carried);
        }
        let (whole, merged) = (serde_json::to_value(&whole).unwrap(), serde_json::to_value(&merged).unwrap());
        assert_eq!(whole, merged);
        assert_eq!((&whole["events"], &whole["eventsChanged"]), (&json!(9), &json!(6)));
        assert_eq!(whole["paths"]["r -> s: data.p1"]["events"], json!(["e1", "e7"]));
        assert_eq!(whole["outcomes"]["records -> dropped: test"]["count"], json!(3));
    }

    /// A bounded report names its first paths and outcomes and counts the rest, whether added or merged.
    #[test]
    fn a_bounded_report_counts_the_paths_and_outcomes_past_its_bound() {
        let mut report = Report::new(1).bounded(2);
        for n in 0..4 {
            report.add(&format!("e{n}"), &[changed(&format!("data.p{n}"))]);
        }
        let mut more = Report::new(1);
        more.add("e9", &[changed("data.p9")]);
        more.add("e8", &[changed("data.p0")]);
        report.merge(more);
        let json = serde_json::to_value(&report).unwrap();
        let paths: Vec<&String> = json["paths"].as_object().unwrap().keys().collect();
        assert_eq!(paths, ["r -> s: data.p0", "r -> s: data.p1"]);
        assert_eq!(json["paths"]["r -> s: data.p0"]["count"], json!(2));
        assert_eq!(json["otherPaths"], json!(3));
        assert!(report.to_string().contains("  changed at other paths: 3\n"), "{report}");
        // Changes of outcome are bounded alike (a drop reason is the rule's text, and can name anything).
        for n in 0..3 {
            let outcome = Difference::Outcome { old: "records".into(), new: format!("dropped: reason {n}") };
            report.add(&format!("o{n}"), &[outcome]);
        }
        let json = serde_json::to_value(&report).unwrap();
        assert_eq!((json["outcomes"].as_object().unwrap().len(), &json["otherOutcomes"]), (2, &json!(1)));
        // Keys and event ids are clipped in a bounded report, the same way each time.
        let mut long = Report::new(1).bounded(2);
        let outcome = Difference::Outcome { old: "records".into(), new: format!("dropped: {}", "x".repeat(5000)) };
        long.add(&"e".repeat(5000), std::slice::from_ref(&outcome));
        long.add("e2", &[outcome]);
        let json = serde_json::to_string(&long).unwrap();
        assert!(json.len() < 1000, "{} bytes", json.len());
        assert_eq!(long.outcomes.values().next().unwrap().count, 2);
        assert_eq!(serde_json::to_value(Report::new(1)).unwrap().get("otherPaths"), None::<&Value>);
    }
}
