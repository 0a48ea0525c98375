//! The wasmtime settings, in one file compiled into both the host and its build script: a precompiled artifact
//! only loads into an engine built with the same settings, so the two must never drift apart.

/// Wasm stack a module may use before it traps with a stack overflow (wasmtime's default, made explicit).
pub const MAX_WASM_STACK: usize = 512 * 1024;

/// The engine configuration every rule module runs under. `deadline` turns on epoch interruption, the
/// per-call time limit; it is off only in benchmarks that measure what it costs.
pub fn engine_config(deadline: bool) -> wasmtime::Config {
    let mut config = wasmtime::Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(deadline);
    config.max_wasm_stack(MAX_WASM_STACK);
    config.cranelift_opt_level(wasmtime::OptLevel::Speed);
    // One compile thread: a hot swap compiles in the background while events flow, and on a 2-vCPU Lambda a
    // parallel compile takes both cores (p99 event latency ×11.5 in `weft bench`; ×1.x with this off).
    config.parallel_compilation(false);
    config
}
