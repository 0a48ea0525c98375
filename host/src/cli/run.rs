//! `weft run`: the Lambda's data path over local files.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use weft::componentize::componentize;
use weft::engine::{Engine, Limits, ModuleId, RuleModule};
use weft::pipeline::{DEFAULT_BATCH, Pipeline};
use weft::rules::RuleSet;
use weft::sink::local::LocalSink;

#[derive(clap::Args)]
pub struct RunArgs {
    /// Files or directories of events (one JSON event, JSON lines, or objects back to back); `-` is stdin.
    #[arg(required = true, value_name = "INPUT")]
    inputs: Vec<PathBuf>,
    /// Write one JSON line per dropped event (the event, the stage, the reason) to FILE.
    #[arg(long, value_name = "FILE")]
    dropped: Option<PathBuf>,
    /// Write one JSON line per dead-lettered event (the event, the stage, the reason) to FILE.
    #[arg(long, value_name = "FILE")]
    dead_letters: Option<PathBuf>,
    /// Run this rule module (a component, or a core module built with weft's SDK) instead of the default rule.
    #[arg(long, value_name = "FILE.wasm")]
    module: Option<PathBuf>,
    /// The module's parameters, as JSON (what `weft_sdk::params()` returns).
    #[arg(long, value_name = "JSON", requires = "module")]
    params: Option<String>,
    /// Events per call into a rule module.
    #[arg(long, default_value_t = DEFAULT_BATCH, value_name = "N")]
    batch: usize,
}

pub fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let files = expand(&args.inputs)?;
    let engine = Engine::new()?;
    let rules = match &args.module {
        None => RuleSet::embedded_default(&engine, Limits::default())?,
        Some(path) => {
            let params = args.params.as_deref().unwrap_or("null");
            serde_json::from_str::<serde_json::Value>(params).context("--params is not JSON")?;
            let module = load_module(&engine, path)?;
            RuleSet::single(&module.id().name.clone(), module, params.into(), Limits::default())
        }
    };
    let records: Box<dyn Write> = Box::new(BufWriter::with_capacity(1 << 16, std::io::stdout().lock()));
    let mut sink = LocalSink::new(records, create(args.dropped.as_deref())?, create(args.dead_letters.as_deref())?);
    let mut pipeline = Pipeline::new(rules, &mut sink).with_batch_size(args.batch);
    for file in &files {
        let (name, data) = read(file)?;
        pipeline.feed(&data, name.into())?;
    }
    let summary = pipeline.finish()?;
    eprintln!("weft: {summary}");
    Ok(if summary.dead_lettered > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// Loads a module file: a component as is, a core module (what `cargo build --target wasm32-unknown-unknown`
/// leaves) wrapped into one first.
fn load_module(engine: &Engine, path: &Path) -> anyhow::Result<RuleModule> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let wasm = if is_component(&bytes) { bytes } else { componentize(&bytes).map_err(anyhow::Error::msg)? };
    let name = path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned());
    Ok(RuleModule::compile(engine, ModuleId::new(name, &wasm), &wasm)?)
}

/// The wasm preamble: magic, then version 1 for core modules and a layer-1 version for components.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

/// Files to read, in order: each argument as given, directories expanded (recursively, sorted by name, hidden
/// files skipped). Fails before anything runs if an input does not exist.
fn expand(inputs: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" {
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

fn read(file: &Path) -> anyhow::Result<(String, Vec<u8>)> {
    if file.as_os_str() == "-" {
        let mut data = Vec::new();
        std::io::stdin().lock().read_to_end(&mut data).context("reading standard input")?;
        return Ok(("-".into(), data));
    }
    let data = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    Ok((file.display().to_string(), data))
}

fn create(path: Option<&Path>) -> anyhow::Result<Option<Box<dyn Write>>> {
    let Some(path) = path else { return Ok(None) };
    let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
    Ok(Some(Box::new(BufWriter::new(file))))
}
