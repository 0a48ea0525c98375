//! `weft backfill start|status`: executions of the backfill state machine. Starting one hands Step Functions the
//! prefix, the target stream and the rule set; following one reads its map run's item counts, and at its end the
//! results the map wrote to S3 — each object's counts, summed, which must balance.

use std::time::Duration;

use aws_sdk_sfn::Client;
use aws_sdk_sfn::types::ExecutionStatus;
use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum BackfillCommandError {
    #[error("`{0}` is not an S3 location of history: s3://BUCKET/PREFIX")]
    BadLocation(String),
    #[error("{what}: {reason}")]
    Aws { what: String, reason: String },
    #[error("the results at {location} are not the map's results: {reason}")]
    Results { location: String, reason: String },
    #[error("no execution of {0} yet (weft backfill start)")]
    NoExecution(String),
    #[error("give an execution's ARN, or --state-machine to follow its newest")]
    Which,
}

#[derive(clap::Args)]
pub struct BackfillArgs {
    #[command(subcommand)]
    command: BackfillCommand,
}

#[derive(clap::Subcommand)]
enum BackfillCommand {
    /// Backfill every object under s3://BUCKET/PREFIX through the rules into a stream; prints the execution.
    Start(StartArgs),
    /// Follow a backfill: its map run's objects succeeded / failed / total, and at the end the summed counts.
    Status(StatusArgs),
}

#[derive(clap::Args)]
struct StartArgs {
    /// The history: s3://BUCKET/PREFIX (objects of EventBridge envelopes, gzip or not).
    location: String,
    /// The stream every record goes to.
    #[arg(long, required_unless_present = "diff")]
    stream: Option<String>,
    /// The rule set to judge with (s3://…/manifest.json; default: the deployment's WEFT_RULES).
    #[arg(long)]
    rules: Option<String>,
    /// The backfill state machine (Terraform output `backfill_state_machine_arn`).
    #[arg(long, env = "WEFT_BACKFILL_STATE_MACHINE")]
    state_machine: String,
    /// A dry run: write nothing, and judge every event by the rule set and by this candidate (s3://…/manifest.json);
    /// the backfill's result is what `weft rules diff` would report over the whole history.
    #[arg(long, value_name = "CANDIDATE", conflicts_with = "stream")]
    diff: Option<String>,
    /// The execution's name (default: one Step Functions makes up).
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args)]
struct StatusArgs {
    /// The execution (default: the state machine's newest).
    execution: Option<String>,
    #[arg(long, env = "WEFT_BACKFILL_STATE_MACHINE")]
    state_machine: Option<String>,
    /// Print the state once instead of following the backfill to its end.
    #[arg(long)]
    once: bool,
}

fn aws<E>(what: impl Into<String>) -> impl FnOnce(E) -> BackfillCommandError
where
    E: std::error::Error + aws_sdk_sfn::error::ProvideErrorMetadata + 'static,
{
    let what = what.into();
    move |e| BackfillCommandError::Aws { what, reason: super::aws_reason(&e) }
}

/// Runs a `weft backfill` command.
pub async fn command(args: BackfillArgs, sfn: &Client, s3: &aws_sdk_s3::Client) -> Result<(), BackfillCommandError> {
    match args.command {
        BackfillCommand::Start(args) => start(sfn, args).await,
        BackfillCommand::Status(args) => status(sfn, s3, args).await,
    }
}

async fn start(sfn: &Client, args: StartArgs) -> Result<(), BackfillCommandError> {
    let rest =
        args.location.strip_prefix("s3://").ok_or_else(|| BackfillCommandError::BadLocation(args.location.clone()))?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(BackfillCommandError::BadLocation(args.location));
    }
    // Every member the state machine's ItemSelector reads is present (empty: not given).
    let input = serde_json::json!({
        "bucket": bucket, "prefix": prefix, "stream": args.stream.clone().unwrap_or_default(),
        "rules": args.rules.clone().unwrap_or_default(), "diff": args.diff.clone().unwrap_or_default(),
    });
    let started = sfn
        .start_execution()
        .state_machine_arn(&args.state_machine)
        .set_name(args.name)
        .input(input.to_string())
        .send()
        .await
        .map_err(aws(format!("starting {}", args.state_machine)))?;
    println!("{}", started.execution_arn());
    let rules = args.rules.as_deref().unwrap_or("the deployment's rule set");
    match (&args.diff, &args.stream) {
        (Some(candidate), _) => {
            eprintln!("weft: a dry run over {}: {rules} against {candidate}, nothing written", args.location)
        }
        (None, stream) => {
            eprintln!("weft: backfilling {} into {} with {rules}", args.location, stream.as_deref().unwrap_or_default())
        }
    }
    eprintln!("weft: follow it with `weft backfill status {}`", started.execution_arn());
    Ok(())
}

/// A map run's objects by state: (succeeded, failed, running, total).
#[derive(Debug, Default, Clone, Copy)]
struct Objects {
    succeeded: i64,
    failed: i64,
    running: i64,
    total: i64,
}

async fn objects(sfn: &Client, execution: &str) -> Result<Option<(String, Objects)>, BackfillCommandError> {
    let runs = sfn.list_map_runs().execution_arn(execution).send().await.map_err(aws("listing its map runs"))?;
    let Some(run) = runs.map_runs().first() else { return Ok(None) };
    let described = sfn.describe_map_run().map_run_arn(run.map_run_arn()).send().await;
    let described = described.map_err(aws("its map run"))?;
    let objects = described.item_counts().map_or(Objects::default(), Objects::from);
    Ok(Some((described.status().as_str().to_owned(), objects)))
}

impl From<&aws_sdk_sfn::types::MapRunItemCounts> for Objects {
    /// An object timed out or aborted has failed; one pending is as good as running (it is not done).
    fn from(c: &aws_sdk_sfn::types::MapRunItemCounts) -> Objects {
        Objects {
            succeeded: c.succeeded(),
            failed: c.failed() + c.timed_out() + c.aborted(),
            running: c.running() + c.pending(),
            total: c.total(),
        }
    }
}

impl std::fmt::Display for Objects {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Objects { succeeded, failed, running, total } = self;
        write!(f, "{succeeded} of {total} objects succeeded, {failed} failed, {running} running")
    }
}

async fn status(sfn: &Client, s3: &aws_sdk_s3::Client, args: StatusArgs) -> Result<(), BackfillCommandError> {
    let execution = match args.execution {
        Some(execution) => execution,
        None => {
            let machine = args.state_machine.ok_or(BackfillCommandError::Which)?;
            let listed = sfn.list_executions().state_machine_arn(&machine).send().await;
            let listed = listed.map_err(aws(format!("listing the executions of {machine}")))?;
            let newest = listed.executions().iter().max_by_key(|e| e.start_date().secs());
            newest.map(|e| e.execution_arn().to_owned()).ok_or(BackfillCommandError::NoExecution(machine))?
        }
    };
    let bar = (!args.once).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {pos}/{len} objects {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    loop {
        let described = sfn.describe_execution().execution_arn(&execution).send().await;
        let described = described.map_err(aws(format!("execution {execution}")))?;
        let state = described.status().as_str().to_owned();
        let objects = objects(sfn, &execution).await?;
        let running = matches!(described.status(), ExecutionStatus::Running | ExecutionStatus::PendingRedrive);
        if let (Some(bar), Some((_, o)), true) = (&bar, &objects, running) {
            bar.set_length(o.total.max(0) as u64);
            bar.set_position((o.succeeded + o.failed).max(0) as u64);
            bar.set_message(state.clone());
        }
        if running && !args.once {
            tokio::time::sleep(Duration::from_secs(10)).await;
            continue;
        }
        bar.iter().for_each(indicatif::ProgressBar::finish_and_clear);
        let o = objects.map(|(_, o)| o).unwrap_or_default();
        println!("{execution} {state}: {o}");
        if let Some(output) = described.output().filter(|_| !running) {
            print_results(s3, output).await?;
        }
        return Ok(());
    }
}

/// Where the map wrote its results (the execution's output, with a ResultWriter).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Output {
    result_writer_details: Option<Location>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Location {
    bucket: String,
    key: String,
}

async fn print_results(s3: &aws_sdk_s3::Client, output: &str) -> Result<(), BackfillCommandError> {
    let Ok(Output { result_writer_details: Some(at) }) = serde_json::from_str::<Output>(output) else {
        return Ok(());
    };
    let summed = super::results::sum(s3, &at.bucket, &at.key).await?;
    let c = summed.counts;
    let verb = if summed.report.is_some() { "would be " } else { "" };
    println!(
        "{} events in: {} {verb}written as {} records, {} dropped, {} dead-lettered, {} failed{}",
        c.events,
        c.written,
        c.records,
        c.dropped,
        c.dead_lettered,
        c.failed,
        if c.balanced() { "" } else { " (NOT BALANCED)" }
    );
    for (key, place, error) in &summed.unfinished {
        println!("  not finished: {key} from byte {place} ({error})");
    }
    if let Some(report) = &summed.report {
        print!("the candidate against the rule set: {report}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use aws_sdk_sfn::types::MapRunItemCounts;

    use super::Objects;

    /// What a map run in progress reports (moto's runs end before a status can be asked, so this is its shape, as
    /// the SDK types it): pending objects are not done, timed-out and aborted ones have failed.
    #[test]
    fn a_map_run_in_progress_shows_its_running_and_failed_objects() {
        let counts = MapRunItemCounts::builder()
            .pending(3)
            .running(2)
            .succeeded(10)
            .failed(1)
            .timed_out(1)
            .aborted(1)
            .total(18)
            .results_written(10)
            .build();
        let objects = Objects::from(&counts);
        assert_eq!(objects.to_string(), "10 of 18 objects succeeded, 3 failed, 5 running");
    }
}
