//! Reading a rule set's objects from S3 as a Lambda reads them: the manifest (conditionally, with its signature and
//! publication time), then the files it names beside it, each bounded in size — a rules bucket is not trusted to
//! size what it serves.

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::rollout::source::SourceError;
use crate::rules::manifest::{Fetch, Parsed};
use crate::rules::signing::SIGNATURE_METADATA;

/// A manifest as fetched: its bytes, its ETag and signature when it came from S3.
pub struct FetchedManifest {
    pub bytes: Vec<u8>,
    pub etag: Option<String>,
    pub signature: Option<String>,
    /// When it was published (S3's Last-Modified): the metrics report how long a swap took from there.
    pub published: Option<SystemTime>,
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

/// Every file a manifest names, fetched from S3 beside it (concurrently), but for those in `pending`: files about
/// to be uploaded with the manifest ([`crate::rollout::admit`]), taken as they are.
pub async fn fetch_files(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    manifest_key: &str,
    parsed: &Parsed,
    max_module_bytes: usize,
    pending: &HashMap<String, Vec<u8>>,
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
    let mut files = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    for (name, what, limit) in names {
        if let Some(bytes) = pending.get(&name) {
            if bytes.len() as u64 > limit {
                let location = format!("s3://{bucket}/{}", sibling_key(manifest_key, &name));
                return Err(SourceError::TooLarge { location, what, bytes: bytes.len() as u64, limit });
            }
            files.insert(name, bytes.clone());
            continue;
        }
        let (s3, bucket, key) = (s3.clone(), bucket.to_owned(), sibling_key(manifest_key, &name));
        tasks.spawn(async move { Ok::<_, SourceError>((name, fetch_object(&s3, &bucket, &key, what, limit).await?)) });
    }
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
