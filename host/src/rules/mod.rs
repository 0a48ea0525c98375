//! Rule sets: which rules an event goes through, and what its [`Verdict`] is.
//!
//! A rule is a match and a chain of module instances. Each module gets the event plus the records of the module
//! before it, and its outcome replaces them; a drop or an error ends the chain. Every rule whose match holds runs
//! (fan-out): the event's records are all of theirs. A rule's failure costs what its [`OnError`] says; a
//! dead-letter failure dead-letters the whole event and none of its records are written, so that redriving it
//! cannot write any record twice.

pub mod embedded;
pub mod golden;
pub mod manifest;
pub mod matching;
mod output;
mod rule;
pub mod signing;
pub mod stats;
pub mod tables;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::engine::{
    CallError, Engine, Limits, LoadError, OUT_OF_TIME, RuleInstance, RuleModule, Tables, wit, wit_event,
};
use crate::input::Event;
use crate::input::provenance::Provenance;
use crate::rules::embedded::DEFAULT_RULE;
use crate::rules::matching::Matcher;
use crate::rules::output::{Lineage, Stamp};
pub use crate::rules::rule::{Failure, Handling, OnError, Output, QUARANTINED, Quarantine, Rule};
use crate::rules::rule::{Health, Ruling};
use crate::rules::stats::{RuleReport, RuleSetStats, RuleStats};
use crate::verdict::{DeadLetter, Dropped, OriginalEvent, Record, Stage, Verdict};

/// The reason given when a chain ends with no record and no explicit drop.
pub const NO_RECORDS: &str = "rule produced no records";
/// The reason given when no rule's match holds for an event.
pub const NO_RULE_MATCHED: &str = "no rule matched";
/// The reason given for an event whose only matching rules failed under `skip`.
pub const SKIPPED: &str = "rule failed and was skipped (on-error: skip)";

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
            name: name.into(),
            matcher: Matcher::default(),
            chain: vec![instance],
            output: Output::default(),
            on_error: OnError::DeadLetter,
            // One module alone (`weft run --module`, `weft rules test`): every event gets the module's own answer.
            quarantine: Quarantine { after: 0, cool_down: Duration::ZERO },
            health: Health::default(),
            stats: RuleStats::default(),
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

    /// The same rules on instances of their own (compiled modules, parameters and tables shared): a second
    /// worker of `weft run`. Health, quarantines and counts start afresh, as in another Lambda instance.
    pub fn replica(&self) -> RuleSet {
        RuleSet {
            rules: self.rules.iter().map(Rule::replica).collect(),
            version: self.version.clone(),
            lineage: self.lineage.clone(),
            fallback: self.fallback.as_ref().map(RuleInstance::replica),
            needs_tree: self.needs_tree,
            track: Track::default(),
        }
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

    /// Runs a batch of events through the rules; one verdict per event, in order.
    ///
    /// The first module of each rule gets all of the batch it matches in one call. If that call traps, those
    /// events are retried one by one on a fresh instance, so only the event that caused the trap fails.
    pub fn process_batch(&mut self, events: &[Event]) -> Vec<Verdict> {
        let inputs: Vec<wit::Event> = events.iter().map(wit_event).collect();
        let (trees, provenances) = self.read_envelopes(events);
        let mut results: Vec<Rulings> = (0..events.len()).map(|_| Rulings::default()).collect();
        // Per event: whether some rule failed on it (before its policy), or its time ran out.
        let mut failed = vec![false; events.len()];
        let mut out_of_time = vec![false; events.len()];
        for (r, rule) in self.rules.iter_mut().enumerate() {
            let selected: Vec<usize> =
                (0..events.len()).filter(|&i| rule.matcher.matches(inputs[i].kind, trees[i].as_ref())).collect();
            if selected.is_empty() {
                continue;
            }
            rule.stats.events += selected.len() as u64;
            let lineage = self.lineage.as_ref().map(|l| &l[r]);
            if rule.quarantined() {
                for &i in &selected {
                    failed[i] = true;
                    let (failure, stamp) = (rule.quarantined_failure(), stamp(lineage, &provenances, i));
                    results[i].push(rule.settle(failure, &inputs[i], stamp, self.fallback.as_mut()));
                }
                continue;
            }
            let mut answers = if selected.len() == inputs.len() {
                rule.first_batch(&inputs)
            } else {
                rule.first_batch(&selected.iter().map(|&i| inputs[i].clone()).collect::<Vec<_>>())
            };
            for &i in &selected {
                // After a failed batch call each event is retried alone (only the one that caused it then fails).
                let outcome = match &mut answers {
                    Ok(answers) => Ok(answers.next().expect("one answer per event")),
                    // A batch answer of the wrong length says nothing of any one event: each is asked alone.
                    Err(error) if selected.len() > 1 || matches!(error, CallError::BatchMismatch { .. }) => {
                        rule.first_call(&inputs[i])
                    }
                    Err(error) => Err(error.clone()),
                };
                let stamp = stamp(lineage, &provenances, i);
                let ruling = rule.finish_chain(&inputs[i], outcome, stamp);
                match &ruling {
                    // Time running out is the invocation's, not the rule's: it neither fails nor clears the rule.
                    Ruling::Failed(f) if f.class == OUT_OF_TIME => out_of_time[i] = true,
                    other => {
                        let fails = matches!(other, Ruling::Failed(_));
                        failed[i] |= fails;
                        rule.record_health(fails);
                    }
                }
                results[i].push(rule.settle(ruling, &inputs[i], stamp, self.fallback.as_mut()));
            }
        }
        self.update_track(failed, out_of_time);
        let version = self.version.as_ref().map(|v| v.0.clone());
        results.into_iter().zip(events).map(|(rulings, event)| verdict(event, combine(rulings), &version)).collect()
    }

    /// What the rules read of each event's envelope beyond what the host's reader gave: its JSON tree when some
    /// rule has predicates, and where it came from (its replay, its identity) when lineage stamps it on records.
    fn read_envelopes(&self, events: &[Event]) -> (Vec<Option<Value>>, Vec<Provenance>) {
        let trees = match self.needs_tree {
            true => events.iter().map(|e| serde_json::from_str(&e.envelope).ok()).collect(),
            false => vec![None; events.len()],
        };
        let provenances = match self.lineage {
            Some(_) => events.iter().map(|e| Provenance::of(&e.envelope)).collect(),
            None => Vec::new(),
        };
        (trees, provenances)
    }

    /// Per event of a batch: some rule failed on it, or the invocation's time ran out on it (neither passes nor
    /// fails the rule set).
    fn update_track(&mut self, failed: Vec<bool>, out_of_time: Vec<bool>) {
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
    }

    /// Runs one event through the rules.
    pub fn process(&mut self, event: &Event) -> Verdict {
        self.process_batch(std::slice::from_ref(event)).pop().expect("one verdict per event")
    }

    /// The rules, in order, for status and tests.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// What each rule did since the last take, and what its modules' calls cost.
    pub fn take_stats(&mut self) -> RuleSetStats {
        let rules = self
            .rules
            .iter_mut()
            .map(|rule| RuleReport {
                rule: rule.name.to_string(),
                stats: std::mem::take(&mut rule.stats),
                modules: rule.chain.iter_mut().map(|m| (m.module().name.clone(), m.take_stats())).collect(),
                quarantined: rule.quarantined(),
            })
            .collect();
        RuleSetStats { rules, fallback: self.fallback.as_mut().map(RuleInstance::take_stats) }
    }

    /// Modules of this rule set, for reports.
    pub fn modules(&self) -> impl Iterator<Item = &RuleInstance> {
        self.rules.iter().flat_map(|rule| rule.chain.iter())
    }
}

/// What lineage stamps on event `i`'s records, when the rule set asks for lineage.
fn stamp<'a>(lineage: Option<&'a Lineage>, provenances: &'a [Provenance], i: usize) -> Option<Stamp<'a>> {
    lineage.map(|lineage| Stamp { lineage, provenance: &provenances[i] })
}

/// One event's rulings, in rule order. The first is kept inline: most events match one rule, and a list per event
/// was an allocation per event.
#[derive(Default)]
struct Rulings {
    first: Option<Ruling>,
    rest: Vec<Ruling>,
}

impl Rulings {
    fn push(&mut self, ruling: Ruling) {
        match self.first {
            None => self.first = Some(ruling),
            Some(_) => self.rest.push(ruling),
        }
    }
}

/// One event's ruling from the rulings of the rules it matched: a failure fails the event (nothing of
/// it is written); otherwise all records; otherwise the first drop.
fn combine(rulings: Rulings) -> Ruling {
    // The first rule's records are extended, not copied into a new list.
    let mut records: Option<Vec<Record>> = None;
    let mut first_drop = None;
    for ruling in rulings.first.into_iter().chain(rulings.rest) {
        match ruling {
            failed @ Ruling::Failed(_) => return failed,
            Ruling::Records(r) => match &mut records {
                Some(records) => records.extend(r),
                None => records = Some(r),
            },
            dropped @ Ruling::Dropped { .. } => {
                first_drop.get_or_insert(dropped);
            }
        }
    }
    match records {
        Some(records) if !records.is_empty() => Ruling::Records(records),
        _ => first_drop.unwrap_or(Ruling::Dropped { reason: NO_RULE_MATCHED.into(), rule: None, module: None }),
    }
}

/// The event's verdict from the rule set's ruling: drops and dead letters carry the event, its id and the rule set
/// (the judge adds where the event came from).
fn verdict(event: &Event, ruling: Ruling, rule_set: &Option<String>) -> Verdict {
    match ruling {
        Ruling::Records(records) => Verdict::Records(records),
        Ruling::Dropped { reason, rule, module } => Verdict::Dropped(Dropped {
            stage: Stage::Rule,
            reason,
            event_id: Some(event.id.clone()),
            rule_set: rule_set.clone(),
            rule,
            module,
            source: None,
            event: OriginalEvent::from_text(&event.envelope),
        }),
        Ruling::Failed(failure) => {
            let reason = format!("{}: {}", failure.module.name, failure.reason);
            Verdict::DeadLetter(Box::new(DeadLetter {
                event_id: Some(event.id.clone()),
                rule_set: rule_set.clone(),
                rule: Some(failure.rule),
                module: Some(failure.module),
                ..DeadLetter::new(Stage::Rule, &failure.class, reason, OriginalEvent::from_text(&event.envelope))
            }))
        }
    }
}
