//! Where a rule set comes from — a local manifest, or `s3://BUCKET/PREFIX/manifest.json` — and everything done to
//! it before it may run: fetch, signature, hashes, compile, self-test. The Lambda, `weft run --rules` and
//! `weft rules publish` all go through here, so a rule set is accepted or refused the same way everywhere.
//!
//! In S3 the manifest names its modules and tables by content hash under the same prefix (`modules/<sha256>.wasm`,
//! `tables/<sha256>.csv`), as `weft rules publish` lays them out; only `.wasm` is fetched and compiled here, never
//! native code, so write access to the bucket never becomes code execution in the Lambda's role.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ed25519_dalek::VerifyingKey;

use crate::engine::{Engine, Limits};
use crate::judge::Judge;
use crate::judge::check::check;
use crate::rules::golden::Case;
use crate::rules::manifest::{Fetch, LocalFiles, Manifest, ManifestError, Parsed};
use crate::rules::signing::{self, SIGNATURE_METADATA, SignatureError};
use crate::rules::{RuleSet, RuleSetVersion};

/// Where the rule set is read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RuleSource {
    File(PathBuf),
    S3 { bucket: String, key: String },
}

impl RuleSource {
    /// `s3://bucket/prefix/manifest.json`, or a local path.
    pub fn parse(text: &str) -> Result<RuleSource, SourceError> {
        let Some(rest) = text.strip_prefix("s3://") else { return Ok(RuleSource::File(text.into())) };
        match rest.split_once('/') {
            Some((bucket, key)) if !bucket.is_empty() && !key.is_empty() && !key.ends_with('/') => {
                Ok(RuleSource::S3 { bucket: bucket.to_owned(), key: key.to_owned() })
            }
            _ => Err(SourceError::BadLocation(text.to_owned())),
        }
    }
}

impl std::fmt::Display for RuleSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RuleSource::File(path) => write!(f, "{}", path.display()),
            RuleSource::S3 { bucket, key } => write!(f, "s3://{bucket}/{key}"),
        }
    }
}

/// Why a rule set was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("`{0}` is not a rule set location (s3://BUCKET/KEY or a path)")]
    BadLocation(String),
    #[error("{location}: {reason}")]
    Unreachable { location: String, reason: String },
    #[error("{location}: no such key (NoSuchKey): nothing is published there")]
    NotFound { location: String },
    #[error("{location} has no `rollout` (a candidate is published with `weft rules publish --shadow` or --canary)")]
    NoRollout { location: String },
    #[error(transparent)]
    Signature(#[from] SignatureError),
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("self-test failed: {0}")]
    SelfTest(String),
    #[error("{location}: {bytes} bytes is over the {limit} a rule set's {what} may have")]
    TooLarge { location: String, what: &'static str, bytes: u64, limit: u64 },
}

impl SourceError {
    /// A short stable class for metrics (the reason itself is in the log line and the status).
    pub fn class(&self) -> &'static str {
        match self {
            SourceError::BadLocation(_) => "location",
            SourceError::Unreachable { .. } => "unreachable",
            SourceError::NotFound { .. } => "not-found",
            SourceError::NoRollout { .. } => "manifest",
            SourceError::Signature(_) => "signature",
            SourceError::Manifest(_) => "manifest",
            SourceError::SelfTest(_) => "self-test",
            SourceError::TooLarge { .. } => "too-large",
        }
    }

    /// S3 gave no manifest to judge (it could not be reached, or the object is not there): tried again at the
    /// next poll, and the rule set's age keeps growing.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, SourceError::Unreachable { .. } | SourceError::NotFound { .. })
    }
}

/// A manifest as fetched: its bytes, its ETag and signature when it came from S3.
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub signature: Option<String>,
    /// When it was published (S3's Last-Modified): the metrics report how long a swap took from there.
    pub published: Option<SystemTime>,
}

/// What must hold before a rule set may run.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// When not empty, the manifest must carry a valid signature by one of these keys, pin every file, and have a
    /// scope for this deployment, not expired, with a sequence of at least `min_sequence`.
    pub public_keys: Vec<VerifyingKey>,
    /// This deployment's name (`WEFT_DEPLOYMENT`): a signed manifest for another is refused.
    pub deployment: Option<String>,
    /// The lowest sequence accepted: `WEFT_RULES_MIN_SEQUENCE` at a cold start, one more than the active version's
    /// afterwards.
    pub min_sequence: u64,
}

/// A rule set that passed every check, ready to run.
pub struct Accepted {
    pub rules: RuleSet,
    pub version: RuleSetVersion,
    pub etag: Option<String>,
    pub published: Option<SystemTime>,
    /// The signed scope's sequence, when the manifest has one: the next version must be higher.
    pub sequence: Option<u64>,
    /// How it runs when it is a candidate.
    pub rollout: Option<crate::rules::manifest::Rollout>,
}

/// The S3 key of a file a manifest at `manifest_key` names (`name` is relative to the manifest's prefix).
pub fn sibling_key(manifest_key: &str, name: &str) -> String {
    match manifest_key.rsplit_once('/') {
        Some((prefix, _)) => format!("{prefix}/{name}"),
        None => name.to_owned(),
    }
}

/// GETs the manifest; `None` when it has not changed since `etag` (a conditional GET, If-None-Match).
pub async fn fetch_manifest(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    etag: Option<&str>,
) -> Result<Option<FetchedManifest>, SourceError> {
    let location = format!("s3://{bucket}/{key}");
    let answer = s3.get_object().bucket(bucket).key(key).set_if_none_match(etag.map(str::to_owned)).send().await;
    let object = match answer {
        Ok(object) => object,
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 304) => return Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => {
            return Err(SourceError::NotFound { location });
        }
        Err(e) => {
            let reason = aws_sdk_s3::error::DisplayErrorContext(&e).to_string();
            return Err(SourceError::Unreachable { location, reason });
        }
    };
    let etag = object.e_tag().map(str::to_owned);
    let published = object.last_modified().and_then(|at| {
        let secs = u64::try_from(at.secs()).ok()?;
        Some(UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(at.subsec_nanos().into()))
    });
    let signature = object.metadata().and_then(|m| m.get(SIGNATURE_METADATA)).cloned();
    let bytes = read_bounded(object, &location, "manifest", MAX_MANIFEST_BYTES).await?;
    Ok(Some(FetchedManifest { bytes, etag, signature, published }))
}

/// Every file a manifest names, fetched from S3 beside it (concurrently).
pub async fn fetch_files(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest_key: &str,
    parsed: &Parsed,
    max_module_bytes: usize,
) -> Result<Prefetched, SourceError> {
    let tables = parsed.manifest.tables.values().map(|t| (t.file.clone(), "table", MAX_TABLE_BYTES));
    let modules = parsed.manifest.rules.iter().flat_map(|rule| {
        let modules = rule.modules.iter().filter(|m| m.module != crate::rules::embedded::DEFAULT_RULE);
        modules.map(|m| (m.module.clone(), "module", max_module_bytes as u64))
    });
    // Native code only from a signed rule set, and only the form this build can load.
    let native = parsed.manifest.rules.iter().flat_map(|rule| &rule.modules).flat_map(|m| &m.precompiled);
    let native = native.filter(|p| parsed.signed && p.target == crate::engine::TARGET);
    let native = native.map(|p| (p.file.clone(), "precompiled module", MAX_PRECOMPILED_BYTES));
    let mut names: Vec<(String, &'static str, u64)> = tables.chain(modules).chain(native).collect();
    names.sort();
    names.dedup_by(|a, b| a.0 == b.0);
    let mut tasks = tokio::task::JoinSet::new();
    for (name, what, limit) in names {
        let (s3, bucket, key) = (s3.clone(), bucket.to_owned(), sibling_key(manifest_key, &name));
        tasks.spawn(async move { Ok::<_, SourceError>((name, fetch_object(&s3, &bucket, &key, what, limit).await?)) });
    }
    let mut files = HashMap::new();
    while let Some(done) = tasks.join_next().await {
        let (name, bytes) =
            done.map_err(|e| SourceError::Unreachable { location: "s3".into(), reason: e.to_string() })??;
        files.insert(name, bytes);
    }
    Ok(Prefetched(files))
}

/// One object beside a manifest (`what` names it in errors), read within `limit` bytes.
pub async fn fetch_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    what: &'static str,
    limit: u64,
) -> Result<Vec<u8>, SourceError> {
    let location = format!("s3://{bucket}/{key}");
    let object = s3.get_object().bucket(bucket).key(key).send().await.map_err(|e| SourceError::Unreachable {
        location: location.clone(),
        reason: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
    })?;
    read_bounded(object, &location, what, limit).await
}

/// The largest manifest weft reads (the combined example is 4 KiB).
pub const MAX_MANIFEST_BYTES: u64 = 1024 * 1024;
/// The largest precompiled module weft reads: native code is several times the size of its `.wasm`.
pub const MAX_PRECOMPILED_BYTES: u64 = 256 * 1024 * 1024;
/// The largest table file weft reads: tables are held in memory by every container.
pub const MAX_TABLE_BYTES: u64 = 32 * 1024 * 1024;

/// An object's body, refused before it is read when its Content-Length is over `limit`, and cut off when more
/// than `limit` bytes arrive whatever the header said: a rules bucket is not trusted to size what it serves.
async fn read_bounded(
    object: aws_sdk_s3::operation::get_object::GetObjectOutput,
    location: &str,
    what: &'static str,
    limit: u64,
) -> Result<Vec<u8>, SourceError> {
    let too_large = |bytes| SourceError::TooLarge { location: location.to_owned(), what, bytes, limit };
    let declared = object.content_length().and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    if declared > limit {
        return Err(too_large(declared));
    }
    let mut body = object.body;
    let mut bytes = Vec::with_capacity(declared as usize);
    loop {
        let chunk = body.try_next().await.map_err(|e| SourceError::Unreachable {
            location: location.to_owned(),
            reason: format!("reading the body: {e}"),
        })?;
        let Some(chunk) = chunk else { return Ok(bytes) };
        if (bytes.len() + chunk.len()) as u64 > limit {
            return Err(too_large((bytes.len() + chunk.len()) as u64));
        }
        bytes.extend_from_slice(&chunk);
    }
}

/// Files fetched ahead of loading (the loader itself is synchronous and CPU-bound).
pub struct Prefetched(pub HashMap<String, Vec<u8>>);

impl Fetch for Prefetched {
    fn fetch(&self, name: &str) -> Result<Vec<u8>, String> {
        self.0.get(name).cloned().ok_or_else(|| format!("{name} was not fetched"))
    }
}

/// The checks on the manifest's own bytes, before anything it names is fetched: its signature, then its parse.
pub fn verify(fetched: &FetchedManifest, trust: &Trust) -> Result<Parsed, SourceError> {
    if trust.public_keys.is_empty() {
        return Ok(Manifest::parse(&fetched.bytes)?);
    }
    signing::verify(&trust.public_keys, &fetched.bytes, fetched.signature.as_deref())?;
    let parsed = Manifest::parse(&fetched.bytes)?;
    // Modules always carry their hash; a table without one would change under an unchanged signature.
    if let Some((name, _)) = parsed.manifest.tables.iter().find(|(_, table)| table.sha256.is_none()) {
        return Err(SignatureError::UnpinnedTable(name.clone()).into());
    }
    signing::check_scope(parsed.manifest.scope.as_ref(), trust.deployment.as_deref(), trust.min_sequence)?;
    Ok(Parsed { signed: true, ..parsed })
}

/// Hashes, compile, world, the whole set, self-test: the rest of the checks. CPU-bound (Cranelift): run it off the
/// invocation path.
pub fn build(
    parsed: &Parsed,
    files: &dyn Fetch,
    engine: &Engine,
    limits: &Limits,
    etag: Option<String>,
) -> Result<Accepted, SourceError> {
    let rules = parsed.load(engine, limits, files)?;
    let rules = self_test(rules, &parsed.manifest.tests)?;
    let version = rules.version().cloned().expect("a rule set from a manifest has a version");
    let sequence = parsed.manifest.scope.as_ref().map(|scope| scope.sequence);
    let rollout = parsed.manifest.rollout;
    Ok(Accepted { rules, version, etag, published: None, sequence, rollout })
}

/// An S3 rule set that was not accepted, with its manifest's ETag when the manifest itself was fetched.
pub struct Refused {
    pub etag: Option<String>,
    pub error: SourceError,
}

/// Fetches and checks the rule set at `s3://bucket/key`: `Ok(None)` when the manifest still has the ETag
/// `if_none_match`. The cold start, `weft run --rules` and the reloader's background checks all come here.
pub async fn load_s3(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    if_none_match: Option<&str>,
    engine: &Engine,
    limits: &Limits,
    trust: &Trust,
) -> Result<Option<Accepted>, Refused> {
    let fetched = match fetch_manifest(s3, bucket, key, if_none_match).await {
        Ok(Some(fetched)) => fetched,
        Ok(None) => return Ok(None),
        Err(error) => return Err(Refused { etag: None, error }),
    };
    let etag = fetched.etag.clone();
    if etag.is_some() && etag.as_deref() == if_none_match {
        return Ok(None);
    }
    let refused = |error| Refused { etag: etag.clone(), error };
    let parsed = verify(&fetched, trust).map_err(refused)?;
    let files = fetch_files(s3, bucket, key, &parsed, limits.module_bytes).await.map_err(refused)?;
    let (engine, limits, tag) = (engine.clone(), limits.clone(), etag.clone());
    match tokio::task::spawn_blocking(move || build(&parsed, &files, &engine, &limits, tag)).await {
        Ok(built) => built.map(|accepted| Some(Accepted { published: fetched.published, ..accepted })).map_err(refused),
        Err(join) => Err(refused(SourceError::Unreachable { location: "compile".into(), reason: join.to_string() })),
    }
}

/// Runs the manifest's golden cases on the rule set about to be activated (warming its instances too).
pub fn self_test(rules: RuleSet, cases: &[Case]) -> Result<RuleSet, SourceError> {
    if cases.is_empty() {
        return Ok(rules);
    }
    let mut judge = Judge::new(rules).with_batch_size(1);
    for (i, case) in cases.iter().enumerate() {
        let diffs = check(&mut judge, case);
        if !diffs.is_empty() {
            let name = case.name.clone().unwrap_or_else(|| format!("tests[{i}]"));
            return Err(SourceError::SelfTest(format!("{name}: {}", diffs.join("; "))));
        }
    }
    Ok(judge.into_rules())
}

/// Loads a rule set from `source` now (cold start, `weft run --rules`), with every check.
pub async fn load(
    source: &RuleSource,
    s3: Option<&aws_sdk_s3::Client>,
    engine: &Engine,
    limits: &Limits,
    trust: &Trust,
) -> Result<Accepted, SourceError> {
    match source {
        RuleSource::File(path) => {
            let bytes = std::fs::read(path).map_err(|e| SourceError::Unreachable {
                location: path.display().to_string(),
                reason: e.to_string(),
            })?;
            let signature = std::fs::read_to_string(signature_file(path)).ok();
            let parsed = verify(&FetchedManifest { bytes, etag: None, signature, published: None }, trust)?;
            build(&parsed, &LocalFiles(path.parent().unwrap_or(Path::new("."))), engine, limits, None)
        }
        RuleSource::S3 { bucket, key } => {
            let s3 = s3.expect("an S3 source comes with an S3 client");
            let accepted = load_s3(s3, bucket, key, None, engine, limits, trust).await.map_err(|r| r.error)?;
            Ok(accepted.expect("an unconditional GET has a body"))
        }
    }
}

/// A local manifest's signature sits beside it, in `<manifest>.sig` (hex).
pub fn signature_file(manifest: &Path) -> PathBuf {
    let mut name = manifest.as_os_str().to_owned();
    name.push(".sig");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_siblings_sit_under_the_same_prefix() {
        assert_eq!(
            RuleSource::parse("s3://b/p/q/manifest.json").unwrap(),
            RuleSource::S3 { bucket: "b".into(), key: "p/q/manifest.json".into() }
        );
        assert_eq!(RuleSource::parse("rules/x.json").unwrap(), RuleSource::File("rules/x.json".into()));
        assert!(RuleSource::parse("s3://bucket-only").is_err());
        assert!(RuleSource::parse("s3://b/prefix/").is_err());
        assert_eq!(sibling_key("p/q/manifest.json", "modules/ab.wasm"), "p/q/modules/ab.wasm");
        assert_eq!(sibling_key("manifest.json", "modules/ab.wasm"), "modules/ab.wasm");
    }
}
