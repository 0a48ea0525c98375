//! `weft run`: the Lambda's data path over local files.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use weft::aws::Clients;
use weft::delivery::{Budget, Delivery, LetterPort, Lines, RecordPort};
use weft::engine::{Engine, Limits, RuleModule};
use weft::judge::DEFAULT_BATCH;
use weft::metrics::{MetricsConfig, Publisher, Report};
use weft::rules::RuleSet;
use weft::rules::stats::RuleSetStats;
use weft::verdict::{Fate, Summary};

use super::pipeline;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Files or directories of events (one JSON event, JSON lines, or objects back to back); `-` is stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Write one JSON line per dropped event (the event, the stage, the reason) to FILE.
    #[arg(long, value_name = "FILE")]
    dropped: Option<PathBuf>,
    /// Write one JSON line per dead-lettered event (the event, the stage, the reason) to FILE.
    #[arg(long, value_name = "FILE", conflicts_with = "dlq")]
    dead_letters: Option<PathBuf>,
    /// Write records to this Kinesis stream instead of standard output.
    #[arg(long, value_name = "NAME")]
    stream: Option<String>,
    /// Send dead letters to this SQS queue (URL) instead of --dead-letters.
    #[arg(long, value_name = "URL")]
    dlq: Option<String>,
    /// S3 bucket for dead letters too large for an SQS message.
    #[arg(long, value_name = "BUCKET", requires = "dlq")]
    dlq_bucket: Option<String>,
    /// Run this rule set instead of the default rule: a manifest path, or s3://BUCKET/PREFIX/manifest.json (loaded
    /// and checked exactly as the Lambda does).
    #[arg(long, value_name = "MANIFEST", conflicts_with = "module")]
    rules: Option<String>,
    /// Refuse a rule set not signed by one of these ed25519 public keys (hex, comma-separated; default:
    /// WEFT_RULES_PUBLIC_KEY).
    #[arg(long, value_name = "HEX", env = "WEFT_RULES_PUBLIC_KEY")]
    public_key: Option<String>,
    /// Run this rule module (a component, or a core module built with weft's SDK) alone instead of the default
    /// rule, under the default limits.
    #[arg(long, value_name = "FILE.wasm")]
    module: Option<PathBuf>,
    /// The module's parameters, as JSON (what `weft_sdk::params()` returns).
    #[arg(long, value_name = "JSON", requires = "module")]
    params: Option<String>,
    /// Events per call into a rule module.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_name = "N")]
    batch: usize,
    /// Threads judging events, each on instances of its own as concurrent Lambda instances would be (a rule's
    /// quarantine counts the failures of its thread's events); records and dead letters keep the input's order.
    /// Default: one per core.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    jobs: Option<u16>,
    /// Write the metrics the Lambda would publish (CloudWatch Embedded Metric Format, one set of documents per
    /// slice of 1,000 events) to FILE.
    #[arg(long, value_name = "FILE")]
    metrics: Option<PathBuf>,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let files = expand(&args.inputs)?;
    let engine = super::local_engine()?;
    let runtime = super::runtime()?;
    let rules = rules(&args, &engine, &runtime)?;
    if let Some(version) = rules.version() {
        eprintln!("weft: rule set {version}");
    }
    let version = rules.version().map(|v| v.0.clone());
    let mut delivery = runtime.block_on(delivery(&args))?;

    let total: u64 = files.iter().filter_map(|f| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
    let progress = progress_bar(total);
    let publisher = match &args.metrics {
        Some(path) => {
            let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
            Some(Publisher::new(MetricsConfig::new("weft-run"), Box::new(BufWriter::new(file))))
        }
        None => None,
    };
    let mut run = RunTotals { version, ..RunTotals::default() };
    let workers = args.jobs.map_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()), usize::from);
    // A buffer at a time, a bounded number of slices in flight: memory stays flat whatever the input's size.
    let compiles = super::timing::compiles(&rules);
    let mut pipeline = pipeline::start(files, rules, args.batch, workers, SLICE);
    // Verdicts wait here until a full slice is ready, across files, so PutRecords calls go out full.
    let mut waiting = Vec::with_capacity(SLICE);
    let mut stats = RuleSetStats::default();
    while let Some(slice) = pipeline.next()? {
        progress.inc(slice.bytes as u64);
        waiting.extend(slice.judged);
        stats.add(slice.stats);
        if waiting.len() >= SLICE {
            let fates =
                runtime.block_on(delivery.deliver(std::mem::take(&mut waiting), Budget::from_now(SLICE_TIME)))?;
            run.slice(&fates, std::mem::take(&mut stats), &mut delivery, publisher.as_ref());
        }
    }
    let fates = runtime.block_on(delivery.deliver(waiting, Budget::from_now(SLICE_TIME)))?;
    run.slice(&fates, stats, &mut delivery, publisher.as_ref());
    delivery.flush()?;
    progress.finish_and_clear();
    // A read error, after everything read before it was delivered.
    pipeline.finish()?;
    let summary = &run.summary;
    eprintln!("weft: {summary}");
    if let RecordPort::Kinesis(kinesis) = &delivery.records {
        eprintln!("  {} PutRecords calls to {}", run.put_records_calls, kinesis.stream());
    }
    eprint!("{}{compiles}", super::timing::table(&run.rules));
    Ok(if summary.dead_lettered + summary.failed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The rules the flags name: a rule set, one module, or the embedded default.
fn rules(args: &RunArgs, engine: &Engine, runtime: &tokio::runtime::Runtime) -> anyhow::Result<RuleSet> {
    Ok(match (&args.rules, &args.module) {
        (Some(location), _) => runtime.block_on(super::load_rules(location, args.public_key.as_deref(), engine))?,
        (None, Some(path)) => {
            let params = args.params.as_deref().unwrap_or("null");
            serde_json::from_str::<serde_json::Value>(params).context("--params is not JSON")?;
            let module = load_module(engine, path)?;
            RuleSet::single(&module.id().name.clone(), module, params.into(), Limits::default())
        }
        (None, None) => RuleSet::embedded_default(engine, Limits::default())?,
    })
}

/// What a run adds up over its slices.
#[derive(Default)]
struct RunTotals {
    version: Option<String>,
    summary: Summary,
    rules: RuleSetStats,
    put_records_calls: u64,
}

impl RunTotals {
    /// Counts a delivered slice, and publishes its metrics as the Lambda would an invocation's.
    fn slice(&mut self, fates: &[Fate], rules: RuleSetStats, delivery: &mut Delivery, publisher: Option<&Publisher>) {
        let mut report = Report::default();
        report.count(fates);
        report.rules = rules;
        report.rule_set = self.version.clone();
        report.delivery = delivery.take_stats();
        self.summary.add(&report.summary);
        self.rules.add(report.rules.clone());
        self.put_records_calls += report.delivery.kinesis.calls;
        if let Some(publisher) = publisher {
            publisher.publish(report);
        }
    }
}

/// Events judged and delivered together: a multiple of 500, so PutRecords calls go out full.
const SLICE: usize = 1000;
/// How long delivering one slice may take, retries and dead letters included.
const SLICE_TIME: Duration = Duration::from_secs(60);

/// Standard output without the line buffering std puts before it, which cut every 64 KiB our buffer wrote into a
/// write of its whole lines and one of the line left over: 1,560 writes for 100,000 events' records, 780 without.
fn stdout() -> Box<dyn std::io::Write + Send> {
    #[cfg(unix)]
    if let Ok(fd) = std::os::fd::AsFd::as_fd(&std::io::stdout()).try_clone_to_owned() {
        return Box::new(File::from(fd));
    }
    Box::new(std::io::stdout())
}

/// Records to stdout or Kinesis, dead letters to a file or SQS, drops to a file: as the flags say.
async fn delivery(args: &RunArgs) -> anyhow::Result<Delivery> {
    let clients = if args.stream.is_some() || args.dlq.is_some() { Some(Clients::load().await) } else { None };
    let records = match (&args.stream, &clients) {
        (Some(stream), Some(clients)) => RecordPort::Kinesis(clients.kinesis_sink(stream)),
        _ => RecordPort::Lines(Box::new(BufWriter::with_capacity(1 << 16, stdout()))),
    };
    let letters = match (&args.dlq, &clients) {
        (Some(url), Some(clients)) => LetterPort::Queue(clients.dead_letter_queue(url, args.dlq_bucket.as_deref())),
        _ => LetterPort::Lines(create(args.dead_letters.as_deref())?),
    };
    Ok(Delivery::new(records, letters, create(args.dropped.as_deref())?))
}

/// A progress bar on standard error for inputs over 10 MB (hidden when stderr is not a terminal).
fn progress_bar(total_bytes: u64) -> ProgressBar {
    if total_bytes < 10_000_000 {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total_bytes);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bytes}/{total_bytes} {wide_bar} {bytes_per_sec} eta {eta}")
            .expect("a valid template"),
    );
    bar
}

/// Loads a module file (a component, or a core module built with weft's SDK).
pub fn load_module(engine: &Engine, path: &Path) -> anyhow::Result<RuleModule> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(RuleModule::from_file(engine, &name, &bytes)?)
}

/// Files to read, in order: each argument as given, directories expanded (recursively, sorted by name, hidden
/// files skipped), `s3://BUCKET/PREFIX` as its objects in key order. Fails before anything runs if an input does
/// not exist.
pub(crate) fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if let Some(location) = input.to_str().filter(|i| i.starts_with("s3://")) {
            let objects = super::pipeline::s3()?.list(location)?;
            if objects.is_empty() {
                bail!("{location}: no objects there");
            }
            files.extend(objects.into_iter().map(PathBuf::from));
        } else if input.as_os_str() == "-" {
            files.push(input.clone());
        } else if input.is_dir() {
            walk(input, &mut files)?;
        } else if input.is_file() {
            files.push(input.clone());
        } else {
            bail!("{}: no such file or directory", input.display());
        }
    }
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> anyhow::Result<()> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading directory {}", dir.display()))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()
        .with_context(|| format!("reading directory {}", dir.display()))?;
    entries.sort();
    for path in entries {
        if path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')) {
            continue;
        }
        if path.is_dir() {
            walk(&path, files)?;
        } else {
            files.push(path);
        }
    }
    Ok(())
}

fn create(path: Option<&Path>) -> anyhow::Result<Option<Lines>> {
    let Some(path) = path else { return Ok(None) };
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(Some(Box::new(BufWriter::new(file))))
}
