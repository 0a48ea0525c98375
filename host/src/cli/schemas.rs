//! `weft schemas`: write or check the JSON Schemas.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

#[derive(clap::Args)]
pub struct SchemasArgs {
    /// Directory to write into.
    #[arg(default_value = "schemas")]
    dir: PathBuf,
    /// Compare instead of writing; exit 1 when a file differs.
    #[arg(long)]
    check: bool,
}

pub fn schemas(args: SchemasArgs) -> anyhow::Result<ExitCode> {
    let mut stale = 0;
    for (name, text) in weft::schema::all() {
        let path = args.dir.join(name);
        if args.check {
            if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
                eprintln!("weft: {} is out of date (run `weft schemas {}`)", path.display(), args.dir.display());
                stale += 1;
            }
        } else {
            std::fs::create_dir_all(&args.dir).with_context(|| format!("creating {}", args.dir.display()))?;
            std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    Ok(if stale > 0 { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
