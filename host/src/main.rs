//! The `weft` command: the Lambda, and the tools around it (`weft run`, `weft rules`, `weft redrive`, ...).
// The Lambda's future (runtime client + AWS SDK + handler) nests deeper than clippy's default query depth.
#![recursion_limit = "256"]

mod cli;
#[cfg(feature = "studio")]
mod studio;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::main()
}
