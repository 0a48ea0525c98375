//! Hot swap: the Lambda re-checks its S3 rule set at most every poll interval, in the background, and swaps in a
//! new version only once it passed every check in [`crate::rule_source`].
//!
//! The invocation path only ever does two cheap things: start a check when one is due (never waiting for it) and
//! take a rule set that is ready. The check — a conditional GET of the manifest, then the files, then signature,
//! hashes, compile and self-test on a blocking thread — runs while events keep flowing on the active version. A
//! refused version is reported (log line with `metric`, counted by a CloudWatch metric filter) with its reason, and
//! not tried again until the manifest's ETag changes; the active version stays, and the one it replaced is kept as
//! last-known-good.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::engine::{Engine, Limits};
use crate::rule_source::{self, Accepted, Refused, SourceError, Trust};
use crate::rules::RuleSet;

/// What the reloader knows, for status and tests.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Status {
    /// The version events are processed with.
    pub active: Option<String>,
    /// The version before it, kept as last-known-good.
    pub last_known_good: Option<String>,
    /// The last version refused, and why.
    pub refused: Option<Refusal>,
    /// Checks started, and swaps made.
    pub checks: u64,
    pub swaps: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Refusal {
    pub etag: Option<String>,
    pub reason: String,
}

struct State {
    status: Status,
    /// ETag of the last manifest judged (accepted or refused): the next GET is conditional on it.
    seen_etag: Option<String>,
    last_check: Option<Instant>,
    in_flight: bool,
    ready: Option<Accepted>,
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
        let state =
            State { status: Status::default(), seen_etag: None, last_check: None, in_flight: false, ready: None };
        Reloader { s3, bucket, key, engine, limits, trust, poll, state: Arc::new(Mutex::new(state)) }
    }

    /// Loads the current version now (cold start). On success it is the active version.
    pub async fn load_now(&self) -> Result<RuleSet, SourceError> {
        let result = self.load(None).await;
        let mut state = self.lock();
        state.last_check = Some(Instant::now());
        let accepted = result.map_err(|refused| refused.error)?.expect("an unconditional GET has a body");
        tracing::info!(version = %accepted.version, "rule set loaded");
        state.seen_etag = accepted.etag.clone();
        state.status.active = Some(accepted.version.0.clone());
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
        }
        let this = self.clone();
        tokio::spawn(async move {
            let outcome = this.check().await;
            this.settle(outcome);
        });
    }

    /// A verified rule set, when one is waiting: the caller swaps it in between two batches of events.
    pub fn take_ready(&self) -> Option<RuleSet> {
        let mut state = self.lock();
        let accepted = state.ready.take()?;
        let previous = state.status.active.replace(accepted.version.0.clone());
        tracing::info!(version = %accepted.version, previous = ?previous, "rule set activated");
        state.status.last_known_good = previous;
        state.status.swaps += 1;
        Some(accepted.rules)
    }

    pub fn status(&self) -> Status {
        self.lock().status.clone()
    }

    /// Fetches and checks the manifest unless it still has the ETag `if_none_match` (`Ok(None)`).
    async fn load(&self, if_none_match: Option<&str>) -> Result<Option<Accepted>, Refused> {
        let (s3, bucket, key) = (&self.s3, &self.bucket, &self.key);
        rule_source::load_s3(s3, bucket, key, if_none_match, &self.engine, &self.limits, &self.trust).await
    }

    /// One background check, conditional on the ETag last judged.
    async fn check(&self) -> Result<Option<Accepted>, Refused> {
        let seen = self.lock().seen_etag.clone();
        self.load(seen.as_deref()).await
    }

    fn settle(&self, outcome: Result<Option<Accepted>, Refused>) {
        let mut state = self.lock();
        state.in_flight = false;
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
                if etag.is_some() && !matches!(error, SourceError::Unreachable { .. }) {
                    state.seen_etag = etag.clone();
                }
                tracing::error!(metric = "RuleSetRefused", etag = ?etag, reason = %reason, "rule set refused; keeping the active version");
                state.status.refused = Some(Refusal { etag, reason });
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
