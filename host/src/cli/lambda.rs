//! `weft` as the Lambda: configuration from the environment, then the runtime API loop.

use std::process::ExitCode;
use std::time::Instant;

use weft::lambda::config::Config;
use weft::metrics::Publisher;

pub fn serve(started: Instant) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    super::runtime()?.block_on(async {
        let handler = weft::lambda::from_config(&config).await?;
        // Cold start: from `main` to the first poll of the runtime API, engine and default rule ready.
        let init = started.elapsed();
        tracing::info!(init_ms = init.as_secs_f64() * 1000.0, stream = %config.stream, "weft ready");
        // Metrics on standard output (logs are on standard error): CloudWatch Logs reads both.
        let publisher = Publisher::new(config.metrics.clone(), Box::new(std::io::stdout())).cold_start(init);
        let handler = handler.with_metrics(publisher);
        weft::lambda::serve(handler).await.map_err(|e| anyhow::anyhow!(e))
    })?;
    Ok(ExitCode::SUCCESS)
}
