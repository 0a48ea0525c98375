//! Rules written in Python: a project is a directory with `rule.py` (one function marked `@weft.rule`) and
//! `tests/golden/`. `weft rules build` turns it into a component with componentize-py, against the WIT and the
//! Python SDK built into this binary, so the SDK always matches the host that runs the module.
//!
//! The component imports nothing but weft's world: componentize-py's `--stub-wasi` replaces the WASI imports its
//! Python runtime has with stubs that trap, so a module can use no clock, file or socket, and weft grants none.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// The componentize-py release weft's Python SDK is verified with (`scripts/setup.sh` installs it).
pub const COMPONENTIZE_PY: &str = "componentize-py==0.25.1";

/// What the build writes beside the project's own files: (path in the build directory, contents).
const SDK: &[(&str, &str)] = &[
    ("wit/rule.wit", include_str!("../../../guest-sdk/wit/rule.wit")),
    ("weft/__init__.py", include_str!("../../../guest-sdk/python/weft/__init__.py")),
    ("weft/events.py", include_str!("../../../guest-sdk/python/weft/events.py")),
    // componentize-py wants the app module to define the world's class; the project's `rule.py` registers its
    // function when imported, and the SDK's class calls it.
    (
        "weft_entry.py",
        "import rule  # noqa: F401  (registers the @weft.rule function)\nfrom weft import WitWorld  # noqa: F401\n",
    ),
];

/// A Python rule project: `rule.py` at its top.
pub fn is_project(dir: &Path) -> bool {
    dir.join("rule.py").is_file()
}

/// Builds the project in `dir` into `dir/build/NAME.wasm` (NAME: the directory's name): NAME and that path.
pub fn build(dir: &Path) -> anyhow::Result<(String, PathBuf)> {
    let dir = dir.canonicalize().with_context(|| format!("reading {}", dir.display()))?;
    let name = dir.file_name().map_or_else(|| "rule".to_owned(), |n| n.to_string_lossy().into_owned());
    let build = dir.join("build");
    let sdk = build.join("sdk");
    if sdk.exists() {
        std::fs::remove_dir_all(&sdk).with_context(|| format!("clearing {}", sdk.display()))?;
    }
    for (path, text) in SDK {
        let target = sdk.join(path);
        std::fs::create_dir_all(target.parent().expect("SDK paths have a parent"))?;
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    let wit = sdk.join("wit");
    componentize_py(&wit, &[OsStr::new("bindings"), sdk.as_os_str()])?;
    let out = build.join(format!("{name}.wasm"));
    let arg = OsStr::new;
    let (sdk, dir) = (sdk.as_os_str(), dir.as_os_str());
    let out_path = out.as_os_str();
    let app = [
        arg("componentize"),
        arg("--stub-wasi"),
        arg("-p"),
        sdk,
        arg("-p"),
        dir,
        arg("weft_entry"),
        arg("-o"),
        out_path,
    ];
    componentize_py(&wit, &app)?;
    Ok((name, out))
}

/// Runs componentize-py on weft's world (the WIT in `wit`) with `args`.
fn componentize_py(wit: &Path, args: &[&OsStr]) -> anyhow::Result<()> {
    let program = std::env::var_os("WEFT_COMPONENTIZE_PY").unwrap_or_else(|| "componentize-py".into());
    let mut command = Command::new(&program);
    command.arg("--quiet").arg("-d").arg(wit).args(["-w", "rule"]).args(args);
    let output = command.output().map_err(|e| {
        anyhow::anyhow!(
            "could not run {} ({e}): Python rules are built with componentize-py (`pip install {COMPONENTIZE_PY}`, \
             or set WEFT_COMPONENTIZE_PY to its path)",
            Path::new(&program).display()
        )
    })?;
    if !output.status.success() {
        bail!("componentize-py failed ({}):\n{}", output.status, String::from_utf8_lossy(&output.stderr).trim_end());
    }
    Ok(())
}
