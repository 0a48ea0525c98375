//! Signing a publication (`weft rules publish --key`, `weft rules rollback --key`): the manifest gets a `scope` —
//! the deployment it is for, a sequence above what is published, an optional expiry — and is signed with it, so a
//! Lambda refuses it anywhere else, later replayed, or after it expires.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use weft::rules::manifest::Manifest;

#[derive(clap::Args)]
pub struct SignArgs {
    /// Sign the manifest with this private key (from `weft rules keygen`).
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// The deployment the signature is for: the Lambda's WEFT_DEPLOYMENT (required with --key).
    #[arg(long, value_name = "NAME", requires = "key")]
    deployment: Option<String>,
    /// When the signature stops counting (RFC 3339, e.g. 2027-06-30T00:00:00Z).
    #[arg(long, value_name = "TIME", requires = "key")]
    expires: Option<String>,
}

pub struct Signer {
    key: SigningKey,
    deployment: String,
    expires: Option<String>,
}

impl SignArgs {
    /// The signer the flags ask for (`None`: publish unsigned).
    pub fn signer(&self) -> anyhow::Result<Option<Signer>> {
        let Some(file) = &self.key else { return Ok(None) };
        let Some(deployment) = self.deployment.clone() else {
            bail!(
                "--key needs --deployment: the signature says which deployment it is for (the Lambda's WEFT_DEPLOYMENT)"
            )
        };
        if let Some(expires) = &self.expires {
            humantime::parse_rfc3339_weak(expires).with_context(|| format!("--expires `{expires}` is not RFC 3339"))?;
        }
        let hex = std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let key = weft::rules::signing::signing_key(&hex)?;
        Ok(Some(Signer { key, deployment, expires: self.expires.clone() }))
    }
}

impl Signer {
    /// A signer for `deployment` with the private key `hex` (what `weft rules keygen` writes), no expiry: the table
    /// sync's Lambda, whose key is in Secrets Manager.
    pub fn from_hex(hex: &str, deployment: String) -> anyhow::Result<Signer> {
        Ok(Signer { key: weft::rules::signing::signing_key(hex)?, deployment, expires: None })
    }

    /// Puts the scope in `document` — its sequence above both the time (milliseconds since the epoch) and the
    /// sequence of the manifest now at `s3://bucket/key` — and returns the manifest's bytes and their signature.
    pub async fn sign(
        &self,
        s3: &aws_sdk_s3::Client,
        bucket: &str,
        key: &str,
        document: &mut serde_json::Value,
    ) -> anyhow::Result<(Vec<u8>, String)> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let sequence = now.max(published_sequence(s3, bucket, key).await.map_or(0, |s| s + 1));
        document["scope"] =
            serde_json::json!({"deployment": self.deployment, "sequence": sequence, "expires": self.expires});
        let bytes = serde_json::to_vec_pretty(document)?;
        let signature = weft::rules::signing::sign(&self.key, &bytes);
        Ok((bytes, signature))
    }
}

/// The manifest's bytes as they will be published, and their signature when there is a signer (the scope then put
/// in `document`, its sequence above the manifest now at `s3://bucket/key`); unsigned, the document as it is.
pub async fn manifest_bytes(
    signer: Option<&Signer>,
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    document: &mut serde_json::Value,
) -> anyhow::Result<(Vec<u8>, Option<String>)> {
    match signer {
        Some(signer) => {
            let (bytes, signature) = signer.sign(s3, bucket, key, document).await?;
            Ok((bytes, Some(signature)))
        }
        None => Ok((serde_json::to_vec_pretty(document)?, None)),
    }
}

/// The sequence of the manifest now published at `s3://bucket/key`, if it has one (read as the Lambda reads it).
async fn published_sequence(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> Option<u64> {
    let fetched = weft::rollout::source::fetch_manifest(s3, bucket, key, None).await.ok()??;
    Manifest::parse(&fetched.bytes).ok()?.manifest.scope.map(|scope| scope.sequence)
}
