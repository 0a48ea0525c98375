//! The rule set manifest: the JSON document customers write, and loading it into a [`RuleSet`].
//!
//! Loading is all or nothing: every path is compiled, every table and module read, hashed and checked, every
//! module compiled and linked against weft's world, before anything runs. The first problem refuses the whole
//! rule set with an error that names the rule and the field, so a half-loaded rule set never sees an event.
//! Files are read through a [`Fetch`], so the same loader serves local files and (for hot swap) S3.

mod load;

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

pub use load::{Fetch, LocalFiles, ManifestError, Parsed, Problem};

use crate::engine::Limits;
use crate::rules::tables::TableFormat;
use crate::rules::{OnError, Quarantine};

/// A rule set: rules tried in order on every event, and the tables their modules may look up.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Manifest {
    /// A label for people ("wrapups-2026-11"). The rule set's version is this label and the manifest's hash.
    #[serde(default)]
    pub name: Option<String>,
    /// Stamp every record with `_weft`: the rule set version, the rule, and each table's version.
    #[serde(default)]
    pub lineage: bool,
    /// Lookup tables by name, served to modules through `lookup(table, key)`.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSpec>,
    /// The rules. Every rule whose match holds runs (fan-out); an event no rule matches is dropped
    /// ("no rule matched").
    pub rules: Vec<RuleSpec>,
    /// Golden cases for the whole rule set: `weft rules test MANIFEST` runs them.
    #[serde(default)]
    pub tests: Vec<crate::rules::golden::Case>,
    /// What a signature over this manifest is for (required when the Lambda requires signatures).
    #[serde(default)]
    pub scope: Option<Scope>,
    /// How a candidate runs beside the active rule set (`weft rules publish --shadow` or `--canary PERCENT` write
    /// it, in `PREFIX/candidate.json`). Ignored in the active manifest, so that a promoted candidate is the same
    /// bytes, the same version, under the same signature.
    #[serde(default)]
    pub rollout: Option<Rollout>,
}

/// A candidate's mode: in the signed manifest, so that write access to the bucket alone cannot turn a shadow into a
/// canary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase", tag = "mode")]
pub enum Rollout {
    /// Judges every event after the active set; its outcome is compared, never delivered.
    Shadow,
    /// Judges this share of conversations (1 to 100 percent, by a hash of the conversation id) instead of the
    /// active set; its outcome is delivered.
    Canary { percent: u8 },
}

/// What a signature is for: which deployment, which publication, until when. `weft rules publish --key` writes it;
/// a Lambda that requires signatures refuses a signed manifest without it, for another deployment, older than the
/// one it runs, or expired — so a signed manifest cannot be replayed from the bucket's history or copied from
/// staging to production.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Scope {
    /// The deployment it is for (`WEFT_DEPLOYMENT` of the Lambdas that may run it).
    pub deployment: String,
    /// Increases with every publication (`weft rules publish` uses milliseconds since the epoch, and one more than
    /// the published version's when that is higher).
    pub sequence: u64,
    /// RFC 3339; after it the signature no longer counts.
    #[serde(default)]
    pub expires: Option<String>,
}

/// A lookup table file: a JSON object of keys to values, or a CSV file with a header row.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TableSpec {
    /// Path relative to the manifest (`.csv` is read as CSV, anything else as JSON).
    pub file: String,
    /// Hex sha256 of the file; when given, a different file is refused.
    #[serde(default)]
    pub sha256: Option<String>,
    /// CSV: the key column (default: the first).
    #[serde(default)]
    pub key: Option<String>,
    /// CSV: the value column (default: the whole row as a JSON object).
    #[serde(default)]
    pub value: Option<String>,
    /// Kept current from the Genesys Cloud API by `weft tables sync`, which rewrites `file` and `sha256`.
    #[serde(default)]
    pub sync: Option<SyncSpec>,
}

/// Where a synced table comes from, and what of it is kept.
#[derive(Debug, Clone, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct SyncSpec {
    pub source: SyncSource,
    /// The fields of each entity the table keeps, as a JSON object per id (default: its `name` alone, as text).
    /// A user's name is the only personal data a table holds unless this lists more.
    #[serde(default)]
    pub fields: Vec<String>,
    /// How often the deployment syncs it (the Terraform schedule's rate); `weft tables status` calls a table older
    /// than twice this stale.
    #[serde(default)]
    pub refresh_minutes: Option<u32>,
    /// The least share of its rows a table may keep from one sync to the next (default 0.5): a smaller listing
    /// (an API error that answered with an empty page, a client that lost a division) is refused, not published.
    #[serde(default)]
    pub min_ratio: Option<f64>,
}

/// A Genesys Cloud listing: `GET /api/v2/routing/queues`, `/routing/wrapupcodes`, `/users?state=any` (departed
/// agents still resolve), `/authorization/divisions`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum SyncSource {
    Queues,
    WrapupCodes,
    Users,
    Divisions,
}

impl SyncSource {
    /// The listing's path and the query every page of it takes.
    pub fn listing(self) -> (&'static str, &'static str) {
        match self {
            SyncSource::Queues => ("/api/v2/routing/queues", ""),
            SyncSource::WrapupCodes => ("/api/v2/routing/wrapupcodes", ""),
            SyncSource::Users => ("/api/v2/users", "state=any"),
            SyncSource::Divisions => ("/api/v2/authorization/divisions", ""),
        }
    }
}

/// One rule: which events, which modules, where the records go, and what a failure costs.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RuleSpec {
    /// Unique in the rule set; named in dead letters, drops and lineage.
    pub name: String,
    /// Which events the rule takes (default: all).
    #[serde(default, rename = "match")]
    pub matches: MatchSpec,
    /// The chain: each module gets the event and the previous module's records, and its outcome replaces them.
    pub modules: Vec<ModuleSpec>,
    /// Where the records go.
    #[serde(default)]
    pub output: OutputSpec,
    /// What happens to an event when a module of this rule fails on it.
    #[serde(default)]
    pub on_error: OnErrorSpec,
    /// Limits for this rule's modules, over the configured ones.
    #[serde(default)]
    pub limits: LimitsSpec,
    /// When to stop calling a failing module for a while.
    #[serde(default)]
    pub quarantine: QuarantineSpec,
}

/// Per-rule limits; each one given replaces the deployment's value (`WEFT_*`, or weft's default) for this rule's
/// modules, and may only lower it.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct LimitsSpec {
    /// 1 to the deployment's (`WEFT_TIME_PER_EVENT_MS`, default 100).
    pub time_per_event_ms: Option<u64>,
    /// Linear memory per instance, 2 to the deployment's (`WEFT_MEMORY_MB`, default 64).
    pub memory_mb: Option<u64>,
    /// 1 to the deployment's (`WEFT_RECORDS_PER_EVENT`, default 100).
    pub records_per_event: Option<usize>,
    /// Partition key plus data, 1 to 1048576 (Kinesis' limit, the default).
    pub record_bytes: Option<usize>,
    /// All records of one event, 1 to 5242880 (the default).
    pub event_bytes: Option<usize>,
    /// Log lines per event (more are counted and dropped), 0 to 20 (the default).
    pub log_lines_per_event: Option<usize>,
    /// `lookup` calls per event, 0 to 1000 (the default).
    pub lookups_per_event: Option<usize>,
    /// Size of each `.wasm` file, 1 to 20971520 (the default).
    pub module_bytes: Option<usize>,
}

/// After `after` failed events in a row (0: never) the rule's on-error policy applies without calling its
/// modules, for `coolDownSeconds`; then the next event tries them again.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct QuarantineSpec {
    /// 0 to 1000000.
    #[serde(default = "default_after")]
    pub after: u32,
    /// 0 to 86400.
    #[serde(default = "default_cool_down")]
    pub cool_down_seconds: u64,
}

impl Default for QuarantineSpec {
    fn default() -> QuarantineSpec {
        QuarantineSpec { after: default_after(), cool_down_seconds: default_cool_down() }
    }
}

/// The longest quarantine: a day. Longer is indistinguishable from "off" for an operator and, near `u64::MAX`
/// seconds, overflows the clock.
pub const MAX_COOL_DOWN_SECONDS: u64 = 86_400;

impl QuarantineSpec {
    /// The quarantine, or the field that is out of range and why.
    fn checked(&self) -> Result<Quarantine, (&'static str, String)> {
        if self.after > 1_000_000 {
            return Err(("after", format!("{} is outside 0 to 1000000", self.after)));
        }
        if self.cool_down_seconds > MAX_COOL_DOWN_SECONDS {
            return Err((
                "coolDownSeconds",
                format!("{} is outside 0 to {MAX_COOL_DOWN_SECONDS}", self.cool_down_seconds),
            ));
        }
        Ok(Quarantine { after: self.after, cool_down: std::time::Duration::from_secs(self.cool_down_seconds) })
    }
}

fn default_after() -> u32 {
    crate::rules::Quarantine::default().after
}

fn default_cool_down() -> u64 {
    crate::rules::Quarantine::default().cool_down.as_secs()
}

impl LimitsSpec {
    /// `base` (the deployment's limits, `WEFT_*` and weft's defaults) with this rule's values in place. A rule may
    /// lower a limit, never raise it: whoever can publish a rule set must not get more time or memory per event
    /// than the operator gave the function. An error names the field and its range.
    fn apply(&self, base: &Limits) -> Result<Limits, (&'static str, String)> {
        fn check<T: TryFrom<u64> + Copy>(
            field: &'static str,
            value: Option<u64>,
            min: u64,
            max: u64,
        ) -> Result<Option<T>, (&'static str, String)> {
            match value {
                Some(v) if v > max => Err((
                    field,
                    format!("{v} is over the deployment's {max} (a rule set may lower a limit, not raise it)"),
                )),
                Some(v) if v < min => Err((field, format!("{v} is under {min}"))),
                Some(v) => Ok(T::try_from(v).ok()),
                None => Ok(None),
            }
        }
        let n = |value: Option<usize>| value.map(|v| v as u64);
        let mut limits = base.clone();
        let ms = base.time_per_event.as_millis() as u64;
        if let Some(ms) = check::<u64>("timePerEventMs", self.time_per_event_ms, 1, ms)? {
            limits.time_per_event = std::time::Duration::from_millis(ms);
        }
        if let Some(mb) = check::<usize>("memoryMb", self.memory_mb, 2, (base.memory_bytes >> 20) as u64)? {
            limits.memory_bytes = mb * 1024 * 1024;
        }
        let fields: [(&'static str, Option<usize>, u64, &mut usize); 6] = [
            ("recordsPerEvent", self.records_per_event, 1, &mut limits.records_per_event),
            ("recordBytes", self.record_bytes, 1, &mut limits.record_bytes),
            ("eventBytes", self.event_bytes, 1, &mut limits.event_bytes),
            ("logLinesPerEvent", self.log_lines_per_event, 0, &mut limits.log_lines_per_call),
            ("lookupsPerEvent", self.lookups_per_event, 0, &mut limits.lookups_per_event),
            ("moduleBytes", self.module_bytes, 1, &mut limits.module_bytes),
        ];
        for (field, value, min, limit) in fields {
            if let Some(v) = check::<usize>(field, n(value), min, *limit as u64)? {
                *limit = v;
            }
        }
        Ok(limits)
    }
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MatchSpec {
    /// Topic kinds: `acw`, `customer.end`, a family such as `customer.*`, or `*` (any conversation kind).
    /// Omitted: every event, conversation or not.
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// JSONPath predicates over the EventBridge event; all must hold.
    #[serde(default, rename = "where")]
    pub predicates: Vec<PredicateSpec>,
}

/// Holds when the path selects a node (and, with `equals` or `in`, a node with one of those values).
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PredicateSpec {
    /// An RFC 9535 JSONPath over the event, e.g. `$.detail.eventBody.mediaType`.
    pub path: String,
    #[serde(default)]
    pub equals: Option<Value>,
    #[serde(default, rename = "in")]
    pub one_of: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ModuleSpec {
    /// `builtin:default`, or a `.wasm` file relative to the manifest.
    pub module: String,
    /// Hex sha256 of the `.wasm` file (required for files).
    #[serde(default)]
    pub sha256: Option<String>,
    /// Parameters, as the module reads them with `weft_sdk::params()`.
    #[serde(default)]
    pub params: Value,
    /// The module as native code, per target (`weft rules publish --precompile`): loaded in microseconds where a
    /// compile takes seconds (a Python module's, more than a Lambda's budget). Used only from a signed rule set
    /// whose signature verified, and only the one for the host's target; otherwise the module is compiled.
    #[serde(default)]
    pub precompiled: Vec<PrecompiledSpec>,
}

/// One precompiled form of a module.
#[derive(Debug, Clone, Deserialize, serde::Serialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PrecompiledSpec {
    /// The target triple it was compiled for (`aarch64-unknown-linux-gnu` for the Terraform module's Lambda).
    pub target: String,
    /// Path relative to the manifest.
    pub file: String,
    /// Hex sha256 of the file.
    pub sha256: String,
}

#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct OutputSpec {
    /// Kinesis stream for this rule's records (default: the configured stream). A record whose module named a
    /// stream keeps it.
    #[serde(default)]
    pub stream: Option<String>,
    /// JSONPath over each record's data for its partition key (default: the key the module chose, which the
    /// SDK and the default rule make the conversation id).
    #[serde(default)]
    pub partition_key: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OnErrorSpec {
    /// Dead-letter the event, with the module and the reason (nothing of it is written).
    #[default]
    DeadLetter,
    /// Go on without this rule's records (counted as a drop of this rule if nothing else is written).
    Skip,
    /// Write the default rule's record for the event instead of this rule's.
    Default,
}
