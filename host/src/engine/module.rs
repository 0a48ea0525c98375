//! A compiled rule module: checked against weft's WIT world once, instantiated many times.

use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use wasmtime::component::Component;

use super::bindings::RulePre;
use super::native::NativeRule;
use super::{Engine, HostState, code_cache};

/// Which module made a record or a dead letter: its name and the sha256 of its component bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct ModuleId {
    /// `builtin:default`, or the module's file name.
    pub name: String,
    /// Hex sha256 of the `.wasm` file as loaded (what a rule set manifest pins).
    pub sha256: String,
}

impl ModuleId {
    pub fn new(name: impl Into<String>, wasm: &[u8]) -> ModuleId {
        let digest = Sha256::digest(wasm);
        let sha256 = digest.iter().map(|b| format!("{b:02x}")).collect();
        ModuleId { name: name.into(), sha256 }
    }
}

impl std::fmt::Display for ModuleId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (sha256 {})", self.name, &self.sha256[..12.min(self.sha256.len())])
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("module {module}: not a WebAssembly component weft can compile: {reason}")]
    Compile { module: String, reason: String },
    #[error("module {module}: does not fit weft's rule world (weft:rules/rule@0.1.0): {reason}")]
    World { module: String, reason: String },
    #[error("module {module}: compiling it took longer than the budget of {budget:?}")]
    CompileBudget { module: String, budget: std::time::Duration },
    #[error("module {module}: {bytes} bytes is over the limit of {limit} bytes per module")]
    TooLarge { module: String, bytes: usize, limit: usize },
}

/// How a module's compile went: what a cold start that loads it spends compiling it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compiled {
    /// On a thread of its own, so its CPU time too when the machine has a core free.
    pub took: Duration,
    /// Functions Cranelift had to produce, and of them those it found in the code weft ships (QuickJS's).
    pub functions: usize,
    pub shipped: usize,
}

impl std::fmt::Display for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "compiled in {:.2} s", self.took.as_secs_f64())?;
        if self.shipped > 0 {
            write!(f, ", {} of its {} functions found in the code weft ships", self.shipped, self.functions)?;
        }
        Ok(())
    }
}

/// A module compiled for this engine and linked against the host's imports.
#[derive(Clone)]
pub struct RuleModule {
    pub(crate) id: Arc<ModuleId>,
    pub(crate) engine: Engine,
    pub(crate) pre: RulePre<HostState>,
    /// `None` for a module loaded precompiled, or compiled before by an engine that keeps what it compiles.
    compiled: Option<Compiled>,
    /// For a rule built into weft: the same rule as native code, which runs instead of the component.
    native: Option<NativeRule>,
}

impl RuleModule {
    /// Compiles a component (Cranelift) and checks its imports and exports against weft's world.
    pub fn compile(engine: &Engine, id: ModuleId, wasm: &[u8]) -> Result<RuleModule, LoadError> {
        if let Some(component) = engine.compiled(&id.sha256) {
            return RuleModule::link(engine, id, component);
        }
        let (component, compiled) = compile_within_budget(engine, &id.name, wasm)?;
        engine.keep(&id.sha256, &component);
        Ok(RuleModule { compiled: Some(compiled), ..RuleModule::link(engine, id, component)? })
    }

    /// Compiles a `.wasm` file: a component as is, or a core module built with weft's SDK (what
    /// `cargo build --target wasm32-unknown-unknown` leaves) wrapped into one first. The module's identity is the
    /// hash of the file, which is what a manifest pins.
    pub fn from_file(engine: &Engine, name: &str, bytes: &[u8]) -> Result<RuleModule, LoadError> {
        RuleModule::from_file_limited(engine, name, bytes, super::Limits::default().module_bytes)
    }

    /// [`RuleModule::from_file`], refusing files over `max_bytes` before compiling anything.
    pub fn from_file_limited(
        engine: &Engine,
        name: &str,
        bytes: &[u8],
        max_bytes: usize,
    ) -> Result<RuleModule, LoadError> {
        if bytes.len() > max_bytes {
            return Err(LoadError::TooLarge { module: name.to_owned(), bytes: bytes.len(), limit: max_bytes });
        }
        let id = ModuleId::new(name, bytes);
        if is_component(bytes) {
            return RuleModule::compile(engine, id, bytes);
        }
        if !bytes.starts_with(b"\0asm") {
            return Err(LoadError::Compile {
                module: id.name,
                reason: "not a WebAssembly file (no `\\0asm` header)".into(),
            });
        }
        let component = crate::engine::componentize::componentize(bytes)
            .map_err(|reason| LoadError::World { module: id.name.clone(), reason })?;
        RuleModule::compile(engine, id, &component)
    }

    /// `component` compiled to native code for `target` (a Lambda's: `aarch64-unknown-linux-gnu`) with the engine
    /// settings every weft uses. Naming the target leaves the CPU features at its baseline, so the code runs on any
    /// machine of that architecture (a Lambda's CPU is not the publisher's). Another architecture than this
    /// machine's needs its Cranelift backend in this build (the `precompile-arm64` feature).
    pub fn precompile(wasm: &[u8], target: &str) -> Result<Vec<u8>, String> {
        let component = match is_component(wasm) {
            true => std::borrow::Cow::Borrowed(wasm),
            false => std::borrow::Cow::Owned(crate::engine::componentize::componentize(wasm)?),
        };
        let mut config = crate::engine::config::engine_config(true, target).map_err(|e| format!("{e:#}"))?;
        // The code weft ships is for its own target; for another, no function is found and all are compiled.
        config.enable_incremental_compilation(super::shipped_code()).map_err(|e| format!("{e:#}"))?;
        let engine = wasmtime::Engine::new(&config).map_err(|e| format!("no compiler for {target} here: {e:#}"))?;
        engine.precompile_component(&component).map_err(|e| format!("{e:#}"))
    }

    /// Loads a module precompiled by this same build of weft.
    ///
    /// # Safety
    /// `precompiled` is native code: it must come from this binary itself (the embedded default rule) or be pinned
    /// by sha256 in a rule set whose signature verified with a configured key. Never pass bytes that anyone else
    /// could have written.
    pub unsafe fn deserialize(engine: &Engine, id: ModuleId, precompiled: &[u8]) -> Result<RuleModule, LoadError> {
        // SAFETY: the caller guarantees the bytes were produced by this build's own compiler.
        let component = unsafe { Component::deserialize(engine.wasmtime(), precompiled) }
            .map_err(|e| LoadError::Compile { module: id.name.clone(), reason: format!("{e:#}") })?;
        RuleModule::link(engine, id, component)
    }

    fn link(engine: &Engine, id: ModuleId, component: Component) -> Result<RuleModule, LoadError> {
        let instance_pre = engine
            .linker()
            .instantiate_pre(&component)
            .map_err(|e| LoadError::World { module: id.name.clone(), reason: format!("{e:#}") })?;
        let pre = RulePre::new(instance_pre)
            .map_err(|e| LoadError::World { module: id.name.clone(), reason: format!("{e:#}") })?;
        Ok(RuleModule { id: Arc::new(id), engine: engine.clone(), pre, compiled: None, native: None })
    }

    pub fn id(&self) -> &ModuleId {
        &self.id
    }

    /// Runs `rule` instead of this component: only for a rule built into weft whose component this is (the same
    /// crate built for wasm), so that what the module's id names is what runs ([`super::native`]).
    pub fn run_natively(self, rule: NativeRule) -> RuleModule {
        RuleModule { native: Some(rule), ..self }
    }

    /// The native code that runs instead of the component, for a rule built into weft.
    pub fn native(&self) -> Option<NativeRule> {
        self.native
    }

    /// How this module's compile went, if it was compiled here and now.
    pub fn compiled(&self) -> Option<Compiled> {
        self.compiled
    }
}

/// Compiles on a thread of its own and waits at most the engine's compile budget. Cranelift cannot be
/// interrupted, so a module whose compile passes the budget is refused while that thread runs on to its end and
/// its result is thrown away: the load (a cold start, a hot swap) is not held hostage, the CPU is spent once.
fn compile_within_budget(engine: &Engine, module: &str, wasm: &[u8]) -> Result<(Component, Compiled), LoadError> {
    let budget = engine.compile_budget();
    let (send, receive) = std::sync::mpsc::sync_channel(1);
    let (wasmtime, bytes) = (engine.wasmtime().clone(), wasm.to_vec());
    let compiling = std::thread::Builder::new().name("weft-compile".into()).spawn(move || {
        let started = Instant::now();
        let component = Component::new(&wasmtime, &bytes);
        let (functions, shipped) = code_cache::take_lookups();
        let compiled = Compiled { took: started.elapsed(), functions, shipped };
        send.send(component.map(|component| (component, compiled))).unwrap_or(())
    });
    if let Err(e) = compiling {
        return Err(LoadError::Compile {
            module: module.to_owned(),
            reason: format!("could not start compiling: {e}"),
        });
    }
    match receive.recv_timeout(budget) {
        Ok(compiled) => {
            compiled.map_err(|e| LoadError::Compile { module: module.to_owned(), reason: format!("{e:#}") })
        }
        Err(RecvTimeoutError::Timeout) => Err(LoadError::CompileBudget { module: module.to_owned(), budget }),
        Err(RecvTimeoutError::Disconnected) => Err(LoadError::Compile {
            module: module.to_owned(),
            reason: "the compiler stopped without an answer".into(),
        }),
    }
}

/// The wasm preamble: magic, then version 1 for core modules and a layer-1 version for components.
fn is_component(bytes: &[u8]) -> bool {
    bytes.len() >= 8 && bytes[..4] == *b"\0asm" && bytes[6..8] == [1, 0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_that_keeps_compiled_components_compiles_a_file_once_and_the_lambdas_keeps_none() {
        // A component of nothing: it compiles, and then fails to link (it exports no rule), as a wrong module would.
        let wasm = wat::parse_str("(component)").unwrap();
        let id = || ModuleId::new("empty.wasm", &wasm);
        let keeping = Engine::new().unwrap().keeping_compiled();
        assert!(RuleModule::compile(&keeping, id(), &wasm).is_err());
        assert!(keeping.compiled(&id().sha256).is_some(), "kept by its file's hash");
        // The same file again is not compiled again: bytes that are no wasm at all, under its hash, get as far as
        // linking the kept component.
        let again = RuleModule::compile(&keeping, id(), b"not wasm").err().unwrap();
        assert!(!matches!(again, LoadError::Compile { .. }), "{again}");
        let lambda = Engine::new().unwrap();
        assert!(RuleModule::compile(&lambda, id(), &wasm).is_err());
        assert!(lambda.compiled(&id().sha256).is_none());
    }

    #[test]
    fn quickjs_compiles_from_the_code_weft_ships_and_other_modules_as_always() {
        let engine = Engine::new().unwrap();
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../guest-sdk/js/quickjs.wasm");
        let quickjs = RuleModule::from_file(&engine, "quickjs.wasm", &std::fs::read(path).unwrap()).unwrap();
        let compiled = quickjs.compiled().expect("compiled here");
        // Not all, even for the very file the cache was made from: Cranelift's keys for about 150 of QuickJS's
        // 2,868 functions come out differently in another process (measured: more of them match within one).
        assert!(compiled.functions > 2000 && compiled.shipped * 10 >= compiled.functions * 9, "{compiled}");
        // A module that is not QuickJS compiles as before: its functions are not in the cache.
        let other = wat::parse_str(r#"(component (core module (func (export "f") (result i32) i32.const 7)))"#);
        let other = RuleModule::compile(&engine, ModuleId::new("other.wasm", b""), &other.unwrap());
        assert!(matches!(other, Err(LoadError::World { .. })), "compiled, then refused for not being a rule");
        let kept = Engine::new().unwrap().keeping_compiled();
        let first = RuleModule::from_file(&kept, "quickjs.wasm", &std::fs::read(path).unwrap()).unwrap();
        let again = RuleModule::from_file(&kept, "quickjs.wasm", &std::fs::read(path).unwrap()).unwrap();
        assert!(first.compiled().is_some() && again.compiled().is_none(), "the second was compiled before");
    }

    #[test]
    fn an_engine_keeps_at_most_its_bound_of_components() {
        let keeping = Engine::new().unwrap().keeping_compiled();
        let first = wat::parse_str("(component)").unwrap();
        let _ = RuleModule::compile(&keeping, ModuleId::new("first.wasm", &first), &first);
        let first = ModuleId::new("first.wasm", &first).sha256;
        for i in 0..crate::engine::MOST_KEPT {
            let other = wat::parse_str(format!("(component (core module (func (export \"f{i}\"))))")).unwrap();
            let _ = RuleModule::compile(&keeping, ModuleId::new("other.wasm", &other), &other);
            let kept = keeping.compiled(&first).is_some();
            assert_eq!(kept, i + 1 < crate::engine::MOST_KEPT, "after {} more", i + 1);
        }
    }
}
