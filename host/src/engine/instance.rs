//! A running instance of a rule module: reused from call to call, thrown away after a trap.
//!
//! Instantiating costs ~10 µs, a call ~1 µs of overhead, so one instance serves every event; but after a trap
//! its memory may be half-written (wasmtime refuses to enter it again), so the next call gets a fresh one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{Store, Trap};

use super::bindings::Rule;
use super::host_api::{LookupLimitExceeded, MemoryBudgetExceeded, MemoryLimitExceeded, Refused};
use super::native::{self, NativeRule};
use super::stats::CallStats;
use super::{HostState, Limits, ModuleId, RuleModule, TICK, Tables, wit};

/// Why a call produced no outcome. Each variant names the limit or failure, for the dead letter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CallError {
    #[error("deadline of {limit:?} exceeded")]
    Deadline { limit: Duration },
    #[error("memory limit of {limit} bytes exceeded (asked for {desired})")]
    Memory { limit: usize, desired: usize },
    /// The instance was within its own limit, but all instances together would hold more than their budget.
    #[error("memory of all rule instances together would pass {total} bytes")]
    MemoryBudget { total: usize },
    #[error("module panicked: {message}")]
    Panic { message: String },
    #[error("module trapped: {message}")]
    Trap { message: String },
    #[error("lookup limit of {limit} calls per event exceeded")]
    Lookups { limit: usize },
    #[error("module could not be instantiated: {message}")]
    Instantiate { message: String },
    #[error("module answered {answered} outcomes for a batch of {expected}")]
    BatchMismatch { expected: usize, answered: usize },
    /// More bytes than the limits allow a call's answer (and its imports' arguments) to carry.
    #[error("copy limit of {limit} bytes exceeded: the answer is larger than records per event × their bytes allow")]
    CopyLimit { limit: usize },
    /// Not the module's fault: the invocation's time for rules ran out before or during the call.
    #[error("the invocation's time for rules ran out")]
    OutOfTime,
}

impl CallError {
    /// A short stable class for dead letters and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            CallError::Deadline { .. } => "deadline-exceeded",
            CallError::Memory { .. } | CallError::MemoryBudget { .. } => "memory-limit",
            CallError::Panic { .. } => "panic",
            CallError::Trap { .. } => "trap",
            CallError::Lookups { .. } => "lookup-limit",
            CallError::Instantiate { .. } => "instantiate",
            CallError::BatchMismatch { .. } => "invalid-output",
            CallError::CopyLimit { .. } => "copy-limit",
            CallError::OutOfTime => OUT_OF_TIME,
        }
    }
}

/// The class of events the rules had no time left for (not a module failure: no quarantine, no on-error policy).
pub const OUT_OF_TIME: &str = "deadline";

struct Live {
    store: Store<HostState>,
    rule: Rule,
}

/// One module, its parameters and tables, and (while healthy) a live instance.
pub struct RuleInstance {
    module: RuleModule,
    params: Arc<str>,
    tables: Arc<Tables>,
    limits: Limits,
    live: Option<Live>,
    /// Instances created so far (1 + the number of traps survived): for tests and metrics.
    instantiations: u64,
    /// Calls and their time since the metrics last took them.
    stats: CallStats,
    /// When the invocation's time for rules ends: no call runs past it (`None`: no such bound, as in `weft run`).
    cutoff: Option<Instant>,
}

impl RuleInstance {
    /// Prepares an instance; the wasm instance itself is created on first use.
    pub fn new(module: RuleModule, params: Arc<str>, tables: Arc<Tables>, limits: Limits) -> RuleInstance {
        RuleInstance {
            module,
            params,
            tables,
            limits,
            live: None,
            instantiations: 0,
            stats: CallStats::default(),
            cutoff: None,
        }
    }

    /// Another instance of the same module, parameters, tables and limits, with state of its own (for running
    /// slices of input side by side, as concurrent Lambda instances would).
    pub fn replica(&self) -> RuleInstance {
        self.replica_with_tables(self.tables.clone())
    }

    /// A replica that looks up `tables` instead (a golden case's own rows standing in for the published tables).
    pub fn replica_with_tables(&self, tables: Arc<Tables>) -> RuleInstance {
        RuleInstance::new(self.module.clone(), self.params.clone(), tables, self.limits.clone())
    }

    /// The lookup tables the module reads.
    pub fn tables(&self) -> &Arc<Tables> {
        &self.tables
    }

    pub fn module(&self) -> &ModuleId {
        self.module.id()
    }

    /// How the module's compile went, if it was compiled when its rule set loaded.
    pub fn compiled(&self) -> Option<super::Compiled> {
        self.module.compiled()
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn instantiations(&self) -> u64 {
        self.instantiations
    }

    /// The calls since the last take.
    pub fn take_stats(&mut self) -> CallStats {
        std::mem::take(&mut self.stats)
    }

    /// Bounds every later call by `cutoff` as well as by the per-event limit.
    pub fn set_cutoff(&mut self, cutoff: Option<Instant>) {
        self.cutoff = cutoff;
    }

    /// Throws the live instance away (after a host panic its state is unknown); the next call makes a new one.
    pub fn reset(&mut self) {
        self.live = None;
    }

    /// Creates the wasm instance now rather than at the first event, so that a module whose start function hangs,
    /// traps or exhausts its memory is refused with its rule set instead of costing events.
    pub fn warm(&mut self) -> Result<(), CallError> {
        if self.live.is_none() && self.module.native().is_none() {
            self.live = Some(self.instantiate()?);
        }
        Ok(())
    }

    /// Runs one event.
    pub fn process(&mut self, event: &wit::Event<'_>) -> Result<wit::Outcome, CallError> {
        if let Some(rule) = self.module.native() {
            return self.call_natively(rule, std::slice::from_ref(event)).map(|mut one| one.remove(0));
        }
        self.call(event.id, 1, |rule, store| rule.call_process(store, event.clone()))
    }

    /// Runs a batch in one call; the deadline is the per-event one times the batch size.
    pub fn process_batch(&mut self, events: &[wit::Event<'_>]) -> Result<Vec<wit::Outcome>, CallError> {
        if let Some(rule) = self.module.native() {
            return self.call_natively(rule, events);
        }
        let first = events.first().map_or("", |e| e.id);
        let outcomes = self.call(first, events.len(), |rule, store| rule.call_process_batch(store, events))?;
        if outcomes.len() != events.len() {
            tracing::warn!(
                module = %self.module.id().name,
                expected = events.len(),
                answered = outcomes.len(),
                "module answered a batch with the wrong number of outcomes; its events are asked one by one"
            );
            return Err(CallError::BatchMismatch { expected: events.len(), answered: outcomes.len() });
        }
        Ok(outcomes)
    }

    /// A rule built into weft: no instance, no deadline to set (its time is linear in the event), the same
    /// accounting, and no event started once the invocation's time for rules is up.
    fn call_natively(&mut self, rule: NativeRule, events: &[wit::Event<'_>]) -> Result<Vec<wit::Outcome>, CallError> {
        let started = Instant::now();
        let outcomes = native::run(rule, events, self.cutoff);
        self.stats.count(events.len(), started.elapsed());
        outcomes
    }

    fn call<T>(
        &mut self,
        event_id: &str,
        events: usize,
        f: impl FnOnce(&Rule, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        let mut limit = self.limits.time_per_event * events.max(1) as u32;
        // The invocation's cutoff, when it comes first, bounds the call; an interrupt is then not the module's fault.
        let left = self.cutoff.map(|cutoff| cutoff.saturating_duration_since(Instant::now()));
        let by_cutoff = left.is_some_and(|left| left < limit);
        if by_cutoff {
            limit = left.expect("checked");
            if limit.is_zero() {
                return Err(CallError::OutOfTime);
            }
        }
        let result = self.call_live(event_id, events, limit, f);
        match result {
            Err(CallError::Deadline { .. }) if by_cutoff => Err(CallError::OutOfTime),
            other => other,
        }
    }

    fn call_live<T>(
        &mut self,
        event_id: &str,
        events: usize,
        limit: Duration,
        f: impl FnOnce(&Rule, &mut Store<HostState>) -> wasmtime::Result<T>,
    ) -> Result<T, CallError> {
        // Two clock reads per call, the start and the end (a call costs about a microsecond): the module's busy
        // time counts from `started`, its deadline from `entered`, after an instantiation if one was needed.
        let started = Instant::now();
        let (live, entered) = match self.live.as_mut() {
            Some(live) => (live, started),
            None => match self.instantiate() {
                Ok(live) => (self.live.insert(live), Instant::now()),
                Err(error) => {
                    self.stats.count(events, started.elapsed());
                    return Err(error);
                }
            },
        };
        live.store.data_mut().begin_call(event_id, events);
        let allowance = self.limits.copy_allowance(events);
        live.store.set_hostcall_fuel(allowance);
        if self.module.engine.deadline() {
            // +1: the current tick may end at any moment.
            live.store.set_epoch_deadline(limit.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1);
        }
        let result = f(&live.rule, &mut live.store);
        let ended = Instant::now();
        self.stats.count(events, ended - started);
        for (table, misses) in std::mem::take(&mut live.store.data_mut().misses) {
            *self.stats.misses.entry(table).or_default() += misses;
        }
        let suppressed = live.store.data().call.logs_suppressed;
        if suppressed > 0 {
            tracing::warn!(module = %self.module.id().name, event = event_id, suppressed, "rule log lines over the limit were dropped");
        }
        // The epoch interrupts only the module's code; the host's copying of its answer counts against the same
        // deadline (bounded by the copy allowance, but a module must not buy time with a huge answer).
        if result.is_ok() && self.module.engine.deadline() && ended - entered > limit + 2 * TICK {
            return Err(CallError::Deadline { limit });
        }
        result.map_err(|error| {
            // After a trap the instance must not be entered again.
            let live = self.live.take().expect("instance is live during a call");
            classify(error, live.store.data(), limit, allowance)
        })
    }

    fn instantiate(&mut self) -> Result<Live, CallError> {
        self.instantiations += 1;
        self.stats.instantiations += 1;
        let state = HostState::new(
            self.module.id.name.as_str().into(),
            self.params.clone(),
            self.tables.clone(),
            self.limits.clone(),
            self.module.engine.memory_budget(),
        );
        let mut store = Store::new(self.module.engine.wasmtime(), state);
        // The start function runs under the same limits as a call: memory, deadline, bytes copied out.
        store.limiter(|state| &mut state.memory);
        store.set_hostcall_fuel(self.limits.copy_allowance(1));
        if self.module.engine.deadline() {
            let ticks = self.limits.time_per_event.as_nanos().div_ceil(TICK.as_nanos()) as u64 + 1;
            store.set_epoch_deadline(ticks);
        }
        let rule = self.module.pre.instantiate(&mut store).map_err(|e| {
            match classify(e, store.data(), self.limits.time_per_event, usize::MAX) {
                CallError::Trap { message } => CallError::Instantiate { message },
                other => other,
            }
        })?;
        Ok(Live { store, rule })
    }
}

/// Turns what wasmtime reported into the reason a dead letter gives.
fn classify(error: wasmtime::Error, state: &HostState, limit: Duration, allowance: usize) -> CallError {
    if let Some(exceeded) = error.downcast_ref::<MemoryLimitExceeded>() {
        return CallError::Memory { limit: exceeded.limit, desired: exceeded.desired };
    }
    if let Some(exceeded) = error.downcast_ref::<LookupLimitExceeded>() {
        return CallError::Lookups { limit: exceeded.limit };
    }
    if let Some(exceeded) = error.downcast_ref::<MemoryBudgetExceeded>() {
        return CallError::MemoryBudget { total: exceeded.total };
    }
    match state.memory.refused {
        Some(Refused::Instance { desired }) => return CallError::Memory { limit: state.limits_memory(), desired },
        Some(Refused::Budget { total }) => return CallError::MemoryBudget { total },
        None => {}
    }
    // wasmtime's error for an exhausted copy allowance is not public; its text is (tests/containment.rs fails if
    // an upgrade changes it, rather than this turning silently into `trap`).
    if error.downcast_ref::<Trap>().is_none() && format!("{error:#}").contains("fuel allocated for hostcalls") {
        return CallError::CopyLimit { limit: allowance };
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => CallError::Deadline { limit },
        Some(Trap::UnreachableCodeReached) => match &state.call.last_error {
            Some(message) => CallError::Panic { message: message.clone() },
            None => CallError::Trap { message: "unreachable code reached (a panic or abort with no message)".into() },
        },
        Some(Trap::StackOverflow) => CallError::Trap { message: "stack overflow (deep recursion)".into() },
        Some(Trap::MemoryOutOfBounds) => CallError::Trap {
            message: "out of bounds memory access (in a Rust module, usually its stack running out: deep recursion)"
                .into(),
        },
        Some(trap) => CallError::Trap { message: trap.to_string() },
        None => CallError::Trap { message: format!("{error:#}") },
    }
}
