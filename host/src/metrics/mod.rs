//! One invocation's numbers, published as CloudWatch Embedded Metric Format: JSON documents on standard output,
//! which CloudWatch Logs turns into metrics with no API call on the invocation path.
//!
//! Every stage counts what it does where it does it (the engine its calls, the rules their rulings, delivery its
//! calls and retries, the reloader its checks); after each invocation the handler takes those counts, with the
//! events' fates, into a [`Report`], and [`emf`] writes it: one document for the whole function, then one per
//! rule, module, stream, dead-letter stage and drop reason that occurred, each under its own dimension so that
//! CloudWatch keeps one series per value. What becomes a dimension is bounded by weft, never by a module: rule
//! and module names come from the manifest, dead-letter classes are weft's own (a module's error code counts as
//! `module-error`), drop reasons are four words.

pub mod catalog;
pub mod emf;

use std::collections::BTreeMap;
use std::time::Duration;

use crate::delivery::stats::DeliveryStats;
use crate::rollout::reload::RolloutStats;
pub use crate::rules::stats::reason_dimension;
use crate::rules::stats::{RuleSetStats, public_class};
use crate::verdict::{Fate, Stage, Summary};

/// Where metrics go and how they are cut.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    pub namespace: String,
    /// The `Function` dimension's value (the Lambda's name).
    pub function: String,
    /// Breakdowns published besides the function's own document: `Rule`, `Module`, `Stream`, `Stage`, `Reason`.
    pub breakdowns: Vec<String>,
}

/// Every breakdown, the default.
pub const BREAKDOWNS: &[&str] = &["Rule", "Module", "Stream", "Stage", "Reason"];

impl MetricsConfig {
    pub fn new(function: &str) -> MetricsConfig {
        MetricsConfig {
            namespace: "weft".into(),
            function: function.into(),
            breakdowns: BREAKDOWNS.iter().map(|b| b.to_string()).collect(),
        }
    }

    /// `Rule,Stage` (any of [`BREAKDOWNS`], comma-separated) or `none`; `None` when a name is unknown.
    pub fn parse_breakdowns(text: &str) -> Option<Vec<String>> {
        if text.trim() == "none" {
            return Some(Vec::new());
        }
        text.split(',')
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .map(|b| BREAKDOWNS.contains(&b).then(|| b.to_owned()))
            .collect()
    }
}

/// One invocation's numbers (or one `weft run` slice's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    pub summary: Summary,
    /// Dead letters by stage and class dimension.
    pub dead_letters: BTreeMap<(Stage, String), u64>,
    /// Drops by reason dimension.
    pub drops: BTreeMap<&'static str, u64>,
    pub rules: RuleSetStats,
    pub delivery: DeliveryStats,
    /// Only with an S3 rule set.
    pub rollout: Option<RolloutStats>,
    /// Only while a candidate runs beside the active rule set: its version, and what it did.
    pub candidate: Option<(String, crate::judge::candidate::CandidateStats)>,
    /// The active rule set (a property, not a dimension: a new version must not start new series).
    pub rule_set: Option<String>,
    pub request_id: Option<String>,
    pub time_left: Option<Duration>,
    /// On a container's first invocation: its time from process start to ready.
    pub cold_start: Option<Duration>,
    /// What became of replayed events, by replay (EventBridge's `replay-name`).
    pub replays: BTreeMap<String, Summary>,
}

impl Report {
    /// Counts the fates into the summary and the dead-letter and drop breakdowns.
    pub fn count(&mut self, fates: &[Fate]) {
        self.summary.count(fates);
        for fate in fates {
            match fate {
                Fate::DeadLettered { stage, class } => {
                    let class = public_class(*stage, class).to_owned();
                    *self.dead_letters.entry((*stage, class)).or_default() += 1;
                }
                Fate::Dropped { reason } => *self.drops.entry(reason_dimension(reason)).or_default() += 1,
                Fate::Written { .. } | Fate::Failed { .. } => {}
            }
        }
    }

    /// Counts the fates of replayed events by replay (`replays[i]`: the replay `fates[i]`'s event came from).
    pub fn count_replays(&mut self, fates: &[Fate], replays: &[Option<String>]) {
        for (fate, replay) in fates.iter().zip(replays) {
            if let Some(replay) = replay {
                self.replays.entry(replay.clone()).or_default().count(std::slice::from_ref(fate));
            }
        }
    }
}

/// Writes each invocation's documents to its writer (standard output in the Lambda, where CloudWatch Logs picks
/// them up; a file for `weft run --metrics`; a buffer in tests).
pub struct Publisher {
    config: MetricsConfig,
    out: std::sync::Mutex<Box<dyn std::io::Write + Send>>,
    /// The container's time to ready, until its first invocation reports it.
    cold_start: std::sync::Mutex<Option<Duration>>,
}

impl Publisher {
    pub fn new(config: MetricsConfig, out: Box<dyn std::io::Write + Send>) -> Publisher {
        Publisher { config, out: std::sync::Mutex::new(out), cold_start: std::sync::Mutex::new(None) }
    }

    /// The next report is a cold start's, which took `init` from process start to ready.
    pub fn cold_start(self, init: Duration) -> Publisher {
        *self.cold_start.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(init);
        self
    }

    /// Publishes `report`; the bytes written. A writer that fails costs the metrics, never the events: logged.
    pub fn publish(&self, mut report: Report) -> usize {
        report.cold_start = self.cold_start.lock().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        let mut out = self.out.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        emf::write(&mut **out, &report, &self.config).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "metrics not written");
            0
        })
    }
}
