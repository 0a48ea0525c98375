//! Signing a publication (`weft rules publish --key`, `weft rules rollback --key`): the manifest gets a `scope` —
//! the deployment it is for, a sequence above what is published, an optional expiry — and is signed with it, so a
//! Lambda refuses it anywhere else, later replayed, or after it expires.

use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use ed25519_dalek::SigningKey;
use weft::engine::{Engine, Limits};
use weft::rollout::admit::{Gate, active_sequence};
use weft::rollout::source::Trust;

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
    /// The deployment's public keys (hex, comma-separated; its WEFT_RULES_PUBLIC_KEY): what is written is first
    /// loaded as its Lambdas would, signature checked with these (default: --key's own public key).
    #[arg(long, value_name = "HEX", env = "WEFT_RULES_PUBLIC_KEY")]
    pub public_key: Option<String>,
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
    /// The key a Lambda verifies this signer's signatures with.
    pub fn verifying_key(&self) -> ed25519_dalek::VerifyingKey {
        self.key.verifying_key()
    }

    /// The deployment its signatures are for.
    pub fn deployment(&self) -> &str {
        &self.deployment
    }

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
        let sequence = now.max(active_sequence(s3, bucket, key).await.map_or(0, |s| s + 1));
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

/// The check every write of a manifest passes: `engine` (the Lambda's, unless the modules are published precompiled)
/// and what the deployment's Lambdas trust, as far as this process can know it: their `public_key`
/// (WEFT_RULES_PUBLIC_KEY) and the WEFT_DEPLOYMENT and WEFT_RULES_MIN_SEQUENCE of its environment, the variables
/// they read; where no key is given, the signer's own key and deployment.
pub fn gate(engine: Engine, signer: Option<&Signer>, public_key: Option<&str>) -> anyhow::Result<Gate> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
    let mut public_keys = match public_key.filter(|k| !k.trim().is_empty()) {
        Some(keys) => weft::rules::signing::public_keys(keys).context("the deployment's public key")?,
        None => Vec::new(),
    };
    let mut deployment = var("WEFT_DEPLOYMENT");
    if let (true, Some(signer)) = (public_keys.is_empty(), signer) {
        public_keys.push(signer.verifying_key());
        deployment.get_or_insert_with(|| signer.deployment().to_owned());
    }
    let min_sequence = match var("WEFT_RULES_MIN_SEQUENCE") {
        Some(text) => {
            text.trim().parse().with_context(|| format!("WEFT_RULES_MIN_SEQUENCE `{text}` is not a number"))?
        }
        None => 0,
    };
    Ok(Gate { engine, limits: Limits::default(), floor: Trust { public_keys, deployment, min_sequence } })
}
