//! The first build compiles each crate once: wasmtime, Cranelift and the wasm tools are shared between the build
//! script (which precompiles the default rule) and the host, which cargo does only when a crate has the same
//! features on both sides. The feature unifiers in `host/Cargo.toml` keep it so; this fails when a dependency
//! update makes a crate's features differ between the two sides again (it would then be compiled twice — for
//! Cranelift, four extra CPU-minutes).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

/// Each package (name and version) with every feature set cargo resolves it to, for `cargo` with `args`.
fn feature_sets(args: &[&str]) -> BTreeMap<String, BTreeSet<String>> {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ is in the workspace");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace)
        .args(["tree", "--locked", "--prefix", "none", "--format", "{p}|{f}"])
        .args(args)
        .output()
        .expect("cargo runs");
    assert!(output.status.success(), "cargo tree failed: {}", String::from_utf8_lossy(&output.stderr));
    let mut sets: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for line in String::from_utf8(output.stdout).expect("UTF-8").lines() {
        let line = line.trim_end_matches(" (*)");
        let Some((package, features)) = line.split_once('|') else { continue };
        // A workspace member's path is not part of what makes two units differ.
        let package = package.split(" (/").next().unwrap_or(package);
        sets.entry(package.to_owned()).or_default().insert(features.to_owned());
    }
    sets
}

fn assert_built_once(args: &[&str]) {
    let sets = feature_sets(args);
    assert!(sets.keys().any(|p| p.starts_with("cranelift-codegen ")), "the graph has Cranelift: {sets:?}");
    let twice: Vec<String> =
        sets.iter().filter(|(_, features)| features.len() > 1).map(|(p, f)| format!("{p}: {f:?}")).collect();
    assert!(twice.is_empty(), "crates with two feature sets (each is compiled twice):\n{}", twice.join("\n"));
}

#[test]
fn the_quick_start_compiles_every_crate_once() {
    assert_built_once(&["--package", "weft", "--edges", "normal,build"]);
}

#[test]
fn the_test_suite_compiles_every_crate_once() {
    assert_built_once(&["--workspace", "--edges", "normal,build,dev"]);
}

/// `weft studio` is the `studio` feature, on by default; the Lambda is built without it (scripts/build-lambda.sh),
/// so the function carries no HTTP server and no page.
#[test]
fn the_lambdas_build_leaves_the_studio_out() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("host/ is in the workspace");
    let script = std::fs::read_to_string(workspace.join("scripts/build-lambda.sh")).unwrap();
    assert!(script.contains("-p weft --no-default-features --features precompile-arm64"), "{script}");
    let serves = |args: &[&str]| {
        let sets = feature_sets(&[&["--package", "weft", "--edges", "normal"], args].concat());
        let hyper: Vec<&BTreeSet<String>> =
            sets.iter().filter(|(p, _)| p.starts_with("hyper v")).map(|(_, f)| f).collect();
        assert!(!hyper.is_empty(), "hyper is in the graph (the AWS SDK's HTTP client)");
        hyper.iter().any(|sets| sets.iter().any(|features| features.split(',').any(|f| f == "server")))
    };
    assert!(serves(&[]), "the command-line tool has the studio's server");
    assert!(!serves(&["--no-default-features", "--features", "precompile-arm64"]), "the Lambda has no HTTP server");
}
