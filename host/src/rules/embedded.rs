//! The default rule, built into the binary by `build.rs` so that `weft` needs no files to run.

use crate::engine::{Engine, LoadError, ModuleId, RuleModule, native};

/// The default rule's name in rule sets, dead letters and lineage.
pub const DEFAULT_RULE: &str = "builtin:default";

/// The default rule as a component (what `weft rules build` would produce for `rules/default`).
pub const DEFAULT_RULE_WASM: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default-rule.wasm"));

/// The same, precompiled for this target by the build script with the host's engine settings.
const DEFAULT_RULE_PRECOMPILED: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/default-rule.cwasm"));

/// How the default rule was loaded: `Precompiled` on every healthy build; `Compiled` means the embedded artifact
/// did not fit this engine (settings drifted) and a cold start paid for Cranelift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Loaded {
    Precompiled,
    Compiled,
}

/// The default rule as it runs: its component (which names it, by hash, in lineage and dead letters) with the
/// same crate's native code running instead ([`crate::engine::native`]).
pub fn default_module(engine: &Engine) -> Result<(RuleModule, Loaded), LoadError> {
    let (component, loaded) = default_component(engine)?;
    Ok((component.run_natively(native::default_rule), loaded))
}

/// The default rule's component alone, run in wasm like any module (`weft bench` and the tests compare the two):
/// deserializes the precompiled artifact (tens of microseconds), or compiles the component (tens of milliseconds)
/// when the artifact does not fit this engine.
pub fn default_component(engine: &Engine) -> Result<(RuleModule, Loaded), LoadError> {
    let id = ModuleId::new(DEFAULT_RULE, DEFAULT_RULE_WASM);
    if engine.deadline() {
        // SAFETY: these bytes were produced by this crate's build script and ship inside this binary.
        match unsafe { RuleModule::deserialize(engine, id.clone(), DEFAULT_RULE_PRECOMPILED) } {
            Ok(module) => return Ok((module, Loaded::Precompiled)),
            Err(e) => {
                tracing::warn!(error = %e, "embedded precompiled default rule does not fit this engine; compiling it")
            }
        }
    }
    Ok((RuleModule::compile(engine, id, DEFAULT_RULE_WASM)?, Loaded::Compiled))
}
