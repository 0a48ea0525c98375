//! `weft rules publish`, and the one path by which any command writes a manifest to S3 ([`put_rule_set`]): loaded
//! first as the deployment's Lambdas would load it (`rollout::admit`), then its files, then the manifest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use weft::aws::Clients;
use weft::engine::{Engine, ModuleId};
use weft::rollout::admit::{Gate, Publication};
use weft::rollout::source::{SourceError, sibling_key};
use weft::rules::manifest::Manifest;
use weft::rules::signing::{SIGNATURE_METADATA, SignatureError};

#[derive(clap::Args)]
pub struct PublishArgs {
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

pub async fn publish(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let bytes = std::fs::read(&args.manifest).with_context(|| format!("reading {}", args.manifest.display()))?;
    // The author's own file first, so that a mistake is named at its line in it.
    Manifest::parse(&bytes).with_context(|| format!("{}: nothing was published", args.manifest.display()))?;
    let signer = args.sign.signer()?;
    let mut document: serde_json::Value = serde_json::from_slice(&bytes)?;
    let mut uploads = content_addressed(&mut document, args.manifest.parent().unwrap_or(Path::new(".")))?;
    if args.precompile {
        super::precompile::precompile(&mut document, &mut uploads)?;
    }
    // A precompiled module is not compiled by the Lambda: its compile budget is not the limit then.
    let engine = if args.precompile { super::local_engine()? } else { Engine::new()? };
    let gate = super::scope::gate(engine, signer.as_ref(), args.sign.public_key.as_deref())?;
    let clients = Clients::load().await;
    let active_key = manifest_key(&args.prefix);
    let (key, mode) = destination(&args, &active_key, &mut document);
    // Signed above the active version's sequence: a candidate must be newer than what runs, and stay so promoted.
    let (manifest, signature) =
        super::scope::manifest_bytes(signer.as_ref(), &clients.s3, &args.bucket, &active_key, &mut document).await?;
    let publication = Publication { manifest, signature, uploads: uploads.into_iter().collect() };
    let at = Destination { bucket: &args.bucket, key: &key, active_key: &active_key };
    let version = put_rule_set(&clients.s3, &at, &publication, &gate, None)
        .await
        .with_context(|| format!("{}: nothing was published", args.manifest.display()))?;
    let signed = if publication.signature.is_some() { " (signed)" } else { "" };
    println!("published {version} to s3://{}/{key}{mode}{signed}", args.bucket);
    Ok(ExitCode::SUCCESS)
}

/// Where a manifest is written, and the active manifest it is judged against (itself, or beside a candidate).
pub(super) struct Destination<'a> {
    pub bucket: &'a str,
    pub key: &'a str,
    pub active_key: &'a str,
}

/// The one way a manifest reaches S3: loaded first as the deployment's Lambdas would load it at `at` (the gate),
/// then its files uploaded (content-addressed: one already there is not uploaded again), then the manifest with
/// its signature; `if_match`: only over that version of the manifest (a rewrite of what someone else may have
/// replaced meanwhile). Nothing is written when the gate refuses it. The version written.
pub(super) async fn put_rule_set(
    s3: &aws_sdk_s3::Client,
    at: &Destination<'_>,
    publication: &Publication,
    gate: &Gate,
    if_match: Option<&str>,
) -> anyhow::Result<String> {
    let accepted = gate.admit(s3, at.bucket, at.key, at.active_key, publication).await.map_err(|refusal| {
        let replayed = matches!(refusal.error, SourceError::Signature(SignatureError::Replayed { .. }));
        let error = anyhow::Error::new(refusal);
        if replayed {
            error.context(
                "it is signed with a sequence the deployment no longer accepts: sign it again (--key, --deployment)",
            )
        } else {
            error
        }
    })?;
    if publication.signature.is_some() && !gate.verifies_signatures() {
        eprintln!(
            "weft: the signature was not verified (no public key given: --public-key, or WEFT_RULES_PUBLIC_KEY); \
             its scope was checked"
        );
    }
    let (bucket, key) = (at.bucket, at.key);
    let failed =
        |object_key: &str, e: &dyn std::fmt::Display| anyhow::anyhow!("uploading s3://{bucket}/{object_key}: {e}");
    let mut uploads: Vec<(&String, &Vec<u8>)> = publication.uploads.iter().collect();
    uploads.sort();
    for (name, bytes) in uploads {
        let object_key = sibling_key(key, name);
        if s3.head_object().bucket(bucket).key(&object_key).send().await.is_ok() {
            continue;
        }
        let put = s3.put_object().bucket(bucket).key(&object_key).body(bytes.clone().into()).send().await;
        put.map_err(|e| failed(&object_key, &aws_sdk_s3::error::DisplayErrorContext(&e)))?;
    }
    let mut put = s3.put_object().bucket(bucket).key(key).content_type("application/json");
    if let Some(signature) = &publication.signature {
        put = put.metadata(SIGNATURE_METADATA, signature);
    }
    match put.set_if_match(if_match.map(str::to_owned)).body(publication.manifest.clone().into()).send().await {
        Ok(_) => Ok(accepted.version.0),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 412) => {
            bail!("s3://{bucket}/{key} changed while this ran (someone published): it was not replaced; run it again")
        }
        Err(e) => Err(failed(key, &aws_sdk_s3::error::DisplayErrorContext(&e))),
    }
}
