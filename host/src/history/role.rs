//! The backfill role's Lambda loop (`WEFT_ROLE=backfill`): the event function's configuration and trust, one item
//! of the state machine's map per invocation. The rule set is the deployment's (`WEFT_RULES`), or the one the
//! backfill names (`rules` in the item, carried in every answer), loaded with the event function's own checks and
//! kept between invocations.

use std::sync::Mutex;
use std::time::Instant;

use crate::aws::Clients;
use crate::delivery::{Delivery, LetterPort, RecordPort};
use crate::engine::Engine;
use crate::history::backfill::{self, Item, Progress};
use crate::history::dry_run::{self, Judges};
use crate::judge::Judge;
use crate::lambda::config::Config;
use crate::rollout::source::{RuleSource, Trust};
use crate::rules::{RuleSet, signing};

/// A container of the backfill role: clients, engine and trust once; the rule set kept by location.
pub struct Backfill {
    config: Config,
    clients: Clients,
    engine: Engine,
    trust: Trust,
    /// Rule sets loaded, by location: the backfill's, and a dry run's candidate.
    rules: Mutex<Vec<(Option<RuleSource>, RuleSet)>>,
}

impl Backfill {
    pub async fn from_config(config: Config) -> Result<Backfill, crate::lambda::InitError> {
        config.rule_logs.set();
        let trust = Trust {
            public_keys: config.rules_public_key.as_deref().map(signing::public_keys).transpose()?.unwrap_or_default(),
            deployment: config.deployment.clone(),
            min_sequence: config.rules_min_sequence,
        };
        let engine = Engine::new()?.with_memory_budget(config.rules_memory_bytes);
        let clients = Clients::load().await;
        Ok(Backfill { config, clients, engine, trust, rules: Mutex::new(Vec::new()) })
    }

    /// The rule set at `source` (`None`: the embedded default), loaded once and kept (see [`Backfill::keep`]).
    async fn rules(&self, source: &Option<RuleSource>) -> Result<RuleSet, String> {
        let kept = {
            let mut kept = self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            kept.iter().position(|(loaded, _)| loaded == source).map(|at| kept.swap_remove(at).1)
        };
        if let Some(rules) = kept {
            return Ok(rules);
        }
        let limits = self.config.limits.clone();
        match source {
            None => RuleSet::embedded_default(&self.engine, limits).map_err(|e| e.to_string()),
            Some(source) => {
                let s3 = self.clients.rules_s3();
                let accepted = crate::rollout::source::load(source, Some(&s3), &self.engine, &limits, &self.trust);
                Ok(accepted.await.map_err(|e| format!("rule set {source} refused: {e}"))?.rules)
            }
        }
    }

    /// Keeps a rule set for the next invocation, in place of the one it is loaded from (two at most: a dry run's).
    fn keep(&self, source: Option<RuleSource>, rules: RuleSet) {
        let mut kept = self.rules.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        kept.retain(|(loaded, _)| *loaded != source);
        kept.truncate(1);
        kept.push((source, rules));
    }

    /// The rule set an item names (`None`: the deployment's).
    fn source(&self, location: Option<&str>) -> Result<Option<RuleSource>, String> {
        match location.filter(|r| !r.is_empty()) {
            Some(location) => Ok(Some(RuleSource::parse(location).map_err(|e| e.to_string())?)),
            None => Ok(self.config.rules.clone()),
        }
    }

    /// One item: the object read from where it stopped, until it ends or the invocation's time nears its end.
    pub async fn invoke(&self, payload: serde_json::Value, deadline: Instant) -> Result<Progress, String> {
        let item: Item = serde_json::from_value(payload).map_err(|e| format!("not a backfill item: {e}"))?;
        let source = self.source(item.rules.as_deref())?;
        let judge = Judge::new(self.rules(&source).await?).with_batch_size(self.config.batch);
        if let Some(candidate) = item.diff.as_deref().filter(|d| !d.is_empty()) {
            let candidate = self.source(Some(candidate))?;
            let candidate_judge = Judge::new(self.rules(&candidate).await?).with_batch_size(self.config.batch);
            let judges = Judges { deployed: judge, candidate: candidate_judge };
            let (progress, judges) =
                dry_run::run(item, &self.clients.s3, judges, deadline).await.map_err(|e| e.to_string())?;
            self.keep(source, judges.deployed.into_rules());
            self.keep(candidate, judges.candidate.into_rules());
            return Ok(logged(progress));
        }
        let mut delivery = Delivery::new(
            RecordPort::Kinesis(self.clients.kinesis_sink(&self.config.stream)),
            LetterPort::Queue(self.clients.dead_letter_queue(&self.config.dlq_url, self.config.dlq_bucket.as_deref())),
            None,
        );
        let s3 = &self.clients.s3;
        let (progress, judge) =
            backfill::run(item, s3, judge, &mut delivery, deadline).await.map_err(|e| e.to_string())?;
        self.keep(source, judge.into_rules());
        Ok(logged(progress))
    }
}

/// An invocation's answer, logged by its counts (never its report: examples are event ids only, but the log is not
/// where a dry run is read).
fn logged(progress: Progress) -> Progress {
    let counts = &progress.item.counts;
    tracing::info!(
        key = %progress.item.key, done = progress.done, offset = progress.item.place.offset,
        events = counts.events, written = counts.written, dropped = counts.dropped,
        dead_lettered = counts.dead_lettered, failed = counts.failed, dry_run = progress.item.report.is_some(),
        "backfill item"
    );
    progress
}

/// Serves the backfill role's invocations until the runtime stops the process.
pub async fn serve(backfill: Backfill) -> Result<(), lambda_runtime::Error> {
    let backfill = std::sync::Arc::new(backfill);
    lambda_runtime::run(lambda_runtime::service_fn(move |event: lambda_runtime::LambdaEvent<serde_json::Value>| {
        let backfill = backfill.clone();
        async move {
            let deadline = crate::lambda::deadline_instant(event.context.deadline);
            backfill.invoke(event.payload, deadline).await.map_err(lambda_runtime::Error::from)
        }
    }))
    .await
}
