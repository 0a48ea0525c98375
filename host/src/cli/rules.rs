//! `weft rules`: the rule author's toolkit — scaffold a rule module (Rust, Python, TypeScript or JavaScript), build
//! it, run its golden tests.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use weft::engine::componentize::{WASM_TARGET, cargo_build_wasm};
use weft::engine::{DEFAULT_COMPILE_BUDGET, Engine, Limits, RuleModule};
use weft::judge::Judge;
use weft::judge::check::{check, run_cases};
use weft::rules::RuleSet;
use weft::rules::golden::Case;
use weft::rules::manifest::{LocalFiles, Manifest};

#[derive(clap::Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,
}

#[derive(clap::Subcommand)]
enum RulesCommand {
    /// Create a rule module (a Rust crate, or a Python, TypeScript or JavaScript project) from weft's template; it
    /// builds and passes its tests as is.
    New(super::scaffold::NewArgs),
    /// Build a rule module (a Rust crate, or a project with `rule.py`, `rule.ts` or `rule.js`) and check it
    /// against weft's WIT world.
    Build(BuildArgs),
    /// Run golden tests: a module's `tests/golden/*.json`, or a rule set manifest's `tests`.
    Test(TestArgs),
    /// Upload a rule set to S3 for hot swap: modules and tables under their hashes first, the manifest last.
    Publish(super::publish::PublishArgs),
    /// Make an ed25519 key pair for signing rule sets (FILE: private key; FILE.pub: public key).
    Keygen(KeygenArgs),
    /// Run two rule sets over the same events and report what the second changes: records added, removed and
    /// changed (by rule, stream and JSON path), outcomes that change; exit 1 when anything differs.
    Diff(super::diff::DiffArgs),
    /// Show what is published at an S3 location, its earlier versions, and what each deployment runs, refused
    /// and rolled back.
    Status(super::rollout::StatusArgs),
    /// Put the previous version of an S3 rule set back (or the S3 object version given), or withdraw the
    /// candidate (--candidate); the Lambda picks it up within one poll interval.
    Rollback(super::rollout::RollbackArgs),
    /// Make the published candidate the active version; the Lambda switches within one poll interval.
    Promote(super::rollout::PromoteArgs),
}

#[derive(clap::Args)]
struct KeygenArgs {
    /// Where to write the private key (hex; keep it secret). The public key goes to FILE.pub.
    file: PathBuf,
}

#[derive(clap::Args)]
struct BuildArgs {
    /// The module crate (default: the current directory).
    #[arg(default_value = ".")]
    dir: PathBuf,
}

#[derive(clap::Args)]
struct TestArgs {
    /// A module crate directory, or a rule set manifest (default: the current directory).
    #[arg(default_value = ".")]
    path: PathBuf,
}

pub fn rules(args: RulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::New(args) => super::scaffold::new(args),
        RulesCommand::Build(args) => {
            build(&super::local_engine()?, &args.dir)?;
            Ok(ExitCode::SUCCESS)
        }
        RulesCommand::Test(args) => test(&args.path),
        RulesCommand::Publish(args) => super::runtime()?.block_on(super::publish::publish(args)),
        RulesCommand::Keygen(args) => keygen(args),
        RulesCommand::Diff(args) => super::diff::diff(args),
        RulesCommand::Status(args) => super::runtime()?.block_on(super::rollout::status(args)),
        RulesCommand::Rollback(args) => super::runtime()?.block_on(super::rollout::rollback(args)),
        RulesCommand::Promote(args) => super::runtime()?.block_on(super::rollout::promote(args)),
    }
}

/// Builds the module in `dir` (a Python, TypeScript or JavaScript project, or a Rust crate), compiles it and checks
/// it against weft's world.
fn build(engine: &Engine, dir: &Path) -> anyhow::Result<RuleModule> {
    let (name, out) = if super::python::is_project(dir) {
        super::python::build(dir)?
    } else if super::javascript::is_project(dir) {
        super::javascript::build(dir)?
    } else {
        build_rust(dir)?
    };
    let component = std::fs::read(&out).with_context(|| format!("reading {}", out.display()))?;
    let started = Instant::now();
    let module = RuleModule::from_file(engine, &file_name(&out), &component)
        .with_context(|| format!("{name} does not satisfy weft's rule world"))?;
    let compile = started.elapsed();
    let compiled = module.compiled().map_or_else(|| "compiled before".to_owned(), |c| c.to_string());
    println!("built {} ({} KiB, sha256 {}; {compiled})", out.display(), component.len() / 1024, module.id().sha256);
    if compile > DEFAULT_COMPILE_BUDGET {
        println!(
            "warning: a Lambda compiles rule modules as it starts, within {} s; on a machine like this one it would \
             refuse this module unless it is published precompiled (`weft rules publish --key … --precompile`, \
             docs/writing-rules.md, \"Big modules and the Lambda\")",
            DEFAULT_COMPILE_BUDGET.as_secs()
        );
    }
    Ok(module)
}

/// Builds the crate in `dir` for wasm and wraps it into a component: its name and path.
fn build_rust(dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let (package, target_dir) = package_of(dir)?;
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let core = cargo_build_wasm(&cargo, dir, &package, &target_dir)
        .map_err(|e| anyhow::anyhow!("{e}\n  (is the wasm target installed? `rustup target add {WASM_TARGET}`)"))?;
    let bytes = std::fs::read(&core).with_context(|| format!("reading {}", core.display()))?;
    let component = weft::engine::componentize::componentize(&bytes).map_err(anyhow::Error::msg)?;
    let out_dir = target_dir.join("weft");
    std::fs::create_dir_all(&out_dir)?;
    let out = out_dir.join(format!("{package}.wasm"));
    std::fs::write(&out, &component)?;
    Ok((package, out))
}

/// The package whose manifest is `dir/Cargo.toml`, and the target directory cargo uses for it.
fn package_of(dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let manifest =
        dir.join("Cargo.toml").canonicalize().with_context(|| format!("no Cargo.toml in {}", dir.display()))?;
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let output = Command::new(cargo)
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(&manifest)
        .output()
        .context("running cargo metadata")?;
    if !output.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout)?;
    let package = metadata["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().map(Path::new) == Some(manifest.as_path()))
        .and_then(|p| p["name"].as_str())
        .with_context(|| format!("{} is not a package", manifest.display()))?;
    let target_dir = metadata["target_directory"].as_str().context("cargo metadata has no target_directory")?;
    // `rules/` beside the normal builds: what host/build.rs uses, so a checkout shares one wasm build of the SDK.
    Ok((package.to_owned(), PathBuf::from(target_dir).join("rules")))
}

fn test(path: &Path) -> anyhow::Result<ExitCode> {
    let engine = super::local_engine()?;
    let limits = Limits::default();
    let mut results = Vec::new();
    if path.is_dir() {
        let module = build(&engine, path)?;
        for (name, case) in cases(&path.join("tests/golden"))? {
            let params: Arc<str> = case.params.as_ref().map_or("null".into(), |p| p.to_string().into());
            let tables = case.tables.iter().map(|(t, rows)| (t.clone(), rows.clone().into_iter().collect())).collect();
            let rules =
                RuleSet::with_tables(&module.id().name, module.clone(), params, Arc::new(tables), limits.clone());
            let mut judge = Judge::new(rules).with_batch_size(1);
            results.push((case.name.clone().unwrap_or(name), check(&mut judge, &case)));
        }
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        let parsed = Manifest::parse(&bytes)?;
        let rules = parsed.load(&engine, &limits, &LocalFiles(path.parent().unwrap_or(Path::new("."))))?;
        if parsed.manifest.tests.is_empty() {
            bail!("{} has no `tests`", path.display());
        }
        results = run_cases(rules, &parsed.manifest.tests).1;
    }
    let failed = results.iter().filter(|(_, diffs)| !diffs.is_empty()).count();
    for (name, diffs) in &results {
        if diffs.is_empty() {
            println!("ok    {name}");
        } else {
            println!("FAIL  {name}");
            for line in diffs {
                println!("        {line}");
            }
        }
    }
    println!("{} passed, {failed} failed", results.len() - failed);
    if results.is_empty() {
        bail!("no golden tests found (tests/golden/*.json)");
    }
    Ok(if failed == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The golden cases in `dir`, by file name, in name order.
fn cases(dir: &Path) -> anyhow::Result<Vec<(String, Case)>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
            let mut de = serde_json::Deserializer::from_slice(&text);
            let case = serde_path_to_error::deserialize(&mut de)
                .map_err(|e| anyhow::anyhow!("{}: {}: {}", file.display(), e.path(), e.inner()))?;
            Ok((file_name(&file), case))
        })
        .collect()
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

fn keygen(args: KeygenArgs) -> anyhow::Result<ExitCode> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let key = weft::rules::signing::generate().map_err(anyhow::Error::msg)?;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&args.file)
        .with_context(|| format!("creating {}", args.file.display()))?;
    writeln!(file, "{}", weft::rules::signing::to_hex(&key.to_bytes()))?;
    let public = weft::rules::signing::to_hex(key.verifying_key().as_bytes());
    let mut public_file = args.file.clone().into_os_string();
    public_file.push(".pub");
    std::fs::write(&public_file, format!("{public}\n"))?;
    println!("private key: {} (keep it secret)", args.file.display());
    println!("public key:  {public}  (set WEFT_RULES_PUBLIC_KEY to it)");
    Ok(ExitCode::SUCCESS)
}
