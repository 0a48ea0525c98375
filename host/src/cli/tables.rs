//! `weft tables`: lookup tables that keep themselves current. `sync` rebuilds the tables a published rule set marks
//! `sync` from the Genesys Cloud API and publishes the rule set again when one changed (the Lambdas take it by the
//! ordinary hot swap); `status` shows each table's source, size and age.

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, bail};
use weft::aws::Clients;
use weft::engine::{Engine, ModuleId};
use weft::rollout::admit::{Publication, Refusal};
use weft::rollout::source::{
    MAX_MANIFEST_BYTES, MAX_TABLE_BYTES, RuleSource, fetch_manifest, fetch_object, sibling_key,
};
use weft::rollout::tables::genesys::{Credentials, Genesys};
use weft::rollout::tables::sync_table;
use weft::rules::manifest::{Manifest, TableSpec};

use super::publish::{Destination, put_rule_set};

/// Where `sync` notes, beside the manifest, when each table was last confirmed current: a sync that changes nothing
/// publishes nothing (no new version, no swap), but the table is as fresh as the listing it matched.
const SYNC_STATUS: &str = "tables/sync-status.json";

#[derive(clap::Args)]
pub struct TablesArgs {
    #[command(subcommand)]
    command: TablesCommand,
}

#[derive(clap::Subcommand)]
enum TablesCommand {
    /// Rebuild the tables a published rule set marks `sync` from the Genesys Cloud API (OAuth client credentials
    /// from GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET), and publish the rule set again if any changed.
    Sync(SyncArgs),
    /// Each table of a published rule set: its source, rows, size, and how long ago it was synced.
    Status(StatusArgs),
}

#[derive(clap::Args)]
pub struct SyncArgs {
    /// The published rule set: s3://BUCKET/PREFIX/manifest.json.
    location: String,
    /// The organisation's region domain (mypurecloud.com, mypurecloud.ie, usw2.pure.cloud, …), or one base URL
    /// serving both the login and the API (a proxy).
    #[arg(long, env = "GENESYS_DOMAIN", default_value = "mypurecloud.com")]
    domain: String,
    /// Replace a table even when the listing has fewer rows than its `sync.minRatio` of the published one.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    sign: super::scope::SignArgs,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// The published rule set: s3://BUCKET/PREFIX/manifest.json.
    location: String,
}

pub fn tables(args: TablesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TablesCommand::Sync(args) => super::runtime()?.block_on(sync(args)),
        TablesCommand::Status(args) => super::runtime()?.block_on(status(args)),
    }
}

/// The OAuth client from the environment.
fn credentials() -> anyhow::Result<Credentials> {
    let var = |name: &str| {
        std::env::var(name).ok().filter(|v| !v.is_empty()).with_context(|| {
            format!("{name} is not set: the sync signs in to Genesys Cloud as an OAuth client (client credentials)")
        })
    };
    Ok(Credentials { client_id: var("GENESYS_CLIENT_ID")?, client_secret: var("GENESYS_CLIENT_SECRET")? })
}

/// The bucket and key of a published rule set.
fn s3_location(location: &str) -> anyhow::Result<(String, String)> {
    match RuleSource::parse(location)? {
        RuleSource::S3 { bucket, key } => Ok((bucket, key)),
        RuleSource::File(_) => bail!("`{location}`: tables are synced into a published rule set (s3://BUCKET/KEY)"),
    }
}

/// What one sync did to one table.
struct Outcome {
    rows: usize,
    changed: bool,
}

/// One sync, from the command line or the Lambda's environment.
pub struct SyncJob {
    pub location: String,
    pub domain: String,
    pub force: bool,
    pub signer: Option<super::scope::Signer>,
    /// The deployment's public keys: what the sync publishes is checked with them first.
    pub public_key: Option<String>,
    pub credentials: Credentials,
}

async fn sync(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let job = SyncJob {
        location: args.location,
        domain: args.domain,
        force: args.force,
        signer: args.sign.signer()?,
        public_key: args.sign.public_key.clone(),
        credentials: credentials()?,
    };
    for line in run_sync(job, &Clients::load().await).await? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

/// Syncs the tables of the rule set at `job.location`, publishing it again when one changed: what it did, a line
/// each.
pub async fn run_sync(job: SyncJob, clients: &Clients) -> anyhow::Result<Vec<String>> {
    let started = Instant::now();
    let (bucket, key) = s3_location(&job.location)?;
    let fetched = fetch_manifest(&clients.s3, &bucket, &key, None).await?.context("no manifest")?;
    let manifest = Manifest::parse(&fetched.bytes)?.manifest;
    let synced: Vec<(&String, &TableSpec)> = manifest.tables.iter().filter(|(_, t)| t.sync.is_some()).collect();
    if synced.is_empty() {
        bail!("{}: no table is marked `sync` (tables.NAME.sync.source)", job.location);
    }
    if job.signer.is_none() && fetched.signature.is_some() {
        bail!("{} is signed, and the Lambdas would refuse it unsigned: sign the synced rule set", job.location);
    }
    let mut api = Genesys::new(&job.domain, job.credentials)?;
    let mut document: serde_json::Value = serde_json::from_slice(&fetched.bytes)?;
    let (mut uploads, mut outcomes) = (Vec::new(), BTreeMap::new());
    for (name, table) in synced {
        let published = if job.force { None } else { published_rows(&clients.s3, &bucket, &key, table).await };
        let sync = table.sync.as_ref().expect("only synced tables");
        let built = sync_table(&mut api, name, sync, published).await?;
        let changed = repin(&mut document["tables"][name], table, built.bytes, &mut uploads);
        outcomes.insert(name.clone(), Outcome { rows: built.rows, changed });
    }
    let mut report: Vec<String> = outcomes
        .iter()
        .map(|(name, o)| format!("{name}: {} rows, {}", o.rows, if o.changed { "changed" } else { "unchanged" }))
        .collect();
    if !uploads.is_empty() {
        let (manifest, signature) =
            super::scope::manifest_bytes(job.signer.as_ref(), &clients.s3, &bucket, &key, &mut document).await?;
        let signed = if signature.is_some() { " (signed)" } else { "" };
        let publication = Publication { manifest, signature, uploads: uploads.into_iter().collect() };
        let gate = super::scope::gate(Engine::new()?, job.signer.as_ref(), job.public_key.as_deref())?;
        let at = Destination { bucket: &bucket, key: &key, active_key: &key };
        match put_rule_set(&clients.s3, &at, &publication, &gate, fetched.etag.as_deref()).await {
            Ok(version) => report.push(format!("published {version} to s3://{bucket}/{key}{signed}")),
            Err(error) => {
                let synced = report.join("; ");
                if let Some(refusal) = error.downcast_ref::<Refusal>() {
                    note_refused(&clients.s3, &bucket, &key, &outcomes, &refusal.to_string()).await?;
                }
                return Err(error.context(format!("the synced tables ({synced}) were not published")));
            }
        }
    }
    note_synced(&clients.s3, &bucket, &key, &outcomes).await?;
    report.push(format!("{} requests to Genesys Cloud in {:.1} s", api.requests, started.elapsed().as_secs_f64()));
    Ok(report)
}

/// Points the manifest's `entry` for `table` at its synced `bytes` when they changed (`tables/<sha256>.json`, the
/// hash pinned), adding the file to `uploads`; whether they changed.
fn repin(
    entry: &mut serde_json::Value,
    table: &TableSpec,
    bytes: Vec<u8>,
    uploads: &mut Vec<(String, Vec<u8>)>,
) -> bool {
    let sha = ModuleId::new("", &bytes).sha256;
    if table.sha256.as_deref() == Some(sha.as_str()) {
        return false;
    }
    let file = format!("tables/{sha}.json");
    entry["file"] = file.clone().into();
    entry["sha256"] = sha.into();
    // The synced file is JSON: the CSV columns a hand-exported table named no longer apply.
    if let Some(entry) = entry.as_object_mut() {
        entry.remove("key");
        entry.remove("value");
    }
    uploads.push((file, bytes));
    true
}

/// The rows of the table as published now (`None` when it cannot be read as a JSON object: nothing to compare).
async fn published_rows(s3: &aws_sdk_s3::Client, bucket: &str, key: &str, table: &TableSpec) -> Option<usize> {
    let bytes = fetch_object(s3, bucket, &sibling_key(key, &table.file), "table", MAX_TABLE_BYTES).await.ok()?;
    Some(serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes).ok()?.len())
}

/// Records when each table was last confirmed current, beside the manifest.
async fn note_synced(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    outcomes: &BTreeMap<String, Outcome>,
) -> anyhow::Result<()> {
    let mut status = read_status(s3, bucket, key).await;
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    for (name, outcome) in outcomes {
        status.insert(name.clone(), serde_json::json!({"syncedAt": now, "rows": outcome.rows}));
    }
    write_status(s3, bucket, key, &status).await
}

/// Records that the listings of `outcomes` made a version the Lambdas would refuse, and why: the tables keep their
/// last confirmed time (they are as stale as they were), and `weft tables status` shows the refusal until a sync
/// publishes.
async fn note_refused(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    outcomes: &BTreeMap<String, Outcome>,
    reason: &str,
) -> anyhow::Result<()> {
    let mut status = read_status(s3, bucket, key).await;
    let now = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
    for (name, outcome) in outcomes {
        let entry = status.entry(name.clone()).or_insert_with(|| serde_json::json!({}));
        entry["refusedAt"] = now.clone().into();
        entry["refusedRows"] = outcome.rows.into();
        entry["refusal"] = reason.into();
    }
    write_status(s3, bucket, key, &status).await
}

async fn write_status(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    status: &serde_json::Map<String, serde_json::Value>,
) -> anyhow::Result<()> {
    let status_key = sibling_key(key, SYNC_STATUS);
    let body = serde_json::to_vec_pretty(status)?;
    let put = s3.put_object().bucket(bucket).key(&status_key).content_type("application/json").body(body.into());
    put.send().await.map_err(|e| {
        anyhow::anyhow!("writing s3://{bucket}/{status_key}: {}", aws_sdk_s3::error::DisplayErrorContext(&e))
    })?;
    Ok(())
}

async fn read_status(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> serde_json::Map<String, serde_json::Value> {
    let status = fetch_object(s3, bucket, &sibling_key(key, SYNC_STATUS), "sync status", MAX_MANIFEST_BYTES).await;
    status.ok().and_then(|bytes| serde_json::from_slice(&bytes).ok()).unwrap_or_default()
}

async fn status(args: StatusArgs) -> anyhow::Result<ExitCode> {
    let (lines, refused) = status_lines(&args.location).await?;
    lines.iter().for_each(|line| println!("{line}"));
    Ok(if refused == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// What `weft tables status` prints, a line at a time, and how many tables' last sync was refused.
pub(crate) async fn status_lines(location: &str) -> anyhow::Result<(Vec<String>, usize)> {
    let (bucket, key) = s3_location(location)?;
    let clients = Clients::load().await;
    let fetched = fetch_manifest(&clients.s3, &bucket, &key, None).await?.context("no manifest")?;
    let manifest = Manifest::parse(&fetched.bytes)?.manifest;
    let synced = read_status(&clients.s3, &bucket, &key).await;
    let mut lines = vec![format!("{:<20} {:<12} {:>8} {:>10}  synced", "table", "source", "rows", "bytes")];
    let mut refused = 0;
    for (name, table) in &manifest.tables {
        let object = clients.s3.head_object().bucket(&bucket).key(sibling_key(&key, &table.file)).send().await;
        let bytes = object.ok().and_then(|o| o.content_length()).map_or("missing".to_owned(), |n| n.to_string());
        let source = table.sync.as_ref().map_or("file".to_owned(), |s| format!("{:?}", s.source));
        let note = &synced.get(name.as_str());
        let rows = note.and_then(|n| n["rows"].as_u64()).map_or("-".to_owned(), |n| n.to_string());
        let age = note.and_then(|n| n["syncedAt"].as_str()).and_then(|at| humantime::parse_rfc3339(at).ok());
        let age = age.and_then(|at| SystemTime::now().duration_since(at).ok());
        let refresh =
            table.sync.as_ref().and_then(|s| s.refresh_minutes).map(|m| Duration::from_secs(u64::from(m) * 60));
        let synced = match (table.sync.is_some(), age) {
            (false, _) => "-".to_owned(),
            (true, None) => "never".to_owned(),
            (true, Some(age)) => {
                let stale = refresh.is_some_and(|r| age > 2 * r);
                format!("{} ago{}", ago(age), if stale { " (stale)" } else { "" })
            }
        };
        lines.push(format!("{name:<20} {source:<12} {rows:>8} {bytes:>10}  {synced}"));
        if let Some((at, reason)) = note.and_then(refusal) {
            refused += 1;
            lines.push(format!("  the last sync was refused {} ago, nothing was published: {reason}", ago(at)));
        }
    }
    Ok((lines, refused))
}

/// A table's refusal that no sync has cleared since: how long ago, and why.
fn refusal(note: &serde_json::Value) -> Option<(Duration, &str)> {
    let at = humantime::parse_rfc3339(note["refusedAt"].as_str()?).ok()?;
    let synced = note["syncedAt"].as_str().and_then(|t| humantime::parse_rfc3339(t).ok());
    if synced.is_some_and(|synced| synced > at) {
        return None;
    }
    Some((SystemTime::now().duration_since(at).unwrap_or_default(), note["refusal"].as_str().unwrap_or("?")))
}

/// An age to the second, for people.
fn ago(age: Duration) -> humantime::FormattedDuration {
    humantime::format_duration(Duration::from_secs(age.as_secs()))
}
