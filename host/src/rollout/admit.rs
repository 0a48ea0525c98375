//! The gate before a manifest is written to S3. Every writer — `weft rules publish`, `promote` and `rollback`,
//! `weft tables sync` and its scheduled Lambda — hands over the exact bytes it is about to put, and they go through
//! the Lambda's own checks ([`source::check`]: signature and trust floor, hashes, compile budget, self-tests), with
//! the files it is about to upload standing in for their S3 objects. What the Lambdas would refuse is never
//! written: a refused version in S3 is not a rollout, it is every container keeping the old one while the
//! publisher believes the new one is live.

use std::collections::HashMap;

use crate::engine::{Engine, Limits, ModuleId};
use crate::rollout::source::{self, Accepted, FetchedManifest, S3Location, SourceError, Trust};
use crate::rules::RuleSetVersion;
use crate::rules::manifest::Manifest;
use crate::rules::signing;

/// A manifest as it is about to be written, and the files to be uploaded with it.
pub struct Publication {
    /// The manifest's bytes, exactly as they will be put.
    pub manifest: Vec<u8>,
    /// Its signature (hex), as it will be put in the object's metadata.
    pub signature: Option<String>,
    /// Files about to be uploaded beside it, by the name the manifest gives them; everything else it names is read
    /// from S3 as a Lambda reads it.
    pub uploads: HashMap<String, Vec<u8>>,
}

/// Loads `publication` as a Lambda would load it from `s3://bucket/key` with `trust`: `Ok` when every check passes,
/// else what failed (the test, the table, the module, the signature).
pub async fn admit(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    publication: &Publication,
    engine: &Engine,
    limits: &Limits,
    trust: &Trust,
) -> Result<Accepted, SourceError> {
    let fetched = FetchedManifest {
        bytes: publication.manifest.clone(),
        etag: None,
        signature: publication.signature.clone(),
        published: None,
    };
    source::check(&S3Location { s3, bucket, key }, fetched, &publication.uploads, engine, limits, trust).await
}

/// What every write of a manifest is checked with: the engine and limits a Lambda loads with, and what the
/// deployment's Lambdas trust (their keys, deployment and least sequence) as far as the writer knows it.
pub struct Gate {
    pub engine: Engine,
    pub limits: Limits,
    pub floor: Trust,
}

/// A publication the Lambdas would refuse: not written.
#[derive(Debug, thiserror::Error)]
#[error("{version} was not written to {location}: the Lambdas would refuse it: {error}")]
pub struct Refusal {
    pub version: String,
    pub location: String,
    pub error: SourceError,
}

impl Gate {
    /// Checks `publication`, about to be written at `s3://bucket/key`, as a Lambda running the version now at
    /// `active_key` would check it (its sequence above that version's); the version it would run.
    ///
    /// A signed publication with no key to verify it with (its very bytes promoted or put back, and the deployment's
    /// key not given) cannot have its signature checked here; its scope is checked all the same — deployment,
    /// sequence above the floor, expiry — as a deployment that requires signatures checks it, and the rest as one
    /// that does not.
    pub async fn admit(
        &self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        active_key: &str,
        publication: &Publication,
    ) -> Result<Accepted, Refusal> {
        let refused = |error| Refusal {
            version: version_of(&publication.manifest),
            location: format!("s3://{bucket}/{key}"),
            error,
        };
        let trust = self.floor.above(active_sequence(s3, bucket, active_key).await);
        if publication.signature.is_some() && trust.public_keys.is_empty() {
            let parsed = Manifest::parse(&publication.manifest).map_err(|e| refused(e.into()))?;
            let scope = parsed.manifest.scope.as_ref();
            signing::check_scope(scope, trust.deployment.as_deref(), trust.min_sequence)
                .map_err(|e| refused(e.into()))?;
        }
        admit(s3, bucket, key, publication, &self.engine, &self.limits, &trust).await.map_err(refused)
    }

    /// Whether a signed publication's signature is verified (a key is known), or only its scope.
    pub fn verifies_signatures(&self) -> bool {
        !self.floor.public_keys.is_empty()
    }
}

/// The signed sequence of the manifest now at `s3://bucket/key`, if there is one (read as a Lambda reads it).
pub async fn active_sequence(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<u64> {
    let fetched = source::fetch_manifest(s3, bucket, key, None).await.ok()??;
    Manifest::parse(&fetched.bytes).ok()?.manifest.scope.map(|scope| scope.sequence)
}

/// `label@sha12` of a manifest's bytes, as lineage and dead letters name it (its name read leniently: a manifest
/// that does not parse is refused by the check, with the reason).
pub fn version_of(manifest: &[u8]) -> String {
    let document: Option<serde_json::Value> = serde_json::from_slice(manifest).ok();
    let label = document.as_ref().and_then(|d| d["name"].as_str());
    RuleSetVersion::new(label, &ModuleId::new("", manifest).sha256).0
}
