//! The candidate's side of the reloader: its check, its status, and what a canary rollback leaves behind.

use super::{Refusal, Reloader, State};
use crate::judge::candidate::{CanaryRollback, Totals};
use crate::rollout::source::{self, Accepted, Refused, SourceError};
use crate::rules::RuleSet;
use crate::rules::manifest::Rollout;

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CandidateStatus {
    /// The candidate running (`None` once withdrawn, rolled back or refused).
    pub version: Option<String>,
    pub rollout: Option<Rollout>,
    /// Since it was loaded in this container, as of the last status written.
    pub totals: Totals,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back: Option<CanaryRollback>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<Refusal>,
}

/// A candidate that passed every check, and how it runs.
pub struct LoadedCandidate {
    pub rules: RuleSet,
    pub rollout: Rollout,
}

/// What a check found, taken between two batches of events: a new active rule set, and a change of candidate
/// (`Some(None)`: the candidate is withdrawn).
#[derive(Default)]
pub struct Ready {
    pub rules: Option<RuleSet>,
    pub candidate: Option<Option<LoadedCandidate>>,
}

/// What a check found at the candidate's key.
pub(super) enum CandidateCheck {
    Unchanged,
    Gone,
    Loaded(Box<Accepted>, Rollout),
    Refused(Refused),
}

impl Reloader {
    /// The candidate's totals so far, written to the status at most once per poll interval.
    pub fn candidate_totals(&self, totals: &Totals) {
        let mut state = self.lock();
        let Some(candidate) = state.status.candidate.as_mut() else { return };
        if candidate.totals == *totals {
            return;
        }
        candidate.totals = totals.clone();
        if state.status_written.is_none_or(|at| at.elapsed() >= self.poll) {
            self.publish_status(&mut state);
        }
    }

    /// A canary was retired for failing more events than the active set: it is not loaded again until the
    /// candidate changes (its ETag stays the one last seen).
    pub fn canary_rolled_back(&self, rollback: &CanaryRollback) {
        let mut state = self.lock();
        let candidate = state.status.candidate.get_or_insert_with(CandidateStatus::default);
        candidate.version = None;
        candidate.rolled_back = Some(rollback.clone());
        state.stats.canary_rollbacks += 1;
        self.publish_status(&mut state);
    }

    /// Fetches and checks the candidate unless it still has the ETag `seen`. It must be newer than the active
    /// version (signed sequence `active`): a candidate older than what runs is stale.
    pub(super) async fn check_candidate(&self, seen: Option<&str>, active: Option<u64>) -> CandidateCheck {
        let key = source::sibling_key(&self.key, "candidate.json");
        let trust = self.trust_above(active);
        match source::load_s3(&self.s3, &self.bucket, &key, seen, &self.engine, &self.limits, &trust).await {
            Ok(None) => CandidateCheck::Unchanged,
            Ok(Some(accepted)) => match accepted.rollout {
                Some(rollout) => CandidateCheck::Loaded(Box::new(accepted), rollout),
                None => CandidateCheck::Refused(Refused {
                    etag: accepted.etag,
                    error: SourceError::NoRollout { location: format!("s3://{}/{key}", self.bucket) },
                }),
            },
            Err(Refused { error: SourceError::NotFound { .. }, .. }) => CandidateCheck::Gone,
            Err(refused) => CandidateCheck::Refused(refused),
        }
    }

    /// A candidate check's outcome, ready to be taken with the active version's.
    pub(super) fn settle_candidate(&self, state: &mut State, check: CandidateCheck) {
        match check {
            CandidateCheck::Unchanged => {}
            CandidateCheck::Gone => {
                if state.candidate_etag.take().is_some() || state.status.candidate.is_some() {
                    tracing::info!("the candidate rule set is withdrawn");
                    state.status.candidate = None;
                    state.ready_candidate = Some(None);
                }
            }
            CandidateCheck::Loaded(accepted, rollout) => {
                tracing::info!(version = %accepted.version, rollout = ?rollout, "candidate rule set verified");
                state.candidate_etag = accepted.etag.clone();
                let version = Some(accepted.version.0.clone());
                state.status.candidate =
                    Some(CandidateStatus { version, rollout: Some(rollout), ..Default::default() });
                state.ready_candidate = Some(Some(LoadedCandidate { rules: accepted.rules, rollout }));
            }
            CandidateCheck::Refused(Refused { error, .. }) if error.is_unreachable() => {
                // S3 did not answer: whatever candidate runs keeps running (its conversations stay on it), and the
                // next poll asks again.
                tracing::warn!(reason = %error, "candidate rule set not checked");
                *state.stats.refusals.entry(error.class()).or_default() += 1;
            }
            CandidateCheck::Refused(Refused { etag, error }) => {
                let reason = error.to_string();
                if etag.is_some() {
                    state.candidate_etag = etag.clone();
                }
                tracing::error!(metric = "RuleSetRefused", candidate = true, etag = ?etag, reason = %reason, "candidate rule set refused; the active version runs alone");
                *state.stats.refusals.entry(error.class()).or_default() += 1;
                state.status.candidate =
                    Some(CandidateStatus { refused: Some(Refusal { etag, reason }), ..Default::default() });
                state.ready_candidate = Some(None);
            }
        }
    }
}
