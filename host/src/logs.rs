//! weft's log lines: one JSON object per line, every field at the top level (`level`, `message`, `target`, and the
//! event's own fields such as `request_id`, `rule_set`, `event`, `metric`), so that CloudWatch Logs Insights can
//! query each of them and the Terraform module's metric filters (`{ $.metric = "RuleSetRefused" }`) can match them.
//! tracing's JSON formatter nests an event's fields under `fields` unless told to flatten them; a filter written
//! against the flat shape never matched the nested one.
//!
//! Lines that report something an operator alarms on carry `metric`: `RuleSetRefused`, `RuleSetRolledBack`,
//! `RuleSetUnavailable`, `RuleQuarantined`, `EventFailed`.

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// The formatting layer, writing to `writer`: the Lambda's and the CLI's (standard error), and the tests'.
pub fn layer<W>(writer: W) -> impl Layer<Registry>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_writer(writer)
}

/// Logs to standard error from now on; `WEFT_LOG` sets the filter (`default` when unset or invalid).
pub fn init(default: &str) {
    let filter = EnvFilter::try_from_env("WEFT_LOG").unwrap_or_else(|_| default.into());
    let _ = Registry::default().with(layer(std::io::stderr).with_filter(filter)).try_init();
}
