//! One S3 object of EventBridge envelopes as input — JSON lines or objects back to back (`}{`, as Firehose writes
//! them), gzip-compressed or not — read as `weft run` reads a file: streamed, in memory flat in the object's size,
//! from any place in its text. The body arrives asynchronously; the splitter reads synchronously: a task pumps the
//! body through a small channel to a reader on a blocking thread.

use std::io::Read;

use bytes::Bytes;
use tokio::sync::mpsc;

/// Bodies' pieces in flight between the pump and the reader (each at most what S3 sends at once, ~1 MiB).
const PIECES_IN_FLIGHT: usize = 4;

/// Where in an object's text (decompressed, when it is gzip) reading starts, or stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Place {
    /// Bytes of text before it.
    pub offset: u64,
    /// Its 1-based line (0: the first).
    pub line: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    #[error("s3://{bucket}/{key}: {reason}")]
    Unreadable { bucket: String, key: String, reason: String },
}

/// An object opened for reading from a place, and whether it is gzip.
pub struct Opened {
    body: Pieces,
    pub gzip: bool,
    /// Text to read and drop first (gzip only: a plain object was fetched from its place).
    skip: u64,
}

impl Opened {
    /// Its text as a blocking reader. Call it on the thread that reads: a gzip decoder reads its header at once.
    pub fn reader(self) -> Box<dyn Read + Send> {
        match self.gzip {
            true => Box::new(Skip { reader: flate2::read::MultiGzDecoder::new(self.body), left: self.skip }),
            false => Box::new(self.body),
        }
    }
}

/// Opens s3://bucket/key to be read from `at`. A plain object is fetched from there (a range request); a gzip one
/// (its first two bytes are gzip's magic) can only be decompressed from its start, so its text before `at` is read
/// and thrown away. `gzip`: what an earlier invocation found (`None`: look).
pub async fn open(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    at: Place,
    gzip: Option<bool>,
) -> Result<Opened, ObjectError> {
    let fail = |reason: String| ObjectError::Unreadable { bucket: bucket.to_owned(), key: key.to_owned(), reason };
    let gzip = match gzip {
        Some(gzip) => gzip,
        None => {
            let head = s3.get_object().bucket(bucket).key(key).range("bytes=0-1").send().await;
            let head = head.map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?;
            let magic = head.body.collect().await.map_err(|e| fail(e.to_string()))?.into_bytes();
            magic.as_ref() == [0x1f, 0x8b]
        }
    };
    let range = (!gzip && at.offset > 0).then(|| format!("bytes={}-", at.offset));
    let object = s3.get_object().bucket(bucket).key(key).set_range(range).send().await;
    let (sender, receiver) = mpsc::channel(PIECES_IN_FLIGHT);
    match object {
        Ok(object) => drop(tokio::spawn(pump(object.body, sender))),
        // A range from the object's very end (an invocation stopped after its last batch) is refused by S3: the
        // object has nothing more, and the sender dropped says so. Shorter than that, it is not the object read.
        Err(e) if e.as_service_error().map(|e| e.meta().code()) == Some(Some("InvalidRange")) => {
            let head = s3.head_object().bucket(bucket).key(key).send().await;
            let size = head.map_err(|e| fail(aws_sdk_s3::error::DisplayErrorContext(&e).to_string()))?.content_length();
            if size != Some(at.offset as i64) {
                let size = size.unwrap_or_default();
                return Err(fail(format!("it is {size} bytes now, shorter than the {} read before", at.offset)));
            }
        }
        Err(e) => return Err(fail(aws_sdk_s3::error::DisplayErrorContext(&e).to_string())),
    }
    let body = Pieces { receiver, piece: Bytes::new() };
    Ok(Opened { body, gzip, skip: if gzip { at.offset } else { 0 } })
}

/// Sends the body's pieces to the reader until it ends, fails, or the reader is gone.
async fn pump(mut body: aws_sdk_s3::primitives::ByteStream, sender: mpsc::Sender<std::io::Result<Bytes>>) {
    loop {
        let piece = match body.try_next().await {
            Ok(Some(piece)) => Ok(piece),
            Ok(None) => return,
            Err(e) => Err(std::io::Error::other(format!("reading the object: {e}"))),
        };
        let failed = piece.is_err();
        if sender.send(piece).await.is_err() || failed {
            return;
        }
    }
}

/// The body as a blocking reader (only ever read on a blocking thread, never on the runtime's).
struct Pieces {
    receiver: mpsc::Receiver<std::io::Result<Bytes>>,
    piece: Bytes,
}

impl Read for Pieces {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        while self.piece.is_empty() {
            match self.receiver.blocking_recv() {
                Some(piece) => self.piece = piece?,
                None => return Ok(0),
            }
        }
        let n = out.len().min(self.piece.len());
        out[..n].copy_from_slice(&self.piece.split_to(n));
        Ok(n)
    }
}

/// A reader whose first `left` bytes are read and dropped.
struct Skip<R> {
    reader: R,
    left: u64,
}

impl<R: Read> Read for Skip<R> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.left > 0 {
            let skipped = std::io::copy(&mut (&mut self.reader).take(self.left), &mut std::io::sink())?;
            if skipped < self.left {
                return Err(std::io::Error::other(format!(
                    "the text ends {} bytes before where reading was to resume: the object changed?",
                    self.left - skipped
                )));
            }
            self.left = 0;
        }
        self.reader.read(out)
    }
}

/// The objects under `prefix` in `bucket`, in key order (folders' placeholder keys, ending in `/`, left out).
pub async fn list(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> Result<Vec<(String, i64)>, ObjectError> {
    let mut pages = s3.list_objects_v2().bucket(bucket).prefix(prefix).into_paginator().send();
    let mut keys = Vec::new();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| ObjectError::Unreadable {
            bucket: bucket.to_owned(),
            key: prefix.to_owned(),
            reason: aws_sdk_s3::error::DisplayErrorContext(&e).to_string(),
        })?;
        for object in page.contents() {
            if let Some(key) = object.key().filter(|k| !k.ends_with('/')) {
                keys.push((key.to_owned(), object.size().unwrap_or(0)));
            }
        }
    }
    keys.sort();
    Ok(keys)
}

/// History in S3 for a process that reads synchronously (`weft run s3://BUCKET/PREFIX`): a runtime of its own
/// pumps the objects' bodies while the caller's thread splits them.
pub struct Blocking {
    runtime: tokio::runtime::Runtime,
    s3: aws_sdk_s3::Client,
}

impl Blocking {
    pub fn new() -> std::io::Result<Blocking> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build()?;
        let s3 = runtime.block_on(crate::aws::Clients::load()).s3;
        Ok(Blocking { runtime, s3 })
    }

    /// `s3://BUCKET/PREFIX`'s objects, as `s3://BUCKET/KEY` each, in key order.
    pub fn list(&self, location: &str) -> Result<Vec<String>, ObjectError> {
        let (bucket, prefix) = split(location);
        let keys = self.runtime.block_on(list(&self.s3, bucket, prefix))?;
        Ok(keys.into_iter().map(|(key, _)| format!("s3://{bucket}/{key}")).collect())
    }

    /// `s3://BUCKET/KEY`'s text from its start, gzip or not.
    pub fn open(&self, location: &str) -> Result<Box<dyn Read + Send>, ObjectError> {
        let (bucket, key) = split(location);
        Ok(self.runtime.block_on(open(&self.s3, bucket, key, Place::default(), None))?.reader())
    }
}

/// `s3://BUCKET/REST` → (BUCKET, REST).
fn split(location: &str) -> (&str, &str) {
    let rest = location.strip_prefix("s3://").unwrap_or(location);
    rest.split_once('/').unwrap_or((rest, ""))
}
