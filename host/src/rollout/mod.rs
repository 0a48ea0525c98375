//! Getting rule sets into a running system: where they come from (the embedded default, a local manifest, S3),
//! the checks before one goes live (signature, pinned hashes, self-test), and the hot swap that polls for new
//! versions; and the gate every writer of a manifest passes first (`admit`).

pub mod admit;
pub mod fetch;
pub mod reload;
pub mod source;
pub mod tables;
