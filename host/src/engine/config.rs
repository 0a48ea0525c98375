//! The wasmtime settings, in one file compiled into both the host and its build script: a precompiled artifact
//! only loads into an engine built with the same settings, and the build script's compile of QuickJS
//! ([`super::code_cache`]) is found only by an engine with the same settings, so the two must never drift apart.

/// Wasm stack a module may use before it traps with a stack overflow (wasmtime's default, made explicit).
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// The engine configuration every rule module runs under, compiling for `target` (a triple) at that
/// architecture's baseline CPU features. `deadline` turns on epoch interruption, the per-call time limit; it is
/// off only in benchmarks that measure what it costs.
///
/// The baseline, not the features of the machine weft runs on, even where it is the target: code compiled when
/// weft was built (the default rule, QuickJS) is then the code this engine would compile, on whatever machine of
/// the architecture it runs (a Lambda's CPU is not the builder's). Measured on the QuickJS twin, the baseline's
/// code runs 0.2 % more instructions an event than this machine's features allow (valgrind, 4,800 events).
pub fn engine_config(deadline: bool, target: &str) -> wasmtime::Result<wasmtime::Config> {
    let mut config = wasmtime::Config::new();
    config.target(target)?;
    config.wasm_component_model(true);
    config.epoch_interruption(deadline);
    config.max_wasm_stack(MAX_WASM_STACK);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // One compile thread: a hot swap compiles in the background while events flow, and on a 2-vCPU Lambda a
    // parallel compile takes both cores (p99 event latency ×11.5 in `weft bench`; ×1.x with this off).
    config.parallel_compilation(false);
    Ok(config)
}
