//! Building rule modules: compile a guest crate to wasm and wrap the core module into a component.
//!
//! Compiled into the host (`weft rules build`) and into its build script (the embedded default rule), so both
//! build rules the same way.

use std::path::{Path, PathBuf};
use std::process::Command;

/// The wasm target rule modules are built for. `wasm32-unknown-unknown` (not wasip2) because a module built for
/// it imports nothing but weft's own WIT: no WASI, so no capability to grant or to refuse.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";

/// The cargo profile for rule modules, declared in the workspace (and in every scaffolded rule crate).
pub const RULE_PROFILE: &str = "rule";

/// Environment a parent cargo leaves behind that must not leak into a nested wasm build (flags for another
/// target, another target directory).
const CARGO_ENV_TO_CLEAR: &[&str] = &[
    "RUSTFLAGS",
    "CARGO_ENCODED_RUSTFLAGS",
    "CARGO_BUILD_RUSTFLAGS",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_TARGET",
    "CARGO_BUILD_TARGET_DIR",
    "RUSTC_WORKSPACE_WRAPPER",
    "CARGO_PRIMARY_PACKAGE",
];

/// Runs `cargo build` for `package` in `workspace` for the wasm target, and returns the core module's path.
pub fn cargo_build_wasm(cargo: &Path, workspace: &Path, package: &str, target_dir: &Path) -> Result<PathBuf, String> {
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", package, "--target", WASM_TARGET, "--profile", RULE_PROFILE, "--target-dir"])
        .arg(target_dir);
    for var in CARGO_ENV_TO_CLEAR {
        command.env_remove(var);
    }
    let status = command.status().map_err(|e| format!("could not run {}: {e}", cargo.display()))?;
    if !status.success() {
        return Err(format!("cargo build of `{package}` for {WASM_TARGET} failed ({status})"));
    }
    Ok(target_dir.join(WASM_TARGET).join(RULE_PROFILE).join(format!("{}.wasm", package.replace('-', "_"))))
}

/// Wraps a core module built with the guest SDK (it carries its WIT world in a custom section) into a component.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("not a rule module (wit-component): {e:#}"))
}
