//! `weft rules`: the rule author's toolkit — scaffold a rule module (Rust, Python, TypeScript or JavaScript), build
//! it, run its golden tests.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use weft::aws::Clients;
use weft::engine::componentize::{WASM_TARGET, cargo_build_wasm};
use weft::engine::{DEFAULT_COMPILE_BUDGET, Engine, Limits, ModuleId, RuleModule};
use weft::judge::Judge;
use weft::judge::check::check;
use weft::rollout::source::{RuleSource, Trust, sibling_key};
use weft::rules::RuleSet;
use weft::rules::RuleSetVersion;
use weft::rules::golden::Case;
use weft::rules::manifest::{LocalFiles, Manifest};
use weft::rules::signing::SIGNATURE_METADATA;

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
    Publish(PublishArgs),
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
struct PublishArgs {
    /// The local manifest; it is loaded and self-tested before anything is uploaded.
    manifest: PathBuf,
    #[arg(long)]
    bucket: String,
    /// Key prefix; the manifest goes to PREFIX/manifest.json.
    #[arg(long, default_value = "")]
    prefix: String,
    #[command(flatten)]
    sign: super::scope::SignArgs,
    /// Publish as a candidate beside the active rule set (PREFIX/candidate.json) that judges every event after
    /// it and only counts how it differs; nothing of it is written.
    #[arg(long, conflicts_with = "canary")]
    shadow: bool,
    /// Publish as a candidate that judges this share of conversations (1 to 100 percent) instead of the active
    /// rule set; its records are written, stamped with its version.
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(1..=100))]
    canary: Option<u8>,
    /// Also upload each module compiled to native code for the Lambda's architectures, which a Lambda loads in
    /// microseconds instead of compiling (only from a signed rule set: needs --key).
    #[arg(long, requires = "key")]
    precompile: bool,
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
        RulesCommand::Publish(args) => super::runtime()?.block_on(publish(args)),
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
    println!(
        "built {} ({} KiB, sha256 {}; compiled in {:.1} s)",
        out.display(),
        component.len() / 1024,
        module.id().sha256,
        compile.as_secs_f64()
    );
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
        let cases = parsed.manifest.tests;
        if cases.is_empty() {
            bail!("{} has no `tests`", path.display());
        }
        let mut judge = Judge::new(rules).with_batch_size(1);
        for (i, case) in cases.iter().enumerate() {
            results.push((case.name.clone().unwrap_or_else(|| format!("tests[{i}]")), check(&mut judge, case)));
        }
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

/// The S3 key of the manifest under `prefix`.
fn manifest_key(prefix: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() { "manifest.json".into() } else { format!("{prefix}/manifest.json") }
}

/// Points the manifest's tables and modules at content-addressed names (`tables/SHA.csv`, `modules/SHA.wasm`)
/// with their hashes pinned; the files to upload under those names.
fn content_addressed(document: &mut serde_json::Value, dir: &Path) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let mut uploads: Vec<(String, Vec<u8>)> = Vec::new();
    let mut place = |file: &str, folder: &str| -> anyhow::Result<(String, String)> {
        let bytes = std::fs::read(dir.join(file)).with_context(|| format!("reading {file}"))?;
        let sha = ModuleId::new("", &bytes).sha256;
        let ext = Path::new(file).extension().and_then(|e| e.to_str()).unwrap_or("json");
        let name = format!("{folder}/{sha}.{ext}");
        uploads.push((name.clone(), bytes));
        Ok((name, sha))
    };
    if let Some(tables) = document.get_mut("tables").and_then(|t| t.as_object_mut()) {
        for table in tables.values_mut() {
            let file = table["file"].as_str().context("a table without `file`")?.to_owned();
            let (name, sha) = place(&file, "tables")?;
            table["file"] = name.into();
            table["sha256"] = sha.into();
        }
    }
    for rule in document["rules"].as_array_mut().into_iter().flatten() {
        for module in rule["modules"].as_array_mut().into_iter().flatten() {
            let path = module["module"].as_str().unwrap_or_default().to_owned();
            if path == weft::rules::embedded::DEFAULT_RULE {
                continue;
            }
            let (name, sha) = place(&path, "modules")?;
            module["module"] = name.into();
            module["sha256"] = sha.into();
        }
    }
    Ok(uploads)
}

/// Where the manifest goes, and how to say it: the manifest's key, or beside it the candidate's (with its
/// `rollout` member put in the document, under the signature).
fn destination(args: &PublishArgs, active_key: &str, document: &mut serde_json::Value) -> (String, String) {
    let candidate = sibling_key(active_key, "candidate.json");
    match (args.shadow, args.canary) {
        (true, _) => {
            document["rollout"] = serde_json::json!({"mode": "shadow"});
            (candidate, " as a shadow candidate".to_owned())
        }
        (_, Some(percent)) => {
            document["rollout"] = serde_json::json!({"mode": "canary", "percent": percent});
            (candidate, format!(" as a canary for {percent}% of conversations"))
        }
        _ => (active_key.to_owned(), String::new()),
    }
}

async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    // A precompiled module is not compiled by the Lambda: its compile budget is not the limit then.
    let engine = if args.precompile { super::local_engine()? } else { Engine::new()? };
    let source = RuleSource::File(args.manifest.clone());
    // Refuse to publish what the Lambda would refuse.
    weft::rollout::source::load(&source, None, &engine, &Limits::default(), &Trust::default())
        .await
        .with_context(|| format!("{} does not load; nothing was published", args.manifest.display()))?;
    let signer = args.sign.signer()?;
    let mut document: serde_json::Value = serde_json::from_slice(&std::fs::read(&args.manifest)?)?;
    let mut uploads = content_addressed(&mut document, args.manifest.parent().unwrap_or(Path::new(".")))?;
    if args.precompile {
        super::precompile::precompile(&mut document, &mut uploads)?;
    }
    let clients = Clients::load().await;
    let active_key = manifest_key(&args.prefix);
    let (key, mode) = destination(&args, &active_key, &mut document);
    // Signed above the active version's sequence: a candidate must be newer than what runs, and stay so promoted.
    let (manifest, signature) =
        super::scope::manifest_bytes(signer.as_ref(), &clients.s3, &args.bucket, &active_key, &mut document).await?;
    put_rule_set(&clients.s3, &args.bucket, &key, uploads, &manifest, signature.as_deref(), None).await?;
    let name = document["name"].as_str();
    let version = RuleSetVersion::new(name, &ModuleId::new("", &manifest).sha256);
    let signed = if signature.is_some() { " (signed)" } else { "" };
    println!("published {version} to s3://{}/{key}{mode}{signed}", args.bucket);
    Ok(ExitCode::SUCCESS)
}

/// Uploads a rule set's files (content-addressed: one already there is not uploaded again), then its manifest
/// over `s3://bucket/key`, with its signature; `if_match`: only if the manifest there is still that version (a
/// rewrite of what someone else may have replaced meanwhile).
pub(super) async fn put_rule_set(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    uploads: Vec<(String, Vec<u8>)>,
    manifest: &[u8],
    signature: Option<&str>,
    if_match: Option<&str>,
) -> anyhow::Result<()> {
    let failed =
        |object_key: &str, e: &dyn std::fmt::Display| anyhow::anyhow!("uploading s3://{bucket}/{object_key}: {e}");
    for (name, bytes) in uploads {
        let object_key = sibling_key(key, &name);
        if s3.head_object().bucket(bucket).key(&object_key).send().await.is_ok() {
            continue;
        }
        let put = s3.put_object().bucket(bucket).key(&object_key).body(bytes.into()).send().await;
        put.map_err(|e| failed(&object_key, &aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    }
    let mut put = s3.put_object().bucket(bucket).key(key).content_type("application/json");
    if let Some(signature) = signature {
        put = put.metadata(SIGNATURE_METADATA, signature);
    }
    match put.set_if_match(if_match.map(str::to_owned)).body(manifest.to_vec().into()).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
            bail!("s3://{bucket}/{key} changed while this ran (someone published): it was not replaced; run it again")
        }
        Err(e) => Err(failed(key, &aws_sdk_s3::error::DisplayErrorContext(&e))),
    }
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
