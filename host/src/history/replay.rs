//! `weft replay`: EventBridge's replays of the archive of the Genesys bus, driven from the command line. A replay is
//! sent back to the bus with `Destination.FilterArns` naming weft's rule alone, so no other rule on the bus receives
//! history twice; EventBridge does the fan-out (minute by minute through the window), weft only starts, follows and
//! cancels it. What weft then does with each replayed event is the live path's, counted under the replay
//! (`ReplayedEvents` and the `Replay*` fates by the `Replay` dimension).

use std::time::{Duration, SystemTime};

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{Replay, ReplayDestination, ReplayState};

/// Why a replay command failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("`{value}` is not a time: give RFC 3339 (2026-12-01T09:00:00Z) ({what})")]
    BadTime { what: &'static str, value: String },
    #[error("--from {from} is not before --to {to}")]
    EmptyWindow { from: String, to: String },
    #[error("`{0}` is not a replay name: 1 to 64 of A-Z a-z 0-9 . - _")]
    BadName(String),
    #[error("{what}: {reason}")]
    Aws { what: String, reason: String },
    #[error("no replay of archive {0} yet (weft replay start)")]
    NoReplay(String),
    #[error("give a replay's name, or --archive to follow its newest replay")]
    Which,
    #[error(transparent)]
    Tally(#[from] super::tally::TallyError),
}

#[derive(clap::Args)]
pub struct ReplayArgs {
    #[command(subcommand)]
    command: ReplayCommand,
}

#[derive(clap::Subcommand)]
enum ReplayCommand {
    /// Replay the archive's events of a time window to weft's rule alone; prints the replay's name.
    Start(StartArgs),
    /// Follow a replay to its end with a progress bar (the last replayed event's time within the window).
    Status(StatusArgs),
    /// Stop a replay: events already replayed stay processed.
    Cancel(CancelArgs),
    /// The archive's replays, newest first.
    List(ListArgs),
}

#[derive(clap::Args)]
struct StartArgs {
    /// The archive of the Genesys bus (Terraform output `archive_name`).
    #[arg(long, env = "WEFT_ARCHIVE")]
    archive: String,
    /// weft's rule on the bus, the replay's only destination (Terraform output `event_rule_name`).
    #[arg(long, env = "WEFT_EVENT_RULE")]
    rule: String,
    /// The window's start (RFC 3339): events the bus received from then on.
    #[arg(long, value_name = "TIME")]
    from: String,
    /// The window's end (RFC 3339): events received before then.
    #[arg(long, value_name = "TIME")]
    to: String,
    /// The replay's name (default: weft-FROM-xxxx).
    #[arg(long)]
    name: Option<String>,
}

#[derive(clap::Args)]
struct StatusArgs {
    /// The replay (default: the archive's newest).
    name: Option<String>,
    #[arg(long, env = "WEFT_ARCHIVE")]
    archive: Option<String>,
    /// Print the state once instead of following the replay to its end.
    #[arg(long)]
    once: bool,
    /// weft's function (Terraform output `function_name`): the status ends with what it did with the replayed
    /// events, read from its log group.
    #[arg(long, env = "WEFT_FUNCTION")]
    function: Option<String>,
}

#[derive(clap::Args)]
struct CancelArgs {
    name: String,
}

#[derive(clap::Args)]
struct ListArgs {
    #[arg(long, env = "WEFT_ARCHIVE")]
    archive: Option<String>,
}

/// Runs a `weft replay` command against EventBridge (and, for a status, the function's logs).
pub async fn command(
    args: ReplayArgs,
    client: &Client,
    logs: &aws_sdk_cloudwatchlogs::Client,
) -> Result<(), ReplayError> {
    match args.command {
        ReplayCommand::Start(args) => start(client, args).await,
        ReplayCommand::Status(args) => status(client, logs, args).await,
        ReplayCommand::Cancel(args) => cancel(client, &args.name).await,
        ReplayCommand::List(args) => list(client, args.archive.as_deref()).await,
    }
}

fn aws<E>(what: impl Into<String>) -> impl FnOnce(E) -> ReplayError
where
    E: std::error::Error + aws_sdk_eventbridge::error::ProvideErrorMetadata + 'static,
{
    let what = what.into();
    move |e| ReplayError::Aws { what, reason: super::aws_reason(&e) }
}

fn time(what: &'static str, value: &str) -> Result<SystemTime, ReplayError> {
    humantime::parse_rfc3339_weak(value).map_err(|_| ReplayError::BadTime { what, value: value.to_owned() })
}

async fn start(client: &Client, args: StartArgs) -> Result<(), ReplayError> {
    let (from, to) = (time("--from", &args.from)?, time("--to", &args.to)?);
    if from >= to {
        return Err(ReplayError::EmptyWindow { from: args.from, to: args.to });
    }
    let name = args.name.unwrap_or_else(|| default_name(from));
    if name.is_empty() || name.len() > 64 || !name.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)) {
        return Err(ReplayError::BadName(name));
    }
    let archive = client.describe_archive().archive_name(&args.archive).send().await;
    let archive = archive.map_err(aws(format!("archive {}", args.archive)))?;
    let (archive_arn, bus_arn) =
        (archive.archive_arn().unwrap_or_default(), archive.event_source_arn().unwrap_or_default());
    // The bus's name is what follows `event-bus/` in its ARN (a partner bus's name has slashes of its own).
    let bus = bus_arn.split_once(":event-bus/").map_or(bus_arn, |(_, name)| name);
    let rule = client.describe_rule().name(&args.rule).event_bus_name(bus).send().await;
    let rule = rule.map_err(aws(format!("rule {} on {bus}", args.rule)))?;
    let destination = ReplayDestination::builder()
        .arn(bus_arn)
        .filter_arns(rule.arn().unwrap_or_default())
        .build()
        .map_err(|e| ReplayError::Aws { what: "the replay's destination".into(), reason: e.to_string() })?;
    let started = client
        .start_replay()
        .replay_name(&name)
        .description(format!("weft replay start --from {} --to {}", args.from, args.to))
        .event_source_arn(archive_arn)
        .event_start_time(DateTime::from(from))
        .event_end_time(DateTime::from(to))
        .destination(destination)
        .send()
        .await
        .map_err(aws(format!("starting replay {name}")))?;
    let state = started.state().map_or("?", |s| s.as_str());
    println!("{name}");
    eprintln!(
        "weft: replay {name} {state}: {} to {} of {} to rule {} alone; follow it with `weft replay status {name}`",
        args.from, args.to, args.archive, args.rule
    );
    Ok(())
}

/// `weft-20261201T0900-1a2b`: the window's start, and four random hex digits.
fn default_name(from: SystemTime) -> String {
    let stamp = humantime::format_rfc3339_seconds(from).to_string();
    let compact: String = stamp.chars().filter(|c| c.is_ascii_alphanumeric()).take(13).collect();
    format!("weft-{compact}-{:04x}", fastrand::u16(..))
}

async fn describe(client: &Client, name: &str) -> Result<Replay, ReplayError> {
    let answer = client.describe_replay().replay_name(name).send().await.map_err(aws(format!("replay {name}")))?;
    Ok(Replay::builder()
        .replay_name(name)
        .set_event_source_arn(answer.event_source_arn().map(str::to_owned))
        .set_state(answer.state().cloned())
        .set_state_reason(answer.state_reason().map(str::to_owned))
        .set_event_start_time(answer.event_start_time().cloned())
        .set_event_end_time(answer.event_end_time().cloned())
        .set_event_last_replayed_time(answer.event_last_replayed_time().cloned())
        .set_replay_start_time(answer.replay_start_time().cloned())
        .set_replay_end_time(answer.replay_end_time().cloned())
        .build())
}

/// How far through its window a replay is: its last replayed event's time, 0 to 1 (1 once it is over).
pub fn progress(replay: &Replay) -> f64 {
    if matches!(replay.state(), Some(ReplayState::Completed)) {
        return 1.0;
    }
    let secs = |t: Option<&DateTime>| t.map(|t| t.as_secs_f64());
    match (secs(replay.event_start_time()), secs(replay.event_end_time()), secs(replay.event_last_replayed_time())) {
        (Some(start), Some(end), Some(last)) if end > start => ((last - start) / (end - start)).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

fn finished(state: Option<&ReplayState>) -> bool {
    matches!(state, Some(ReplayState::Completed | ReplayState::Cancelled | ReplayState::Failed))
}

fn line(replay: &Replay) -> String {
    let when = |t: Option<&DateTime>| t.map_or("-".to_owned(), |t| t.to_string());
    let reason = replay.state_reason().filter(|r| !r.is_empty()).map(|r| format!(" ({r})")).unwrap_or_default();
    format!(
        "{} {}{reason}: {} to {}, {:.0}% replayed (last event {})",
        replay.replay_name().unwrap_or("?"),
        replay.state().map_or("?", |s| s.as_str()),
        when(replay.event_start_time()),
        when(replay.event_end_time()),
        progress(replay) * 100.0,
        when(replay.event_last_replayed_time()),
    )
}

async fn status(client: &Client, logs: &aws_sdk_cloudwatchlogs::Client, args: StatusArgs) -> Result<(), ReplayError> {
    let name = match args.name {
        Some(name) => name,
        None => {
            let archive = args.archive.ok_or(ReplayError::Which)?;
            let newest = replays(client, Some(&archive)).await?.into_iter().next();
            newest.and_then(|r| r.replay_name).ok_or(ReplayError::NoReplay(archive))?
        }
    };
    let mut replay = describe(client, &name).await?;
    if !args.once && !finished(replay.state()) {
        let bar = indicatif::ProgressBar::new(1000);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{msg} [{bar:40}] {percent}% {elapsed}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        while !finished(replay.state()) {
            bar.set_message(format!("{name} {}", replay.state().map_or("?", |s| s.as_str())));
            bar.set_position((progress(&replay) * 1000.0) as u64);
            tokio::time::sleep(Duration::from_secs(5)).await;
            replay = describe(client, &name).await?;
        }
        bar.finish_and_clear();
    }
    println!("{}", line(&replay));
    match &args.function {
        // Invocations log their documents as they end; a minute before the replay started covers clocks' skew.
        Some(function) => {
            let started = replay.replay_start_time().map_or(SystemTime::UNIX_EPOCH, |t| {
                SystemTime::UNIX_EPOCH + Duration::from_secs_f64(t.as_secs_f64().max(60.0) - 60.0)
            });
            let tally = super::tally::read(logs, function, &name, started).await?;
            let so_far = if finished(replay.state()) { "" } else { " so far" };
            println!("{function}{so_far}: {tally}");
        }
        None => eprintln!("weft: give --function (Terraform output function_name) to see what weft did with them"),
    }
    Ok(())
}

async fn cancel(client: &Client, name: &str) -> Result<(), ReplayError> {
    let answer = client.cancel_replay().replay_name(name).send().await.map_err(aws(format!("cancelling {name}")))?;
    println!("{name} {}: events already replayed stay processed", answer.state().map_or("?", |s| s.as_str()));
    Ok(())
}

/// The replays of `archive` (all, without one), newest first.
async fn replays(client: &Client, archive: Option<&str>) -> Result<Vec<Replay>, ReplayError> {
    let source = match archive {
        Some(name) => {
            let archive =
                client.describe_archive().archive_name(name).send().await.map_err(aws(format!("archive {name}")))?;
            archive.archive_arn().map(str::to_owned)
        }
        None => None,
    };
    let listed = client.list_replays().set_event_source_arn(source).send().await.map_err(aws("listing replays"))?;
    let mut replays = listed.replays().to_vec();
    replays.sort_by(|a, b| {
        b.replay_start_time()
            .map(DateTime::as_secs_f64)
            .partial_cmp(&a.replay_start_time().map(DateTime::as_secs_f64))
            .unwrap_or(std::cmp::Ordering::Equal)
    });
    Ok(replays)
}

async fn list(client: &Client, archive: Option<&str>) -> Result<(), ReplayError> {
    for replay in replays(client, archive).await? {
        println!("{}", line(&replay));
    }
    Ok(())
}
