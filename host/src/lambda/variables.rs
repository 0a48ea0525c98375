//! The environment variables the Lambda reads: the documented list (`weft env` prints it; the Terraform module
//! sets it; docs/operating.md's table is checked against it).

/// One environment variable weft reads.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct Variable {
    pub name: &'static str,
    pub required: bool,
    pub default: Option<&'static str>,
    pub description: &'static str,
}

pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "WEFT_STREAM",
        required: true,
        default: None,
        description: "Kinesis stream records are written to: its name, or its ARN (arn:aws:kinesis:REGION:ACCOUNT:stream/NAME).",
    },
    Variable { name: "WEFT_DLQ_URL", required: true, default: None, description: "URL of the SQS dead-letter queue." },
    Variable {
        name: "WEFT_DLQ_BUCKET",
        required: false,
        default: None,
        description: "S3 bucket for dead letters over SQS's 256 KiB (the message then points at the object). Without it such an event fails its invocation instead.",
    },
    Variable {
        name: "WEFT_RULES",
        required: false,
        default: None,
        description: "Rule set manifest to run: s3://BUCKET/PREFIX/manifest.json (hot-swapped, see WEFT_RULES_POLL_SECONDS) or a path. Unset: the embedded default rule.",
    },
    Variable {
        name: "WEFT_RULES_POLL_SECONDS",
        required: false,
        default: Some("30"),
        description: "How often the S3 manifest is re-checked (a conditional GET, in the background).",
    },
    Variable {
        name: "WEFT_RULES_PUBLIC_KEY",
        required: false,
        default: None,
        description: "ed25519 public keys (hex, from `weft rules keygen`; several, comma-separated, while a key is rotated): when set, unsigned or wrongly signed rule sets, and signed ones with a table not pinned by sha256, are refused.",
    },
    Variable {
        name: "WEFT_DEPLOYMENT",
        required: false,
        default: None,
        description: "This deployment's name: a signed rule set whose scope names another deployment is refused (`weft rules publish --deployment`).",
    },
    Variable {
        name: "WEFT_RULES_MIN_SEQUENCE",
        required: false,
        default: Some("0"),
        description: "The lowest signed sequence a cold start accepts (later versions must be higher than the one running): raise it to refuse older signed publications outright.",
    },
    Variable {
        name: "WEFT_RULES_COLD_START",
        required: false,
        default: Some("fail"),
        description: "A cold start that cannot load the S3 rule set: `fail` its invocations (Lambda retries them) or run the embedded `default` rule until it loads.",
    },
    Variable {
        name: "WEFT_RULES_ROLLBACK_AFTER",
        required: false,
        default: Some("10"),
        description: "A new rule set version that fails this many of its first events in a row is rolled back to the version before it (0: never).",
    },
    Variable {
        name: "WEFT_SHADOW_BUDGET_PERCENT",
        required: false,
        default: Some("100"),
        description: "A shadow candidate's rule time may reach this percentage of the active rules' time; beyond it events are not shadowed (counted as ShadowSkipped), never delivered later.",
    },
    Variable {
        name: "WEFT_CANARY_MARGIN_PERCENT",
        required: false,
        default: Some("5"),
        description: "A canary whose share of failed events exceeds the active rule set's by more than this many percentage points (after 50 events) is rolled back in the container that sees it.",
    },
    Variable {
        name: "WEFT_TIME_PER_EVENT_MS",
        required: false,
        default: Some("100"),
        description: "Time a rule module may spend on one event.",
    },
    Variable {
        name: "WEFT_MEMORY_MB",
        required: false,
        default: Some("64"),
        description: "Linear memory of one rule module instance.",
    },
    Variable {
        name: "WEFT_RULES_MEMORY_MB",
        required: false,
        default: Some("half the Lambda's memory"),
        description: "Linear memory of all rule module instances together (a call that would pass it fails with class `memory-limit`).",
    },
    Variable {
        name: "WEFT_RECORDS_PER_EVENT",
        required: false,
        default: Some("100"),
        description: "Records one event may produce.",
    },
    Variable {
        name: "WEFT_BATCH",
        required: false,
        default: Some("64"),
        description: "Events per call into a rule module.",
    },
    Variable {
        name: "WEFT_METRICS_NAMESPACE",
        required: false,
        default: Some("weft"),
        description: "CloudWatch namespace of the metrics (Embedded Metric Format documents on standard output).",
    },
    Variable {
        name: "WEFT_METRICS_DIMENSIONS",
        required: false,
        default: Some("Rule,Module,Stream,Stage,Reason"),
        description: "Breakdowns published besides the per-function metrics (each value is a CloudWatch metric series, billed): any of Rule, Module, Stream, Stage, Reason, or `none`.",
    },
    Variable {
        name: "WEFT_RULE_LOGS",
        required: false,
        default: Some("debug"),
        description: "Level of rule modules' log lines: `debug` whatever the module chose, or `as-written`. Their text is redacted (phone numbers, long digit runs, e-mail addresses) either way.",
    },
    Variable {
        name: "WEFT_REPLAY_STREAM",
        required: false,
        default: None,
        description: "A Kinesis stream for the records of replayed events (those EventBridge's replay marks with `replay-name`), so that live consumers never see history. Unset: they go where live events' records go.",
    },
    Variable {
        name: "WEFT_LOG",
        required: false,
        default: Some("info"),
        description: "Log filter (tracing EnvFilter syntax); logs are JSON.",
    },
];

/// What the table sync's function reads: the same binary and zip, started with `WEFT_ROLE=tables-sync`, with a role
/// of its own that may write the rule set (the event function's may only read it).
pub const SYNC_VARIABLES: &[Variable] = &[
    Variable {
        name: "WEFT_ROLE",
        required: true,
        default: None,
        description: "`tables-sync`: each invocation syncs the tables of WEFT_RULES from the Genesys Cloud API (the schedule invokes it).",
    },
    Variable {
        name: "WEFT_RULES",
        required: true,
        default: None,
        description: "The published rule set whose `sync` tables are kept current: s3://BUCKET/PREFIX/manifest.json.",
    },
    Variable {
        name: "GENESYS_DOMAIN",
        required: false,
        default: Some("mypurecloud.com"),
        description: "The organisation's region domain (mypurecloud.ie, usw2.pure.cloud, ...).",
    },
    Variable {
        name: "GENESYS_CREDENTIALS_SECRET",
        required: true,
        default: None,
        description: "Secrets Manager secret (ARN or name) holding the OAuth client: {\"clientId\": ..., \"clientSecret\": ...}.",
    },
    Variable {
        name: "WEFT_RULES_SIGNING_KEY_SECRET",
        required: false,
        default: None,
        description: "Secrets Manager secret (ARN or name) holding the rule-set signing key (`weft rules keygen`'s file): a signed rule set is re-signed with it. Unset: only an unsigned rule set can be synced.",
    },
    Variable {
        name: "WEFT_DEPLOYMENT",
        required: false,
        default: None,
        description: "The deployment the re-signed rule set is for (required with WEFT_RULES_SIGNING_KEY_SECRET), and the one its signature is checked for before it is published.",
    },
    Variable {
        name: "WEFT_RULES_PUBLIC_KEY",
        required: false,
        default: None,
        description: "The event function's: before publishing, the sync loads the new version as the event function would, with these keys, and publishes nothing it would refuse. Unset: the signing key's own public key.",
    },
    Variable {
        name: "WEFT_RULES_MIN_SEQUENCE",
        required: false,
        default: Some("0"),
        description: "The event function's: a version it would refuse as older than this is not published.",
    },
];
