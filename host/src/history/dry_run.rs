//! A backfill's dry run (`weft backfill start … --diff CANDIDATE`): each object of history judged by the backfill's
//! rule set and by a candidate, compared as `weft rules diff` compares, and nothing written. Every answer carries
//! the object's report so far; the backfill's results, summed, are the report over the whole history — a candidate
//! judged on a month of real events before it is promoted.

use std::time::Instant;

use crate::history::backfill::{BackfillError, Item, Progress, begin};
use crate::history::object;
use crate::input::Stream;
use crate::judge::Judge;
use crate::verdict::compare::{Report, compare};

/// Event ids kept per difference, and changed paths (and changes of outcome) named, in a report that travels in
/// every answer: a map's state holds 256 KiB; within these bounds, keys and ids clipped to 200 bytes, a report
/// stays under 200 KB even at its worst (200 keys of 230 bytes, each with three ids as long).
pub const EXAMPLES: usize = 3;
pub const PATHS: usize = 100;

/// The two judges of a dry run: the rule set in use, and the candidate.
pub struct Judges {
    pub deployed: Judge,
    pub candidate: Judge,
}

/// Reads `item`'s object from where it stopped until it ends or the invocation's stop, judging each event twice;
/// gives the judges back with the progress.
pub async fn run(
    mut item: Item,
    s3: &aws_sdk_s3::Client,
    judges: Judges,
    deadline: Instant,
) -> Result<(Progress, Judges), BackfillError> {
    let (opened, stop) = begin(&mut item, s3, deadline).await?;
    let mut report = Report::new(EXAMPLES).bounded(PATHS);
    if let Some(carried) = item.report.take() {
        report.merge(carried);
    }
    let (bucket, key, offset) = (item.bucket.clone(), item.key.clone(), item.place.offset);
    let name = format!("s3://{bucket}/{key}");
    let compared = tokio::task::spawn_blocking(move || {
        let (offset, line) = (item.place.offset as usize, item.place.line);
        let stream = Stream::new(opened.reader(), name.into()).starting_at(offset, line);
        compare_until(stream, item, report, judges, stop)
    });
    let (mut item, report, judges, outcome) = compared.await.map_err(|e| BackfillError::Read {
        bucket,
        key,
        offset,
        reason: format!("the reading thread failed: {e}"),
    })?;
    item.report = Some(report);
    match outcome {
        Outcome::End => Ok((Progress { item, done: true }, judges)),
        Outcome::Stopped => Ok((Progress { item, done: false }, judges)),
        Outcome::Failed(reason) => {
            let (bucket, key, offset) = (item.bucket, item.key, item.place.offset);
            Err(BackfillError::Read { bucket, key, offset, reason })
        }
    }
}

enum Outcome {
    End,
    Stopped,
    Failed(String),
}

/// The reading thread: a batch at a time, each event judged by both and compared, until the end or `stop`. A read
/// that fails after a batch was compared ends the invocation where it got to (the next resumes there); one that
/// fails at once fails the invocation.
fn compare_until<R: std::io::Read>(
    mut stream: Stream<R>,
    mut item: Item,
    mut report: Report,
    mut judges: Judges,
    stop: Instant,
) -> (Item, Report, Judges, Outcome) {
    let started_at = item.place;
    let outcome = loop {
        let chunks = match stream.next_chunks(super::backfill::BATCH) {
            Ok(chunks) if chunks.is_empty() => break Outcome::End,
            Ok(chunks) => chunks,
            Err(_) if item.place != started_at => break Outcome::Stopped,
            Err(e) => break Outcome::Failed(e.to_string()),
        };
        let (before, after) = (judges.deployed.judge(chunks.clone()), judges.candidate.judge(chunks));
        for (a, b) in before.iter().zip(&after) {
            let id = a.event_id.clone().unwrap_or_else(|| a.source.to_string());
            report.add(&id, &compare(&a.verdict, &b.verdict));
        }
        item.counts.add_verdicts(before.iter().map(|judged| &judged.verdict));
        let (offset, line) = stream.position();
        item.place = object::Place { offset: offset as u64, line };
        if Instant::now() >= stop {
            break Outcome::Stopped;
        }
    };
    (item, report, judges, outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::compare::{Change, Difference};

    /// The worst a carried report can be: more paths and outcomes than it names, every key and id 5,000 bytes. It
    /// names 100 of each and stays under 200 KB, within the 256 KiB a map's state holds.
    #[test]
    fn a_carried_report_fits_a_maps_state_at_its_worst() {
        let long = |what: &str, n: usize| format!("{what}{n}{}", "x".repeat(5000));
        let mut report = Report::new(EXAMPLES).bounded(PATHS);
        for n in 0..300 {
            let change = Change { path: long("data.", n), old: 1.into(), new: 2.into() };
            let changed = Difference::Changed { rule: "r".into(), stream: "s".into(), changes: vec![change] };
            let outcome = Difference::Outcome { old: "records".into(), new: long("dropped: ", n) };
            for e in 0..EXAMPLES + 1 {
                report.add(&long("event-", n * 10 + e), &[changed.clone(), outcome.clone()]);
            }
        }
        assert_eq!((report.paths.len(), report.outcomes.len()), (PATHS, PATHS));
        assert_eq!((report.other_paths, report.other_outcomes), (800, 800));
        let bytes = serde_json::to_vec(&report).unwrap().len();
        assert!(bytes < 200_000, "{bytes} bytes");
    }
}
