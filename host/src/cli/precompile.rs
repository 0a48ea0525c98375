//! `weft rules publish --precompile`: each module of the rule set compiled to native code for the Lambda's
//! architectures, so that a Lambda loads it in microseconds instead of compiling it (a Python module takes longer
//! than a Lambda's compile budget). The artifacts are content-addressed like the modules and pinned by sha256 in
//! the manifest; a Lambda uses them only from a signed rule set.

use std::collections::HashMap;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use weft::engine::{ModuleId, RuleModule};

/// The Lambda's architectures: the Terraform module's (arm64, Graviton) first. Another architecture than this
/// machine's needs its Cranelift backend in this build of weft (`--features precompile-arm64`).
const LAMBDA_TARGETS: [&str; 2] = ["aarch64-unknown-linux-gnu", "x86_64-unknown-linux-gnu"];

/// Adds `precompiled` to every uploaded module of `document` and the artifacts to `uploads`; says on standard error
/// which targets this build could not compile for.
pub fn precompile(document: &mut Value, uploads: &mut Vec<(String, Vec<u8>)>) -> anyhow::Result<()> {
    let mut done: HashMap<String, Value> = HashMap::new();
    let mut missing: Vec<String> = Vec::new();
    for rule in document["rules"].as_array_mut().into_iter().flatten() {
        for module in rule["modules"].as_array_mut().into_iter().flatten() {
            let Some(file) = module["module"].as_str().filter(|f| f.starts_with("modules/")).map(str::to_owned) else {
                continue;
            };
            if !done.contains_key(&file) {
                let wasm = uploads.iter().find(|(name, _)| *name == file).map(|(_, bytes)| bytes.clone());
                let wasm = wasm.with_context(|| format!("{file} is not among the files to upload"))?;
                let mut forms = Vec::new();
                for target in LAMBDA_TARGETS {
                    match RuleModule::precompile(&wasm, target) {
                        Ok(native) => {
                            let sha = ModuleId::new("", &native).sha256;
                            let name = format!("modules/{sha}.cwasm");
                            forms.push(json!({"target": target, "file": name, "sha256": sha}));
                            uploads.push((name, native));
                        }
                        Err(e) => missing.push(format!("{target}: {e}")),
                    }
                }
                if forms.is_empty() {
                    bail!("{file} could not be precompiled for any Lambda architecture:\n  {}", missing.join("\n  "));
                }
                done.insert(file.clone(), forms.into());
            }
            module["precompiled"] = done[&file].clone();
        }
    }
    missing.sort();
    missing.dedup();
    for reason in missing {
        eprintln!("weft: not precompiled for {reason} (a Lambda of that architecture compiles the module)");
    }
    Ok(())
}
