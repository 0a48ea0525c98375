//! Where a rule set comes from — a local manifest, or `s3://BUCKET/PREFIX/manifest.json` — and everything done to
//! it before it may run: fetch, signature, hashes, compile, self-test. The Lambda, `weft run --rules` and
//! `weft rules publish` all go through here, so a rule set is accepted or refused the same way everywhere.
//!
//! In S3 the manifest names its modules and tables by content hash under the same prefix (`modules/<sha256>.wasm`,
//! `tables/<sha256>.csv`), as `weft rules publish` lays them out; only `.wasm` is fetched and compiled here, never
//! native code, so write access to the bucket never becomes code execution in the Lambda's role.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use ed25519_dalek::VerifyingKey;

use crate::engine::{Engine, Limits};
use crate::judge::check::run_cases;
pub use crate::rollout::fetch::{
    FetchedManifest, MAX_MANIFEST_BYTES, MAX_PRECOMPILED_BYTES, MAX_TABLE_BYTES, Prefetched, fetch_files,
    fetch_manifest, fetch_object, sibling_key,
};
use crate::rules::golden::Case;
use crate::rules::manifest::{Fetch, LocalFiles, Manifest, ManifestError, Parsed};
use crate::rules::signing::{self, SignatureError};
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

impl Trust {
    /// What a version must meet to replace one whose signed sequence is `active`: these keys and deployment, and a
    /// sequence above the active one as well as this floor (an older or equal one is refused as replayed).
    pub fn above(&self, active: Option<u64>) -> Trust {
        let min_sequence = active.map_or(self.min_sequence, |s| self.min_sequence.max(s.saturating_add(1)));
        Trust { min_sequence, ..self.clone() }
    }
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
    if fetched.etag.is_some() && fetched.etag.as_deref() == if_none_match {
        return Ok(None);
    }
    let etag = fetched.etag.clone();
    let at = S3Location { s3, bucket, key };
    check(&at, fetched, &HashMap::new(), engine, limits, trust).await.map(Some).map_err(|error| Refused { etag, error })
}

/// Where a manifest is, or is about to be, in S3: the files it names are read beside it.
pub struct S3Location<'a> {
    pub s3: &'a aws_sdk_s3::Client,
    pub bucket: &'a str,
    pub key: &'a str,
}

/// Every check on a manifest's bytes as they are (or will be) at `at`: signature and trust floor, then the files it
/// names (from `pending` when they are about to be uploaded with it, else from S3), hashes, compile within the
/// engine's budget, self-test. The one judgement of a rule set: the Lambda's loads and every writer's check before
/// it writes ([`crate::rollout::admit`]) both come here.
pub async fn check(
    at: &S3Location<'_>,
    fetched: FetchedManifest,
    pending: &HashMap<String, Vec<u8>>,
    engine: &Engine,
    limits: &Limits,
    trust: &Trust,
) -> Result<Accepted, SourceError> {
    let parsed = verify(&fetched, trust)?;
    let files = fetch_files(at.s3, at.bucket, at.key, &parsed, limits.module_bytes, pending).await?;
    let (engine, limits, etag) = (engine.clone(), limits.clone(), fetched.etag.clone());
    match tokio::task::spawn_blocking(move || build(&parsed, &files, &engine, &limits, etag)).await {
        Ok(built) => built.map(|accepted| Accepted { published: fetched.published, ..accepted }),
        Err(join) => Err(SourceError::Unreachable { location: "compile".into(), reason: join.to_string() }),
    }
}

/// Runs the manifest's golden cases on the rule set about to be activated (warming its instances too); the first
/// that fails refuses it, by name.
pub fn self_test(rules: RuleSet, cases: &[Case]) -> Result<RuleSet, SourceError> {
    let (rules, results) = run_cases(rules, cases);
    match results.into_iter().find(|(_, diffs)| !diffs.is_empty()) {
        Some((name, diffs)) => Err(SourceError::SelfTest(format!("{name}: {}", diffs.join("; ")))),
        None => Ok(rules),
    }
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
