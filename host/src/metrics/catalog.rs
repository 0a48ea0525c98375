//! Every metric weft publishes: name, unit, the dimension sets it is published under, and what it means. One table
//! feeds the EMF documents ([`super::emf`]), `schemas/metrics.schema.json` and the table in docs/operating.md (a
//! test keeps both equal to it), so a metric cannot be published without being documented, or the reverse.

use serde::Serialize;

/// A CloudWatch unit (the subset weft uses).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Unit {
    Count,
    Milliseconds,
    Seconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
            Unit::Seconds => "Seconds",
        }
    }
}

/// The document a metric is in, and so its dimensions: every document has `Function`; the others add one
/// breakdown each, published only when `WEFT_METRICS_DIMENSIONS` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Per {
    /// `[Function]`: one document per invocation.
    Function,
    /// `[Function, Rule]`: one per rule that ran.
    Rule,
    /// `[Function, Module]`: one per module that was called.
    Module,
    /// `[Function, Stream]`: one per stream written to.
    Stream,
    /// `[Function, Stage]` and `[Function, Stage, Class]`: one per kind of dead letter.
    Stage,
    /// `[Function, Reason]`: one per kind of drop.
    Reason,
    /// `[Function, Rule, Kind]`: one per rule and kind of difference a shadow candidate found.
    Difference,
    /// `[Function, Table]`: one per lookup table that missed.
    Table,
    /// `[Function, Replay]`: one per EventBridge replay whose events the invocation took.
    Replay,
}

impl Per {
    /// The dimension sets of this document.
    pub fn dimensions(self) -> &'static [&'static [&'static str]] {
        match self {
            Per::Function => &[&["Function"]],
            Per::Rule => &[&["Function", "Rule"]],
            Per::Module => &[&["Function", "Module"]],
            Per::Stream => &[&["Function", "Stream"]],
            Per::Stage => &[&["Function", "Stage"], &["Function", "Stage", "Class"]],
            Per::Reason => &[&["Function", "Reason"]],
            Per::Difference => &[&["Function", "Rule", "Kind"]],
            Per::Table => &[&["Function", "Table"]],
            Per::Replay => &[&["Function", "Replay"]],
        }
    }

    /// The breakdown's name in `WEFT_METRICS_DIMENSIONS` (`None`: always published).
    pub fn breakdown(self) -> Option<&'static str> {
        match self {
            Per::Function => None,
            Per::Rule => Some("Rule"),
            Per::Module => Some("Module"),
            Per::Stream => Some("Stream"),
            Per::Stage => Some("Stage"),
            Per::Reason => Some("Reason"),
            Per::Difference | Per::Table | Per::Replay => None,
        }
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Metric {
    pub name: &'static str,
    pub unit: Unit,
    pub per: Per,
    pub description: &'static str,
}

const fn m(name: &'static str, unit: Unit, per: Per, description: &'static str) -> Metric {
    Metric { name, unit, per, description }
}

use Per::{Difference, Function, Module, Reason, Replay, Rule, Stage, Stream, Table};
use Unit::{Count, Milliseconds, Seconds};

pub const METRICS: &[Metric] = &[
    m("EventsIn", Count, Function, "Events received. Always EventsWritten + Dropped + DeadLettered + Failed."),
    m("EventsWritten", Count, Function, "Events that became at least one record in Kinesis."),
    m("RecordsWritten", Count, Function, "Records Kinesis took."),
    m("Dropped", Count, Function, "Events the rules filtered out (no record, by design)."),
    m("DeadLettered", Count, Function, "Events sent to the dead-letter queue, with the reason."),
    m(
        "Failed",
        Count,
        Function,
        "Events neither delivered nor dead-lettered: reported back to Lambda, which retries them.",
    ),
    m("PutRecordsCalls", Count, Function, "Kinesis PutRecords calls."),
    m("KinesisRetried", Count, Function, "Record entries sent again after an attempt that did not land them."),
    m("KinesisThrottled", Count, Function, "Record entries Kinesis refused for throughput (each attempt counted)."),
    m("KinesisAttemptsMax", Count, Function, "The most PutRecords attempts any batch of records needed."),
    m("DeadLettersSent", Count, Function, "Dead-letter messages the queue took."),
    m(
        "DeadLetterRetries",
        Count,
        Function,
        "Dead-letter messages (or oversize objects) sent again after a failed attempt.",
    ),
    m("DeadLettersStored", Count, Function, "Dead letters over SQS's 256 KiB, kept whole in S3."),
    m("RuleTime", Milliseconds, Function, "Time in rule modules, all rules together."),
    m("RuleFailures", Count, Function, "Events a rule failed on (any kind; not the invocation running out of time)."),
    m("Fallbacks", Count, Function, "Failures answered with the default rule's record (on-error: default)."),
    m("QuarantinedRules", Count, Function, "Rules in quarantine at the end of the invocation."),
    m("RuleSetChecks", Count, Function, "Checks of the S3 rule set (published only with an S3 rule set)."),
    m("RuleSetSwaps", Count, Function, "New rule set versions swapped in (published only with an S3 rule set)."),
    m(
        "RuleSetRefusals",
        Count,
        Function,
        "Rule set versions refused, or not fetched (published only with an S3 rule set).",
    ),
    m(
        "RuleSetRollbacks",
        Count,
        Function,
        "New versions rolled back after failing their first events (S3 rule set only).",
    ),
    m(
        "CanaryRollbacks",
        Count,
        Function,
        "Canaries retired for failing more events than the active rule set (S3 rule set only).",
    ),
    m(
        "RuleSetAge",
        Seconds,
        Function,
        "Since S3 last answered a check of the rule set (published only with an S3 rule set).",
    ),
    m(
        "SwapDelay",
        Milliseconds,
        Function,
        "From a version's publication (S3 Last-Modified) to its swap (only when one swapped).",
    ),
    m("ShadowEvents", Count, Function, "Events a shadow candidate judged too (only while a candidate runs)."),
    m(
        "ShadowSkipped",
        Count,
        Function,
        "Events not shadowed: over WEFT_SHADOW_BUDGET_PERCENT, or no time left (only while a candidate runs).",
    ),
    m(
        "ShadowDiffering",
        Count,
        Function,
        "Shadowed events the candidate judged differently (only while a candidate runs).",
    ),
    m("CanaryEvents", Count, Function, "Events a canary candidate judged (only while a candidate runs)."),
    m(
        "CanaryFallbacks",
        Count,
        Function,
        "Canary events the candidate failed on (trap, limit), judged by the active rule set instead.",
    ),
    m("TimeLeft", Milliseconds, Function, "Time left before the invocation's deadline when it returned."),
    m("ColdStart", Count, Function, "1 on a container's first invocation, else 0."),
    m("InitTime", Milliseconds, Function, "A cold start's time from process start to ready (first invocation only)."),
    m("RuleEvents", Count, Rule, "Events the rule's match took."),
    m("RuleRecords", Count, Rule, "Records the rule produced."),
    m("RuleDropped", Count, Rule, "Events the rule dropped."),
    m("RuleTime", Milliseconds, Rule, "Time in the rule's modules."),
    m(
        "RuleTimeMax",
        Milliseconds,
        Rule,
        "The longest single call into one of the rule's modules (a batch is one call).",
    ),
    m("TrapsDeadline", Count, Rule, "Events the rule's module ran out of its time on (WEFT_TIME_PER_EVENT_MS)."),
    m(
        "TrapsMemory",
        Count,
        Rule,
        "Events the rule's module ran out of memory on (its own WEFT_MEMORY_MB, or all instances' WEFT_RULES_MEMORY_MB).",
    ),
    m("TrapsPanic", Count, Rule, "Events the rule's module panicked on."),
    m("TrapsLimit", Count, Rule, "Events whose output broke a limit (records, sizes, lookups, partition key)."),
    m(
        "TrapsOther",
        Count,
        Rule,
        "Events the module trapped on otherwise (stack overflow, out of bounds, instantiation).",
    ),
    m("RuleErrors", Count, Rule, "Events the module answered with an error of its own."),
    m("RuleFallbacks", Count, Rule, "Failures answered with the default rule's record (on-error: default)."),
    m("RuleQuarantines", Count, Rule, "Times the rule was put in quarantine."),
    m("RuleQuarantinedEvents", Count, Rule, "Events the rule did not run because it was quarantined."),
    m("ModuleCalls", Count, Module, "Calls into the module (a batch is one call)."),
    m("ModuleEvents", Count, Module, "Events those calls carried."),
    m("ModuleTime", Milliseconds, Module, "Time in the module, instantiation and copies included."),
    m("ModuleTimeMax", Milliseconds, Module, "The longest single call."),
    m("ModuleInstantiations", Count, Module, "Fresh instances: the first, then one after each trap."),
    m("RecordsWritten", Count, Stream, "Records Kinesis took, per stream."),
    m(
        "DeadLettered",
        Count,
        Stage,
        "Events dead-lettered, per stage (parse, rule, sink) and class (module-error for a module's own codes).",
    ),
    m(
        "Dropped",
        Count,
        Reason,
        "Events dropped, per reason: no-rule-matched, no-records, skipped (on-error: skip), rule (the rule's own).",
    ),
    m(
        "ShadowDifferences",
        Count,
        Difference,
        "A shadow candidate's differences, per rule and kind: added, removed, changed (records) or outcome.",
    ),
    m(
        "TableMisses",
        Count,
        Table,
        "Lookups that found no entry, per table: a synced table behind Genesys (a new wrap-up code) shows here.",
    ),
    m("ReplayedEvents", Count, Replay, "Events an EventBridge replay sent again (their envelope's replay-name)."),
    m("ReplayWritten", Count, Replay, "Replayed events that became at least one record."),
    m("ReplayDropped", Count, Replay, "Replayed events the rules dropped."),
    m("ReplayDeadLettered", Count, Replay, "Replayed events dead-lettered, with the reason."),
    m("ReplayFailed", Count, Replay, "Replayed events neither delivered nor dead-lettered (retried by Lambda)."),
];

/// The metrics of one document.
pub fn of(per: Per) -> impl Iterator<Item = &'static Metric> {
    METRICS.iter().filter(move |metric| metric.per == per)
}

/// Every document kind, in order.
pub const DOCUMENTS: [Per; 7] = [Function, Rule, Module, Stream, Stage, Reason, Difference];

/// The members that are not metrics: dimensions and string properties, with what they mean.
const TEXT_MEMBERS: &[(&str, &str)] = &[
    ("Function", "Dimension: the Lambda's name (every document)."),
    ("Rule", "Dimension: a rule's name, from the manifest."),
    ("Module", "Dimension: a module's name, from the manifest (`builtin:default` for the default rule)."),
    ("Stream", "Dimension: a Kinesis stream (`-` for `weft run`'s standard output)."),
    ("Stage", "Dimension: where a dead letter failed: parse, rule or sink."),
    ("Class", "Dimension: a dead letter's class, weft's own (`module-error` for a module's own code)."),
    ("Reason", "Dimension: why events were dropped: no-rule-matched, no-records, skipped or rule."),
    ("Kind", "Dimension: a shadow difference's kind: added, removed, changed or outcome."),
    ("CandidateVersion", "Property: the candidate rule set beside the active one, while one runs."),
    ("RuleSetVersion", "Property: the active rule set (`label@sha12`, or `builtin:default`)."),
    ("RequestId", "Property: the Lambda request id, to find the invocation's log lines."),
];

/// The JSON Schema of one document (`schemas/metrics.schema.json`): the EMF envelope, every metric with its unit
/// and dimensions, the dimensions and the properties.
pub fn schema() -> serde_json::Value {
    use serde_json::json;
    let mut properties = serde_json::Map::new();
    for metric in METRICS {
        let sets: Vec<String> = metric.per.dimensions().iter().map(|set| format!("[{}]", set.join(", "))).collect();
        let text =
            format!("{} Unit: {}. Dimensions: {}.", metric.description, metric.unit.as_str(), sets.join(" and "));
        let entry = properties.entry(metric.name).or_insert_with(|| json!({"type": "number", "description": ""}));
        let description = entry["description"].as_str().unwrap_or_default();
        entry["description"] = if description.is_empty() { text } else { format!("{description} / {text}") }.into();
    }
    for (name, description) in TEXT_MEMBERS {
        properties.insert((*name).into(), json!({"type": "string", "description": description}));
    }
    properties.insert(
        "RuleSetRefusedFor".into(),
        json!({"type": "object", "description": "Property: refusals since the last document, by class (unreachable, signature, manifest, self-test).", "additionalProperties": {"type": "integer"}}),
    );
    properties.insert(
        "_aws".into(),
        json!({
            "type": "object",
            "required": ["Timestamp", "CloudWatchMetrics"],
            "properties": {
                "Timestamp": {"type": "integer", "description": "Milliseconds since the epoch."},
                "CloudWatchMetrics": {"type": "array", "minItems": 1, "items": {
                    "type": "object",
                    "required": ["Namespace", "Dimensions", "Metrics"],
                    "properties": {
                        "Namespace": {"type": "string", "minLength": 1, "maxLength": 255},
                        "Dimensions": {"type": "array", "items": {"type": "array", "maxItems": 30, "items": {"type": "string"}}},
                        "Metrics": {"type": "array", "minItems": 1, "maxItems": 100, "items": {
                            "type": "object",
                            "required": ["Name", "Unit"],
                            "properties": {"Name": {"type": "string"}, "Unit": {"enum": ["Count", "Milliseconds", "Seconds"]}},
                        }},
                    },
                }},
            },
        }),
    );
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "weft metrics document",
        "description": "One CloudWatch Embedded Metric Format document as weft writes it (one line on standard output; `weft run --metrics FILE` writes the same). Each invocation writes the function's document, then one per rule, module, stream, dead-letter stage and class, and drop reason that occurred.",
        "type": "object",
        "required": ["_aws", "Function"],
        "properties": properties,
    })
}
