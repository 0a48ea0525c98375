//! Command-line interface. Errors stop here: they are printed, and the exit code says what kind they were
//! (0 all good, 1 some events were dead-lettered, 2 usage or I/O error).

mod bench;
mod run;
mod schemas;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "weft", version, about = "Genesys Cloud events in, Kinesis records out, through WebAssembly rules.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run events from files through the rules, as the Lambda would, printing one record per line.
    Run(run::RunArgs),
    /// Measure the default rule natively, in wasm (deadline on and off), and `weft run` end to end.
    Bench(bench::BenchArgs),
    /// Write the JSON Schemas of what weft reads and writes (or check them with --check).
    Schemas(schemas::SchemasArgs),
}

/// Exit code for usage and I/O errors.
pub const EXIT_USAGE: u8 = 2;

pub fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Bench(args) => bench::bench(args),
        Command::Schemas(args) => schemas::schemas(args),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("weft: error: {error:#}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}

/// Structured JSON logs on standard error; `WEFT_LOG` sets the filter (default `warn`).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| "warn".into());
    tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).init();
}
