//! The judge: input chunks → envelopes → rules → one [`Verdict`] per event (records, a drop, or a dead letter),
//! synchronously and in order. Delivery ([`crate::delivery`]) then turns verdicts into fates.

pub mod candidate;
pub mod check;

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Instant;

use crate::input::{Chunk, Event, EventText, SharedText, Slice, Source};
use crate::judge::candidate::{CanaryRollback, Candidate, CandidateStats, Totals};
use crate::rules::RuleSet;
use crate::rules::stats::RuleSetStats;
use crate::verdict::{DeadLetter, Judged, OriginalEvent, Stage, Verdict};

/// Events handed to the rules in one call (see `RuleSet::process_batch`).
pub const DEFAULT_BATCH: usize = 64;

/// The error class of events whose rules panicked in the host (a bug in weft, not in a module).
pub use crate::rules::stats::HOST_PANIC;

/// Runs chunks of input through a rule set.
pub struct Judge {
    rules: RuleSet,
    batch_size: usize,
    /// The rule set the current one replaced: last-known-good, rolled back to when the current one fails its
    /// first `rollback_after` events in a row (0: never).
    previous: Option<RuleSet>,
    rollback_after: u64,
    /// True until the current rule set passes its first event.
    on_probation: bool,
    rolled_back: Option<Rollback>,
    /// What a rule set rolled back from did before it went, until the metrics take it.
    rolled_back_stats: Option<RuleSetStats>,
    /// A candidate beside the active rule set: a shadow, or a canary that judges a share of conversations.
    candidate: Option<Candidate>,
    /// A canary retired for failing more events than the active set, until the handler takes it; and the
    /// candidate itself, until the metrics take what it did before it went.
    canary_rolled_back: Option<CanaryRollback>,
    retired: Option<Candidate>,
}

/// Events waiting for one rule set's call: the active set's lane, or the canary's.
#[derive(Default)]
struct Lane {
    events: Vec<Event>,
    /// Each event's index in the verdicts (where its source already is).
    places: Vec<usize>,
}

const ACTIVE: usize = 0;
const CANARY: usize = 1;

/// An automatic rollback: the version that failed, and the one restored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rollback {
    pub from: Option<String>,
    pub to: Option<String>,
    pub failed_events: u64,
}

impl Judge {
    pub fn new(rules: RuleSet) -> Judge {
        Judge {
            rules,
            batch_size: DEFAULT_BATCH,
            previous: None,
            rollback_after: 0,
            on_probation: false,
            rolled_back: None,
            rolled_back_stats: None,
            candidate: None,
            canary_rolled_back: None,
            retired: None,
        }
    }

    /// Roll back to the previous rule set when a new one fails its first `after` events in a row (0: never).
    pub fn with_rollback_after(mut self, after: u64) -> Self {
        self.rollback_after = after;
        self
    }

    /// Puts `rules` in place of the rule set in use, between two calls of [`Judge::judge`]: every event is judged
    /// entirely by one rule set. The one replaced is kept as last-known-good.
    pub fn replace_rules(&mut self, mut rules: RuleSet) {
        rules.reset_track();
        self.previous = Some(std::mem::replace(&mut self.rules, rules));
        self.on_probation = self.rollback_after > 0;
    }

    /// Puts a candidate beside the active rule set (`None`: withdraws it), between two calls of [`Judge::judge`].
    pub fn set_candidate(&mut self, candidate: Option<Candidate>) {
        self.candidate = candidate;
    }

    /// What the candidate did since the last take: its version, its counts, its totals (a canary retired since
    /// included).
    pub fn take_candidate_report(&mut self) -> Option<(String, CandidateStats, Totals)> {
        let mut retired = self.retired.take();
        let candidate = retired.as_mut().or(self.candidate.as_mut())?;
        Some((candidate.version().to_owned(), candidate.take_stats(), candidate.totals().clone()))
    }

    /// The canary the last [`Judge::judge`] retired, if any (taken once).
    pub fn take_canary_rollback(&mut self) -> Option<CanaryRollback> {
        self.canary_rolled_back.take()
    }

    /// The last-known-good rule set's version, when one is kept (`Some(None)`: an unversioned one, the default).
    pub fn previous_version(&self) -> Option<Option<String>> {
        self.previous.as_ref().map(|rules| rules.version().map(|v| v.0.clone()))
    }

    /// The rollback the last [`Judge::judge`] made, if any (taken once).
    pub fn take_rollback(&mut self) -> Option<Rollback> {
        self.rolled_back.take()
    }

    /// After judging: a rule set on probation that failed its first `rollback_after` events gives way to the
    /// previous one; one that passed an event is trusted from then on.
    fn check_probation(&mut self) {
        if !self.on_probation {
            return;
        }
        let track = self.rules.track();
        if track.passed > 0 {
            self.on_probation = false;
        } else if track.failed_in_a_row >= self.rollback_after
            && let Some(previous) = self.previous.take()
        {
            let mut failed = std::mem::replace(&mut self.rules, previous);
            self.rolled_back_stats = Some(failed.take_stats());
            let rollback = Rollback {
                from: failed.version().map(|v| v.0.clone()),
                to: self.rules.version().map(|v| v.0.clone()),
                failed_events: track.failed_in_a_row,
            };
            tracing::error!(
                metric = "RuleSetRolledBack",
                from = rollback.from.as_deref().unwrap_or("builtin:default"),
                to = rollback.to.as_deref().unwrap_or("builtin:default"),
                failed_events = rollback.failed_events,
                "rule set rolled back: it failed its first events in a row; the last-known-good version is active again"
            );
            self.on_probation = false;
            self.rolled_back = Some(rollback);
        }
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    /// What the rules did since the last take (see [`RuleSet::take_stats`]), a rule set rolled back from included.
    pub fn take_stats(&mut self) -> RuleSetStats {
        let mut stats = self.rolled_back_stats.take().unwrap_or_default();
        stats.add(self.rules.take_stats());
        stats
    }

    pub fn into_rules(self) -> RuleSet {
        self.rules
    }

    /// Events per rule call (1 = one call per event).
    pub fn with_batch_size(mut self, batch_size: usize) -> Self {
        self.batch_size = batch_size.max(1);
        self
    }

    /// A verdict for every chunk, in order.
    pub fn judge<'a>(&mut self, chunks: impl IntoIterator<Item = Chunk<'a>>) -> Vec<Judged> {
        self.judge_until(chunks, None)
    }

    /// A verdict for every chunk of `slice`, in order; the events share the slice's text instead of copying it.
    pub fn judge_slice(&mut self, slice: &Slice) -> Vec<Judged> {
        self.judge_in(slice.chunks(), Some(slice.text()), None)
    }

    /// A verdict for every chunk, in order, with no module call running past `cutoff`: events the rules have no
    /// time left for are dead-lettered (stage `rule`, class `deadline`).
    pub fn judge_until<'a>(
        &mut self,
        chunks: impl IntoIterator<Item = Chunk<'a>>,
        cutoff: Option<Instant>,
    ) -> Vec<Judged> {
        self.judge_in(chunks, None, cutoff)
    }

    /// Judges `chunks`; those whose text lies in `shared` keep a count on it rather than a copy.
    fn judge_in<'a>(
        &mut self,
        chunks: impl IntoIterator<Item = Chunk<'a>>,
        shared: Option<&Arc<SharedText>>,
        cutoff: Option<Instant>,
    ) -> Vec<Judged> {
        self.rules.set_cutoff(cutoff);
        self.candidate.iter_mut().for_each(|c| c.set_cutoff(cutoff));
        let judged = self.judge_chunks(chunks, shared);
        self.rules.set_cutoff(None);
        self.candidate.iter_mut().for_each(|c| c.set_cutoff(None));
        self.check_probation();
        judged
    }

    fn judge_chunks<'a>(
        &mut self,
        chunks: impl IntoIterator<Item = Chunk<'a>>,
        shared: Option<&Arc<SharedText>>,
    ) -> Vec<Judged> {
        let mut judged = Vec::new();
        // Parsed events wait in their lane for their rule call.
        let mut lanes: [Lane; 2] = Default::default();
        for chunk in chunks {
            match chunk {
                Chunk::Broken { text, source, reason } => {
                    let verdict = parse_failure("invalid-json", reason, &source, OriginalEvent::Text(text.clone()));
                    let text = text.into();
                    judged.push(Judged { event_id: None, source, text, rule_set: None, verdict, written: Vec::new() });
                }
                Chunk::Object { text, source } => match crate::input::envelope::parse(event_text(text, shared)) {
                    Ok(event) => {
                        judged.push(Judged {
                            event_id: None,
                            source,
                            text: EventText::default(),
                            rule_set: None,
                            verdict: Verdict::Records(Vec::new()),
                            written: Vec::new(),
                        });
                        let which = if self.canary_takes(&event) { CANARY } else { ACTIVE };
                        lanes[which].events.push(event);
                        lanes[which].places.push(judged.len() - 1);
                        if lanes[which].events.len() >= self.batch_size {
                            self.run_rules(&mut lanes[which], which == CANARY, &mut judged);
                        }
                    }
                    Err(e) => {
                        let reason = format!("{source}: {}", e.reason);
                        let verdict = parse_failure(e.class, reason, &source, OriginalEvent::from_text(text));
                        judged.push(Judged {
                            event_id: None,
                            source,
                            text: event_text(text, shared),
                            rule_set: None,
                            verdict,
                            written: Vec::new(),
                        });
                    }
                },
            }
        }
        for (which, lane) in lanes.iter_mut().enumerate() {
            self.run_rules(lane, which == CANARY, &mut judged);
        }
        judged
    }

    fn canary_takes(&self, event: &Event) -> bool {
        self.candidate.as_ref().is_some_and(|candidate| candidate.takes(event))
    }

    /// Judges a lane's events: the active set's (which a shadow then judges too), or the canary's; each verdict is
    /// stamped with the version that made it.
    fn run_rules(&mut self, lane: &mut Lane, canary_lane: bool, judged: &mut [Judged]) {
        if lane.events.is_empty() {
            return;
        }
        let active = self.rules.version().map(|v| v.0.clone());
        let verdicts: Vec<(Verdict, Option<String>)> = match self.candidate.as_mut() {
            Some(canary) if canary_lane => {
                let mine = Some(canary.version().to_owned());
                let verdicts = canary.canary(&mut self.rules, &lane.events);
                if let Some(rollback) = canary.rollback_due() {
                    self.retire_canary(rollback);
                }
                verdicts
                    .into_iter()
                    .map(|(v, canary)| (v, if canary { mine.clone() } else { active.clone() }))
                    .collect()
            }
            candidate => {
                let started = Instant::now();
                let verdicts = guarded(&mut self.rules, &lane.events);
                if let Some(candidate) = candidate {
                    candidate.beside_active(&lane.events, &verdicts, started.elapsed());
                }
                verdicts.into_iter().map(|v| (v, active.clone())).collect()
            }
        };
        for ((event, index), (verdict, version)) in lane.events.drain(..).zip(lane.places.drain(..)).zip(verdicts) {
            settle(&mut judged[index], event, verdict, version);
        }
    }

    fn retire_canary(&mut self, rollback: CanaryRollback) {
        rollback.log();
        self.retired = self.candidate.take();
        self.canary_rolled_back = Some(rollback);
    }
}

/// The rules' verdicts on `events`, surviving a panic in the host: the panicking batch is retried event by event on
/// fresh instances, and an event that panics alone is dead-lettered (class `host-panic`). Nothing unwinds past
/// here, so no lock a caller holds is poisoned.
pub(crate) fn guarded(rules: &mut RuleSet, events: &[Event]) -> Vec<Verdict> {
    if let Ok(verdicts) = catch_unwind(AssertUnwindSafe(|| process(rules, events))) {
        return verdicts;
    }
    rules.reset();
    let rule_set = rules.version().map(|v| v.0.clone());
    events
        .iter()
        .map(|event| {
            catch_unwind(AssertUnwindSafe(|| process(rules, std::slice::from_ref(event))))
                .map(|mut one| one.pop().expect("one verdict per event"))
                .unwrap_or_else(|panic| {
                    rules.reset();
                    host_panicked(event, panic.as_ref(), rule_set.clone())
                })
        })
        .collect()
}

fn process(rules: &mut RuleSet, events: &[Event]) -> Vec<Verdict> {
    #[cfg(test)]
    tests::panic_if_asked(events);
    rules.process_batch(events)
}

/// The dead letter for an event the host panicked on (a bug in weft, not in a module).
fn host_panicked(event: &Event, panic: &(dyn std::any::Any + Send), rule_set: Option<String>) -> Verdict {
    let message = crate::engine::native::panic_message(panic).unwrap_or_default();
    tracing::error!(event = %event.id, "the host panicked while the rules ran on an event");
    let reason = format!("the host panicked on this event (a bug in weft): {message}");
    Verdict::DeadLetter(Box::new(DeadLetter {
        event_id: Some(event.id.clone()),
        rule_set,
        rule: Some("weft".into()),
        module: Some(crate::engine::ModuleId { name: "weft".into(), sha256: String::new() }),
        ..DeadLetter::new(Stage::Rule, HOST_PANIC, format!("weft: {reason}"), OriginalEvent::from_text(&event.envelope))
    }))
}

/// Fills in an event's place (which has its source) with the event and its verdict.
fn settle(place: &mut Judged, event: Event, mut verdict: Verdict, rule_set: Option<String>) {
    match &mut verdict {
        Verdict::Records(_) => {}
        Verdict::Dropped(dropped) => dropped.source = Some(place.source.clone()),
        Verdict::DeadLetter(letter) => letter.source = Some(place.source.clone()),
    }
    (place.event_id, place.text, place.rule_set, place.verdict) = (Some(event.id), event.envelope, rule_set, verdict);
}

/// `text` as an event's: shared with `shared` when it lies there, else a copy.
fn event_text(text: &str, shared: Option<&Arc<SharedText>>) -> EventText {
    shared.and_then(|whole| EventText::within(whole, text)).unwrap_or_else(|| text.into())
}

fn parse_failure(class: &str, reason: String, source: &Source, event: OriginalEvent) -> Verdict {
    Verdict::DeadLetter(Box::new(DeadLetter {
        source: Some(source.clone()),
        ..DeadLetter::new(Stage::Parse, class, reason, event)
    }))
}

#[cfg(test)]
mod tests;
