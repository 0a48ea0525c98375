//! Signed rule sets: an ed25519 signature over the exact manifest bytes. A Lambda configured with public keys
//! refuses a manifest that is unsigned or signed by another key, so write access to the rules bucket alone is not
//! enough to change what runs. Several keys may be configured at once, so that a new key is added before the old
//! one is removed (rotation), and a signed manifest must pin every file it names by hash (the signature covers the
//! files through their hashes).

use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};

/// The S3 object metadata key the signature travels in (`x-amz-meta-weft-signature`), hex.
pub const SIGNATURE_METADATA: &str = "weft-signature";

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SignatureError {
    #[error("the rule set is not signed, and this weft requires a signature")]
    Unsigned,
    #[error("the signature is not 128 hex digits")]
    Malformed,
    #[error("the signature does not verify with any configured public key")]
    Invalid,
    #[error("table `{0}` has no sha256: a signed rule set must pin every file it names")]
    UnpinnedTable(String),
    #[error(
        "the signed rule set has no `scope` (deployment and sequence): publish it with `weft rules publish --key --deployment`"
    )]
    Unscoped,
    #[error("the rule set is signed for deployment `{signed_for}`, not `{here}`")]
    OtherDeployment { signed_for: String, here: String },
    #[error(
        "the rule set's sequence {sequence} is older than {floor}, the lowest this deployment accepts (a replayed publication?)"
    )]
    Replayed { sequence: u64, floor: u64 },
    #[error("the rule set's signature expired at {0}")]
    Expired(String),
    #[error("`scope.expires` is `{0}`, not an RFC 3339 time")]
    BadExpiry(String),
    #[error("{what} is not an ed25519 key ({len} hex digits)")]
    BadKey { what: &'static str, len: usize },
}

/// Checks `signature` (hex, as published) over `manifest`: it must verify with one of `public_keys`.
pub fn verify(public_keys: &[VerifyingKey], manifest: &[u8], signature: Option<&str>) -> Result<(), SignatureError> {
    let signature = signature.ok_or(SignatureError::Unsigned)?;
    let bytes: [u8; 64] = from_hex(signature.trim()).ok_or(SignatureError::Malformed)?;
    let signature = Signature::from_bytes(&bytes);
    match public_keys.iter().any(|key| key.verify(manifest, &signature).is_ok()) {
        true => Ok(()),
        false => Err(SignatureError::Invalid),
    }
}

/// The signature of `manifest`, hex.
pub fn sign(key: &SigningKey, manifest: &[u8]) -> String {
    to_hex(&key.sign(manifest).to_bytes())
}

/// Checks a signed manifest's scope: for this deployment (when one is configured), at least `floor`, not expired.
pub fn check_scope(
    scope: Option<&crate::rules::manifest::Scope>,
    deployment: Option<&str>,
    floor: u64,
) -> Result<(), SignatureError> {
    let scope = scope.ok_or(SignatureError::Unscoped)?;
    if let Some(here) = deployment
        && scope.deployment != here
    {
        return Err(SignatureError::OtherDeployment { signed_for: scope.deployment.clone(), here: here.to_owned() });
    }
    if scope.sequence < floor {
        return Err(SignatureError::Replayed { sequence: scope.sequence, floor });
    }
    if let Some(expires) = &scope.expires {
        let at = humantime::parse_rfc3339_weak(expires).map_err(|_| SignatureError::BadExpiry(expires.clone()))?;
        if at <= std::time::SystemTime::now() {
            return Err(SignatureError::Expired(expires.clone()));
        }
    }
    Ok(())
}

/// A fresh key from the operating system's randomness.
pub fn generate() -> Result<SigningKey, String> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| format!("no randomness from the operating system: {e}"))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// A public key from its hex form (what `weft rules keygen` prints, and `WEFT_RULES_PUBLIC_KEY` holds).
pub fn public_key(hex: &str) -> Result<VerifyingKey, SignatureError> {
    let bad = SignatureError::BadKey { what: "the public key", len: 64 };
    let bytes: [u8; 32] = from_hex(hex.trim()).ok_or(bad.clone())?;
    VerifyingKey::from_bytes(&bytes).map_err(|_| bad)
}

/// Public keys, comma-separated (`WEFT_RULES_PUBLIC_KEY` during a rotation holds the new key and the old one).
pub fn public_keys(text: &str) -> Result<Vec<VerifyingKey>, SignatureError> {
    text.split(',').map(str::trim).filter(|k| !k.is_empty()).map(public_key).collect()
}

/// A private key from its hex form (the key file `weft rules keygen` writes).
pub fn signing_key(hex: &str) -> Result<SigningKey, SignatureError> {
    let bytes: [u8; 32] = from_hex(hex.trim()).ok_or(SignatureError::BadKey { what: "the private key", len: 64 })?;
    Ok(SigningKey::from_bytes(&bytes))
}

pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn from_hex<const N: usize>(hex: &str) -> Option<[u8; N]> {
    if hex.len() != N * 2 || !hex.is_ascii() {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_the_same_bytes_and_key() {
        let key = generate().unwrap();
        let public = public_key(&to_hex(key.verifying_key().as_bytes())).unwrap();
        let signature = sign(&key, b"{\"rules\":[]}");
        assert_eq!(verify(&[public], b"{\"rules\":[]}", Some(&signature)), Ok(()));
        assert_eq!(verify(&[public], b"{\"rules\":[ ]}", Some(&signature)), Err(SignatureError::Invalid));
        let other = generate().unwrap();
        assert_eq!(verify(&[other.verifying_key()], b"{\"rules\":[]}", Some(&signature)), Err(SignatureError::Invalid));
        let rotating = format!("{}, {}", to_hex(other.verifying_key().as_bytes()), to_hex(public.as_bytes()));
        assert_eq!(verify(&public_keys(&rotating).unwrap(), b"{\"rules\":[]}", Some(&signature)), Ok(()), "either key");
        assert!(public_keys("abc,").is_err());
        assert_eq!(verify(&[public], b"x", None), Err(SignatureError::Unsigned));
        assert_eq!(verify(&[public], b"x", Some("zz")), Err(SignatureError::Malformed));
        assert!(public_key("abc").is_err());
        let round = signing_key(&to_hex(&key.to_bytes())).unwrap();
        assert_eq!(round.to_bytes(), key.to_bytes());
    }
}
