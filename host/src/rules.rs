//! Rule sets: which rules an event goes through, and what its [`Disposition`] is.
//!
//! A rule is a match and a chain of module instances. Each module gets the event plus the records of the module
//! before it, and its outcome replaces them; a drop or an error ends the chain. Every rule whose match holds runs
//! (fan-out): the event's records are all of theirs. A rule's failure costs what its [`OnError`] says; a
//! dead-letter failure dead-letters the whole event and none of its records are written, so that redriving it
//! cannot write any record twice.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use weft_sdk::Event;

use crate::embedded::{self, DEFAULT_RULE};
use crate::engine::{
    CallError, Engine, Limits, LoadError, ModuleId, OUT_OF_TIME, RuleInstance, RuleModule, Tables, wit, wit_event,
};
use crate::matching::{Matcher, Path};
use crate::record::{InvalidRecord, Record, RecordId};
use crate::tables::TableSet;

/// What became of one event.
#[derive(Debug)]
pub enum Disposition {
    /// Records to write (at least one).
    Records(Vec<Record>),
    /// Filtered out, with the reason (and the rule, when a rule dropped it).
    Dropped { reason: String, rule: Option<String>, module: Option<ModuleId> },
    /// A rule failed on it: it must be dead-lettered.
    Failed(Failure),
}

/// A rule's failure on one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub rule: String,
    pub module: ModuleId,
    pub class: String,
    pub reason: String,
}

/// The reason given when a chain ends with no record and no explicit drop.
pub const NO_RECORDS: &str = "rule produced no records";
/// The reason given when no rule's match holds for an event.
pub const NO_RULE_MATCHED: &str = "no rule matched";
/// The reason given for an event whose only matching rules failed under `skip`.
pub const SKIPPED: &str = "rule failed and was skipped (on-error: skip)";

/// What a rule's failure on an event costs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OnError {
    #[default]
    DeadLetter,
    Skip,
    /// The default rule's record instead.
    Default,
}

/// Where a rule's records go.
#[derive(Debug, Clone, Default)]
pub struct Output {
    /// The stream for records whose module named none (`None`: the configured stream).
    pub stream: Option<String>,
    /// The partition key, from each record's data (`None`: the module's key).
    pub partition_key: Option<Path>,
}

/// Which rule set made a record or a dead letter: the manifest's label and the sha256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleSetVersion(pub String);

impl RuleSetVersion {
    /// `label@sha12`, or `sha12` when the manifest has no name.
    pub fn new(label: Option<&str>, sha256: &str) -> RuleSetVersion {
        let short = &sha256[..12.min(sha256.len())];
        RuleSetVersion(match label {
            Some(label) => format!("{label}@{short}"),
            None => short.to_owned(),
        })
    }
}

impl std::fmt::Display for RuleSetVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// When a rule stops calling its modules: after `after` failed events in a row (0: never), for `cool_down`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quarantine {
    pub after: u32,
    pub cool_down: Duration,
}

impl Default for Quarantine {
    fn default() -> Quarantine {
        Quarantine { after: 10, cool_down: Duration::from_secs(60) }
    }
}

/// A rule's recent failures.
#[derive(Debug, Default)]
struct Health {
    failures_in_a_row: u32,
    quarantined_until: Option<Instant>,
}

/// The error class of events a quarantined rule did not run.
pub const QUARANTINED: &str = "quarantined";

/// One rule, ready to run.
pub struct Rule {
    name: String,
    matcher: Matcher,
    chain: Vec<RuleInstance>,
    output: Output,
    on_error: OnError,
    quarantine: Quarantine,
    health: Health,
}

/// What a rule does with its modules' answers: where records go, what a failure costs, when to stop calling.
#[derive(Debug, Clone, Default)]
pub struct Handling {
    pub output: Output,
    pub on_error: OnError,
    pub quarantine: Quarantine,
}

impl Rule {
    pub fn new(
        name: String,
        matcher: Matcher,
        chain: Vec<(RuleModule, Arc<str>)>,
        handling: Handling,
        tables: &TableSet,
        limits: &Limits,
    ) -> Rule {
        let Handling { output, on_error, quarantine } = handling;
        let chain = chain
            .into_iter()
            .map(|(module, params)| RuleInstance::new(module, params, tables.tables.clone(), limits.clone()))
            .collect();
        Rule { name, matcher, chain, output, on_error, quarantine, health: Health::default() }
    }

    /// Counts a module failure or a success; `after` failures in a row quarantine the rule.
    fn record_health(&mut self, failed: bool) {
        if !failed {
            self.health = Health::default();
            return;
        }
        self.health.failures_in_a_row += 1;
        if self.quarantine.after > 0 && self.health.failures_in_a_row >= self.quarantine.after {
            // Checked: a clock near its end must not panic the host (the manifest bounds the cool-down anyway).
            let now = Instant::now();
            self.health.quarantined_until = Some(now.checked_add(self.quarantine.cool_down).unwrap_or(now));
            tracing::warn!(
                metric = "RuleQuarantined",
                rule = %self.name,
                failures = self.health.failures_in_a_row,
                cool_down_s = self.quarantine.cool_down.as_secs_f64(),
                "rule quarantined: its on-error policy applies without calling it until the cool-down ends"
            );
        }
    }

    fn quarantined(&self) -> bool {
        self.health.quarantined_until.is_some_and(|until| Instant::now() < until)
    }

    /// What a quarantined rule answers for an event, before its policy applies.
    fn quarantined_failure(&self) -> Disposition {
        let module = self.chain[0].module().clone();
        let reason = format!(
            "rule quarantined after {} failed events in a row; it is called again after a cool-down of {:?}",
            self.health.failures_in_a_row, self.quarantine.cool_down
        );
        self.failed(module, QUARANTINED, reason)
    }

    /// How many events failed in a row, and whether the rule is quarantined now: for status and tests.
    pub fn health(&self) -> (u32, bool) {
        (self.health.failures_in_a_row, self.quarantined())
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

/// An ordered set of rules, ready to run.
pub struct RuleSet {
    rules: Vec<Rule>,
    version: Option<RuleSetVersion>,
    /// The `"_weft":{...}` member appended to every record, per rule, when the rule set asks for lineage.
    lineage: Option<Vec<Lineage>>,
    /// The default rule, for rules that fall back to it.
    fallback: Option<RuleInstance>,
    /// True when some rule's predicates read the envelope as a JSON tree.
    needs_tree: bool,
    /// How the rule set has done on live events since it was loaded: for automatic rollback.
    track: Track,
}

/// Events since load that no rule failed on, and events in a row that some rule failed on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Track {
    pub passed: u64,
    pub failed_in_a_row: u64,
}

/// A rule's lineage member, less the event id and record index that differ from record to record.
struct Lineage {
    head: String,
    tail: String,
}

impl Lineage {
    fn new(version: &RuleSetVersion, rule: &str, tables: &BTreeMap<String, String>) -> Lineage {
        fn json(value: &(impl serde::Serialize + ?Sized)) -> String {
            serde_json::to_string(value).expect("lineage members serialise")
        }
        Lineage {
            head: format!("\"_weft\":{{\"ruleSet\":{},\"rule\":{},", json(&version.0), json(rule)),
            tail: format!(",\"tables\":{}}}", json(tables)),
        }
    }

    /// `"_weft":{"ruleSet":…,"rule":…,"event":…,"record":N,"tables":{…}}`.
    fn member(&self, event_id: &str, index: usize) -> String {
        let event = serde_json::to_string(event_id).expect("strings serialise");
        format!("{}\"event\":{event},\"record\":{index}{}", self.head, self.tail)
    }
}

impl RuleSet {
    /// The embedded default rule alone: what `weft` runs with no rule set configured.
    pub fn embedded_default(engine: &Engine, limits: Limits) -> Result<RuleSet, LoadError> {
        let (module, _) = embedded::default_module(engine)?;
        Ok(RuleSet::single(DEFAULT_RULE, module, "null".into(), limits))
    }

    /// One rule of one module, taking every event.
    pub fn single(name: &str, module: RuleModule, params: Arc<str>, limits: Limits) -> RuleSet {
        RuleSet::with_tables(name, module, params, Arc::new(Tables::new()), limits)
    }

    /// One rule of one module with lookup tables (what `weft rules test` runs).
    pub fn with_tables(
        name: &str,
        module: RuleModule,
        params: Arc<str>,
        tables: Arc<Tables>,
        limits: Limits,
    ) -> RuleSet {
        let instance = RuleInstance::new(module, params, tables, limits);
        let rule = Rule {
            name: name.to_owned(),
            matcher: Matcher::default(),
            chain: vec![instance],
            output: Output::default(),
            on_error: OnError::DeadLetter,
            // One module alone (`weft run --module`, `weft rules test`): every event gets the module's own answer.
            quarantine: Quarantine { after: 0, cool_down: Duration::ZERO },
            health: Health::default(),
        };
        RuleSet {
            rules: vec![rule],
            version: None,
            lineage: None,
            fallback: None,
            needs_tree: false,
            track: Track::default(),
        }
    }

    /// A rule set from a manifest. `lineage`: the tables' versions to stamp on records, when asked for.
    pub fn from_rules(
        engine: &Engine,
        rules: Vec<Rule>,
        version: RuleSetVersion,
        lineage: Option<BTreeMap<String, String>>,
        limits: &Limits,
    ) -> Result<RuleSet, LoadError> {
        let fallback = if rules.iter().any(|r| r.on_error == OnError::Default) {
            let (module, _) = embedded::default_module(engine)?;
            Some(RuleInstance::new(module, "null".into(), Arc::new(Tables::new()), limits.clone()))
        } else {
            None
        };
        let lineage =
            lineage.map(|tables| rules.iter().map(|rule| Lineage::new(&version, &rule.name, &tables)).collect());
        let needs_tree = rules.iter().any(|r| r.matcher.needs_tree());
        Ok(RuleSet { rules, version: Some(version), lineage, fallback, needs_tree, track: Track::default() })
    }

    /// The manifest's version; `None` for the embedded default or a single module.
    pub fn version(&self) -> Option<&RuleSetVersion> {
        self.version.as_ref()
    }

    /// No module call runs past `cutoff` (the invocation's time for rules); events it leaves no time for fail
    /// with class `deadline`, which is not held against the rule (no quarantine, no on-error policy).
    pub fn set_cutoff(&mut self, cutoff: Option<Instant>) {
        for instance in self.instances_mut() {
            instance.set_cutoff(cutoff);
        }
    }

    /// Throws every live instance away: after a panic in the host their state is unknown.
    pub fn reset(&mut self) {
        for instance in self.instances_mut() {
            instance.reset();
        }
    }

    fn instances_mut(&mut self) -> impl Iterator<Item = &mut RuleInstance> {
        self.rules.iter_mut().flat_map(|rule| rule.chain.iter_mut()).chain(self.fallback.as_mut())
    }

    /// How the rule set has done on live events since it was loaded (or since [`RuleSet::reset_track`]).
    pub fn track(&self) -> Track {
        self.track
    }

    /// Starts the track again: a rule set goes live after its self-test, whose events are not live ones.
    pub fn reset_track(&mut self) {
        self.track = Track::default();
    }

    /// Runs a batch of events through the rules; one disposition per event, in order.
    ///
    /// The first module of each rule gets all of the batch it matches in one call. If that call traps, those
    /// events are retried one by one on a fresh instance, so only the event that caused the trap fails.
    pub fn process_batch(&mut self, events: &[Event]) -> Vec<Disposition> {
        let inputs: Vec<wit::Event> = events.iter().map(wit_event).collect();
        let trees: Vec<Option<Value>> = if self.needs_tree {
            events.iter().map(|e| serde_json::from_str(&e.envelope).ok()).collect()
        } else {
            vec![None; events.len()]
        };
        let mut results: Vec<Vec<Disposition>> = (0..events.len()).map(|_| Vec::new()).collect();
        // Per event: whether some rule failed on it (before its policy), or its time ran out.
        let mut failed = vec![false; events.len()];
        let mut out_of_time = vec![false; events.len()];
        for (r, rule) in self.rules.iter_mut().enumerate() {
            let selected: Vec<usize> = (0..events.len())
                .filter(|&i| rule.matcher.matches(inputs[i].kind.as_deref(), trees[i].as_ref()))
                .collect();
            if selected.is_empty() {
                continue;
            }
            let lineage = self.lineage.as_ref().map(|l| &l[r]);
            if rule.quarantined() {
                for &i in &selected {
                    failed[i] = true;
                    let failure = rule.quarantined_failure();
                    results[i].push(rule.apply_policy(failure, &inputs[i], lineage, self.fallback.as_mut()));
                }
                continue;
            }
            let outcomes = if selected.len() == inputs.len() {
                rule.first_calls(&inputs)
            } else {
                rule.first_calls(&selected.iter().map(|&i| inputs[i].clone()).collect::<Vec<_>>())
            };
            for (&i, outcome) in selected.iter().zip(outcomes) {
                let disposition = rule.finish_chain(&inputs[i], outcome, lineage);
                match &disposition {
                    // Time running out is the invocation's, not the rule's: it neither fails nor clears the rule.
                    Disposition::Failed(f) if f.class == OUT_OF_TIME => out_of_time[i] = true,
                    other => {
                        let fails = matches!(other, Disposition::Failed(_));
                        failed[i] |= fails;
                        rule.record_health(fails);
                    }
                }
                results[i].push(rule.apply_policy(disposition, &inputs[i], lineage, self.fallback.as_mut()));
            }
        }
        for (failed, out_of_time) in failed.into_iter().zip(out_of_time) {
            match (failed, out_of_time) {
                (true, _) => self.track.failed_in_a_row += 1,
                (false, false) => {
                    self.track.passed += 1;
                    self.track.failed_in_a_row = 0;
                }
                (false, true) => {}
            }
        }
        results.into_iter().map(combine).collect()
    }

    /// Runs one event through the rules.
    pub fn process(&mut self, event: &Event) -> Disposition {
        self.process_batch(std::slice::from_ref(event)).pop().expect("one disposition per event")
    }

    /// The rules, in order, for status and tests.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// Modules of this rule set, for reports.
    pub fn modules(&self) -> impl Iterator<Item = &RuleInstance> {
        self.rules.iter().flat_map(|rule| rule.chain.iter())
    }
}

/// One event's disposition from the dispositions of the rules it matched: a failure fails the event (nothing of
/// it is written); otherwise all records; otherwise the first drop.
fn combine(results: Vec<Disposition>) -> Disposition {
    if results.iter().any(|d| matches!(d, Disposition::Failed(_))) {
        return results.into_iter().find(|d| matches!(d, Disposition::Failed(_))).expect("checked");
    }
    let mut records = Vec::new();
    let mut first_drop = None;
    for disposition in results {
        match disposition {
            Disposition::Records(r) => records.extend(r),
            dropped @ Disposition::Dropped { .. } => {
                first_drop.get_or_insert(dropped);
            }
            Disposition::Failed(_) => unreachable!("failures returned above"),
        }
    }
    if !records.is_empty() {
        return Disposition::Records(records);
    }
    first_drop.unwrap_or(Disposition::Dropped { reason: NO_RULE_MATCHED.into(), rule: None, module: None })
}

impl Rule {
    /// What a failure costs under this rule's on-error policy; other dispositions pass through.
    fn apply_policy(
        &self,
        disposition: Disposition,
        input: &wit::Event,
        lineage: Option<&Lineage>,
        fallback: Option<&mut RuleInstance>,
    ) -> Disposition {
        let Disposition::Failed(failure) = &disposition else { return disposition };
        if failure.class == OUT_OF_TIME {
            // Not the rule's failure: the event is dead-lettered whatever the policy, to be redriven.
            return disposition;
        }
        match self.on_error {
            OnError::DeadLetter => disposition,
            OnError::Skip => Disposition::Dropped {
                reason: SKIPPED.into(),
                rule: Some(self.name.clone()),
                module: Some(failure.module.clone()),
            },
            OnError::Default => {
                let fallback = fallback.expect("a rule set with on-error: default has the default rule");
                let outcome = fallback.process(input);
                let module = fallback.module().clone();
                let default = match answered(&self.name, &module, outcome, fallback.limits()) {
                    Ok(records) => written(&self.name, module, records, fallback.limits()),
                    Err(ended) => ended,
                };
                self.finish_output(default, &input.id, lineage, fallback.limits())
            }
        }
    }

    /// The first module's outcomes for `inputs`: one batch call, or one call per event after a trap.
    fn first_calls(&mut self, inputs: &[wit::Event]) -> Vec<Result<wit::Outcome, CallError>> {
        let first = &mut self.chain[0];
        match first.process_batch(inputs) {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(_) if inputs.len() > 1 => inputs.iter().map(|event| first.process(event)).collect(),
            Err(error) => vec![Err(error)],
        }
    }

    /// Continues the chain after its first module answered `first`.
    fn finish_chain(
        &mut self,
        input: &wit::Event,
        first: Result<wit::Outcome, CallError>,
        lineage: Option<&Lineage>,
    ) -> Disposition {
        let mut outcome = first;
        let mut chained: Option<wit::Event> = None;
        for index in 0.. {
            let instance = &self.chain[index];
            let module = instance.module().clone();
            let records = match answered(&self.name, &module, outcome, instance.limits()) {
                Ok(records) => records,
                Err(ended) => return ended,
            };
            if index + 1 == self.chain.len() {
                let disposition = written(&self.name, module, records, instance.limits());
                return self.finish_output(disposition, &input.id, lineage, instance.limits());
            }
            // Only a chain pays for a copy of the event.
            let next = chained.get_or_insert_with(|| input.clone());
            next.records = records;
            outcome = self.chain[index + 1].process(next);
        }
        unreachable!("the chain loop returns at its last module")
    }

    /// The rule's output applied to its records: stream, partition key, lineage, identity; then each record's size
    /// checked again, since the key and the lineage count towards Kinesis' limit.
    fn finish_output(
        &self,
        disposition: Disposition,
        event_id: &str,
        lineage: Option<&Lineage>,
        limits: &Limits,
    ) -> Disposition {
        let Disposition::Records(mut records) = disposition else { return disposition };
        let module = || self.chain.last().expect("a rule has modules").module().clone();
        for (index, record) in records.iter_mut().enumerate() {
            record.id = RecordId { rule: self.name.clone(), index };
            if record.stream.is_none() {
                record.stream.clone_from(&self.output.stream);
            }
            if let Some(path) = &self.output.partition_key {
                match partition_key(path, &record.data) {
                    Ok(key) => record.partition_key = key,
                    Err(reason) => return self.failed(module(), "partition-key", format!("record {index}: {reason}")),
                }
            }
            if let Some(lineage) = lineage
                && let Some(stamped) = stamp_record(record.data.get(), &lineage.member(event_id, index))
            {
                record.data = stamped;
            }
            if let Err(invalid) = record.check_size(limits) {
                return self.failed(module(), invalid.class(), invalid.to_string());
            }
        }
        Disposition::Records(records)
    }

    fn failed(&self, module: ModuleId, class: &str, reason: String) -> Disposition {
        failure(&self.name, module, class, reason)
    }
}

/// A module's answer as far as a chain goes: the records to pass on, or the event's disposition when the chain ends
/// here (a failure, an error, a drop, too many records).
fn answered(
    rule: &str,
    module: &ModuleId,
    outcome: Result<wit::Outcome, CallError>,
    limits: &Limits,
) -> Result<Vec<wit::OutputRecord>, Disposition> {
    let records = match outcome {
        Err(error) => return Err(failure(rule, module.clone(), error.class(), error.to_string())),
        Ok(wit::Outcome::Error(e)) => return Err(failure(rule, module.clone(), &e.code, e.message)),
        Ok(wit::Outcome::Drop(reason)) => {
            return Err(Disposition::Dropped { reason, rule: Some(rule.to_owned()), module: Some(module.clone()) });
        }
        Ok(wit::Outcome::Records(records)) => records,
    };
    match check_count(&records, limits) {
        Ok(()) => Ok(records),
        Err(invalid) => Err(failure(rule, module.clone(), invalid.class(), invalid.to_string())),
    }
}

/// The records the last module of a chain answered, checked for Kinesis (none: a drop).
fn written(rule: &str, module: ModuleId, records: Vec<wit::OutputRecord>, limits: &Limits) -> Disposition {
    if records.is_empty() {
        return Disposition::Dropped { reason: NO_RECORDS.into(), rule: Some(rule.to_owned()), module: Some(module) };
    }
    match to_records(records, limits) {
        Ok(records) => Disposition::Records(records),
        Err(invalid) => failure(rule, module, invalid.class(), invalid.to_string()),
    }
}

fn failure(rule: &str, module: ModuleId, class: &str, reason: String) -> Disposition {
    Disposition::Failed(Failure { rule: rule.to_owned(), module, class: class.to_owned(), reason })
}

fn to_records(records: Vec<wit::OutputRecord>, limits: &Limits) -> Result<Vec<Record>, InvalidRecord> {
    let bytes: usize = records.iter().map(|r| r.partition_key.len() + r.data.len()).sum();
    if bytes > limits.event_bytes {
        return Err(InvalidRecord::EventTooLarge { bytes, limit: limits.event_bytes });
    }
    records.into_iter().enumerate().map(|(i, r)| Record::new(i, r.partition_key, r.data, r.stream, limits)).collect()
}

fn check_count(records: &[wit::OutputRecord], limits: &Limits) -> Result<(), InvalidRecord> {
    if records.len() > limits.records_per_event {
        return Err(InvalidRecord::TooMany { count: records.len(), limit: limits.records_per_event });
    }
    Ok(())
}

/// The partition key a path selects in a record's data: a string, or a number or boolean as written.
fn partition_key(path: &Path, data: &serde_json::value::RawValue) -> Result<String, String> {
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
fn stamp_record(data: &str, member: &str) -> Option<Box<serde_json::value::RawValue>> {
    let body = data.trim_end().strip_suffix('}')?;
    let empty = body.trim_start().strip_prefix('{')?.trim().is_empty();
    let text = if empty { format!("{{{member}}}") } else { format!("{body},{member}}}") };
    serde_json::value::RawValue::from_string(text).ok()
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
        let data = |s: &str| serde_json::value::RawValue::from_string(s.into()).unwrap();
        let path = Path::parse("$.queue.id").unwrap();
        assert_eq!(partition_key(&path, &data(r#"{"queue":{"id":"q1"}}"#)).unwrap(), "q1");
        assert_eq!(partition_key(&path, &data(r#"{"queue":{"id":7}}"#)).unwrap(), "7");
        assert!(partition_key(&path, &data(r#"{"queue":{}}"#)).unwrap_err().contains("selects nothing"));
        assert!(partition_key(&path, &data(r#"{"queue":{"id":""}}"#)).unwrap_err().contains("0 characters"));
    }
}
