//! `weft rules status`, `promote` and `rollback`: what an S3 rule set location holds, what the deployments run,
//! making the candidate active, and putting an earlier version back (or withdrawing the candidate).
//!
//! The rules bucket is versioned (the Terraform module turns versioning on), so "the previous version" is the
//! manifest object's previous S3 version. A rollback writes it over the current one with its signature — or, given a
//! key, signed again with a new sequence (a Lambda refuses an older signed sequence as a replay). Promote and
//! rollback write through `put_rule_set`, whose gate first loads the bytes as the deployment's Lambdas would: a
//! version they would refuse is not written. Each Lambda container picks it up at its next poll.

use std::process::ExitCode;

use anyhow::{Context, bail};
use weft::aws::Clients;
use weft::engine::Engine;
use weft::rollout::admit::Publication;
use weft::rollout::reload::{Reloader, Status};
use weft::rollout::source::{RuleSource, sibling_key};
use weft::rules::RuleSetVersion;
use weft::rules::manifest::Manifest;

use super::publish::{Destination, put_rule_set};

#[derive(clap::Args)]
pub struct StatusArgs {
    /// s3://BUCKET/PREFIX/manifest.json
    location: String,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    /// s3://BUCKET/PREFIX/manifest.json
    location: String,
    /// The S3 version id of the manifest to put back (default: the one before the current version).
    #[arg(long, value_name = "VERSION_ID", conflicts_with = "candidate")]
    to: Option<String>,
    /// Withdraw the candidate (shadow or canary) instead; the active version stays.
    #[arg(long)]
    candidate: bool,
    /// A signed version is put back signed again, with a new sequence (a Lambda refuses an older one as replayed).
    #[command(flatten)]
    sign: super::scope::SignArgs,
}

fn s3_location(location: &str) -> anyhow::Result<(String, String)> {
    match RuleSource::parse(location)? {
        RuleSource::S3 { bucket, key } => Ok((bucket, key)),
        RuleSource::File(_) => bail!("`{location}` is not an s3:// location"),
    }
}

#[derive(clap::Args)]
pub struct PromoteArgs {
    /// s3://BUCKET/PREFIX/manifest.json (the candidate is PREFIX/candidate.json)
    location: String,
    /// A signed candidate older than the active version (a rollback since?) is signed again with a new sequence.
    #[command(flatten)]
    sign: super::scope::SignArgs,
}

/// Writes `bytes` (with their `signature`) over the manifest at `key`, or signed again with a new scope when `sign`
/// gives a key (a version put back or promoted that a deployment would otherwise refuse as older than what it
/// runs), through the gate: the version written, and whether it was signed again.
async fn write_over(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    (bytes, signature): (Vec<u8>, Option<String>),
    sign: &super::scope::SignArgs,
) -> anyhow::Result<(String, bool)> {
    let signer = sign.signer()?;
    let gate = super::scope::gate(Engine::new()?, signer.as_ref(), sign.public_key.as_deref())?;
    let (manifest, signature) = match &signer {
        Some(signer) => {
            let mut document: serde_json::Value = serde_json::from_slice(&bytes).context("that version is not JSON")?;
            let (manifest, signature) = signer.sign(s3, bucket, key, &mut document).await?;
            (manifest, Some(signature))
        }
        None => (bytes, signature),
    };
    let publication = Publication { manifest, signature, uploads: Default::default() };
    let at = Destination { bucket, key, active_key: key };
    Ok((put_rule_set(s3, &at, &publication, &gate, None).await?, signer.is_some()))
}

/// One stored version of the manifest.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Published {
    /// `label@sha12`, as dead letters and lineage name it.
    version: String,
    s3_version_id: Option<String>,
    last_modified: Option<String>,
    signed: bool,
}

/// The manifest's stored versions, newest first (just the current one when the bucket keeps no versions).
async fn published(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<Vec<Published>> {
    let listed = s3.list_object_versions().bucket(bucket).prefix(key).send().await;
    let mut ids: Vec<(Option<String>, Option<String>)> = match listed {
        Ok(listed) => listed
            .versions()
            .iter()
            .filter(|v| v.key() == Some(key))
            .map(|v| (v.version_id().map(str::to_owned), v.last_modified().map(|t| t.to_string())))
            .collect(),
        Err(_) => Vec::new(),
    };
    if ids.is_empty() {
        ids.push((None, None));
    }
    let mut out = Vec::with_capacity(ids.len());
    for (id, last_modified) in ids.into_iter().take(5) {
        let object = s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(id.clone().filter(|id| id != "null"))
            .send()
            .await
            .with_context(|| format!("reading s3://{bucket}/{key}"))?;
        let signed = object.metadata().is_some_and(|m| m.contains_key(weft::rules::signing::SIGNATURE_METADATA));
        let bytes = object.body.collect().await?.into_bytes();
        let version = match Manifest::parse(&bytes) {
            Ok(parsed) => RuleSetVersion::new(parsed.manifest.name.as_deref(), &parsed.sha256).0,
            Err(e) => format!("(not a manifest: {e})"),
        };
        out.push(Published { version, s3_version_id: id, last_modified, signed });
    }
    Ok(out)
}

/// What each deployment reported (`PREFIX/status/*.json`), by function.
async fn deployments(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Vec<(String, Status)> {
    let status_key = Reloader::status_key(key);
    let prefix = &status_key[..status_key.rfind('/').map_or(0, |i| i + 1)];
    let Ok(listed) = s3.list_objects_v2().bucket(bucket).prefix(prefix).send().await else { return Vec::new() };
    let mut out = Vec::new();
    for object in listed.contents() {
        let Some(name) = object.key() else { continue };
        let Ok(got) = s3.get_object().bucket(bucket).key(name).send().await else { continue };
        let Ok(bytes) = got.body.collect().await else { continue };
        if let Ok(status) = serde_json::from_slice::<Status>(&bytes.into_bytes()) {
            let function = name.rsplit('/').next().unwrap_or(name).trim_end_matches(".json").to_owned();
            out.push((function, status));
        }
    }
    out
}

pub async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    println!("{}", serde_json::to_string_pretty(&status_of(&args.location).await?)?);
    Ok(ExitCode::SUCCESS)
}

/// What `weft rules status` prints for a published rule set: its version, the candidate, the versions before it,
/// and what each deployment last said it runs.
pub(crate) async fn status_of(location: &str) -> anyhow::Result<serde_json::Value> {
    let (bucket, key) = s3_location(location)?;
    let s3 = Clients::load().await.rules_s3();
    let published = published(&s3, &bucket, &key).await?;
    let deployments: serde_json::Map<String, serde_json::Value> = deployments(&s3, &bucket, &key)
        .await
        .into_iter()
        .map(|(function, status)| (function, serde_json::to_value(status).expect("status serialises")))
        .collect();
    let candidate =
        candidate(&s3, &bucket, &key).await?.map(|(bytes, signature)| candidate_summary(&bytes, signature.is_some()));
    Ok(serde_json::json!({
        "location": location,
        "published": published.first(),
        "candidate": candidate,
        "earlier": &published[1.min(published.len())..],
        "deployments": deployments,
    }))
}

/// The candidate published beside the manifest at `key`: its bytes and signature (`None`: there is none).
async fn candidate(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
) -> anyhow::Result<Option<(Vec<u8>, Option<String>)>> {
    // Read as a Lambda reads it: bounded, and a missing object told from an unreachable one.
    match weft::rollout::source::fetch_manifest(s3, bucket, &sibling_key(key, "candidate.json"), None).await {
        Ok(fetched) => Ok(fetched.map(|f| (f.bytes, f.signature))),
        Err(weft::rollout::source::SourceError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// What `weft rules status` says of a candidate.
fn candidate_summary(bytes: &[u8], signed: bool) -> serde_json::Value {
    match Manifest::parse(bytes) {
        Ok(parsed) => serde_json::json!({
            "version": RuleSetVersion::new(parsed.manifest.name.as_deref(), &parsed.sha256).0,
            "rollout": parsed.manifest.rollout,
            "signed": signed,
        }),
        Err(e) => serde_json::json!({"version": format!("(not a manifest: {e})")}),
    }
}

/// Makes the candidate the active version: its very bytes (same version, same signature) over the manifest, or
/// signed again when a key is given, once the gate has loaded them as a deployment would; then the candidate is
/// removed. Deployments see both in one check, so a canary's conversations stay on it throughout.
pub async fn promote(args: PromoteArgs) -> anyhow::Result<ExitCode> {
    let (bucket, key) = s3_location(&args.location)?;
    let s3 = Clients::load().await.rules_s3();
    let candidate_key = sibling_key(&key, "candidate.json");
    let Some((bytes, signature)) = candidate(&s3, &bucket, &key).await? else {
        bail!(
            "no candidate at s3://{bucket}/{candidate_key}: publish one with `weft rules publish --shadow` or --canary"
        )
    };
    let (version, _) = write_over(&s3, &bucket, &key, (bytes, signature), &args.sign)
        .await
        .with_context(|| format!("nothing was promoted; the candidate stays at s3://{bucket}/{candidate_key}"))?;
    s3.delete_object().bucket(&bucket).key(&candidate_key).send().await.with_context(|| {
        format!("{version} is active, but s3://{bucket}/{candidate_key} could not be removed: delete it")
    })?;
    println!("promoted {version} to s3://{bucket}/{key}; deployments switch at their next poll");
    Ok(ExitCode::SUCCESS)
}

/// Withdraws the candidate: deployments stop running it at their next poll; the active version is untouched.
async fn withdraw(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> anyhow::Result<ExitCode> {
    let candidate_key = sibling_key(key, "candidate.json");
    let Some((bytes, signature)) = candidate(s3, bucket, key).await? else {
        bail!("no candidate at s3://{bucket}/{candidate_key} to withdraw")
    };
    s3.delete_object()
        .bucket(bucket)
        .key(&candidate_key)
        .send()
        .await
        .with_context(|| format!("deleting s3://{bucket}/{candidate_key}"))?;
    let version = candidate_summary(&bytes, signature.is_some())["version"].as_str().unwrap_or_default().to_owned();
    println!(
        "withdrew the candidate {version} from s3://{bucket}/{candidate_key}; deployments drop it at their next poll"
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let (bucket, key) = s3_location(&args.location)?;
    let s3 = Clients::load().await.rules_s3();
    if args.candidate {
        return withdraw(&s3, &bucket, &key).await;
    }
    let published = published(&s3, &bucket, &key).await?;
    let target = match &args.to {
        Some(id) => published.iter().find(|p| p.s3_version_id.as_deref() == Some(id.as_str())),
        None => published.get(1),
    };
    let Some(target) = target else {
        bail!(
            "no earlier version of s3://{bucket}/{key} to roll back to (is versioning on for the bucket? `weft rules status` lists the versions)"
        );
    };
    let id = target.s3_version_id.as_deref().context("that version has no S3 version id")?;
    let old = s3.get_object().bucket(&bucket).key(&key).version_id(id).send().await.context("reading that version")?;
    let signature = old.metadata().and_then(|m| m.get(weft::rules::signing::SIGNATURE_METADATA)).cloned();
    let bytes = old.body.collect().await.context("reading that version")?.into_bytes().to_vec();
    let (_, signed_again) = write_over(&s3, &bucket, &key, (bytes, signature), &args.sign)
        .await
        .with_context(|| format!("nothing was rolled back: s3://{bucket}/{key} is as it was"))?;
    let again = if signed_again { ", signed again with a new sequence" } else { "" };
    println!(
        "rolled back s3://{bucket}/{key} to {} (S3 version {id}){again}; deployments load it at their next poll",
        target.version
    );
    Ok(ExitCode::SUCCESS)
}
