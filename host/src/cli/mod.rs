//! Command-line interface. Errors stop here: they are printed, and the exit code says what kind they were
//! (0 all good, 1 some events were dead-lettered or failed, 2 usage or I/O error).
//!
//! With no subcommand, started by the Lambda runtime (`AWS_LAMBDA_RUNTIME_API` is set), `weft` is the Lambda.

mod bench;
mod bench_metrics;
mod diff;
mod env;
mod javascript;
mod lambda;
pub(crate) mod pipeline;
mod precompile;
mod publish;
mod python;
pub(crate) mod redrive;
pub(crate) mod rollout;
mod rules;
pub(crate) mod run;
mod scaffold;
mod schemas;
mod scope;
pub(crate) mod tables;
mod tail;
pub(crate) mod timing;

use std::process::ExitCode;
use std::time::Instant;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "weft",
    version,
    about = "Genesys Cloud events in, Kinesis records out, through WebAssembly rules.",
    after_help = "Started by the AWS Lambda runtime (AWS_LAMBDA_RUNTIME_API set) with no command, weft runs as the Lambda."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run events from files through the rules, as the Lambda would: records to stdout or Kinesis.
    Run(run::RunArgs),
    /// Write, build and test rule modules and rule sets.
    Rules(rules::RulesArgs),
    /// Reprocess dead letters from the dead-letter queue with the current rules, and deliver them.
    Redrive(redrive::RedriveArgs),
    /// Keep lookup tables current from the Genesys Cloud API, and show how current they are.
    Tables(tables::TablesArgs),
    /// Replay the archive of the Genesys bus through weft: start, follow, cancel and list EventBridge replays.
    Replay(weft::history::replay::ReplayArgs),
    /// Backfill history from S3 through the rules, on the backfill state machine: start it, follow it.
    Backfill(weft::history::execution::BackfillArgs),
    /// Print the records of a Kinesis stream as JSON lines.
    Tail(tail::TailArgs),
    /// See what the rules make of events in a browser: verdicts, a diff, dead letters, a rule set's status.
    #[cfg(feature = "studio")]
    Studio(crate::studio::StudioArgs),
    /// List the environment variables the Lambda reads.
    Env(env::EnvArgs),
    /// Measure the default rule natively, in wasm (deadline on and off), and `weft run` end to end.
    Bench(bench::BenchArgs),
    /// Write the JSON Schemas of what weft reads and writes (or check them with --check).
    Schemas(schemas::SchemasArgs),
}

/// Exit code for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    let started = Instant::now();
    let cli = Cli::parse();
    let lambda = cli.command.is_none() && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some();
    weft::logs::init(if lambda { "info" } else { "warn" });
    if !lambda {
        // On a rule author's machine a module's log lines keep their level (the Lambda reads WEFT_RULE_LOGS).
        weft::privacy::RuleLogs::AsWritten.set();
    }
    let result = match cli.command {
        Some(Command::Run(args)) => run::run(args),
        Some(Command::Rules(args)) => rules::rules(args),
        Some(Command::Redrive(args)) => redrive::redrive(args),
        Some(Command::Tables(args)) => tables::tables(args),
        Some(Command::Backfill(args)) => backfill(args),
        Some(Command::Replay(args)) => replay(args),
        Some(Command::Tail(args)) => tail::tail(args),
        #[cfg(feature = "studio")]
        Some(Command::Studio(args)) => crate::studio::studio(args),
        Some(Command::Env(args)) => env::env(args),
        Some(Command::Bench(args)) => bench::bench(args),
        Some(Command::Schemas(args)) => schemas::schemas(args),
        None if lambda => match std::env::var("WEFT_ROLE").unwrap_or_default().trim() {
            "" => lambda::serve(started),
            "tables-sync" => lambda::serve_tables_sync(),
            "backfill" => lambda::serve_backfill(),
            other => Err(anyhow::anyhow!(
                "WEFT_ROLE is `{other}`: the roles are `tables-sync` and `backfill` (unset: the event function)"
            )),
        },
        None => {
            let _ = Cli::command().print_help();
            return ExitCode::from(EXIT_USAGE);
        }
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            if lambda {
                tracing::error!(error = %format!("{error:#}"), "weft could not start");
            }
            eprintln!("weft: error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// `weft backfill`: the history stage's own front door, on the Step Functions and S3 clients.
fn backfill(args: weft::history::execution::BackfillArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let config = weft::aws::sdk_config().await;
        let (sfn, s3) = (aws_sdk_sfn::Client::new(&config), aws_sdk_s3::Client::new(&config));
        weft::history::execution::command(args, &sfn, &s3).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// `weft replay`: the history stage's own front door, on the EventBridge and CloudWatch Logs clients.
fn replay(args: weft::history::replay::ReplayArgs) -> anyhow::Result<ExitCode> {
    runtime()?.block_on(async {
        let config = weft::aws::sdk_config().await;
        let (client, logs) = (aws_sdk_eventbridge::Client::new(&config), aws_sdk_cloudwatchlogs::Client::new(&config));
        weft::history::replay::command(args, &client, &logs).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// The engine of the commands that run rules on the operator's machine (`weft run`, `weft rules build` and
/// `test`): compiling is not on a cold start's clock there, so big modules (a Python rule is ~18 MB) get
/// [`LOCAL_COMPILE_BUDGET`]; `weft rules build` says when the Lambda's own budget would refuse one.
pub(crate) fn local_engine() -> anyhow::Result<weft::engine::Engine> {
    Ok(weft::engine::Engine::new()?.with_compile_budget(LOCAL_COMPILE_BUDGET))
}

const LOCAL_COMPILE_BUDGET: std::time::Duration = std::time::Duration::from_secs(600);

/// A runtime for the AWS calls of a command.
pub(crate) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread().enable_all().build()?)
}

/// A rule set from a path or S3, through the Lambda's own loading and checks (`weft run --rules`, `weft redrive`),
/// or `builtin:default`, the embedded default rule alone (what a deployment without rules runs).
pub(crate) async fn load_rules(
    location: &str,
    public_key: Option<&str>,
    engine: &weft::engine::Engine,
) -> anyhow::Result<weft::rules::RuleSet> {
    use anyhow::Context;
    use weft::rollout::source::{RuleSource, Trust};
    if location == weft::rules::embedded::DEFAULT_RULE {
        return Ok(weft::rules::RuleSet::embedded_default(engine, weft::engine::Limits::default())?);
    }
    let source = RuleSource::parse(location)?;
    let trust = Trust {
        public_keys: public_key.map(weft::rules::signing::public_keys).transpose()?.unwrap_or_default(),
        deployment: std::env::var("WEFT_DEPLOYMENT").ok().filter(|d| !d.is_empty()),
        min_sequence: 0,
    };
    let s3 = match source {
        RuleSource::S3 { .. } => Some(weft::aws::Clients::load().await.rules_s3()),
        RuleSource::File(_) => None,
    };
    let limits = weft::engine::Limits::default();
    let accepted = weft::rollout::source::load(&source, s3.as_ref(), engine, &limits, &trust)
        .await
        .with_context(|| format!("rule set {source} refused"))?;
    Ok(accepted.rules)
}
