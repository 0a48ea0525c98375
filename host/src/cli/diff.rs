//! `weft rules diff`: two rule sets over the same events, and what the second would change — before it is
//! published. Exit 1 when anything differs, so a rules repository's CI can gate on it.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use weft::input::Stream;
use weft::judge::Judge;
use weft::verdict::compare::{Report, compare};

#[derive(clap::Args)]
pub struct DiffArgs {
    /// The rule set in use: a manifest path, or s3://BUCKET/PREFIX/manifest.json.
    old: String,
    /// The rule set that would replace it (same forms).
    new: String,
    /// Files or directories of events (as `weft run` reads them).
    #[arg(required = true, value_name = "EVENTS")]
    events: Vec<PathBuf>,
    /// The report as JSON on standard output.
    #[arg(long)]
    json: bool,
    /// Event ids shown per difference.
    #[arg(long, default_value_t = 5, value_name = "N")]
    examples: usize,
    /// Also show, for each example of a changed path, its value before and after. These are event contents
    /// (possibly personal data): for a local investigation, not for CI logs.
    #[arg(long)]
    show_values: bool,
    /// Refuse rule sets not signed by one of these ed25519 public keys (hex, comma-separated).
    #[arg(long, value_name = "HEX", env = "WEFT_RULES_PUBLIC_KEY")]
    public_key: Option<String>,
}

/// Events judged together (the judges' batches inside it).
const SLICE: usize = 1000;

pub fn diff(args: DiffArgs) -> anyhow::Result<ExitCode> {
    let engine = super::local_engine()?;
    let runtime = super::runtime()?;
    let load = |location: &str| runtime.block_on(super::load_rules(location, args.public_key.as_deref(), &engine));
    let mut old = Judge::new(load(&args.old)?);
    let mut new = Judge::new(load(&args.new)?);
    let mut report = Report::new(args.examples);
    if args.show_values {
        report = report.showing_values();
    }
    let started = Instant::now();
    for file in super::run::expand(&args.events)? {
        let (name, reader) = super::pipeline::open(&file)?;
        let mut stream = Stream::new(reader, name.into());
        loop {
            let chunks = stream.next_chunks(SLICE).with_context(|| format!("reading {}", file.display()))?;
            if chunks.is_empty() {
                break;
            }
            // Chunks borrow the stream's buffer: both judges read them there, nothing is copied.
            let (before, after) = (old.judge(chunks.clone()), new.judge(chunks));
            for (a, b) in before.iter().zip(&after) {
                let id = a.event_id.clone().unwrap_or_else(|| a.source.to_string());
                report.add(&id, &compare(&a.verdict, &b.verdict));
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{report}");
    }
    eprintln!(
        "weft: {} events through both rule sets in {seconds:.2} s ({:.0} events/s)",
        report.events,
        report.events as f64 / seconds.max(1e-9)
    );
    Ok(if report.events_changed > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
