//! What each rule did with its events since the metrics last asked: the per-rule rows of CloudWatch and of `weft
//! run`'s timing table. Failures are counted by kind, never by a module's own error code: a code is the module's
//! text (unbounded, and it may carry what the event carried), a kind is one of a few words of weft's.

use crate::engine::{CallStats, OUT_OF_TIME};
use crate::rules::rule::{QUARANTINED, Ruling};
use crate::verdict::Stage;

/// One rule's counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleStats {
    /// Events the rule's match took.
    pub events: u64,
    pub records: u64,
    pub dropped: u64,
    /// Failures, by kind.
    pub failures: Failures,
    /// Events a quarantined rule did not run.
    pub quarantined_events: u64,
    /// Times the rule was put in quarantine.
    pub quarantines: u64,
    /// Failures answered by the default rule's record (on-error: default).
    pub fallbacks: u64,
}

/// Failures by kind: the module ran out of its time, memory or another limit, panicked, trapped otherwise, or
/// answered an error; or the invocation's time ran out (not held against the rule).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Failures {
    pub deadline: u64,
    pub memory: u64,
    pub panic: u64,
    pub limit: u64,
    pub trap: u64,
    pub error: u64,
    pub out_of_time: u64,
}

impl Failures {
    /// Counts a failure of class `class`.
    pub fn count(&mut self, class: &str) {
        let kind = match class {
            "deadline-exceeded" => &mut self.deadline,
            "memory-limit" => &mut self.memory,
            "panic" => &mut self.panic,
            "lookup-limit" | "copy-limit" | "invalid-output" | "too-many-records" | "record-too-large"
            | "event-too-large" | "partition-key" => &mut self.limit,
            "trap" | "instantiate" => &mut self.trap,
            OUT_OF_TIME => &mut self.out_of_time,
            _ => &mut self.error,
        };
        *kind += 1;
    }

    pub fn add(&mut self, other: &Failures) {
        self.deadline += other.deadline;
        self.memory += other.memory;
        self.panic += other.panic;
        self.limit += other.limit;
        self.trap += other.trap;
        self.error += other.error;
        self.out_of_time += other.out_of_time;
    }

    /// All failures the rule is blamed for.
    pub fn total(&self) -> u64 {
        self.deadline + self.memory + self.panic + self.limit + self.trap + self.error
    }
}

/// The class a metric or a message attribute may carry for a dead letter: weft's own classes as they are, a
/// module's own error code as `module-error` (a module's text must not leave the dead letter's body: unbounded,
/// and it may carry what the event carried).
pub fn public_class(stage: Stage, class: &str) -> &str {
    if stage == Stage::Rule && module_error(class) { MODULE_ERROR } else { class }
}

/// The public class of a module's own error code.
pub const MODULE_ERROR: &str = "module-error";

/// Whether a rule's failure class is a module's own error code (not one of weft's classes).
fn module_error(class: &str) -> bool {
    let mut failures = Failures::default();
    failures.count(class);
    failures.error == 1 && !matches!(class, QUARANTINED | HOST_PANIC)
}

/// A drop's reason as a dimension (or a log field): weft's reasons by name, any reason a rule gave as `rule` (a
/// module's text, like its error codes).
pub fn reason_dimension(reason: &str) -> &'static str {
    match reason {
        crate::rules::NO_RULE_MATCHED => "no-rule-matched",
        crate::rules::NO_RECORDS => "no-records",
        crate::rules::SKIPPED => "skipped",
        _ => "rule",
    }
}

/// The class of an event the host panicked on (the judge makes those; named here so it is not a module's code).
pub const HOST_PANIC: &str = "host-panic";

impl RuleStats {
    /// Counts what a run of the rule's chain ruled (before its on-error policy).
    pub(super) fn count(&mut self, ruling: &Ruling) {
        match ruling {
            Ruling::Records(records) => self.records += records.len() as u64,
            Ruling::Dropped { .. } => self.dropped += 1,
            Ruling::Failed(failure) if failure.class == QUARANTINED => self.quarantined_events += 1,
            Ruling::Failed(failure) => self.failures.count(&failure.class),
        }
    }

    pub fn add(&mut self, other: &RuleStats) {
        self.events += other.events;
        self.records += other.records;
        self.dropped += other.dropped;
        self.failures.add(&other.failures);
        self.quarantined_events += other.quarantined_events;
        self.quarantines += other.quarantines;
        self.fallbacks += other.fallbacks;
    }
}

/// One rule's report: its counts, its modules' calls (in chain order), and whether it is quarantined now.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleReport {
    pub rule: String,
    pub stats: RuleStats,
    pub modules: Vec<(String, CallStats)>,
    pub quarantined: bool,
}

impl RuleReport {
    /// Time in the rule's modules, in all.
    pub fn busy(&self) -> std::time::Duration {
        self.modules.iter().map(|(_, calls)| calls.busy).sum()
    }

    /// The longest single call into one of the rule's modules.
    pub fn longest(&self) -> std::time::Duration {
        self.modules.iter().map(|(_, calls)| calls.longest).max().unwrap_or_default()
    }
}

/// A rule set's reports, and the calls of the default rule it falls back to (on-error: default).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RuleSetStats {
    pub rules: Vec<RuleReport>,
    pub fallback: Option<CallStats>,
}

impl RuleSetStats {
    /// Adds a later report (`weft run` adds up its slices): rules are matched by name, new ones appended.
    pub fn add(&mut self, other: RuleSetStats) {
        for report in other.rules {
            match self.rules.iter_mut().find(|r| r.rule == report.rule) {
                Some(mine) => {
                    mine.stats.add(&report.stats);
                    mine.quarantined = report.quarantined;
                    for (module, calls) in report.modules {
                        match mine.modules.iter_mut().find(|(name, _)| *name == module) {
                            Some((_, mine)) => mine.add(&calls),
                            None => mine.modules.push((module, calls)),
                        }
                    }
                }
                None => self.rules.push(report),
            }
        }
        if let Some(calls) = other.fallback {
            self.fallback.get_or_insert_with(CallStats::default).add(&calls);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::engine::CallError;

    #[test]
    fn every_failure_of_weft_has_its_own_kind_and_a_modules_code_is_an_error() {
        let kind = |class: &str| {
            let mut failures = Failures::default();
            failures.count(class);
            failures
        };
        let errors = [
            CallError::Deadline { limit: Duration::ZERO },
            CallError::Memory { limit: 0, desired: 0 },
            CallError::MemoryBudget { total: 0 },
            CallError::Panic { message: String::new() },
            CallError::Trap { message: String::new() },
            CallError::Lookups { limit: 0 },
            CallError::Instantiate { message: String::new() },
            CallError::BatchMismatch { expected: 0, answered: 0 },
            CallError::CopyLimit { limit: 0 },
            CallError::OutOfTime,
        ];
        for error in errors {
            // No wildcard: a new kind of call error does not compile until it is listed above.
            match error {
                CallError::Deadline { .. }
                | CallError::Memory { .. }
                | CallError::MemoryBudget { .. }
                | CallError::Panic { .. }
                | CallError::Trap { .. }
                | CallError::Lookups { .. }
                | CallError::Instantiate { .. }
                | CallError::BatchMismatch { .. }
                | CallError::CopyLimit { .. }
                | CallError::OutOfTime => {}
            }
            assert_eq!(kind(error.class()).error, 0, "{} is weft's, not the module's", error.class());
        }
        assert_eq!(kind("deadline-exceeded").deadline, 1);
        assert_eq!(kind("record-too-large").limit, 1);
        assert_eq!(kind("caller-+15551234567").error, 1, "a module's own code");
        assert_eq!(kind(OUT_OF_TIME).total(), 0, "the invocation's time is not the rule's failure");
    }
}
