//! The Lambda: EventBridge events in, through the rules, out to Kinesis and the dead-letter queue.
//!
//! Two event sources, told apart by the payload:
//! - direct: EventBridge invokes the function with one event. If that event could be neither delivered nor
//!   dead-lettered the invocation fails, so Lambda's retries and its on-failure destination take over;
//! - batched: EventBridge → SQS → Lambda. Each message body is one EventBridge event; the answer is a partial
//!   batch response listing only the messages that were neither delivered nor dead-lettered.
//!
//! Everything expensive (clients, engine, compiled rules) is built once per container, before the first poll.

pub mod config;
mod sqs;
mod variables;

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Diagnostic, Error, LambdaEvent, service_fn};
use serde_json::value::RawValue;
use sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};

use crate::delivery::{Budget, Delivery, LetterPort, RecordPort, SinkError};
use crate::input::{Chunk, Source};
use crate::judge::candidate::{Candidate, Settings};
use crate::judge::{DEFAULT_BATCH, Judge};
use crate::metrics::{Publisher, Report};
use crate::rollout::reload::Reloader;
use crate::rollout::source::{RuleSource, Trust};
use crate::rules::RuleSet;
use crate::rules::signing;
use crate::verdict::{Fate, Summary};

/// An invocation's events: each one's fate, and the replay it came from (`None`: live).
type Settled = (Vec<Fate>, Vec<Option<String>>);

/// Why an invocation failed as a whole (Lambda then retries it and, in the end, uses its on-failure destination).
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    #[error("event neither delivered nor dead-lettered: {0}")]
    Undelivered(String),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error("no rule set is loaded: {0}")]
    NoRuleSet(String),
    #[error("encoding the answer: {0}")]
    Answer(#[from] serde_json::Error),
}

/// The runtime reports `error_type`; a variant name tells an operator more than a Rust type path.
impl From<InvocationError> for Diagnostic {
    fn from(error: InvocationError) -> Diagnostic {
        let error_type = match error {
            InvocationError::Undelivered(_) => "Undelivered",
            InvocationError::Sink(_) => "SinkError",
            InvocationError::NoRuleSet(_) => "NoRuleSet",
            InvocationError::Answer(_) => "AnswerEncoding",
        };
        Diagnostic { error_type: error_type.into(), error_message: error.to_string() }
    }
}

pub struct Handler {
    /// `None` only after a cold start that could not load its rule set and may not run the default rule.
    judge: Mutex<Option<Judge>>,
    delivery: tokio::sync::Mutex<Delivery>,
    /// Watches the S3 rule set, when there is one.
    reloader: Option<Reloader>,
    batch: usize,
    /// A new rule set that fails this many first events in a row is rolled back (0: never).
    rollback_after: u64,
    /// Where each invocation's metrics go (none in tests that do not look at them).
    metrics: Option<Publisher>,
    /// Bounds on a candidate rule set (shadow budget, canary margin).
    candidates: Settings,
    /// Where replayed events' records go (`WEFT_REPLAY_STREAM`; `None`: where live events' go).
    replay_stream: Option<String>,
}

impl Handler {
    pub fn new(judge: Judge, delivery: Delivery) -> Handler {
        Handler::hot_swapping(Some(judge), delivery, None, DEFAULT_BATCH, 0)
    }

    /// A handler whose rule set `reloader` keeps current (`judge`: `None` until a first version loads), rolling a
    /// new version back when it fails its first `rollback_after` events.
    pub fn hot_swapping(
        judge: Option<Judge>,
        delivery: Delivery,
        reloader: Option<Reloader>,
        batch: usize,
        rollback_after: u64,
    ) -> Handler {
        let judge = judge.map(|j| j.with_batch_size(batch).with_rollback_after(rollback_after));
        Handler {
            judge: Mutex::new(judge),
            delivery: tokio::sync::Mutex::new(delivery),
            reloader,
            batch,
            rollback_after,
            metrics: None,
            candidates: Settings::default(),
            replay_stream: None,
        }
    }

    /// Writes replayed events' records to `stream` instead of their own.
    pub fn with_replay_stream(mut self, stream: Option<String>) -> Handler {
        self.replay_stream = stream;
        self
    }

    /// Runs candidate rule sets within `settings`.
    pub fn with_candidates(mut self, settings: Settings) -> Handler {
        self.candidates = settings;
        self
    }

    /// Publishes each invocation's metrics through `publisher`.
    pub fn with_metrics(mut self, publisher: Publisher) -> Handler {
        self.metrics = Some(publisher);
        self
    }

    pub fn reloader(&self) -> Option<&Reloader> {
        self.reloader.as_ref()
    }

    /// The judge. Panics in the rules are caught inside the judge, so the lock is never poisoned; were it ever,
    /// the judge is still whole (it is only ever replaced whole), so the lock is taken back rather than failing
    /// every later invocation.
    fn judge(&self) -> MutexGuard<'_, Option<Judge>> {
        self.judge.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Before a batch: start a background check when one is due, and swap in a version that is ready; with no
    /// rule set yet, try to load one now or fail the invocation (so that Lambda retries it).
    async fn refresh_rules(&self) -> Result<(), InvocationError> {
        let Some(reloader) = &self.reloader else { return Ok(()) };
        if self.judge().is_none() {
            let rules = reloader.load_now().await.map_err(|e| InvocationError::NoRuleSet(e.to_string()))?;
            // Its candidate, if one is published, is taken below with it.
            *self.judge() = Some(self.new_judge(rules));
        }
        reloader.poll();
        let ready = reloader.take_ready();
        if let Some(judge) = self.judge().as_mut() {
            if let Some(rules) = ready.rules {
                judge.replace_rules(rules);
            }
            if let Some(candidate) = ready.candidate {
                judge.set_candidate(candidate.map(|c| Candidate::new(c.rules, c.rollout, self.candidates)));
            }
        }
        Ok(())
    }

    fn new_judge(&self, rules: RuleSet) -> Judge {
        Judge::new(rules).with_batch_size(self.batch).with_rollback_after(self.rollback_after)
    }

    /// Handles one invocation's payload.
    pub async fn handle(
        &self,
        payload: &RawValue,
        request_id: &str,
        deadline: Instant,
    ) -> Result<serde_json::Value, InvocationError> {
        if let Ok(batch) = serde_json::from_str::<SqsEvent>(payload.get())
            && batch.records.first().is_some_and(|r| r.event_source.as_deref() == Some("aws:sqs"))
        {
            let response = self.batched(batch, request_id, deadline).await?;
            return Ok(serde_json::to_value(response)?);
        }
        let chunk =
            Chunk::Object { text: payload.get(), source: Source::Invocation { request_id: request_id.to_owned() } };
        let (fates, replays) = self.settle(vec![chunk], deadline).await?;
        let summary = self.report(&fates, &replays, request_id, deadline, "direct invocation").await;
        if let Some(Fate::Failed { reason }) = fates.iter().find(|f| matches!(f, Fate::Failed { .. })) {
            // Not delivered and not dead-lettered: fail, so that Lambda retries and then uses its destination.
            return Err(InvocationError::Undelivered(reason.clone()));
        }
        // The direct answer is the summary (what was written, dropped, dead-lettered).
        Ok(serde_json::to_value(summary)?)
    }

    async fn batched(
        &self,
        batch: SqsEvent,
        request_id: &str,
        deadline: Instant,
    ) -> Result<SqsBatchResponse, InvocationError> {
        let ids: Vec<String> = batch.records.iter().map(|m| m.message_id.clone().unwrap_or_default()).collect();
        let bodies: Vec<Option<String>> = batch.records.into_iter().map(|m| m.body).collect();
        let chunks: Vec<Chunk> = bodies
            .iter()
            .zip(&ids)
            .map(|(body, id)| {
                let source = Source::Message { message_id: id.clone() };
                match body {
                    Some(text) => Chunk::Object { text, source },
                    None => Chunk::Broken {
                        text: String::new(),
                        reason: format!("message {id}: SQS message has no body"),
                        source,
                    },
                }
            })
            .collect();
        let (fates, replays) = self.settle(chunks, deadline).await?;
        self.report(&fates, &replays, request_id, deadline, "batched invocation").await;
        let mut response = SqsBatchResponse::default();
        for (id, fate) in ids.into_iter().zip(&fates) {
            if matches!(fate, Fate::Failed { .. }) {
                response.batch_item_failures.push(BatchItemFailure { item_identifier: id });
            }
        }
        Ok(response)
    }

    /// Rules, then delivery, within the invocation's one budget: each event's fate, and the replay it came from.
    async fn settle(&self, chunks: Vec<Chunk<'_>>, deadline: Instant) -> Result<Settled, InvocationError> {
        let budget = Budget::until(deadline);
        self.refresh_rules().await?;
        let mut judged = {
            let mut judge = self.judge();
            let judge = judge.as_mut().ok_or_else(|| InvocationError::NoRuleSet("not loaded".into()))?;
            let judged = judge.judge_until(chunks, Some(budget.records_until()));
            if let Some(reloader) = &self.reloader {
                judge.take_rollback().inspect(|rollback| reloader.rolled_back(rollback));
                judge.take_canary_rollback().inspect(|rollback| reloader.canary_rolled_back(rollback));
            }
            judged
        };
        let replays = crate::history::replays(&mut judged, self.replay_stream.as_deref());
        Ok((self.delivery.lock().await.deliver(judged, budget).await?, replays))
    }

    /// Logs the invocation's summary line and publishes its metrics: the fates, and what each stage counted.
    async fn report(
        &self,
        fates: &[Fate],
        replays: &[Option<String>],
        request_id: &str,
        deadline: Instant,
        message: &str,
    ) -> Summary {
        let mut report = Report { request_id: Some(request_id.to_owned()), ..Report::default() };
        report.count(fates);
        report.count_replays(fates, replays);
        if let Some(judge) = self.judge().as_mut() {
            report.rules = judge.take_stats();
            report.rule_set = judge.rules().version().map(|v| v.0.clone());
            if let Some((version, stats, totals)) = judge.take_candidate_report() {
                report.candidate = Some((version, stats));
                self.reloader.iter().for_each(|reloader| reloader.candidate_totals(&totals));
            }
        }
        report.delivery = self.delivery.lock().await.take_stats();
        report.rollout = self.reloader.as_ref().map(Reloader::take_stats);
        report.time_left = Some(deadline.saturating_duration_since(Instant::now()));
        report.summary.log(request_id, report.rule_set.as_deref(), message);
        let summary = report.summary.clone();
        if let Some(publisher) = &self.metrics {
            publisher.publish(report);
        }
        summary
    }

    /// The active rule set's version and the last-known-good one kept in memory (`None`: the embedded default).
    pub fn versions(&self) -> (Option<String>, Option<Option<String>>) {
        let judge = self.judge();
        let judge = judge.as_ref();
        (judge.and_then(|j| j.rules().version().map(|v| v.0.clone())), judge.and_then(|j| j.previous_version()))
    }
}

/// The instant `deadline_ms` (epoch milliseconds, from the runtime) falls on: Lambda's own deadline. The
/// [`Budget`] keeps the margins. A value no epoch of this century can have (under 10^12, before September 2001) is
/// read as milliseconds from now: that is what cargo lambda's runtime API emulator sends (its timeout, 600000).
pub fn deadline_instant(deadline_ms: u64) -> Instant {
    const PLAUSIBLE_EPOCH_MS: u64 = 1_000_000_000_000;
    if deadline_ms < PLAUSIBLE_EPOCH_MS {
        return Instant::now() + Duration::from_millis(deadline_ms);
    }
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// Serves invocations until the runtime stops the process.
pub async fn serve(handler: Handler) -> Result<(), Error> {
    let handler = Arc::new(handler);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Box<RawValue>>| {
        let handler = handler.clone();
        async move {
            let deadline = deadline_instant(event.context.deadline);
            tracing::debug!(
                request_id = %event.context.request_id,
                deadline_ms = event.context.deadline,
                left_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
                "invocation"
            );
            handler.handle(&event.payload, &event.context.request_id, deadline).await
        }
    }))
    .await
}

/// Why a container could not start.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error(transparent)]
    Engine(#[from] crate::engine::EngineError),
    #[error(transparent)]
    Rules(#[from] crate::engine::LoadError),
    #[error(transparent)]
    RuleSet(#[from] crate::rollout::source::SourceError),
    #[error(transparent)]
    Key(#[from] crate::rules::signing::SignatureError),
}

/// Builds the handler from the configuration: clients, engine and rules, once per container.
pub async fn from_config(config: &crate::lambda::config::Config) -> Result<Handler, InitError> {
    // Before any module runs (the cold start's self-test included).
    config.rule_logs.set();
    let clients = crate::aws::Clients::load().await;
    let engine = crate::engine::Engine::new()?.with_memory_budget(config.rules_memory_bytes);
    let trust = Trust {
        public_keys: config.rules_public_key.as_deref().map(signing::public_keys).transpose()?.unwrap_or_default(),
        deployment: config.deployment.clone(),
        min_sequence: config.rules_min_sequence,
    };
    let default_judge = || -> Result<Judge, InitError> {
        let rules = RuleSet::embedded_default(&engine, config.limits.clone())?;
        Ok(Judge::new(rules).with_batch_size(config.batch))
    };
    let (judge, reloader) = match &config.rules {
        None => (Some(default_judge()?), None),
        Some(source @ RuleSource::File(_)) => {
            let accepted = crate::rollout::source::load(source, None, &engine, &config.limits, &trust).await?;
            tracing::info!(version = %accepted.version, "rule set loaded");
            (Some(Judge::new(accepted.rules).with_batch_size(config.batch)), None)
        }
        Some(RuleSource::S3 { bucket, key }) => {
            let reloader = Reloader::new(
                clients.rules_s3(),
                bucket.clone(),
                key.clone(),
                engine.clone(),
                config.limits.clone(),
                trust,
                config.rules_poll,
            );
            let judge = match reloader.load_now().await {
                Ok(rules) => Some(Judge::new(rules).with_batch_size(config.batch)),
                Err(e) if config.cold_start_default => {
                    tracing::error!(metric = "RuleSetUnavailable", reason = %e, "rule set not loaded; running the embedded default rule until it is (WEFT_RULES_COLD_START=default)");
                    Some(default_judge()?)
                }
                Err(e) => {
                    tracing::error!(metric = "RuleSetUnavailable", reason = %e, "rule set not loaded; invocations fail until it is");
                    None
                }
            };
            (judge, Some(reloader))
        }
    };
    let delivery = Delivery::new(
        RecordPort::Kinesis(clients.kinesis_sink(&config.stream)),
        LetterPort::Queue(clients.dead_letter_queue(&config.dlq_url, config.dlq_bucket.as_deref())),
        None,
    );
    Ok(Handler::hot_swapping(judge, delivery, reloader, config.batch, config.rollback_after)
        .with_candidates(config.candidates)
        .with_replay_stream(config.replay_stream.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_is_an_epoch_or_the_emulators_duration() {
        let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
        let left = |at: Instant| at.saturating_duration_since(Instant::now());
        let epoch = left(deadline_instant(now_ms + 30_000));
        assert!(epoch > Duration::from_secs(29) && epoch <= Duration::from_secs(30), "{epoch:?}");
        assert_eq!(left(deadline_instant(now_ms - 5_000)), Duration::ZERO, "a deadline already past");
        let emulated = left(deadline_instant(600_000));
        assert!(emulated > Duration::from_secs(599) && emulated <= Duration::from_secs(600), "{emulated:?}");
    }
}
