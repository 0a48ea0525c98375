//! `weft rules new`: a rule module from the templates built into the binary, in Rust, Python, TypeScript or
//! JavaScript; each builds and passes the same golden tests as generated.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};

#[derive(clap::Args)]
pub struct NewArgs {
    /// The module's name; it is created in a directory of that name.
    name: String,
    /// The language to write the rule in.
    #[arg(long, value_enum, default_value_t = Lang::Rust)]
    lang: Lang,
    /// The weft guest SDK for Rust (`guest-sdk/` of a weft checkout); default: the one this weft was built from.
    #[arg(long, value_name = "DIR")]
    sdk: Option<PathBuf>,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Lang {
    Rust,
    Python,
    /// TypeScript (type-checked when it is built).
    Ts,
    /// JavaScript.
    Js,
}

/// The template, built into the binary: (path in the new crate, contents).
const TEMPLATE: &[(&str, &str)] = &[
    ("Cargo.toml", include_str!("../../templates/rule/Cargo.toml.tmpl")),
    ("rust-toolchain.toml", include_str!("../../templates/rule/rust-toolchain.toml.tmpl")),
    (".gitignore", include_str!("../../templates/rule/gitignore.tmpl")),
    ("src/lib.rs", include_str!("../../templates/rule/src/lib.rs.tmpl")),
    ("tests/golden/customer-start.json", include_str!("../../templates/rule/tests/golden/customer-start.json")),
    ("tests/golden/other-media-type.json", include_str!("../../templates/rule/tests/golden/other-media-type.json")),
];

/// The Python template: the same golden cases, which its rule passes with the same records.
const PYTHON_TEMPLATE: &[(&str, &str)] = &[
    ("rule.py", include_str!("../../templates/rule-python/rule.py.tmpl")),
    ("README.md", include_str!("../../templates/rule-python/README.md.tmpl")),
    (".gitignore", include_str!("../../templates/rule-python/gitignore.tmpl")),
    ("tests/golden/customer-start.json", include_str!("../../templates/rule/tests/golden/customer-start.json")),
    ("tests/golden/other-media-type.json", include_str!("../../templates/rule/tests/golden/other-media-type.json")),
];

/// The same golden cases again, and what a TypeScript or JavaScript project has besides its rule file.
const JS_TEMPLATE: &[(&str, &str)] = &[
    ("README.md", include_str!("../../templates/rule-ts/README.md.tmpl")),
    (".gitignore", include_str!("../../templates/rule-ts/gitignore.tmpl")),
    ("tests/golden/customer-start.json", include_str!("../../templates/rule/tests/golden/customer-start.json")),
    ("tests/golden/other-media-type.json", include_str!("../../templates/rule/tests/golden/other-media-type.json")),
];

const TS_TEMPLATE: &[(&str, &str)] = &[
    ("rule.ts", include_str!("../../templates/rule-ts/rule.ts.tmpl")),
    ("tsconfig.json", include_str!("../../templates/rule-ts/tsconfig.json.tmpl")),
];

const JS_RULE: &[(&str, &str)] = &[("rule.js", include_str!("../../templates/rule-ts/rule.js.tmpl"))];

/// The toolchain weft itself is built with (rust-toolchain.toml), which has the wasm target.
const TOOLCHAIN: &str = "1.95.0";

pub fn new(args: NewArgs) -> anyhow::Result<ExitCode> {
    let name = &args.name;
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        bail!("`{name}` is not a crate name (letters, digits, `-` and `_`)");
    }
    let dir = PathBuf::from(name);
    if dir.exists() {
        bail!("{} already exists", dir.display());
    }
    let (template, sdk): (Vec<&(&str, &str)>, _) = match args.lang {
        Lang::Python => (PYTHON_TEMPLATE.iter().collect(), PathBuf::new()),
        Lang::Ts => (TS_TEMPLATE.iter().chain(JS_TEMPLATE).collect(), PathBuf::new()),
        Lang::Js => (JS_RULE.iter().chain(JS_TEMPLATE).collect(), PathBuf::new()),
        Lang::Rust => {
            let sdk = args.sdk.unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../guest-sdk"));
            let sdk = sdk.canonicalize().with_context(|| {
                format!(
                    "the weft guest SDK is not at {} (pass --sdk DIR: the guest-sdk/ of a weft checkout)",
                    sdk.display()
                )
            })?;
            (TEMPLATE.iter().collect(), sdk)
        }
    };
    let (language, rule_file) =
        if args.lang == Lang::Js { ("JavaScript", "rule.js") } else { ("TypeScript", "rule.ts") };
    for (path, text) in template {
        let target = dir.join(path);
        std::fs::create_dir_all(target.parent().expect("template paths have a parent"))?;
        let text = text
            .replace("{{name}}", name)
            .replace("{{sdk}}", &sdk.display().to_string())
            .replace("{{toolchain}}", TOOLCHAIN)
            .replace("{{componentize_py}}", super::python::COMPONENTIZE_PY)
            .replace("{{js_tools}}", super::javascript::JS_TOOLS)
            .replace("{{language}}", language)
            .replace("{{rule_file}}", rule_file);
        std::fs::write(&target, text).with_context(|| format!("writing {}", target.display()))?;
    }
    println!("created {}: `weft rules test {name}` builds it and runs its golden tests", dir.display());
    Ok(ExitCode::SUCCESS)
}
