//! The Lambda's configuration: environment variables, checked once at start with an error that names the
//! variable. [`VARIABLES`] is the documented list (`weft env` prints it; the Terraform module sets it).

use std::time::Duration;

pub use super::variables::{SYNC_VARIABLES, VARIABLES, Variable};
use crate::engine::Limits;
use crate::judge::DEFAULT_BATCH;
use crate::metrics::MetricsConfig;
use crate::privacy::RuleLogs;
use crate::rollout::source::RuleSource;
use crate::rules::signing;
use crate::verdict::record::valid_stream_name;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {var} is not set ({description})")]
    Missing { var: &'static str, description: &'static str },
    #[error("environment variable {var} is `{value}`: expected {expected}")]
    Malformed { var: &'static str, value: String, expected: &'static str },
}

/// What the Lambda needs to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub stream: String,
    pub dlq_url: String,
    pub dlq_bucket: Option<String>,
    /// The rule set; `None`: the embedded default rule.
    pub rules: Option<RuleSource>,
    pub rules_poll: Duration,
    pub rules_public_key: Option<String>,
    /// This deployment's name, checked against a signed manifest's scope.
    pub deployment: Option<String>,
    /// The lowest signed sequence a cold start accepts.
    pub rules_min_sequence: u64,
    /// A cold start that cannot load the rule set runs the default rule (else it fails its invocations).
    pub cold_start_default: bool,
    /// A new version failing its first this many events in a row is rolled back (0: never).
    pub rollback_after: u64,
    /// Bounds on a candidate rule set: the shadow's time, the canary's failures.
    pub candidates: crate::judge::candidate::Settings,
    pub limits: Limits,
    /// Linear memory of all rule instances together (the engine's budget).
    pub rules_memory_bytes: usize,
    pub batch: usize,
    pub metrics: MetricsConfig,
    pub rule_logs: RuleLogs,
    /// Where replayed events' records go (`None`: where live events' go).
    pub replay_stream: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let vars = Vars(lookup);
        let dlq_url =
            vars.checked("WEFT_DLQ_URL", QUEUE_URL, |u| u.starts_with("https://") || u.starts_with("http://"))?;
        let limits = Limits {
            time_per_event: Duration::from_millis(vars.number("WEFT_TIME_PER_EVENT_MS", 100, 1, 60_000)?),
            memory_bytes: vars.number("WEFT_MEMORY_MB", 64, 2, 4096)? as usize * 1024 * 1024,
            records_per_event: vars.number("WEFT_RECORDS_PER_EVENT", 100, 1, 10_000)? as usize,
            ..Limits::default()
        };
        // Half the Lambda's memory by default: the rest is the host's (batches, clients, compiled code).
        let lambda_mb = vars.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").and_then(|mb| mb.parse::<u64>().ok());
        let rules_memory_mb = vars.number("WEFT_RULES_MEMORY_MB", lambda_mb.map_or(1024, |mb| mb / 2), 2, 10_240)?;
        Ok(Config {
            stream: vars.checked("WEFT_STREAM", STREAM, |s| valid_stream_name(s) || valid_stream_arn(s))?,
            dlq_url,
            dlq_bucket: vars.get("WEFT_DLQ_BUCKET"),
            rules: vars
                .parsed("WEFT_RULES", "s3://BUCKET/KEY or a path to a manifest", |v| RuleSource::parse(v).ok())?,
            rules_poll: Duration::from_secs(vars.number("WEFT_RULES_POLL_SECONDS", 30, 1, 3600)?),
            rules_public_key: vars.parsed("WEFT_RULES_PUBLIC_KEY", PUBLIC_KEY, |key| {
                signing::public_keys(key).is_ok_and(|keys| !keys.is_empty()).then(|| key.to_owned())
            })?,
            deployment: vars.get("WEFT_DEPLOYMENT"),
            rules_min_sequence: vars.number("WEFT_RULES_MIN_SEQUENCE", 0, 0, u64::MAX)?,
            cold_start_default: vars
                .parsed("WEFT_RULES_COLD_START", "`fail` or `default`", |v| match v {
                    "fail" => Some(false),
                    "default" => Some(true),
                    _ => None,
                })?
                .unwrap_or(false),
            rollback_after: vars.number("WEFT_RULES_ROLLBACK_AFTER", 10, 0, 1_000_000)?,
            candidates: crate::judge::candidate::Settings {
                shadow_budget_percent: vars.number("WEFT_SHADOW_BUDGET_PERCENT", 100, 1, 1000)? as u32,
                canary_margin_percent: vars.number("WEFT_CANARY_MARGIN_PERCENT", 5, 0, 100)? as f64,
            },
            limits,
            rules_memory_bytes: rules_memory_mb as usize * 1024 * 1024,
            batch: vars.number("WEFT_BATCH", DEFAULT_BATCH as u64, 1, 10_000)? as usize,
            metrics: MetricsConfig {
                namespace: vars.checked_or("WEFT_METRICS_NAMESPACE", "weft", NAMESPACE, valid_namespace)?,
                function: vars.get("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_else(|| "weft".into()),
                breakdowns: vars
                    .parsed("WEFT_METRICS_DIMENSIONS", BREAKDOWNS, MetricsConfig::parse_breakdowns)?
                    .unwrap_or_else(|| MetricsConfig::new("").breakdowns),
            },
            rule_logs: vars
                .parsed("WEFT_RULE_LOGS", "`debug` or `as-written`", RuleLogs::parse)?
                .unwrap_or(RuleLogs::Debug),
            replay_stream: vars
                .parsed("WEFT_REPLAY_STREAM", REPLAY_STREAM, |s| valid_stream_name(s).then(|| s.to_owned()))?,
        })
    }
}

const STREAM: &str =
    "a Kinesis stream name (1 to 128 of a-z A-Z 0-9 _ . -) or ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME)";
const REPLAY_STREAM: &str = "a Kinesis stream name (1 to 128 of a-z A-Z 0-9 _ . -)";
const QUEUE_URL: &str = "an SQS queue URL (https://sqs.<region>.amazonaws.com/<account>/<queue>)";
const PUBLIC_KEY: &str = "ed25519 public keys, 64 hex digits each (weft rules keygen), comma-separated";
const NAMESPACE: &str = "a CloudWatch namespace: 1 to 255 of a-z A-Z 0-9 . - _ / # :, not starting with AWS/";
const BREAKDOWNS: &str = "a comma-separated list of Rule, Module, Stream, Stage, Reason, or `none`";

fn valid_namespace(namespace: &str) -> bool {
    namespace.len() <= 255
        && !namespace.starts_with("AWS/")
        && namespace.chars().all(|c| c.is_ascii_alphanumeric() || ".-_/#:".contains(c))
}

/// An environment variable as the Lambda reads each one: trimmed, and empty read as unset (the table sync's
/// function reads its own this way too).
pub fn env_var(var: &str) -> Option<String> {
    Vars(|v: &str| std::env::var(v).ok()).get(var)
}

/// A variable the table sync's function cannot run without, or the error that names it.
pub fn required_sync_var(var: &'static str) -> Result<String, ConfigError> {
    let description = SYNC_VARIABLES.iter().find(|v| v.name == var).map_or("", |v| v.description);
    env_var(var).ok_or(ConfigError::Missing { var, description })
}

/// The variables, read through a lookup: trimmed, and empty read as unset.
struct Vars<F>(F);

impl<F: Fn(&str) -> Option<String>> Vars<F> {
    fn get(&self, var: &str) -> Option<String> {
        (self.0)(var).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
    }

    /// A required variable that must pass `valid`.
    fn checked(
        &self,
        var: &'static str,
        expected: &'static str,
        valid: impl Fn(&str) -> bool,
    ) -> Result<String, ConfigError> {
        let description = VARIABLES.iter().find(|v| v.name == var).map_or("", |v| v.description);
        let value = self.get(var).ok_or(ConfigError::Missing { var, description })?;
        if !valid(&value) {
            return Err(ConfigError::Malformed { var, value, expected });
        }
        Ok(value)
    }

    /// An optional variable that must pass `valid` when set.
    fn checked_or(
        &self,
        var: &'static str,
        default: &str,
        expected: &'static str,
        valid: impl Fn(&str) -> bool,
    ) -> Result<String, ConfigError> {
        Ok(self.parsed(var, expected, |v| valid(v).then(|| v.to_owned()))?.unwrap_or_else(|| default.to_owned()))
    }

    /// An optional variable read by `parse` (`None` from it: malformed).
    fn parsed<T>(
        &self,
        var: &'static str,
        expected: &'static str,
        parse: impl Fn(&str) -> Option<T>,
    ) -> Result<Option<T>, ConfigError> {
        self.get(var).map(|value| parse(&value).ok_or(ConfigError::Malformed { var, value, expected })).transpose()
    }

    fn number(&self, var: &'static str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
        let parse = |v: &str| v.parse::<u64>().ok().filter(|n| (min..=max).contains(n));
        Ok(self.parsed(var, range_text(var), parse)?.unwrap_or(default))
    }
}

/// `arn:PARTITION:kinesis:REGION:ACCOUNT:stream/NAME`, as PutRecords' `StreamARN` takes it.
fn valid_stream_arn(value: &str) -> bool {
    let parts: Vec<&str> = value.splitn(6, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "kinesis", region, account, resource]
        if partition.starts_with("aws")
            && !region.is_empty()
            && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())
            && resource.strip_prefix("stream/").is_some_and(valid_stream_name))
}

fn range_text(var: &str) -> &'static str {
    match var {
        "WEFT_RULES_ROLLBACK_AFTER" => "a whole number of events from 0 to 1000000",
        "WEFT_SHADOW_BUDGET_PERCENT" => "a whole number of percent from 1 to 1000",
        "WEFT_CANARY_MARGIN_PERCENT" => "a whole number of percentage points from 0 to 100",
        "WEFT_TIME_PER_EVENT_MS" => "a whole number of milliseconds from 1 to 60000",
        "WEFT_MEMORY_MB" => "a whole number of MiB from 2 to 4096",
        "WEFT_RULES_MEMORY_MB" => "a whole number of MiB from 2 to 10240",
        "WEFT_RECORDS_PER_EVENT" => "a whole number from 1 to 10000",
        "WEFT_RULES_POLL_SECONDS" => "a whole number of seconds from 1 to 3600",
        "WEFT_RULES_MIN_SEQUENCE" => "a whole number",
        _ => "a whole number from 1 to 10000",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::from_lookup(|name| vars.iter().find(|(k, _)| *k == name).map(|(_, v)| v.to_string()))
    }

    const BASE: [(&str, &str); 2] = [("WEFT_STREAM", "s"), ("WEFT_DLQ_URL", "https://sqs.eu-west-1.amazonaws.com/1/q")];

    #[test]
    fn missing_and_malformed_variables_are_named() {
        assert_eq!(
            config(&[]).unwrap_err().to_string(),
            "environment variable WEFT_DLQ_URL is not set (URL of the SQS dead-letter queue.)"
        );
        assert!(matches!(config(&[BASE[1]]), Err(ConfigError::Missing { var: "WEFT_STREAM", .. })));
        let bad = config(&[BASE[0], BASE[1], ("WEFT_MEMORY_MB", "lots")]).unwrap_err();
        assert_eq!(
            bad.to_string(),
            "environment variable WEFT_MEMORY_MB is `lots`: expected a whole number of MiB from 2 to 4096"
        );
        assert!(matches!(
            config(&[BASE[0], ("WEFT_DLQ_URL", "my-queue")]),
            Err(ConfigError::Malformed { var: "WEFT_DLQ_URL", .. })
        ));
        assert!(matches!(
            config(&[BASE[0], BASE[1], ("WEFT_TIME_PER_EVENT_MS", "0")]),
            Err(ConfigError::Malformed { .. })
        ));
    }

    #[test]
    fn rule_set_variables_are_checked() {
        let with = |extra: (&str, &str)| config(&[BASE[0], BASE[1], extra]);
        let s3 = with(("WEFT_RULES", "s3://b/p/manifest.json")).unwrap();
        assert_eq!(
            s3.rules,
            Some(crate::rollout::source::RuleSource::S3 { bucket: "b".into(), key: "p/manifest.json".into() })
        );
        assert_eq!((s3.rules_poll, s3.cold_start_default), (Duration::from_secs(30), false));
        assert!(matches!(
            with(("WEFT_RULES", "s3://bucket-only")),
            Err(ConfigError::Malformed { var: "WEFT_RULES", .. })
        ));
        assert!(matches!(
            with(("WEFT_RULES_PUBLIC_KEY", "abc")),
            Err(ConfigError::Malformed { var: "WEFT_RULES_PUBLIC_KEY", .. })
        ));
        assert!(with(("WEFT_RULES_COLD_START", "default")).unwrap().cold_start_default);
        assert!(matches!(
            with(("WEFT_RULES_COLD_START", "maybe")),
            Err(ConfigError::Malformed { var: "WEFT_RULES_COLD_START", .. })
        ));
        assert!(with(("WEFT_RULES_PUBLIC_KEY", "")).unwrap().rules_public_key.is_none(), "empty is unset (Terraform)");
    }

    #[test]
    fn the_stream_is_a_name_or_an_arn() {
        let with = |stream: &str| config(&[("WEFT_STREAM", stream), BASE[1]]);
        assert_eq!(with("genesys-events").unwrap().stream, "genesys-events");
        let arn = "arn:aws:kinesis:eu-west-1:123456789012:stream/genesys-events";
        assert_eq!(with(arn).unwrap().stream, arn);
        assert!(with("arn:aws-cn:kinesis:cn-north-1:123456789012:stream/s").is_ok(), "other partitions");
        for bad in [
            "has spaces",
            "arn:aws:kinesis:eu-west-1:123456789012:genesys-events",
            "arn:aws:sqs:eu-west-1:123456789012:stream/s",
            "arn:aws:kinesis:eu-west-1:1234:stream/s",
            "arn:aws:kinesis:eu-west-1:123456789012:stream/bad name",
        ] {
            assert!(matches!(with(bad), Err(ConfigError::Malformed { var: "WEFT_STREAM", .. })), "{bad}");
        }
    }

    #[test]
    fn every_documented_variable_is_read_in_each_of_its_forms() {
        let set = config(&[
            BASE[0],
            BASE[1],
            ("WEFT_DLQ_BUCKET", "dead-letters"),
            ("WEFT_RULES", "rules/contact-centre.json"),
            ("WEFT_RULES_POLL_SECONDS", "5"),
            ("WEFT_RULES_COLD_START", "fail"),
            ("WEFT_RULES_ROLLBACK_AFTER", "0"),
            ("WEFT_TIME_PER_EVENT_MS", "60000"),
            ("WEFT_MEMORY_MB", "2"),
            ("WEFT_RECORDS_PER_EVENT", "10000"),
            ("WEFT_BATCH", "10000"),
            ("WEFT_METRICS_NAMESPACE", "contact-centre/weft"),
            ("WEFT_METRICS_DIMENSIONS", "Rule, Stage"),
            ("WEFT_RULE_LOGS", "as-written"),
            ("AWS_LAMBDA_FUNCTION_NAME", "weft-prod"),
        ])
        .unwrap();
        assert_eq!(
            (set.metrics.namespace.as_str(), set.metrics.function.as_str(), set.metrics.breakdowns.join(",")),
            ("contact-centre/weft", "weft-prod", "Rule,Stage".to_owned())
        );
        assert_eq!(set.rule_logs, RuleLogs::AsWritten);
        let defaults = config(&BASE).unwrap();
        assert_eq!((defaults.metrics, defaults.rule_logs), (MetricsConfig::new("weft"), RuleLogs::Debug));
        for (var, bad) in [
            ("WEFT_METRICS_NAMESPACE", "AWS/Lambda"),
            ("WEFT_METRICS_DIMENSIONS", "Rule,Queue"),
            ("WEFT_RULE_LOGS", "info"),
        ] {
            assert!(
                matches!(config(&[BASE[0], BASE[1], (var, bad)]), Err(ConfigError::Malformed { .. })),
                "{var}={bad}"
            );
        }
        assert!(
            config(&[BASE[0], BASE[1], ("WEFT_METRICS_DIMENSIONS", "none")]).unwrap().metrics.breakdowns.is_empty()
        );
        assert_eq!(set.rules, Some(crate::rollout::source::RuleSource::File("rules/contact-centre.json".into())));
        assert_eq!(set.rules_poll, Duration::from_secs(5));
        assert_eq!((set.rollback_after, set.cold_start_default), (0, false));
        assert_eq!(set.limits.time_per_event, Duration::from_secs(60));
        assert_eq!((set.limits.memory_bytes, set.limits.records_per_event, set.batch), (2 << 20, 10_000, 10_000));
        assert_eq!(config(&BASE).unwrap().rollback_after, 10, "the default");
        let candidates = config(&BASE).unwrap().candidates;
        assert_eq!((candidates.shadow_budget_percent, candidates.canary_margin_percent), (100, 5.0), "the defaults");
        let bounded = config(&[BASE[0], BASE[1], ("WEFT_SHADOW_BUDGET_PERCENT", "1001")]);
        assert!(matches!(bounded, Err(ConfigError::Malformed { .. })), "a budget over 1000 %");
        let over = config(&[BASE[0], BASE[1], ("WEFT_RULES_ROLLBACK_AFTER", "-1")]).unwrap_err();
        assert_eq!(
            over.to_string(),
            "environment variable WEFT_RULES_ROLLBACK_AFTER is `-1`: expected a whole number of events from 0 to 1000000"
        );
    }

    #[test]
    fn defaults_and_overrides() {
        let defaults = config(&BASE).unwrap();
        assert_eq!(defaults.limits, Limits::default());
        assert_eq!((defaults.batch, defaults.dlq_bucket), (DEFAULT_BATCH, None));
        let set = config(&[
            BASE[0],
            BASE[1],
            ("WEFT_TIME_PER_EVENT_MS", "250"),
            ("WEFT_DLQ_BUCKET", "b"),
            ("WEFT_BATCH", "1"),
        ])
        .unwrap();
        assert_eq!(set.limits.time_per_event, Duration::from_millis(250));
        assert_eq!((set.batch, set.dlq_bucket.as_deref()), (1, Some("b")));
    }

    /// All instances' memory: half the Lambda's by default, as the operator sets it otherwise, 1 GiB outside Lambda.
    #[test]
    fn rules_memory_defaults_to_half_the_lambda() {
        let mib = |vars: &[(&str, &str)]| {
            let all: Vec<_> = BASE.iter().chain(vars).copied().collect();
            config(&all).map(|c| c.rules_memory_bytes >> 20)
        };
        assert_eq!(mib(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")]).unwrap(), 256);
        assert_eq!(mib(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"), ("WEFT_RULES_MEMORY_MB", "100")]).unwrap(), 100);
        assert_eq!(mib(&[]).unwrap(), 1024);
        assert_eq!(
            mib(&[("WEFT_RULES_MEMORY_MB", "0")]).unwrap_err().to_string(),
            "environment variable WEFT_RULES_MEMORY_MB is `0`: expected a whole number of MiB from 2 to 10240"
        );
    }
}
