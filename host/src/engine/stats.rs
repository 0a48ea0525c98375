//! What a module's calls cost, counted by its instance and taken after each invocation for the metrics: the
//! per-module rows of CloudWatch and of `weft run`'s timing table come from here.

use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallStats {
    /// Calls into the module (a batch is one call).
    pub calls: u64,
    /// Events those calls carried.
    pub events: u64,
    /// Wall time inside the module, instantiation and the host's copies included.
    pub busy: Duration,
    /// The longest single call.
    pub longest: Duration,
    /// Fresh instances made (the first one, then one after each trap).
    pub instantiations: u64,
    /// Lookups that found no entry, by table: a table that lags behind Genesys (a new wrap-up code not yet
    /// synced) shows here before anyone reads a record.
    pub misses: BTreeMap<String, u64>,
}

impl CallStats {
    pub(crate) fn count(&mut self, events: usize, took: Duration) {
        self.calls += 1;
        self.events += events as u64;
        self.busy += took;
        self.longest = self.longest.max(took);
    }

    /// Adds `other` (the same module used by several rules, or several invocations of `weft run`).
    pub fn add(&mut self, other: &CallStats) {
        self.calls += other.calls;
        self.events += other.events;
        self.busy += other.busy;
        self.longest = self.longest.max(other.longest);
        self.instantiations += other.instantiations;
        for (table, misses) in &other.misses {
            *self.misses.entry(table.clone()).or_default() += misses;
        }
    }
}
