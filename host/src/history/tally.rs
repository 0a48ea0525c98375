//! What the function did with a replay's events, read back from where it said so: each invocation that took
//! replayed events wrote a metrics document (EMF) to its log group with the replay's name and its counts
//! (`ReplayedEvents`, `ReplayWritten`, …). Summed, they are the replay's account — the same numbers CloudWatch makes
//! its `Replay` metrics from, read without CloudWatch's own client.

use std::time::SystemTime;

use serde::Deserialize;

/// A replay's events and what became of them. Always `events = written + dropped + dead_lettered + failed` once
/// every invocation's document has arrived (logs reach the group a few seconds after the invocation).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub events: u64,
    pub written: u64,
    pub dropped: u64,
    pub dead_lettered: u64,
    pub failed: u64,
    /// Invocations whose documents were counted.
    pub documents: u64,
}

/// One metrics document, as far as a replay's counts go.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Document {
    replay: String,
    #[serde(default)]
    replayed_events: f64,
    #[serde(default)]
    replay_written: f64,
    #[serde(default)]
    replay_dropped: f64,
    #[serde(default)]
    replay_dead_lettered: f64,
    #[serde(default)]
    replay_failed: f64,
}

impl Tally {
    /// Adds a log line if it is a metrics document of `replay`; anything else is not this replay's and is passed by.
    pub fn add(&mut self, replay: &str, line: &str) {
        let Ok(doc) = serde_json::from_str::<Document>(line.trim()) else { return };
        if doc.replay != replay {
            return;
        }
        self.events += doc.replayed_events as u64;
        self.written += doc.replay_written as u64;
        self.dropped += doc.replay_dropped as u64;
        self.dead_lettered += doc.replay_dead_lettered as u64;
        self.failed += doc.replay_failed as u64;
        self.documents += 1;
    }

    pub fn balanced(&self) -> bool {
        self.events == self.written + self.dropped + self.dead_lettered + self.failed
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} events replayed: {} written, {} dropped, {} dead-lettered, {} failed{}",
            self.events,
            self.written,
            self.dropped,
            self.dead_lettered,
            self.failed,
            if self.balanced() { "" } else { " (NOT BALANCED: documents still on their way?)" }
        )
    }
}

#[derive(Debug, thiserror::Error)]
#[error("reading {group}: {reason}")]
pub struct TallyError {
    group: String,
    reason: String,
}

/// Sums the replay's documents in the function's log group (`/aws/lambda/FUNCTION`) since `since`. The filter
/// pattern picks the replay's documents on AWS; every line is checked here again, so a server that filters less
/// (or a name that is a prefix of another's) counts the same.
pub async fn read(
    logs: &aws_sdk_cloudwatchlogs::Client,
    function: &str,
    replay: &str,
    since: SystemTime,
) -> Result<Tally, TallyError> {
    let group = format!("/aws/lambda/{function}");
    let since = since.duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default().as_millis() as i64;
    let mut pages = logs
        .filter_log_events()
        .log_group_name(&group)
        .start_time(since)
        .filter_pattern(format!("{{ $.Replay = \"{replay}\" }}"))
        .into_paginator()
        .send();
    let mut tally = Tally::default();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| TallyError { group: group.clone(), reason: super::aws_reason(&e) })?;
        for event in page.events() {
            tally.add(replay, event.message().unwrap_or_default());
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_replays_own_documents_count() {
        let mut tally = Tally::default();
        let doc = |replay: &str, n: u32| {
            format!(
                r#"{{"_aws":{{}},"Function":"weft","Replay":"{replay}","ReplayedEvents":{n},"ReplayWritten":{},"ReplayDropped":1,"ReplayDeadLettered":0,"ReplayFailed":0}}"#,
                n - 1
            )
        };
        for line in [doc("r1", 3), doc("r1-other", 5), doc("r1", 2), "START RequestId: 1".into(), "{}".into()] {
            tally.add("r1", &line);
        }
        assert_eq!(tally, Tally { events: 5, written: 3, dropped: 2, dead_lettered: 0, failed: 0, documents: 2 });
        assert!(tally.balanced());
        assert_eq!(tally.to_string(), "5 events replayed: 3 written, 2 dropped, 0 dead-lettered, 0 failed");
    }
}
