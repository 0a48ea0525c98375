//! A published rule set's status: what `weft rules status` and `weft tables status` print for the same
//! `s3://` location, by the same functions.

use serde_json::{Value, json};
use tokio::runtime::Handle;

use super::Studio;

pub fn status(studio: &Studio, runtime: &Handle) -> anyhow::Result<Value> {
    let Some(location) = studio.args.rules.as_deref().filter(|r| r.starts_with("s3://")) else {
        return Ok(json!({ "location": null }));
    };
    let rules = runtime.block_on(crate::cli::rollout::status_of(location))?;
    // A rule set without tables, or one whose manifest cannot be read, still has a rules status.
    let tables = match runtime.block_on(crate::cli::tables::status_lines(location)) {
        Ok((lines, refused)) => json!({ "lines": lines, "refused": refused }),
        Err(error) => json!({ "error": format!("{error:#}") }),
    };
    Ok(json!({ "location": location, "rules": rules, "tables": tables }))
}
