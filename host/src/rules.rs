//! Rule sets: which modules an event goes through, and what its [`Disposition`] is.
//!
//! A rule is a chain of module instances. Each module gets the event plus the records of the module before it,
//! and its outcome replaces them; a drop or an error ends the chain. The rule set runs its rules in order.
//! (Today a rule set holds the embedded default rule, or one module given on the command line; rule set
//! manifests with matching, fan-out and failure policies build on this.)

use std::sync::Arc;

use weft_sdk::Event;

use crate::embedded::{self, DEFAULT_RULE};
use crate::engine::{CallError, Engine, Limits, LoadError, ModuleId, RuleInstance, RuleModule, Tables, wit, wit_event};
use crate::record::{InvalidRecord, Record};

/// What became of one event.
#[derive(Debug)]
pub enum Disposition {
    /// Records to write (at least one).
    Records(Vec<Record>),
    /// Filtered out by a rule, with its reason.
    Dropped { reason: String, rule: String, module: Option<ModuleId> },
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

/// One rule: a name and its chain of modules.
pub struct Rule {
    name: String,
    chain: Vec<RuleInstance>,
}

/// An ordered set of rules, ready to run.
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    /// The embedded default rule alone: what `weft` runs with no rule set configured.
    pub fn embedded_default(engine: &Engine, limits: Limits) -> Result<RuleSet, LoadError> {
        let (module, _) = embedded::default_module(engine)?;
        Ok(RuleSet::single(DEFAULT_RULE, module, "null".into(), limits))
    }

    /// One rule of one module.
    pub fn single(name: &str, module: RuleModule, params: Arc<str>, limits: Limits) -> RuleSet {
        let instance = RuleInstance::new(module, params, Arc::new(Tables::new()), limits);
        RuleSet { rules: vec![Rule { name: name.to_owned(), chain: vec![instance] }] }
    }

    /// Runs a batch of events through the rules; one disposition per event, in order.
    ///
    /// The first module of each rule gets the whole batch in one call. If that call traps, the batch is retried
    /// event by event on a fresh instance, so only the event that caused the trap fails.
    pub fn process_batch(&mut self, events: &[Event]) -> Vec<Disposition> {
        // With several rules, an event's records from each rule add up (fan-out); today there is one.
        let rule = &mut self.rules[0];
        let inputs: Vec<wit::Event> = events.iter().map(wit_event).collect();
        let first = &mut rule.chain[0];
        let outcomes: Vec<Result<wit::Outcome, CallError>> = match first.process_batch(&inputs) {
            Ok(outcomes) => outcomes.into_iter().map(Ok).collect(),
            Err(_) if inputs.len() > 1 => inputs.iter().map(|event| first.process(event)).collect(),
            Err(error) => vec![Err(error)],
        };
        inputs.into_iter().zip(outcomes).map(|(input, outcome)| rule.finish_chain(input, outcome)).collect()
    }

    /// Runs one event through the rules.
    pub fn process(&mut self, event: &Event) -> Disposition {
        self.process_batch(std::slice::from_ref(event)).pop().expect("one disposition per event")
    }

    /// Modules of this rule set, for reports.
    pub fn modules(&self) -> impl Iterator<Item = &RuleInstance> {
        self.rules.iter().flat_map(|rule| rule.chain.iter())
    }
}

impl Rule {
    /// Continues the chain after its first module answered `first`.
    fn finish_chain(&mut self, mut input: wit::Event, first: Result<wit::Outcome, CallError>) -> Disposition {
        let mut outcome = first;
        for index in 0.. {
            let instance = &self.chain[index];
            let module = instance.module().clone();
            let records = match outcome {
                Err(error) => return self.failed(module, error.class(), error.to_string()),
                Ok(wit::Outcome::Error(e)) => return self.failed(module, &e.code, e.message),
                Ok(wit::Outcome::Drop(reason)) => {
                    return Disposition::Dropped { reason, rule: self.name.clone(), module: Some(module) };
                }
                Ok(wit::Outcome::Records(records)) => records,
            };
            if let Err(invalid) = check_count(&records, instance.limits()) {
                return self.failed(module, invalid.class(), invalid.to_string());
            }
            if index + 1 == self.chain.len() {
                return self.records(module, records);
            }
            input.records = records;
            outcome = self.chain[index + 1].process(&input);
        }
        unreachable!("the chain loop returns at its last module")
    }

    fn records(&self, module: ModuleId, records: Vec<wit::OutputRecord>) -> Disposition {
        if records.is_empty() {
            return Disposition::Dropped { reason: NO_RECORDS.into(), rule: self.name.clone(), module: Some(module) };
        }
        let limits = self.chain.last().expect("a rule has modules").limits();
        let mut out = Vec::with_capacity(records.len());
        for (index, r) in records.into_iter().enumerate() {
            match Record::new(index, r.partition_key, r.data, r.stream, limits) {
                Ok(record) => out.push(record),
                Err(invalid) => return self.failed(module, invalid.class(), invalid.to_string()),
            }
        }
        Disposition::Records(out)
    }

    fn failed(&self, module: ModuleId, class: &str, reason: String) -> Disposition {
        Disposition::Failed(Failure { rule: self.name.clone(), module, class: class.to_owned(), reason })
    }
}

fn check_count(records: &[wit::OutputRecord], limits: &Limits) -> Result<(), InvalidRecord> {
    if records.len() > limits.records_per_event {
        return Err(InvalidRecord::TooMany { count: records.len(), limit: limits.records_per_event });
    }
    Ok(())
}
