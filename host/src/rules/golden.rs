//! Golden tests for rules: an input event and what must become of it — records (compared field by field), a
//! drop (its reason) or a dead letter (its error class). `weft rules test` runs them for a module crate
//! (`tests/golden/*.json`) and for a rule set (the manifest's `tests`); a rule set's tests are also its self-test.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

/// One golden test case.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Case {
    /// What the case shows (defaults to the file name).
    #[serde(default)]
    pub name: Option<String>,
    /// The EventBridge event, as Genesys sends it.
    pub event: Value,
    pub expect: Expect,
    /// For a module crate's cases: the module's parameters.
    #[serde(default)]
    pub params: Option<Value>,
    /// For a module crate's cases: lookup tables, by name then key.
    #[serde(default)]
    pub tables: BTreeMap<String, BTreeMap<String, String>>,
}

/// What must become of the event.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub enum Expect {
    /// These records, in order. `partitionKey` and `stream` are checked when given; `data` always, member by
    /// member (a `_weft` lineage member is ignored unless the expected data has one).
    Records(Vec<ExpectedRecord>),
    /// Dropped with this reason.
    Dropped(String),
    /// Dead-lettered with this error class.
    DeadLetter(String),
}

#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ExpectedRecord {
    #[serde(default)]
    pub partition_key: Option<String>,
    #[serde(default)]
    pub stream: Option<String>,
    pub data: Value,
}
