//! A backfill's results, as its Distributed Map's ResultWriter leaves them in S3: a manifest naming files of
//! succeeded and failed items, each item's output the backfill role's last answer (its object's counts and place,
//! and the error when the object could not be finished). Summed, they are what the whole backfill did.

use serde::Deserialize;

use super::backfill::{Counts, Progress};
use super::dry_run;
use super::execution::BackfillCommandError;
use crate::verdict::compare::Report;

/// What a backfill did: the counts summed over its objects, and the objects it did not finish (key, the byte
/// where they stopped, why).
#[derive(Debug, Default)]
pub struct Summed {
    pub counts: Counts,
    pub objects: u64,
    pub unfinished: Vec<(String, u64, String)>,
    /// A dry run's report over every object.
    pub report: Option<Report>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Manifest {
    result_files: ResultFiles,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "UPPERCASE", default)]
struct ResultFiles {
    succeeded: Vec<ResultFile>,
    failed: Vec<ResultFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultFile {
    key: String,
}

/// One item of a results file.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ItemResult {
    #[serde(default)]
    input: Option<String>,
    #[serde(default)]
    output: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    cause: Option<String>,
}

async fn read(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Result<Vec<u8>, BackfillCommandError> {
    let location = format!("s3://{bucket}/{key}");
    let object = s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| BackfillCommandError::Aws {
        what: location.clone(),
        reason: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
    })?;
    let body =
        object.body.collect().await.map_err(|e| BackfillCommandError::Aws { what: location, reason: e.to_string() })?;
    Ok(body.into_bytes().to_vec())
}

/// Reads the results whose manifest is at s3://bucket/manifest_key and sums them.
pub async fn sum(s3: &aws_sdk_s3::Client, bucket: &str, manifest_key: &str) -> Result<Summed, BackfillCommandError> {
    let bad = |location: String| {
        move |e: serde_json::Error| BackfillCommandError::Results { location, reason: e.to_string() }
    };
    let manifest: Manifest = serde_json::from_slice(&read(s3, bucket, manifest_key).await?)
        .map_err(bad(format!("s3://{bucket}/{manifest_key}")))?;
    let mut summed = Summed::default();
    for file in manifest.result_files.succeeded.iter().chain(&manifest.result_files.failed) {
        let items: Vec<ItemResult> = serde_json::from_slice(&read(s3, bucket, &file.key).await?)
            .map_err(bad(format!("s3://{bucket}/{}", file.key)))?;
        for item in items {
            summed.objects += 1;
            record(&mut summed, item);
        }
    }
    Ok(summed)
}

/// Adds one object's result: its counts when it has an answer, and what was left of it when it did not finish.
fn record(summed: &mut Summed, item: ItemResult) {
    let answer: Option<serde_json::Value> =
        item.output.or(item.input).and_then(|text| serde_json::from_str(&text).ok());
    let mut progress = answer.as_ref().and_then(|a| serde_json::from_value::<Progress>(a.clone()).ok());
    if let Some(progress) = &mut progress {
        summed.counts += progress.item.counts;
        if let Some(report) = progress.item.report.take() {
            summed.report.get_or_insert_with(|| Report::new(dry_run::EXAMPLES)).merge(report);
        }
    }
    let error = answer
        .as_ref()
        .and_then(|a| a.get("error"))
        .map(|e| format!("{}: {}", e["Error"].as_str().unwrap_or("?"), e["Cause"].as_str().unwrap_or("")));
    let error = error.or_else(|| item.error.map(|e| format!("{e}: {}", item.cause.unwrap_or_default())));
    if progress.as_ref().is_none_or(|p| !p.done) {
        let key = answer.as_ref().and_then(|a| a["key"].as_str()).unwrap_or("?").to_owned();
        let place = progress.map_or(0, |p| p.item.place.offset);
        summed.unfinished.push((key, place, error.unwrap_or_else(|| "no answer".into())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_that_failed_past_its_retries_is_reported_with_its_place_and_its_counts_still_count() {
        let mut summed = Summed::default();
        let done = r#"{"bucket":"b","key":"k1","place":{"offset":90,"line":3},"counts":{"events":3,"written":2,"records":2,"dropped":1,"deadLettered":0,"failed":0},"invocations":1,"done":true}"#;
        let caught = r#"{"bucket":"b","key":"k2","place":{"offset":40,"line":2},"counts":{"events":1,"written":0,"records":0,"dropped":0,"deadLettered":1,"failed":0},"invocations":2,"done":false,"error":{"Error":"Lambda.Unknown","Cause":"the object changed?"}}"#;
        for output in [done, caught] {
            record(&mut summed, ItemResult { input: None, output: Some(output.into()), error: None, cause: None });
        }
        record(
            &mut summed,
            ItemResult {
                input: Some(r#"{"bucket":"b","key":"k3"}"#.into()),
                output: None,
                error: Some("States.Timeout".into()),
                cause: None,
            },
        );
        assert_eq!((summed.counts.events, summed.counts.written, summed.counts.dead_lettered), (4, 2, 1));
        assert!(summed.counts.balanced());
        assert_eq!(
            summed.unfinished,
            [
                ("k2".to_owned(), 40, "Lambda.Unknown: the object changed?".to_owned()),
                ("k3".to_owned(), 0, "States.Timeout: ".to_owned())
            ]
        );
    }

    /// A dry run's objects each answer their report; the backfill's is their merge, examples up to three.
    #[test]
    fn a_dry_runs_reports_are_merged_over_its_objects() {
        let mut summed = Summed::default();
        for (key, ids) in [("k1", r#"["e1","e2"]"#), ("k2", r#"["e7","e8"]"#)] {
            let output = format!(
                r#"{{"bucket":"b","key":"{key}","done":true,"counts":{{"events":4,"written":2,"records":2,"dropped":2}},
                "report":{{"events":4,"eventsChanged":2,"records":{{}},"paths":{{}},
                "outcomes":{{"dropped: x -> records":{{"count":2,"events":{ids}}}}}}}}}"#
            );
            record(&mut summed, ItemResult { input: None, output: Some(output), error: None, cause: None });
        }
        let report = summed.report.expect("a dry run's report");
        assert_eq!((report.events, report.events_changed, summed.counts.events), (8, 4, 8));
        let outcome = &report.outcomes["dropped: x -> records"];
        assert_eq!((outcome.count, &outcome.events[..]), (4, &["e1", "e2", "e7"].map(String::from)[..]));
        assert!(summed.unfinished.is_empty());
    }
}
