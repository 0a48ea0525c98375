//! A candidate rule set running beside the active one in a container: as a *shadow* it judges the same events after
//! the active set and only its differences are counted; as a *canary* it judges a stable share of conversations
//! instead of the active set, and its outcome is delivered.
//!
//! Either way it may never cost delivery: a shadow runs only within a share of the active rules' time (the rest is
//! skipped and counted), and an event a canary fails on with one of weft's own failures (a trap, a limit, a
//! quarantine) is judged again by the active set, whose outcome is delivered. A canary that fails more events than
//! the active set by more than a margin is retired in the container that sees it.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::input::Event;

use crate::engine::OUT_OF_TIME;
use crate::rules::RuleSet;
use crate::rules::manifest::Rollout;
use crate::rules::stats::{MODULE_ERROR, public_class, reason_dimension};
use crate::verdict::compare::{Difference, compare};
use crate::verdict::{Stage, Verdict};

/// A deployment's bounds on candidates (`WEFT_SHADOW_BUDGET`, `WEFT_CANARY_MARGIN`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// The shadow's rule time may reach this percentage of the active rules' time; beyond it events are not
    /// shadowed until the active rules have caught up (each one counted as skipped).
    pub shadow_budget_percent: u32,
    /// A canary whose share of failed events exceeds the active set's by more than this many percentage points
    /// (after [`CANARY_MIN_EVENTS`]) is rolled back.
    pub canary_margin_percent: f64,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings { shadow_budget_percent: 100, canary_margin_percent: 5.0 }
    }
}

/// Events a canary judges before its failure rate is weighed against the active set's.
pub const CANARY_MIN_EVENTS: u64 = 50;

/// Shadow differences written to the log for each candidate before sampling starts (then one in 1,000).
const LOGGED_IN_FULL: u64 = 10;

/// What a candidate did since the metrics last asked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandidateStats {
    /// Events a shadow judged, and those it skipped to stay within its budget.
    pub shadowed: u64,
    pub skipped: u64,
    /// Shadowed events whose outcome differs from the active set's.
    pub differing: u64,
    /// Differences by rule and kind (`added`, `removed`, `changed`, `outcome`).
    pub differences: BTreeMap<(String, &'static str), u64>,
    /// Events a canary judged, and those it failed on that the active set judged instead.
    pub canary: u64,
    pub fallbacks: u64,
}

/// A candidate's totals since it was loaded: what `weft rules status` shows, and what a canary's rollback weighs.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    pub shadowed: u64,
    pub skipped: u64,
    pub differing: u64,
    /// Canary events, and those failed (dead-lettered by the canary, or failed and judged by the active set).
    pub canary_events: u64,
    pub canary_failures: u64,
    /// The active set's events and dead letters beside a canary: the rate the canary is weighed against.
    pub active_events: u64,
    pub active_failures: u64,
}

/// A canary retired for failing more than the active set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CanaryRollback {
    pub version: String,
    /// Percent of events failed, the canary's and the active set's.
    pub canary_failed_percent: f64,
    pub active_failed_percent: f64,
    pub canary_events: u64,
}

pub struct Candidate {
    rules: RuleSet,
    rollout: Rollout,
    settings: Settings,
    version: String,
    stats: CandidateStats,
    totals: Totals,
    active_time: Duration,
    shadow_time: Duration,
}

impl CanaryRollback {
    /// The log line the `CanaryRolledBack` alarm counts.
    pub fn log(&self) {
        tracing::error!(
            metric = "CanaryRolledBack",
            candidate = %self.version,
            canary_failed_percent = self.canary_failed_percent,
            active_failed_percent = self.active_failed_percent,
            canary_events = self.canary_events,
            "canary rolled back: it failed more events than the active rule set by more than the margin"
        );
    }
}

impl Candidate {
    pub fn new(rules: RuleSet, rollout: Rollout, settings: Settings) -> Candidate {
        let version = rules.version().map_or_else(|| "builtin:default".to_owned(), |v| v.0.clone());
        Candidate {
            rules,
            rollout,
            settings,
            version,
            stats: CandidateStats::default(),
            totals: Totals::default(),
            active_time: Duration::ZERO,
            shadow_time: Duration::ZERO,
        }
    }

    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn rollout(&self) -> Rollout {
        self.rollout
    }

    pub fn totals(&self) -> &Totals {
        &self.totals
    }

    pub fn take_stats(&mut self) -> CandidateStats {
        std::mem::take(&mut self.stats)
    }

    /// A canary's modules stop at the same instant as the active set's (it is live); a shadow's halfway there, so
    /// that it never takes the second half of the time an invocation has left for its rules.
    pub fn set_cutoff(&mut self, cutoff: Option<Instant>) {
        let cutoff = match self.rollout {
            Rollout::Shadow => cutoff.map(|at| halfway(Instant::now(), at)),
            Rollout::Canary { .. } => cutoff,
        };
        self.rules.set_cutoff(cutoff);
    }

    /// Whether the canary judges this event: its conversation's place in 10,000 buckets (the event's own id when
    /// it names no conversation) is under the canary's share, the same in every container and for every version.
    pub fn takes(&self, event: &Event) -> bool {
        match self.rollout {
            Rollout::Shadow => false,
            Rollout::Canary { percent } => bucket(event) < u64::from(percent) * 100,
        }
    }

    /// After the active set judged `events` (in `active_time`): a shadow judges them too and counts how it
    /// differs; beside a canary, the active set's failures are counted.
    pub fn beside_active(&mut self, events: &[Event], active: &[Verdict], active_time: Duration) {
        match self.rollout {
            Rollout::Shadow => self.shadow(events, active, active_time),
            Rollout::Canary { .. } => {
                self.totals.active_events += events.len() as u64;
                self.totals.active_failures += active.iter().filter(|v| rule_dead_letter(v)).count() as u64;
            }
        }
    }

    fn shadow(&mut self, events: &[Event], active: &[Verdict], active_time: Duration) {
        self.active_time += active_time;
        let budget = self.active_time.mul_f64(f64::from(self.settings.shadow_budget_percent) / 100.0);
        if self.shadow_time > budget {
            self.stats.skipped += events.len() as u64;
            self.totals.skipped += events.len() as u64;
            return;
        }
        let started = Instant::now();
        let verdicts = crate::judge::guarded(&mut self.rules, events);
        self.shadow_time += started.elapsed();
        for ((event, old), new) in events.iter().zip(active).zip(&verdicts) {
            if matches!(new, Verdict::DeadLetter(letter) if letter.error_class == OUT_OF_TIME) {
                self.stats.skipped += 1;
                self.totals.skipped += 1;
                continue;
            }
            self.stats.shadowed += 1;
            self.totals.shadowed += 1;
            let differences = compare(old, new);
            if differences.is_empty() {
                continue;
            }
            self.stats.differing += 1;
            self.totals.differing += 1;
            for difference in &differences {
                *self.stats.differences.entry((rule_of(difference, old, new), kind(difference))).or_default() += 1;
            }
            if self.totals.differing <= LOGGED_IN_FULL || self.totals.differing.is_multiple_of(1000) {
                tracing::info!(
                    metric = "ShadowDifference",
                    event = %event.id,
                    candidate = %self.version,
                    differing_events = self.totals.differing,
                    differences = %described(&differences, old, new),
                    "the candidate rule set judges this event differently"
                );
            }
        }
    }

    /// A canary's verdicts on `events`, each with whether it is the canary's (`false`: the canary failed on the
    /// event and the active set judged it).
    pub fn canary(&mut self, active: &mut RuleSet, events: &[Event]) -> Vec<(Verdict, bool)> {
        let mut verdicts: Vec<(Verdict, bool)> =
            crate::judge::guarded(&mut self.rules, events).into_iter().map(|v| (v, true)).collect();
        let failed: Vec<usize> = (0..verdicts.len()).filter(|&i| weft_failure(&verdicts[i].0)).collect();
        if !failed.is_empty() {
            let again: Vec<Event> = failed.iter().map(|&i| events[i].clone()).collect();
            for (i, verdict) in failed.iter().zip(crate::judge::guarded(active, &again)) {
                verdicts[*i] = (verdict, false);
            }
        }
        let dead_letters = verdicts.iter().filter(|(v, mine)| *mine && rule_dead_letter(v)).count();
        self.stats.canary += events.len() as u64;
        self.stats.fallbacks += failed.len() as u64;
        self.totals.canary_events += events.len() as u64;
        self.totals.canary_failures += (failed.len() + dead_letters) as u64;
        verdicts
    }

    /// The rollback a canary has earned: enough events, and a failure rate over the active set's by more than the
    /// margin.
    pub fn rollback_due(&self) -> Option<CanaryRollback> {
        let t = &self.totals;
        if !matches!(self.rollout, Rollout::Canary { .. }) || t.canary_events < CANARY_MIN_EVENTS {
            return None;
        }
        let percent = |failed: u64, of: u64| if of == 0 { 0.0 } else { failed as f64 * 100.0 / of as f64 };
        let (canary, active) =
            (percent(t.canary_failures, t.canary_events), percent(t.active_failures, t.active_events));
        (canary - active > self.settings.canary_margin_percent).then(|| CanaryRollback {
            version: self.version.clone(),
            canary_failed_percent: canary,
            active_failed_percent: active,
            canary_events: t.canary_events,
        })
    }
}

fn halfway(now: Instant, cutoff: Instant) -> Instant {
    now + cutoff.saturating_duration_since(now) / 2
}

/// FNV-1a of the conversation id (or the event id), in 10,000 buckets: stable across processes and Rust versions,
/// unlike the standard library's hasher.
fn bucket(event: &Event) -> u64 {
    let key = event.conversation_id.as_deref().unwrap_or(&event.id);
    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    hash % 10_000
}

/// One of weft's own failures of a module (trap, limit, quarantine...): the candidate's fault, never delivered.
fn weft_failure(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::DeadLetter(letter)
        if letter.stage == Stage::Rule
            && letter.error_class != OUT_OF_TIME
            && public_class(Stage::Rule, &letter.error_class) != MODULE_ERROR)
}

fn rule_dead_letter(verdict: &Verdict) -> bool {
    matches!(verdict, Verdict::DeadLetter(letter) if letter.stage == Stage::Rule && letter.error_class != OUT_OF_TIME)
}

fn kind(difference: &Difference) -> &'static str {
    match difference {
        Difference::Added { .. } => "added",
        Difference::Removed { .. } => "removed",
        Difference::Changed { .. } => "changed",
        Difference::Outcome { .. } => "outcome",
    }
}

/// The rule a difference is about; for a changed outcome, the rule that dropped or failed the event, else the
/// one whose records appear or go.
fn rule_of(difference: &Difference, old: &Verdict, new: &Verdict) -> String {
    let decided = |verdict: &Verdict| match verdict {
        Verdict::Dropped(dropped) => dropped.rule.clone(),
        Verdict::DeadLetter(letter) => letter.rule.clone(),
        Verdict::Records(records) => records.first().map(|r| r.id.rule.to_string()),
    };
    match difference {
        Difference::Added { rule, .. } | Difference::Removed { rule, .. } | Difference::Changed { rule, .. } => {
            rule.clone()
        }
        Difference::Outcome { .. } => decided(new).or_else(|| decided(old)).unwrap_or_else(|| "-".into()),
    }
}

/// The differences for a log line: kinds, rules and paths, never values (`changed all: data.mediaType`).
fn described(differences: &[Difference], old: &Verdict, new: &Verdict) -> String {
    let outcome = |verdict: &Verdict| match verdict {
        Verdict::Records(_) => "records".to_owned(),
        Verdict::Dropped(dropped) => format!("dropped ({})", reason_dimension(&dropped.reason)),
        Verdict::DeadLetter(letter) => format!("dead-letter ({})", public_class(letter.stage, &letter.error_class)),
    };
    let parts: Vec<String> = differences
        .iter()
        .map(|difference| match difference {
            Difference::Changed { rule, changes, .. } => {
                let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
                format!("changed {rule}: {}", paths.join(", "))
            }
            Difference::Added { rule, stream } => format!("added {rule} → {stream}"),
            Difference::Removed { rule, stream } => format!("removed {rule} → {stream}"),
            Difference::Outcome { .. } => format!("outcome {} → {}", outcome(old), outcome(new)),
        })
        .collect();
    parts.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Engine, Limits};
    use crate::judge::Judge;

    fn event(id: &str, conversation: &str) -> String {
        format!(
            r#"{{"id":"{id}","detail-type":"v2.detail.events.conversation.{{id}}.customer.start","detail":{{"topicName":"v2.detail.events.conversation.{conversation}.customer.start","eventBody":{{"conversationId":"{conversation}"}}}}}}"#
        )
    }

    fn default_rules(engine: &Engine) -> RuleSet {
        RuleSet::embedded_default(engine, Limits::default()).unwrap()
    }

    /// The buckets are part of the contract between containers and between weft versions: a conversation must not
    /// move to the other version because a container was deployed with a newer weft.
    #[test]
    fn a_conversation_has_one_bucket_everywhere() {
        let parse = |id: &str, conversation: &str| crate::input::envelope::parse(event(id, conversation)).unwrap();
        assert_eq!(bucket(&parse("e1", "c-1")), bucket(&parse("e2", "c-1")), "by conversation, not event");
        let buckets: Vec<u64> =
            ["c-1", "c-2", "5bd30160-b736-5c03-ade7-374b7981c67f"].iter().map(|c| bucket(&parse("e", c))).collect();
        assert_eq!(buckets, [9796, 4429, 2581], "FNV-1a 64, as any other implementation computes it");
        let engine = Engine::new().unwrap();
        let canary = |percent| Candidate::new(default_rules(&engine), Rollout::Canary { percent }, Settings::default());
        assert!(!canary(97).takes(&parse("e", "c-1")) && canary(98).takes(&parse("e", "c-1")));
        assert!(canary(100).takes(&parse("e", "c-1")));
    }

    #[test]
    fn a_shadow_stops_halfway_to_the_invocations_cutoff() {
        let now = Instant::now();
        assert_eq!(halfway(now, now + Duration::from_secs(10)), now + Duration::from_secs(5));
        assert_eq!(halfway(now, now - Duration::from_secs(1)), now, "a cutoff already past stays past");
    }

    /// With a budget of 1 % of the active rules' time, a candidate as costly as the active set shadows its first
    /// batch and then skips until the active rules have caught up: every event is shadowed or skipped, never both.
    /// (How many batches fit depends on measured times — a preempted active batch buys the shadow another — so the
    /// test asserts the budget's effect, not one count: an unbudgeted shadow would take all ten batches.)
    #[test]
    fn a_shadow_skips_rather_than_exceed_its_budget() {
        let engine = Engine::new().unwrap();
        let mut judge = Judge::new(default_rules(&engine)).with_batch_size(16);
        let settings = Settings { shadow_budget_percent: 1, ..Settings::default() };
        judge.set_candidate(Some(Candidate::new(default_rules(&engine), Rollout::Shadow, settings)));
        let input: Vec<String> = (0..160).map(|i| event(&format!("e{i}"), &format!("c{i}"))).collect();
        let judged = judge.judge(crate::input::split(input.join("\n").as_bytes(), "t".into()));
        assert_eq!(judged.len(), 160);
        let (_, stats, totals) = judge.take_candidate_report().unwrap();
        assert_eq!(stats.shadowed + stats.skipped, 160);
        assert_eq!(totals.differing, 0, "the same verdicts");
        assert!(
            totals.shadowed >= 16 && totals.shadowed % 16 == 0,
            "whole batches, the first one always: {}",
            totals.shadowed
        );
        assert!(totals.shadowed <= 48, "the budget stops the shadow after a few batches: {}", totals.shadowed);
    }
}
