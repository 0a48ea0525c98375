//! The WebAssembly engine: wasmtime configured for untrusted rule modules, the modules it has compiled, and the
//! instances that run them.
//!
//! One [`Engine`] per process. It owns the epoch ticker that makes per-call deadlines work: a thread that
//! advances the engine's epoch every [`TICK`]; a call whose deadline (in ticks) passes traps with an interrupt.

mod budget;
mod code_cache;
pub mod componentize;
pub mod config;
mod host_api;
mod instance;
mod limits;
mod module;
pub mod native;
mod stats;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

pub use budget::MemoryBudget;
pub use host_api::{HostState, Tables};
pub use instance::{CallError, OUT_OF_TIME, RuleInstance};
pub use limits::{KINESIS_MAX_RECORD_BYTES, Limits};
pub use module::{Compiled, LoadError, ModuleId, RuleModule};
pub use stats::CallStats;

/// Memory of all instances together when nothing else is said: the CLI's (a Lambda's comes from its size, see
/// `WEFT_RULES_MEMORY_MB`).
pub const DEFAULT_MEMORY_BUDGET: usize = 1 << 30;

/// The target this weft was built for: the precompiled modules it can load are the ones for it.
pub const TARGET: &str = env!("WEFT_TARGET");

/// The longest one module's compile may take: a Lambda's whole init phase is 10 s. The 80 KB test module compiles
/// in a quarter of a second (a test build); compile time grows with the module, which `moduleBytes` bounds only
/// loosely, so this bounds it whatever the module.
pub const DEFAULT_COMPILE_BUDGET: Duration = Duration::from_secs(10);

/// The QuickJS engine's functions as the build script compiled them for [`TARGET`] ([`code_cache`]).
static QUICKJS_CODE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/quickjs.code"));

/// Cranelift's incremental cache over the code weft ships: a JavaScript rule's compile finds QuickJS there.
fn shipped_code() -> Arc<dyn wasmtime::CacheStore> {
    Arc::new(code_cache::Shipped(QUICKJS_CODE))
}

/// How often the epoch advances: the resolution of per-call deadlines.
pub const TICK: Duration = Duration::from_millis(1);

mod bindings {
    wasmtime::component::bindgen!({
        path: "../guest-sdk/wit",
        world: "rule",
        imports: { default: trappable },
        // Events cross borrowed (`Event<'a>` of `&str`): the host hands a module its parsed event without copying
        // it first. Records, which cross both ways, get two types: `OutputRecordParam<'a>` in, `…Result` out.
        ownership: Borrowing { duplicate_if_necessary: true },
    });
}

pub use bindings::weft::rules::types as wit;

/// The event as a module receives it: what the host knows, the envelope text, no upstream records yet. Borrowed
/// from the parsed event: lowering copies the text into the module's memory, and nothing else copies it.
pub fn wit_event(event: &crate::input::Event) -> wit::Event<'_> {
    wit::Event {
        id: &event.id,
        detail_type: &event.detail_type,
        topic_name: event.topic_name.as_deref(),
        kind: event.kind.as_ref().map(|k| k.as_str()),
        conversation_id: event.conversation_id.as_deref(),
        envelope: &event.envelope,
        records: &[],
    }
}

/// Components an engine that keeps them keeps at most (then it starts over): a rule author's edits of a session.
pub const MOST_KEPT: usize = 64;

/// A wasmtime engine set up for rule modules.
#[derive(Clone)]
pub struct Engine {
    inner: wasmtime::Engine,
    linker: Arc<wasmtime::component::Linker<HostState>>,
    /// Memory of all instances together.
    memory: Arc<MemoryBudget>,
    /// The longest one module's compile may take.
    compile_budget: Duration,
    /// Components compiled before, by the sha256 of their file, when the engine keeps them
    /// ([`Engine::keeping_compiled`]).
    compiled: Option<Arc<std::sync::Mutex<std::collections::HashMap<String, wasmtime::component::Component>>>>,
    /// Kept alive as long as any clone of the engine: the ticker stops when the last one goes.
    _ticker: Option<Arc<Ticker>>,
}

#[derive(Debug, thiserror::Error)]
#[error("could not set up the WebAssembly engine: {0:#}")]
pub struct EngineError(wasmtime::Error);

impl Engine {
    /// The engine the host runs rules on, with per-call deadlines.
    pub fn new() -> Result<Engine, EngineError> {
        Engine::with_deadline(true)
    }

    /// `deadline: false` only for benchmarks that measure what deadlines cost: such an engine cannot stop a
    /// module that never returns.
    pub fn with_deadline(deadline: bool) -> Result<Engine, EngineError> {
        let mut config = config::engine_config(deadline, TARGET).map_err(EngineError)?;
        config.enable_incremental_compilation(shipped_code()).map_err(EngineError)?;
        let inner = wasmtime::Engine::new(&config).map_err(EngineError)?;
        let mut linker = wasmtime::component::Linker::new(&inner);
        bindings::Rule::add_to_linker::<HostState, wasmtime::component::HasSelf<HostState>>(&mut linker, |state| state)
            .map_err(EngineError)?;
        let ticker = deadline.then(|| Arc::new(Ticker::start(inner.clone())));
        let memory = MemoryBudget::new(DEFAULT_MEMORY_BUDGET);
        Ok(Engine {
            inner,
            linker: Arc::new(linker),
            memory,
            compile_budget: DEFAULT_COMPILE_BUDGET,
            compiled: None,
            _ticker: ticker,
        })
    }

    /// The same engine with `bytes` for the linear memory of all its instances together (instances already
    /// running keep drawing from the old budget).
    pub fn with_memory_budget(mut self, bytes: usize) -> Engine {
        self.memory = MemoryBudget::new(bytes);
        self
    }

    pub fn memory_budget(&self) -> &Arc<MemoryBudget> {
        &self.memory
    }

    /// The same engine, refusing modules whose compile takes longer than `budget`.
    pub fn with_compile_budget(mut self, budget: Duration) -> Engine {
        self.compile_budget = budget;
        self
    }

    pub fn compile_budget(&self) -> Duration {
        self.compile_budget
    }

    /// The same engine, keeping what it compiles (at most [`MOST_KEPT`] components), so that loading a rule set
    /// again compiles only the modules that changed: `weft studio` loads the rule set at every edit, and compiling
    /// the example's three modules was most of the time an edit took to show. The Lambda does not keep them: a
    /// component it no longer runs would stay in its memory.
    pub fn keeping_compiled(mut self) -> Engine {
        self.compiled = Some(Arc::default());
        self
    }

    /// A component compiled before from the file with this hash, if the engine keeps them.
    pub(crate) fn compiled(&self, sha256: &str) -> Option<wasmtime::component::Component> {
        self.compiled.as_ref()?.lock().ok()?.get(sha256).cloned()
    }

    pub(crate) fn keep(&self, sha256: &str, component: &wasmtime::component::Component) {
        if let Some(mut kept) = self.compiled.as_ref().and_then(|c| c.lock().ok()) {
            if kept.len() >= MOST_KEPT {
                kept.clear();
            }
            kept.insert(sha256.to_owned(), component.clone());
        }
    }

    pub fn deadline(&self) -> bool {
        self._ticker.is_some()
    }

    pub(crate) fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner
    }

    pub(crate) fn linker(&self) -> &wasmtime::component::Linker<HostState> {
        &self.linker
    }
}

struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: wasmtime::Engine) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("weft-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch thread");
        Ticker { stop, thread: Some(thread) }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
