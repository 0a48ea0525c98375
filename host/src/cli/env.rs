//! `weft env`: the environment variables the Lambda reads (the Terraform module sets each of them).

use std::process::ExitCode;

use weft::lambda::config::VARIABLES;

#[derive(clap::Args)]
pub struct EnvArgs {
    /// Print them as JSON.
    #[arg(long)]
    json: bool,
}

pub fn env(args: EnvArgs) -> anyhow::Result<ExitCode> {
    if args.json {
        println!("{}", serde_json::to_string_pretty(VARIABLES)?);
        return Ok(ExitCode::SUCCESS);
    }
    for var in VARIABLES {
        let status = match (var.required, var.default) {
            (true, _) => "required".to_owned(),
            (false, Some(default)) => format!("default {default}"),
            (false, None) => "optional".to_owned(),
        };
        println!("{:<24} {:<12} {}", var.name, status, var.description);
    }
    Ok(ExitCode::SUCCESS)
}
