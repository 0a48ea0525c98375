//! `weft env`: the environment variables the Lambda reads (the Terraform module sets each of them): the event
//! function's, then the table sync's (`WEFT_ROLE=tables-sync`).

use std::process::ExitCode;

use weft::lambda::config::{SYNC_VARIABLES, VARIABLES, Variable};

#[derive(clap::Args)]
pub struct EnvArgs {
    /// Print them as JSON: `{"function": [...], "tablesSync": [...]}`.
    #[arg(long)]
    json: bool,
}

pub fn env(args: EnvArgs) -> anyhow::Result<ExitCode> {
    if args.json {
        let both = serde_json::json!({"function": VARIABLES, "tablesSync": SYNC_VARIABLES});
        println!("{}", serde_json::to_string_pretty(&both)?);
        return Ok(ExitCode::SUCCESS);
    }
    print(VARIABLES);
    println!("\nThe table sync's function (WEFT_ROLE=tables-sync, the Terraform module's tables_sync_schedule):");
    print(SYNC_VARIABLES);
    Ok(ExitCode::SUCCESS)
}

fn print(variables: &[Variable]) {
    for var in variables {
        let status = match (var.required, var.default) {
            (true, _) => "required".to_owned(),
            (false, Some(default)) => format!("default {default}"),
            (false, None) => "optional".to_owned(),
        };
        println!("{:<30} {:<24} {}", var.name, status, var.description);
    }
}
