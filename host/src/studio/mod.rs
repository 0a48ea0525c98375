//! `weft studio`: the rules' answers as a page in a browser — events and their verdicts, the diff against another
//! rule set, the dead letters, a published rule set's status — for the rule author's and the operator's machine.
//!
//! A front door of its own beside `cli/`: everything it shows comes from the same code paths as the commands
//! (the loader, the [`weft::judge::Judge`], `weft rules diff`'s compare, `weft redrive`), never a second
//! implementation. It listens on 127.0.0.1 only, on a free port, and answers only requests that carry the random
//! token of the address it prints (as Jupyter does). It is the `studio` feature, on by default and off in the
//! Lambda's build, so the function carries neither the server nor the page.

mod api;
mod judgement;
mod letters;
mod server;
mod status;
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::Context;
use weft::engine::Engine;
use weft::judge::Judge;
use weft::rules::RuleSet;

use judgement::{Judgement, Judges};
use letters::Letters;

#[derive(clap::Args)]
pub struct StudioArgs {
    /// Files or directories of events (as `weft run` reads them). Default: samples/events, when there is one.
    #[arg(value_name = "EVENTS")]
    events: Vec<PathBuf>,
    /// The rules to judge with, watched for edits: a manifest path, s3://BUCKET/PREFIX/manifest.json, or
    /// builtin:default (the default).
    #[arg(long, value_name = "MANIFEST")]
    rules: Option<String>,
    /// Compare with this rule set (same forms), as `weft rules diff` does.
    #[arg(long, value_name = "MANIFEST")]
    against: Option<String>,
    /// Dead letters from this SQS queue (URL): peeked, not consumed.
    #[arg(long, value_name = "URL", conflicts_with = "dead_letters")]
    dlq: Option<String>,
    /// Dead letters from this file (JSON lines, as `weft run --dead-letters` writes them).
    #[arg(long, value_name = "FILE")]
    dead_letters: Option<PathBuf>,
    /// The Kinesis stream a redrive from the page writes to.
    #[arg(long, value_name = "NAME", requires = "dlq")]
    stream: Option<String>,
    /// Refuse rule sets not signed by one of these ed25519 public keys (hex, comma-separated).
    #[arg(long, value_name = "HEX", env = "WEFT_RULES_PUBLIC_KEY")]
    public_key: Option<String>,
    /// Print the address, do not open a browser.
    #[arg(long)]
    no_open: bool,
}

/// What the page reads: the latest judgement, the judges (an opened event is judged again), the dead letters.
pub struct Studio {
    args: StudioArgs,
    engine: Engine,
    judges: Mutex<Option<Judges>>,
    view: RwLock<View>,
    letters: Mutex<Letters>,
}

/// The judgement on show, numbered, and why the rules on disk do not load (when they do not: the last good
/// judgement stays).
#[derive(Default)]
pub struct View {
    generation: u64,
    judgement: Arc<Judgement>,
    error: Option<String>,
}

pub fn studio(mut args: StudioArgs) -> anyhow::Result<ExitCode> {
    if args.events.is_empty() && std::path::Path::new("samples/events").is_dir() {
        args.events.push("samples/events".into());
    }
    // Events that are not there fail now, not in the page.
    crate::cli::run::expand(&args.events)?;
    let engine = crate::cli::local_engine()?.keeping_compiled();
    let runtime = crate::cli::runtime()?;
    let letters = runtime.block_on(Letters::load(args.dlq.as_deref(), args.dead_letters.as_deref()))?;
    let studio = Arc::new(Studio {
        engine,
        judges: Mutex::new(None),
        view: RwLock::new(View::default()),
        letters: Mutex::new(letters),
        args,
    });
    studio.rejudge(&runtime);
    let watcher = studio.clone();
    std::thread::Builder::new().name("weft-studio-watch".into()).spawn(move || watcher.watch())?;
    runtime.block_on(server::serve(studio))?;
    Ok(ExitCode::SUCCESS)
}

impl Studio {
    /// Judges again whenever a watched file changes.
    fn watch(&self) {
        let runtime = crate::cli::runtime().expect("a runtime for loading rule sets");
        let watched =
            watch::Watched::of(&self.args.events, &[self.args.rules.as_deref(), self.args.against.as_deref()]);
        let mut last = watched.fingerprint();
        loop {
            std::thread::sleep(watch::POLL);
            let now = watched.fingerprint();
            if now != last {
                last = now;
                self.rejudge(&runtime);
            }
        }
    }

    /// Loads the rule sets and judges every event; a rule set that does not load leaves the last judgement on
    /// show, with the loader's error above it.
    fn rejudge(&self, runtime: &tokio::runtime::Runtime) {
        let loaded = self.load(self.args.rules.as_deref(), runtime).and_then(|current| {
            let against = self.args.against.as_deref().map(|a| self.load(Some(a), runtime)).transpose()?;
            Ok(Judges { current: Judge::new(current), against: against.map(Judge::new) })
        });
        let before = self.view.read().expect("view").judgement.clone();
        // The files again: one added to a folder of events is judged too. An event opened meanwhile is judged by
        // the judges on show until the new ones are.
        let outcome = loaded.and_then(|fresh| {
            let files = crate::cli::run::expand(&self.args.events)?;
            let judgement = judgement::judge_all(&fresh, &files, &before.rows)?;
            *self.judges.lock().expect("judges") = Some(fresh);
            Ok(judgement)
        });
        let mut view = self.view.write().expect("view");
        view.generation += 1;
        match outcome {
            Ok(judgement) => (view.judgement, view.error) = (Arc::new(judgement), None),
            Err(error) => view.error = Some(format!("{error:#}")),
        }
        tracing::debug!(generation = view.generation, "judged");
    }

    fn load(&self, location: Option<&str>, runtime: &tokio::runtime::Runtime) -> anyhow::Result<RuleSet> {
        let location = location.unwrap_or(weft::rules::embedded::DEFAULT_RULE);
        runtime
            .block_on(crate::cli::load_rules(location, self.args.public_key.as_deref(), &self.engine))
            .with_context(|| format!("loading {location}"))
    }
}
