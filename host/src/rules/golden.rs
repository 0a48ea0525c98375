//! Golden tests for rules: an input event and what must become of it — records (compared field by field), a
//! drop (its reason) or a dead letter (its error class). `weft rules test` runs them for a module crate
//! (`tests/golden/*.json`) and for a rule set (the manifest's `tests`); a rule set's tests are also its self-test.

use std::collections::BTreeMap;
use std::sync::Arc;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::engine::{RuleInstance, Tables};
use crate::rules::{RuleSet, Track};

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
    /// Lookup tables, by name then key. For a module crate's cases, the module's tables. For a rule set's, each
    /// table named here holds these rows alone in this case, in place of the published one: a self-test that does
    /// not depend on what a synced table holds today (one that reads the published table names none).
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

impl RuleSet {
    /// The same rules on instances of their own whose tables named in `rows` hold those rows alone, the others as
    /// loaded: a golden case that carries its own tables, so that a self-test does not depend on what a synced
    /// table holds today. `Err` names a table no module of the rule set can look up.
    pub fn with_tables_replaced(&self, rows: &BTreeMap<String, BTreeMap<String, String>>) -> Result<RuleSet, String> {
        if let Some(name) = rows.keys().find(|name| !self.modules().any(|m| m.tables().contains_key(*name))) {
            return Err(format!("the rule set has no table `{name}`"));
        }
        // Instances share their rule set's tables: each distinct set is copied and overlaid once.
        let mut overlaid: Vec<(Arc<Tables>, Arc<Tables>)> = Vec::new();
        let mut instance = |original: &RuleInstance| {
            let tables = match overlaid.iter().find(|(from, _)| Arc::ptr_eq(from, original.tables())) {
                Some((_, to)) => to.clone(),
                None => {
                    let mut tables = (**original.tables()).clone();
                    for (name, rows) in rows {
                        if let Some(table) = tables.get_mut(name) {
                            *table = rows.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
                        }
                    }
                    let to = Arc::new(tables);
                    overlaid.push((original.tables().clone(), to.clone()));
                    to
                }
            };
            original.replica_with_tables(tables)
        };
        Ok(RuleSet {
            rules: self.rules.iter().map(|rule| rule.replica_with(&mut instance)).collect(),
            version: self.version.clone(),
            lineage: self.lineage.clone(),
            fallback: self.fallback.as_ref().map(RuleInstance::replica),
            needs_tree: self.needs_tree,
            track: Track::default(),
        })
    }
}
