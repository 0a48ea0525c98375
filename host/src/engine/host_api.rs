//! The host side of the WIT `host` interface, and the per-instance state behind it.

use std::collections::HashMap;
use std::sync::Arc;

use super::bindings::weft::rules::host::{Host, Level};
use super::budget::{MemoryBudget, Share};
use super::limits::Limits;
use crate::privacy::{RuleLogs, redact};

impl Level {
    /// The less severe of `self` and `other` (`trace` is the least).
    fn min_severity(self, other: Level) -> Level {
        let rank = |level: Level| level as u8;
        if rank(other) < rank(self) { other } else { self }
    }
}

/// Lookup tables a rule's modules may read, by table name then key.
pub type Tables = HashMap<String, HashMap<String, String>>;

/// What a module instance can reach through its imports, and what the host learns while it runs.
pub struct HostState {
    pub(crate) module: Arc<str>,
    params: Arc<str>,
    tables: Arc<Tables>,
    limits: Limits,
    pub(crate) memory: MemoryCap,
    pub(crate) call: CallState,
    /// Lookups that missed since the instance's stats last took them, by table.
    pub(crate) misses: std::collections::BTreeMap<String, u64>,
}

/// Per-call bookkeeping, reset before every call.
#[derive(Default)]
pub(crate) struct CallState {
    pub(crate) event_id: String,
    /// Events in this call (a batch): the per-event budgets scale with it.
    pub(crate) events: usize,
    lookups: usize,
    log_lines: usize,
    pub(crate) logs_suppressed: usize,
    /// The last `error`-level line: the SDK logs a panic's message there just before the module traps.
    pub(crate) last_error: Option<String>,
}

impl HostState {
    pub(crate) fn new(
        module: Arc<str>,
        params: Arc<str>,
        tables: Arc<Tables>,
        limits: Limits,
        budget: &Arc<MemoryBudget>,
    ) -> HostState {
        let memory = MemoryCap {
            limit: limits.memory_bytes,
            share: budget.share(),
            refused: None,
            instances: limits.instances,
            tables: limits.tables,
            memories: limits.memories,
            table_elements: limits.table_elements,
        };
        HostState { module, params, tables, limits, memory, call: CallState::default(), misses: Default::default() }
    }

    pub(crate) fn limits_memory(&self) -> usize {
        self.limits.memory_bytes
    }

    pub(crate) fn begin_call(&mut self, event_id: &str, events: usize) {
        // The id's buffer is kept from call to call: one allocation per instance, not one per call.
        let mut id = std::mem::take(&mut self.call.event_id);
        id.clear();
        id.push_str(event_id);
        self.call = CallState { event_id: id, events: events.max(1), ..CallState::default() };
        self.memory.refused = None;
    }
}

impl Host for HostState {
    fn log(&mut self, level: Level, message: String) -> wasmtime::Result<()> {
        if level == Level::Error {
            self.call.last_error = Some(truncate(&message, self.limits.log_line_bytes).to_owned());
        }
        if self.call.log_lines >= self.limits.log_lines_per_call {
            self.call.logs_suppressed += 1;
            return Ok(());
        }
        self.call.log_lines += 1;
        // Customer text over customer data: redacted always, and at `debug` unless the operator said otherwise.
        let level = match RuleLogs::current() {
            RuleLogs::AsWritten => level,
            RuleLogs::Debug => Level::Debug.min_severity(level),
        };
        let enabled = match level {
            Level::Trace => tracing::enabled!(tracing::Level::TRACE),
            Level::Debug => tracing::enabled!(tracing::Level::DEBUG),
            _ => true,
        };
        if !enabled {
            return Ok(());
        }
        let message = redact(truncate(&message, self.limits.log_line_bytes));
        let (module, event) = (&*self.module, self.call.event_id.as_str());
        match level {
            Level::Trace => tracing::trace!(module, event, message, "rule log"),
            Level::Debug => tracing::debug!(module, event, message, "rule log"),
            Level::Info => tracing::info!(module, event, message, "rule log"),
            Level::Warn => tracing::warn!(module, event, message, "rule log"),
            Level::Error => tracing::error!(module, event, message, "rule log"),
        }
        Ok(())
    }

    fn lookup(&mut self, table: String, key: String) -> wasmtime::Result<Option<String>> {
        self.call.lookups += 1;
        let limit = self.limits.lookups_per_event * self.call.events;
        if self.call.lookups > limit {
            return Err(LookupLimitExceeded { limit }.into());
        }
        let found = self.tables.get(&table).and_then(|t| t.get(&key)).cloned();
        if found.is_none() {
            *self.misses.entry(table).or_default() += 1;
        }
        Ok(found)
    }

    fn params(&mut self) -> wasmtime::Result<String> {
        Ok(self.params.to_string())
    }
}

impl super::bindings::weft::rules::types::Host for HostState {}

/// Caps an instance's linear memory, tables and instance counts, and remembers a memory refusal so the error can
/// say which limit was hit.
pub(crate) struct MemoryCap {
    limit: usize,
    /// This instance's part of the engine's budget for all instances.
    share: Share,
    pub(crate) refused: Option<Refused>,
    instances: usize,
    tables: usize,
    memories: usize,
    table_elements: usize,
}

/// The error a `lookup` over the per-event budget traps with.
#[derive(Debug, thiserror::Error)]
#[error("lookup limit of {limit} calls reached")]
pub struct LookupLimitExceeded {
    pub limit: usize,
}

/// The error a refused `memory.grow` traps with.
#[derive(Debug, thiserror::Error)]
#[error("memory limit of {limit} bytes reached (the module asked for {desired})")]
pub struct MemoryLimitExceeded {
    pub limit: usize,
    pub desired: usize,
}

/// A refused `memory.grow`: over the instance's limit, or over what is left of the budget of all instances.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Refused {
    Instance { desired: usize },
    Budget { total: usize },
}

/// The error a `memory.grow` past the budget of all instances traps with.
#[derive(Debug, thiserror::Error)]
#[error("the memory of all rule instances together would pass {total} bytes")]
pub struct MemoryBudgetExceeded {
    pub total: usize,
}

impl wasmtime::ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Trap rather than return -1: a Rust guest aborts on allocation failure anyway, and a trap carries the
        // reason.
        if desired > self.limit {
            self.refused = Some(Refused::Instance { desired });
            return Err(MemoryLimitExceeded { limit: self.limit, desired }.into());
        }
        if !self.share.grow(desired.saturating_sub(current)) {
            let total = self.share.total();
            self.refused = Some(Refused::Budget { total });
            return Err(MemoryBudgetExceeded { total }.into());
        }
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= self.table_elements)
    }

    fn instances(&self) -> usize {
        self.instances
    }

    fn tables(&self) -> usize {
        self.tables
    }

    fn memories(&self) -> usize {
        self.memories
    }
}

fn truncate(message: &str, max: usize) -> &str {
    if message.len() <= max {
        return message;
    }
    let mut end = max;
    while !message.is_char_boundary(end) {
        end -= 1;
    }
    &message[..end]
}
