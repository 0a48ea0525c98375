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

/// Compiler flags for rule modules: LLVM inlines with a larger budget than its default (225). In a module every call
/// that stays a call pays for the host's deadline check at its entry, and serde's code is many small functions:
/// the default rule takes 8–11 % less time per event for 24 % more bytes (`weft bench`, 2.88 against 3.16 µs;
/// 175 → 217 KB). A budget of 3,000 was no faster, 400 half as good.
pub const RULE_RUSTFLAGS: &str = "-Cllvm-args=-inline-threshold=1000";

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
    let status = wasm_build(cargo, workspace, package, target_dir)
        .status()
        .map_err(|e| format!("could not run {}: {e}", cargo.display()))?;
    if !status.success() {
        return Err(format!("cargo build of `{package}` for {WASM_TARGET} failed ({status})"));
    }
    Ok(target_dir.join(WASM_TARGET).join(RULE_PROFILE).join(format!("{}.wasm", package.replace('-', "_"))))
}

/// The `cargo build` of a rule crate: weft's target, profile and flags, none of a parent build's.
fn wasm_build(cargo: &Path, workspace: &Path, package: &str, target_dir: &Path) -> Command {
    let mut command = Command::new(cargo);
    command
        .current_dir(workspace)
        .args(["build", "--package", package, "--target", WASM_TARGET, "--profile", RULE_PROFILE, "--target-dir"])
        .arg(target_dir);
    for var in CARGO_ENV_TO_CLEAR {
        command.env_remove(var);
    }
    command.env("RUSTFLAGS", RULE_RUSTFLAGS);
    command
}

/// Wraps a core module built with the guest SDK (it carries its WIT world in a custom section) into a component.
pub fn componentize(core: &[u8]) -> Result<Vec<u8>, String> {
    wit_component::ComponentEncoder::default()
        .module(core)
        .and_then(|encoder| encoder.validate(true).encode())
        .map_err(|e| format!("not a rule module (wit-component): {e:#}"))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::*;

    #[test]
    fn rule_crates_are_built_with_weft_s_flags_and_none_of_a_parent_build() {
        let command = wasm_build(Path::new("cargo"), Path::new("."), "rule", Path::new("target"));
        let env: Vec<(&OsStr, Option<&OsStr>)> = command.get_envs().collect();
        assert!(env.contains(&(OsStr::new("RUSTFLAGS"), Some(OsStr::new(RULE_RUSTFLAGS)))), "{env:?}");
        assert!(env.contains(&(OsStr::new("CARGO_ENCODED_RUSTFLAGS"), None)), "{env:?}");
        let args: Vec<&OsStr> = command.get_args().collect();
        assert!(args.windows(2).any(|w| w == [OsStr::new("--profile"), OsStr::new(RULE_PROFILE)]), "{args:?}");
    }
}
