//! `weft` as the Lambda: configuration from the environment, then the runtime API loop.

use std::process::ExitCode;
use std::time::Instant;

use weft::lambda::config::Config;
use weft::metrics::Publisher;
use weft::rollout::tables::genesys::Credentials;

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

/// `weft` as the backfill role's Lambda (`WEFT_ROLE=backfill`): the event function's configuration, one object of
/// history per invocation.
pub fn serve_backfill() -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    // Two workers: the object's body is pumped on one while the rules run on a blocking thread.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let backfill = weft::history::role::Backfill::from_config(config).await?;
        tracing::info!("weft backfill ready");
        weft::history::role::serve(backfill).await.map_err(|e| anyhow::anyhow!(e))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// What the table sync's function reads from its environment (`SYNC_VARIABLES`).
struct SyncConfig {
    location: String,
    domain: String,
    credentials_secret: String,
    /// The signing key's secret, and the deployment the signature is for.
    signing: Option<(String, String)>,
}

impl SyncConfig {
    fn from_env() -> anyhow::Result<SyncConfig> {
        use weft::lambda::config::{env_var as var, required_sync_var as required};
        let signing = match (var("WEFT_RULES_SIGNING_KEY_SECRET"), var("WEFT_DEPLOYMENT")) {
            (Some(key), Some(deployment)) => Some((key, deployment)),
            (Some(_), None) => anyhow::bail!(
                "WEFT_RULES_SIGNING_KEY_SECRET needs WEFT_DEPLOYMENT: the signature says which deployment it is for"
            ),
            (None, _) => None,
        };
        Ok(SyncConfig {
            location: required("WEFT_RULES")?,
            domain: var("GENESYS_DOMAIN").unwrap_or_else(|| "mypurecloud.com".to_owned()),
            credentials_secret: required("GENESYS_CREDENTIALS_SECRET")?,
            signing,
        })
    }
}

/// `weft` as the table sync's Lambda (`WEFT_ROLE=tables-sync`): each invocation syncs the tables of `WEFT_RULES`,
/// with the OAuth client and the signing key read from Secrets Manager at each invocation (a rotated secret is
/// used from the next run on). A failed sync fails its invocation, which the module's alarm watches.
pub fn serve_tables_sync() -> anyhow::Result<ExitCode> {
    let config = SyncConfig::from_env()?;
    super::runtime()?.block_on(async {
        let clients = weft::aws::Clients::load().await;
        let secrets = aws_sdk_secretsmanager::Client::new(&weft::aws::sdk_config().await);
        tracing::info!(rules = %config.location, "weft tables sync ready");
        let job = |_: lambda_runtime::LambdaEvent<serde_json::Value>| async {
            match sync_once(&config, &secrets, &clients).await {
                Ok(report) => {
                    tracing::info!(report = report.join("; "), "tables synced");
                    Ok::<_, lambda_runtime::Error>(serde_json::json!({ "report": report }))
                }
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "tables sync failed");
                    Err(format!("{e:#}").into())
                }
            }
        };
        lambda_runtime::run(lambda_runtime::service_fn(job)).await.map_err(|e| anyhow::anyhow!(e))
    })?;
    Ok(ExitCode::SUCCESS)
}

/// One sync: the secrets as they are now, then `weft tables sync`'s own run.
async fn sync_once(
    config: &SyncConfig,
    secrets: &aws_sdk_secretsmanager::Client,
    clients: &weft::aws::Clients,
) -> anyhow::Result<Vec<String>> {
    let id = &config.credentials_secret;
    let credentials: serde_json::Value = serde_json::from_str(&secret(secrets, id).await?)
        .map_err(|_| anyhow::anyhow!("{id} is not JSON ({{\"clientId\": …, \"clientSecret\": …}})"))?;
    let field = |name: &str| {
        credentials[name].as_str().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("{id} has no `{name}`"))
    };
    let credentials = Credentials { client_id: field("clientId")?, client_secret: field("clientSecret")? };
    let signer = match &config.signing {
        Some((key, deployment)) => {
            Some(super::scope::Signer::from_hex(&secret(secrets, key).await?, deployment.clone())?)
        }
        None => None,
    };
    let job = super::tables::SyncJob {
        location: config.location.clone(),
        domain: config.domain.clone(),
        force: false,
        signer,
        public_key: std::env::var("WEFT_RULES_PUBLIC_KEY").ok(),
        credentials,
    };
    super::tables::run_sync(job, clients).await
}

/// A secret's string value.
async fn secret(client: &aws_sdk_secretsmanager::Client, id: &str) -> anyhow::Result<String> {
    let answer = client.get_secret_value().secret_id(id).send().await.map_err(|e| {
        anyhow::anyhow!("reading secret {id}: {}", aws_sdk_secretsmanager::error::DisplayErrorContext(&e))
    })?;
    answer.secret_string().map(str::to_owned).ok_or_else(|| anyhow::anyhow!("secret {id} has no string value"))
}
