//! Hot swap: the Lambda re-checks its S3 rule set at most every poll interval, in the background, and swaps in a
//! new version only once it passed every check in [`crate::rollout::source`].
//!
//! The invocation path only ever does two cheap things: start a check when one is due (never waiting for it) and
//! take a rule set that is ready. The check — a conditional GET of the manifest, then the files, then signature,
//! hashes, compile and self-test on a blocking thread — runs while events keep flowing on the active version. A
//! refused version is reported (log line with `metric`, counted by a CloudWatch metric filter) with its reason, and
//! not tried again until the manifest's ETag changes; the active version stays, and the one it replaced is kept as
//! last-known-good (in memory, by the judge, which rolls back to it when the new version fails its first events).
//!
//! Whenever the status changes it is written beside the manifest, to `PREFIX/status/FUNCTION.json`, so that
//! `weft rules status` shows operators what the deployment runs, what it refused and what it rolled back.
//!
//! The same check reads the candidate (`PREFIX/candidate.json`, [`crate::judge::candidate`]) first, then the
//! manifest, and both outcomes are taken together: a promotion (the candidate copied over the manifest, then
//! deleted) is seen whole, so a canary's conversations never fall back to the old version in between.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

mod candidate;

use crate::engine::{Engine, Limits};
use crate::rollout::source::{self, Accepted, Refused, SourceError, Trust};
use crate::rules::RuleSet;

use candidate::CandidateCheck;
pub use candidate::{CandidateStatus, LoadedCandidate, Ready};

/// What the reloader knows, for status and tests.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The version events are processed with.
    pub active: Option<String>,
    /// The version before it, kept as last-known-good.
    pub last_known_good: Option<String>,
    /// The last version refused, and why.
    pub refused: Option<Refusal>,
    /// The last automatic rollback: a version that passed its checks but failed its first live events.
    pub rolled_back: Option<RolledBack>,
    /// The candidate beside the active version, if any: what it is, what it did, why it went.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<CandidateStatus>,
    /// Checks started, and swaps made.
    pub checks: u64,
    pub swaps: u64,
    /// When this status was last changed (RFC 3339).
    pub updated_at: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolledBack {
    pub from: Option<String>,
    pub to: Option<String>,
    pub failed_events: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub etag: Option<String>,
    pub reason: String,
}

/// What the reloader did since the metrics last asked, and how old its view of S3 is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RolloutStats {
    pub checks: u64,
    pub swaps: u64,
    pub rollbacks: u64,
    /// Canaries retired for failing more events than the active set.
    pub canary_rollbacks: u64,
    /// Versions refused (or not fetched), by [`SourceError::class`].
    pub refusals: BTreeMap<&'static str, u64>,
    /// From the manifest's publication (its Last-Modified) to the swap, for the last swap since.
    pub swap_delay: Option<Duration>,
    /// Since S3 last answered a check (or since the container started, before it first did): grows while the rule
    /// set cannot be fetched.
    pub age: Duration,
}

pub(super) struct State {
    status: Status,
    /// Counts since the last take (`age` is computed when taken).
    stats: RolloutStats,
    /// When S3 last answered a check (new version, unchanged, or a version refused for what it holds).
    answered: Instant,
    /// The highest signed sequence accepted so far: a later version must be higher (not lowered by a rollback).
    sequence: Option<u64>,
    /// ETag of the last manifest judged (accepted or refused): the next GET is conditional on it.
    seen_etag: Option<String>,
    last_check: Option<Instant>,
    in_flight: bool,
    ready: Option<Accepted>,
    /// ETag of the candidate last judged, and the change of candidate waiting to be taken.
    candidate_etag: Option<String>,
    ready_candidate: Option<Option<LoadedCandidate>>,
    /// When the status was last written (a candidate's totals are written at most once per poll interval).
    status_written: Option<Instant>,
}

/// Watches `s3://bucket/key` for new rule set versions.
#[derive(Clone)]
pub struct Reloader {
    s3: aws_sdk_s3::Client,
    bucket: String,
    key: String,
    engine: Engine,
    limits: Limits,
    trust: Trust,
    poll: Duration,
    state: Arc<Mutex<State>>,
}

impl Reloader {
    pub fn new(
        s3: aws_sdk_s3::Client,
        bucket: String,
        key: String,
        engine: Engine,
        limits: Limits,
        trust: Trust,
        poll: Duration,
    ) -> Reloader {
        let state = State {
            status: Status::default(),
            stats: RolloutStats::default(),
            answered: Instant::now(),
            sequence: None,
            seen_etag: None,
            last_check: None,
            in_flight: false,
            ready: None,
            candidate_etag: None,
            ready_candidate: None,
            status_written: None,
        };
        Reloader { s3, bucket, key, engine, limits, trust, poll, state: Arc::new(Mutex::new(state)) }
    }

    /// Loads the current version now (cold start). On success it is the active version.
    pub async fn load_now(&self) -> Result<RuleSet, SourceError> {
        let result = self.load(None, &self.trust).await;
        // A new container runs the candidate from its first event, as the others do.
        let candidate = match &result {
            Ok(accepted) => Some(self.check_candidate(None, accepted.as_ref().and_then(|a| a.sequence)).await),
            Err(_) => None,
        };
        let mut state = self.lock();
        state.last_check = Some(Instant::now());
        state.stats.checks += 1;
        state.judged(result.as_ref().err().map(|refused| &refused.error));
        let accepted = result.map_err(|refused| refused.error)?.expect("an unconditional GET has a body");
        tracing::info!(version = %accepted.version, "rule set loaded");
        state.seen_etag = accepted.etag.clone();
        state.sequence = accepted.sequence;
        state.status.active = Some(accepted.version.0.clone());
        if let Some(candidate) = candidate {
            self.settle_candidate(&mut state, candidate);
        }
        self.publish_status(&mut state);
        Ok(accepted.rules)
    }

    /// Starts a background check when one is due and none is running. Never waits.
    pub fn poll(&self) {
        {
            let mut state = self.lock();
            let due = state.last_check.is_none_or(|at| at.elapsed() >= self.poll);
            if !due || state.in_flight {
                return;
            }
            state.in_flight = true;
            state.last_check = Some(Instant::now());
            state.status.checks += 1;
            state.stats.checks += 1;
        }
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.check().await;
            this.settle(outcome);
        });
    }

    /// What a check made ready, if anything: the caller swaps it in between two batches of events. A candidate
    /// that has just become the active version (promoted) is withdrawn with the same take.
    pub fn take_ready(&self) -> Ready {
        let mut state = self.lock();
        let mut candidate = state.ready_candidate.take();
        let rules = self.take_active(&mut state);
        let running = state.status.candidate.as_ref().and_then(|c| c.version.clone());
        if running.is_some() && running == state.status.active {
            tracing::info!(version = ?running, "the candidate is the active version now; it runs as the active one");
            state.status.candidate = None;
            candidate = Some(None);
            self.publish_status(&mut state);
        }
        Ready { rules, candidate }
    }

    fn take_active(&self, state: &mut State) -> Option<RuleSet> {
        let accepted = state.ready.take()?;
        let previous = state.status.active.replace(accepted.version.0.clone());
        state.sequence = accepted.sequence.max(state.sequence);
        tracing::info!(version = %accepted.version, previous = ?previous, "rule set activated");
        state.status.last_known_good = previous;
        state.status.swaps += 1;
        state.stats.swaps += 1;
        state.stats.swap_delay = accepted.published.and_then(|at| SystemTime::now().duration_since(at).ok());
        self.publish_status(state);
        Some(accepted.rules)
    }

    /// The judge rolled back from the active version: it stays refused (its ETag is the one last seen, so it is
    /// not loaded again until the manifest changes).
    pub fn rolled_back(&self, rollback: &crate::judge::Rollback) {
        let mut state = self.lock();
        state.stats.rollbacks += 1;
        state.status.active = rollback.to.clone();
        state.status.last_known_good = None;
        state.status.rolled_back = Some(RolledBack {
            from: rollback.from.clone(),
            to: rollback.to.clone(),
            failed_events: rollback.failed_events,
        });
        self.publish_status(&mut state);
    }

    /// Where the status is written: `PREFIX/status/FUNCTION.json` beside `PREFIX/manifest.json`.
    pub fn status_key(manifest_key: &str) -> String {
        let prefix = manifest_key.rsplit_once('/').map_or("", |(prefix, _)| prefix);
        let function = std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|_| "weft".into());
        let function: String =
            function.chars().map(|c| if c.is_ascii_alphanumeric() || "-_".contains(c) { c } else { '_' }).collect();
        if prefix.is_empty() { format!("status/{function}.json") } else { format!("{prefix}/status/{function}.json") }
    }

    /// Writes the status to S3 in the background (never on the invocation path); a failure is logged only.
    fn publish_status(&self, state: &mut State) {
        state.status_written = Some(Instant::now());
        state.status.updated_at = crate::verdict::dead_letter::now_rfc3339();
        let body = serde_json::to_vec_pretty(&state.status).expect("status serialises");
        let (s3, bucket, key) = (self.s3.clone(), self.bucket.clone(), Reloader::status_key(&self.key));
        let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
        runtime.spawn(async move {
            let put = s3.put_object().bucket(&bucket).key(&key).content_type("application/json").body(body.into());
            if let Err(e) = put.send().await {
                tracing::warn!(key, error = %aws_sdk_s3::error::DisplayErrorContext(&e), "rule set status not written");
            }
        });
    }

    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    /// What happened since the last take, and the age of the last answer from S3.
    pub fn take_stats(&self) -> RolloutStats {
        let mut state = self.lock();
        let age = state.answered.elapsed();
        RolloutStats { age, ..std::mem::take(&mut state.stats) }
    }

    /// Fetches and checks the manifest unless it still has the ETag `if_none_match` (`Ok(None)`).
    async fn load(&self, if_none_match: Option<&str>, trust: &Trust) -> Result<Option<Accepted>, Refused> {
        let (s3, bucket, key) = (&self.s3, &self.bucket, &self.key);
        source::load_s3(s3, bucket, key, if_none_match, &self.engine, &self.limits, trust).await
    }

    /// One background check, conditional on the ETag last judged; a signed version must be newer than the last
    /// one accepted.
    async fn check(&self) -> (CandidateCheck, Result<Option<Accepted>, Refused>) {
        let (seen, sequence, candidate_seen) = {
            let state = self.lock();
            (state.seen_etag.clone(), state.sequence, state.candidate_etag.clone())
        };
        let candidate = self.check_candidate(candidate_seen.as_deref(), sequence).await;
        (candidate, self.load(seen.as_deref(), &self.trust_above(sequence)).await)
    }

    /// The trust a version checked now must meet: signed above the active version's sequence `active`, when it has
    /// one (a later manifest, and a candidate, must both be newer than what runs).
    fn trust_above(&self, active: Option<u64>) -> Trust {
        self.trust.above(active)
    }

    fn settle(&self, (candidate, outcome): (CandidateCheck, Result<Option<Accepted>, Refused>)) {
        let mut state = self.lock();
        state.in_flight = false;
        let published = state.status.candidate.clone();
        self.settle_candidate(&mut state, candidate);
        if state.status.candidate != published {
            self.publish_status(&mut state);
        }
        state.judged(outcome.as_ref().err().map(|refused| &refused.error));
        match outcome {
            Ok(None) => {}
            Ok(Some(accepted)) => {
                state.seen_etag = accepted.etag.clone();
                tracing::info!(version = %accepted.version, "rule set verified; activating");
                state.ready = Some(accepted);
            }
            Err(Refused { etag, error }) => {
                let reason = error.to_string();
                // A refused manifest is not fetched again until it changes; S3 being unreachable is retried at
                // the next poll.
                if etag.is_some() && !error.is_unreachable() {
                    state.seen_etag = etag.clone();
                }
                tracing::error!(metric = "RuleSetRefused", etag = ?etag, reason = %reason, "rule set refused; keeping the active version");
                state.status.refused = Some(Refusal { etag, reason });
                self.publish_status(&mut state);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    /// A check came back: S3 answered unless it could not be reached; a refusal is counted by its class.
    fn judged(&mut self, refusal: Option<&SourceError>) {
        if !refusal.is_some_and(SourceError::is_unreachable) {
            self.answered = Instant::now();
        }
        if let Some(error) = refusal {
            *self.stats.refusals.entry(error.class()).or_default() += 1;
        }
    }
}
