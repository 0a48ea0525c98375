//! Rules written in TypeScript or JavaScript: a project is a directory with `rule.ts` or `rule.js` (one function
//! given to `weft.rule`) and `tests/golden/`. `weft rules build` type-checks a TypeScript rule (tsc), bundles it
//! with the SDK built into this binary (esbuild) and makes the component on QuickJS (componentize-qjs), so the SDK
//! always matches the host that runs the module.
//!
//! QuickJS, not SpiderMonkey (componentize-js): measured on the same rules, its components are a seventh of the
//! size, compile in a sixth of the time (1.5 s; 0.5 s with the QuickJS code weft ships, `engine/code_cache.rs`:
//! well inside a cold start's budget, no `--precompile` needed), and run each event in about a third of the time
//! (docs/writing-rules.md, "Engines, measured"). The component imports nothing but weft's world: every WASI import
//! the engine has is stubbed to trap (`--stub-wasi`), so a module can use no clock, file or socket, and weft grants
//! none.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The npm packages (and versions) weft's JavaScript SDK is verified with; `scripts/setup.sh` installs them.
pub const JS_TOOLS: &str = "componentize-qjs@0.4.5 esbuild@0.28.2 typescript@7.0.2";

/// What the build writes beside the project's own files: (path in the build directory, contents).
const SDK: &[(&str, &str)] = &[
    ("wit/rule.wit", include_str!("../../../guest-sdk/wit/rule.wit")),
    ("weft.ts", include_str!("../../../guest-sdk/js/weft.ts")),
    ("events.ts", include_str!("../../../guest-sdk/js/events.ts")),
    ("host.d.ts", include_str!("../../../guest-sdk/js/host.d.ts")),
];

/// The type check: strict, against the language alone (no DOM, no Node.js), with `weft` resolving to the SDK.
const TSCONFIG: &str = r#"{
  "compilerOptions": {
    "strict": true,
    "noEmit": true,
    "target": "es2022",
    "lib": ["es2022"],
    "module": "esnext",
    "moduleResolution": "bundler",
    "types": [],
    "paths": { "weft": ["./sdk/weft.ts"] }
  },
  "files": ["../rule.ts", "sdk/host.d.ts"]
}
"#;

/// The project's rule file, if `dir` is a TypeScript or JavaScript project.
fn rule_file(dir: &Path) -> Option<&'static str> {
    ["rule.ts", "rule.js"].into_iter().find(|file| dir.join(file).is_file())
}

/// A TypeScript or JavaScript rule project: `rule.ts` or `rule.js` at its top.
pub fn is_project(dir: &Path) -> bool {
    rule_file(dir).is_some()
}

/// Builds the project in `dir` into `dir/build/NAME.wasm` (NAME: the directory's name): NAME and that path.
pub fn build(dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let dir = dir.canonicalize().with_context(|| format!("reading {}", dir.display()))?;
    let rule = rule_file(&dir).with_context(|| format!("{} has no rule.ts or rule.js", dir.display()))?;
    let name = dir.file_name().map_or_else(|| "rule".to_owned(), |n| n.to_string_lossy().into_owned());
    let build = dir.join("build");
    let sdk = build.join("sdk");
    if sdk.exists() {
        std::fs::remove_dir_all(&sdk).with_context(|| format!("clearing {}", sdk.display()))?;
    }
    // The entry runs the rule's module (which registers its function), then exports the world over it.
    let entry = format!(
        "import \"../../{rule}\";\nimport {{ world }} from \"weft\";\n\
         export const process = world.process;\nexport const processBatch = world.processBatch;\n"
    );
    for (path, text) in SDK.iter().copied().chain([("entry.ts", entry.as_str())]) {
        write(&sdk.join(path), text)?;
    }
    if rule == "rule.ts" {
        write(&build.join("tsconfig.json"), TSCONFIG)?;
        run("tsc", [OsStr::new("-p"), build.join("tsconfig.json").as_os_str()], &dir)?;
    }
    let bundle = sdk.join("bundle.js");
    run(
        "esbuild",
        [
            sdk.join("entry.ts").as_os_str(),
            OsStr::new("--bundle"),
            OsStr::new("--format=esm"),
            OsStr::new("--platform=neutral"),
            OsStr::new("--target=es2022"),
            OsStr::new("--log-level=warning"),
            OsStr::new("--external:weft:rules/*"),
            joined("--alias:weft=", &sdk.join("weft.ts")).as_os_str(),
            joined("--outfile=", &bundle).as_os_str(),
        ],
        &dir,
    )?;
    let out = build.join(format!("{name}.wasm"));
    let wit = sdk.join("wit");
    // `--stub-wasi`: the engine's WASI imports become traps, so the component imports weft's world and nothing
    // else; `--sync`: weft calls a rule synchronously, without the component model's async ABI.
    let componentize = [
        "--js".as_ref(),
        bundle.as_os_str(),
        "--wit".as_ref(),
        wit.as_os_str(),
        "--world".as_ref(),
        "rule".as_ref(),
        "--stub-wasi".as_ref(),
        "--sync".as_ref(),
        "--output".as_ref(),
        out.as_os_str(),
    ];
    run("componentize-qjs", componentize, &dir)?;
    Ok((name, out))
}

/// `flag` and `path` as one argument (`--outfile=PATH`).
fn joined(flag: &str, path: &Path) -> std::ffi::OsString {
    let mut arg = std::ffi::OsString::from(flag);
    arg.push(path);
    arg
}

fn write(path: &Path, text: &str) -> anyhow::Result<()> {
    std::fs::create_dir_all(path.parent().expect("build paths have a parent"))?;
    std::fs::write(path, text).with_context(|| format!("writing {}", path.display()))
}

/// Runs the npm tool `tool` (from `WEFT_JS_TOOLS/node_modules/.bin`, else from the PATH) in `dir`.
fn run<'a>(tool: &str, args: impl IntoIterator<Item = &'a OsStr>, dir: &Path) -> anyhow::Result<()> {
    let program = std::env::var_os("WEFT_JS_TOOLS")
        .map_or_else(|| PathBuf::from(tool), |tools| PathBuf::from(tools).join("node_modules/.bin").join(tool));
    let output = Command::new(&program).args(args).current_dir(dir).output().map_err(|e| {
        anyhow::anyhow!(
            "could not run {} ({e}): TypeScript and JavaScript rules are built with Node.js and \
             `npm install -g {JS_TOOLS}` (or set WEFT_JS_TOOLS to the directory `npm install` put them in)",
            program.display()
        )
    })?;
    if !output.status.success() {
        let said = [output.stdout, output.stderr].map(|o| String::from_utf8_lossy(&o).trim_end().to_owned());
        bail!(
            "{tool} failed ({}):\n{}",
            output.status,
            said.iter().filter(|s| !s.is_empty()).cloned().collect::<Vec<_>>().join("\n")
        );
    }
    Ok(())
}
