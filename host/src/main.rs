//! The `weft` command: `weft run` (the Lambda's data path on local files), `weft bench`, `weft schemas`.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
