//! Builds the default rule into the binary: the guest crate is compiled to wasm, wrapped into a component, and
//! precompiled for the target with the engine settings the host uses, so a cold start deserializes it (tens of
//! microseconds) instead of compiling it (tens of milliseconds). Then compiles the QuickJS engine JavaScript rules
//! carry, with the same settings, into the code cache the host ships (`src/engine/code_cache.rs`).

#[path = "src/engine/code_cache.rs"]
#[allow(dead_code)]
mod code_cache;
#[path = "src/engine/componentize.rs"]
mod componentize;
#[path = "src/engine/config.rs"]
mod config;

use std::env;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    if let Err(e) = build() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

/// rust-toolchain.toml lists the wasm target, but rustup installs a toolchain file's targets only when it installs
/// the toolchain itself; on a machine that already had the toolchain, add the target here (once, idempotently).
fn ensure_wasm_target() -> Result<(), String> {
    let rustc = env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let sysroot =
        Command::new(&rustc).args(["--print", "sysroot"]).output().map_err(|e| format!("running {rustc}: {e}"))?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&sysroot.stdout).trim());
    if sysroot.join("lib/rustlib").join(componentize::WASM_TARGET).exists() {
        return Ok(());
    }
    let toolchain = env::var("RUSTUP_TOOLCHAIN").map_err(|_| {
        format!(
            "the {} target is not installed; run `rustup target add {}`",
            componentize::WASM_TARGET,
            componentize::WASM_TARGET
        )
    })?;
    let status = Command::new("rustup")
        .args(["target", "add", componentize::WASM_TARGET, "--toolchain", &toolchain])
        .status()
        .map_err(|e| format!("running rustup: {e}"))?;
    if !status.success() {
        return Err(format!("`rustup target add {}` failed", componentize::WASM_TARGET));
    }
    Ok(())
}

fn build() -> Result<(), String> {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").map_err(|e| e.to_string())?);
    let workspace = manifest_dir.parent().ok_or("host/ has no parent")?.to_path_buf();
    let out_dir = PathBuf::from(env::var("OUT_DIR").map_err(|e| e.to_string())?);
    for path in [
        "guest-sdk/src",
        "guest-sdk/wit",
        "guest-sdk/macro/src",
        "guest-sdk/Cargo.toml",
        "rules/default",
        "guest-sdk/js/quickjs.wasm",
        "Cargo.lock",
        "Cargo.toml",
    ] {
        println!("cargo:rerun-if-changed={}", workspace.join(path).display());
    }
    println!("cargo:rerun-if-changed=src/engine/config.rs");
    println!("cargo:rerun-if-changed=src/engine/componentize.rs");
    println!("cargo:rerun-if-changed=src/engine/code_cache.rs");

    // A target directory of its own: the outer cargo holds the lock on the workspace's.
    let target_dir = workspace.join("target").join("rules");
    let cargo = PathBuf::from(env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    ensure_wasm_target()?;
    let core_path = componentize::cargo_build_wasm(&cargo, &workspace, "weft-rule-default", &target_dir)?;
    let core = std::fs::read(&core_path).map_err(|e| format!("{}: {e}", core_path.display()))?;
    let component = componentize::componentize(&core)?;
    std::fs::write(out_dir.join("default-rule.wasm"), &component).map_err(|e| e.to_string())?;

    let target = env::var("TARGET").map_err(|e| e.to_string())?;
    let host = env::var("HOST").map_err(|e| e.to_string())?;
    // Which precompiled rule modules this build can load (`weft rules publish --precompile` names them by target).
    println!("cargo:rustc-env=WEFT_TARGET={target}");
    // Cranelift has this machine's backend; another one only when a feature adds it (precompile-arm64).
    let cross = |e: wasmtime::Error| {
        format!(
            "cannot precompile the default rule for {target} on {host}: {e:#} \
             (for aarch64 from another machine, build with `--features precompile-arm64`, as scripts/build-lambda.sh does)"
        )
    };
    let engine = wasmtime::Engine::new(&config::engine_config(true, &target).map_err(cross)?).map_err(cross)?;
    let precompiled = engine.precompile_component(&component).map_err(cross)?;
    std::fs::write(out_dir.join("default-rule.cwasm"), precompiled).map_err(|e| e.to_string())?;

    let recorder = std::sync::Arc::new(code_cache::Recorder::default());
    let mut engine_config = config::engine_config(true, &target).map_err(cross)?;
    engine_config.enable_incremental_compilation(recorder.clone()).map_err(cross)?;
    let engine = wasmtime::Engine::new(&engine_config).map_err(cross)?;
    let quickjs = workspace.join("guest-sdk/js/quickjs.wasm");
    let quickjs = std::fs::read(&quickjs).map_err(|e| format!("{}: {e}", quickjs.display()))?;
    engine.precompile_component(&quickjs).map_err(|e| format!("compiling QuickJS: {e:#}"))?;
    let recorded = recorder.0.lock().map_err(|_| "the code recorder was poisoned")?;
    std::fs::write(out_dir.join("quickjs.code"), code_cache::encode(&recorded)?).map_err(|e| e.to_string())?;
    Ok(())
}
