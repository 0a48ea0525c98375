//! One rule: a match and a chain of module instances, what a failure costs (on-error), and when to stop calling
//! a failing rule (quarantine).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::{CallError, Limits, ModuleId, OUT_OF_TIME, RuleInstance, RuleModule, wit};
use crate::privacy;
use crate::rules::matching::{Matcher, Path};
use crate::rules::output::{Stamp, check_count, partition_key, stamp_record, to_records};
use crate::rules::stats::RuleStats;
use crate::rules::tables::TableSet;
use crate::rules::{NO_RECORDS, SKIPPED};
use crate::verdict::Record;

/// What one rule (or the rule set, once the rules an event matched are combined) ruled on an event, before
/// the judge attaches where it came from and it becomes the event's [`Verdict`](crate::verdict::Verdict).
#[derive(Debug)]
pub(super) enum Ruling {
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
pub(super) struct Health {
    failures_in_a_row: u32,
    quarantined_until: Option<Instant>,
}

/// The error class of events a quarantined rule did not run.
pub const QUARANTINED: &str = "quarantined";

/// One rule, ready to run.
pub struct Rule {
    pub(super) name: Arc<str>,
    pub(super) matcher: Matcher,
    pub(super) chain: Vec<RuleInstance>,
    pub(super) output: Output,
    pub(super) on_error: OnError,
    pub(super) quarantine: Quarantine,
    pub(super) health: Health,
    pub(super) stats: RuleStats,
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
        Rule {
            name: name.into(),
            matcher,
            chain,
            output,
            on_error,
            quarantine,
            health: Health::default(),
            stats: RuleStats::default(),
        }
    }

    /// The same rule on fresh instances, with health and counts of its own.
    pub(super) fn replica(&self) -> Rule {
        self.replica_with(RuleInstance::replica)
    }

    /// The same rule on the instances `instance` makes of its chain's, with health and counts of its own.
    pub(super) fn replica_with(&self, instance: impl FnMut(&RuleInstance) -> RuleInstance) -> Rule {
        Rule {
            // A name of its own: every record carries it (`RecordId::rule`), and replicas run on threads of their
            // own, which would otherwise count references on one shared cache line for every record.
            name: Arc::from(&*self.name),
            matcher: self.matcher.clone(),
            chain: self.chain.iter().map(instance).collect(),
            output: self.output.clone(),
            on_error: self.on_error,
            quarantine: self.quarantine,
            health: Health::default(),
            stats: RuleStats::default(),
        }
    }

    /// Starts every module of the chain (see [`RuleInstance::warm`]); the error names the module's place.
    pub(crate) fn warm(&mut self) -> Result<(), (usize, CallError)> {
        for (index, instance) in self.chain.iter_mut().enumerate() {
            instance.warm().map_err(|error| (index, error))?;
        }
        Ok(())
    }

    /// Counts a module failure or a success; `after` failures in a row quarantine the rule.
    pub(super) fn record_health(&mut self, failed: bool) {
        if !failed {
            self.health = Health::default();
            return;
        }
        self.health.failures_in_a_row += 1;
        // Once per quarantine: later failures of the same batch do not quarantine it again.
        if self.quarantine.after > 0 && self.health.failures_in_a_row >= self.quarantine.after && !self.quarantined() {
            // Checked: a clock near its end must not panic the host (the manifest bounds the cool-down anyway).
            let now = Instant::now();
            self.health.quarantined_until = Some(now.checked_add(self.quarantine.cool_down).unwrap_or(now));
            self.stats.quarantines += 1;
            tracing::warn!(
                metric = "RuleQuarantined",
                rule = %self.name,
                failures = self.health.failures_in_a_row,
                cool_down_s = self.quarantine.cool_down.as_secs_f64(),
                "rule quarantined: its on-error policy applies without calling it until the cool-down ends"
            );
        }
    }

    pub(super) fn quarantined(&self) -> bool {
        self.health.quarantined_until.is_some_and(|until| Instant::now() < until)
    }

    /// What a quarantined rule answers for an event, before its policy applies.
    pub(super) fn quarantined_failure(&self) -> Ruling {
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

impl Rule {
    /// Counts what the rule ruled on an event, then applies its on-error policy.
    pub(super) fn settle(
        &mut self,
        ruling: Ruling,
        input: &wit::Event,
        stamp: Option<Stamp<'_>>,
        fallback: Option<&mut RuleInstance>,
    ) -> Ruling {
        self.stats.count(&ruling);
        if let Ruling::Failed(failure) = &ruling
            && failure.class != OUT_OF_TIME
            && self.on_error == OnError::Default
        {
            self.stats.fallbacks += 1;
        }
        self.apply_policy(ruling, input, stamp, fallback)
    }

    /// What a failure costs under this rule's on-error policy; other rulings pass through.
    fn apply_policy(
        &self,
        ruling: Ruling,
        input: &wit::Event,
        stamp: Option<Stamp<'_>>,
        fallback: Option<&mut RuleInstance>,
    ) -> Ruling {
        let Ruling::Failed(failure) = &ruling else { return ruling };
        if failure.class == OUT_OF_TIME {
            // Not the rule's failure: the event is dead-lettered whatever the policy, to be redriven.
            return ruling;
        }
        match self.on_error {
            OnError::DeadLetter => ruling,
            OnError::Skip => Ruling::Dropped {
                reason: SKIPPED.into(),
                rule: Some(self.name.to_string()),
                module: Some(failure.module.clone()),
            },
            OnError::Default => {
                let fallback = fallback.expect("a rule set with on-error: default has the default rule");
                let outcome = fallback.process(input);
                let module = fallback.module();
                let default = match answered(&self.name, module, outcome, fallback.limits()) {
                    Ok(records) => written(&self.name, module, records, fallback.limits()),
                    Err(ended) => ended,
                };
                self.finish_output(default, input.id, stamp, fallback.limits())
            }
        }
    }

    /// The first module's answers for `inputs` in one batch call; on failure, the error (the caller then retries
    /// each event alone with [`Rule::first_call`], checking each answer before the next call, so that a hostile
    /// batch's retried answers are never all held at once).
    pub(super) fn first_batch(&mut self, inputs: &[wit::Event]) -> Result<std::vec::IntoIter<wit::Outcome>, CallError> {
        self.chain[0].process_batch(inputs).map(Vec::into_iter)
    }

    /// The first module's answer for one event.
    pub(super) fn first_call(&mut self, input: &wit::Event) -> Result<wit::Outcome, CallError> {
        self.chain[0].process(input)
    }

    /// Continues the chain after its first module answered `first`.
    pub(super) fn finish_chain(
        &mut self,
        input: &wit::Event,
        first: Result<wit::Outcome, CallError>,
        stamp: Option<Stamp<'_>>,
    ) -> Ruling {
        let mut outcome = first;
        for index in 0.. {
            let instance = &self.chain[index];
            let module = instance.module();
            let records = match answered(&self.name, module, outcome, instance.limits()) {
                Ok(records) => records,
                Err(ended) => return ended,
            };
            if index + 1 == self.chain.len() {
                let ruling = written(&self.name, module, records, instance.limits());
                return self.finish_output(ruling, input.id, stamp, instance.limits());
            }
            // The next module gets these records beside the event, borrowed (copied only into its memory).
            let passed: Vec<wit::OutputRecordParam<'_>> = records
                .iter()
                .map(|r| wit::OutputRecordParam {
                    partition_key: &r.partition_key,
                    data: &r.data,
                    stream: r.stream.as_deref(),
                })
                .collect();
            outcome = self.chain[index + 1].process(&wit::Event { records: &passed, ..input.clone() });
        }
        unreachable!("the chain loop returns at its last module")
    }

    /// The rule's output applied to its records: stream, partition key, lineage, identity; then each record's size
    /// checked again, since the key and the lineage count towards Kinesis' limit.
    fn finish_output(&self, ruling: Ruling, event_id: &str, stamp: Option<Stamp<'_>>, limits: &Limits) -> Ruling {
        let Ruling::Records(mut records) = ruling else { return ruling };
        let module = || self.chain.last().expect("a rule has modules").module().clone();
        for (index, record) in records.iter_mut().enumerate() {
            if record.stream.is_none() {
                record.stream.clone_from(&self.output.stream);
            }
            if let Some(path) = &self.output.partition_key {
                match partition_key(path, &record.data) {
                    Ok(key) => record.partition_key = key,
                    Err(reason) => return self.failed(module(), "partition-key", format!("record {index}: {reason}")),
                }
            }
            if let Some(stamp) = stamp
                && let Some(stamped) = stamp_record(record.data.get(), &stamp.member(event_id, index))
            {
                record.data = stamped;
            }
            if let Err(invalid) = record.check_size(limits) {
                return self.failed(module(), invalid.class(), invalid.to_string());
            }
        }
        Ruling::Records(records)
    }

    fn failed(&self, module: ModuleId, class: &str, reason: String) -> Ruling {
        failure(&self.name, module, class, reason)
    }
}

/// A module's answer as far as a chain goes: the records to pass on, or the event's ruling when the chain ends
/// here (a failure, an error, a drop, too many records).
pub(super) fn answered(
    rule: &str,
    module: &ModuleId,
    outcome: Result<wit::Outcome, CallError>,
    limits: &Limits,
) -> Result<Vec<wit::OutputRecordResult>, Ruling> {
    let records = match outcome {
        Err(error) => return Err(failure(rule, module.clone(), error.class(), error.to_string())),
        // A module's words are bounded here, where they cross into the host: codes to a short safe class, text to
        // a few KiB (what follows keeps them per event until delivery, and prints and sends them; `failure` clips
        // every reason, the message of an error included).
        Ok(wit::Outcome::Error(e)) => return Err(failure(rule, module.clone(), &privacy::code(&e.code), e.message)),
        Ok(wit::Outcome::Drop(reason)) => {
            let reason = privacy::clip(&reason, privacy::MAX_TEXT_BYTES);
            return Err(Ruling::Dropped { reason, rule: Some(rule.to_owned()), module: Some(module.clone()) });
        }
        Ok(wit::Outcome::Records(records)) => records,
    };
    match check_count(&records, limits) {
        Ok(()) => Ok(records),
        Err(invalid) => Err(failure(rule, module.clone(), invalid.class(), invalid.to_string())),
    }
}

/// The records the last module of a chain answered, checked for Kinesis (none: a drop).
pub(super) fn written(
    rule: &Arc<str>,
    module: &ModuleId,
    records: Vec<wit::OutputRecordResult>,
    limits: &Limits,
) -> Ruling {
    if records.is_empty() {
        return Ruling::Dropped {
            reason: NO_RECORDS.into(),
            rule: Some(rule.to_string()),
            module: Some(module.clone()),
        };
    }
    // The module's id is copied only into a failure: on the way to records it would be two allocations per event.
    match to_records(rule, records, limits) {
        Ok(records) => Ruling::Records(records),
        Err(invalid) => failure(rule, module.clone(), invalid.class(), invalid.to_string()),
    }
}

fn failure(rule: &str, module: ModuleId, class: &str, reason: String) -> Ruling {
    // Every reason is the module's text or may quote it (its error message, a trap's text, a stream name).
    let reason =
        if reason.len() > privacy::MAX_TEXT_BYTES { privacy::clip(&reason, privacy::MAX_TEXT_BYTES) } else { reason };
    Ruling::Failed(Failure { rule: rule.to_owned(), module, class: class.to_owned(), reason })
}
