//! `weft` as the Lambda: configuration from the environment, then the runtime API loop.

use std::process::ExitCode;
use std::time::Instant;

use weft::lambda::config::Config;

pub fn serve(started: Instant) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    super::runtime()?.block_on(async {
        let handler = weft::lambda::from_config(&config).await?;
        // Cold start: from `main` to the first poll of the runtime API, engine and default rule ready.
        tracing::info!(init_ms = started.elapsed().as_secs_f64() * 1000.0, stream = %config.stream, "weft ready");
        weft::lambda::serve(handler).await.map_err(|e| anyhow::anyhow!(e))
    })?;
    Ok(ExitCode::SUCCESS)
}
