//! A [`Report`] as CloudWatch Embedded Metric Format documents: one JSON line each, metrics and dimensions at the
//! top level, and `_aws.CloudWatchMetrics` saying which members are metrics (with units) under which dimension sets.
//! A document holds one value per dimension, so each breakdown value gets a document of its own.

use std::fmt::Write as _;
use std::io::Write;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::catalog::{self, Per};
use super::{MetricsConfig, Report};

/// The documents for `report`, one JSON text each, in catalog order: the function's, then each breakdown the
/// config asks for.
pub fn documents(report: &Report, config: &MetricsConfig) -> Vec<String> {
    let timestamp = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    let wanted = |per: Per| per.breakdown().is_none_or(|b| config.breakdowns.iter().any(|w| w == b));
    let head = Head { config, timestamp };
    let mut docs = vec![head.document(Per::Function, &[], &function(report), &properties(report))];
    let mut add = |per: Per, dimensions: &[(&str, &str)], metrics: &[(&'static str, f64)]| {
        if wanted(per) {
            docs.push(head.document(per, dimensions, metrics, &[]));
        }
    };
    for rule in &report.rules.rules {
        if rule.stats.events > 0 || rule.stats.quarantines > 0 {
            add(Per::Rule, &[("Rule", &rule.rule)], &rule_metrics(rule));
        }
    }
    let modules = modules(report);
    for (module, calls) in &modules {
        add(Per::Module, &[("Module", module)], &module_metrics(calls));
    }
    for (stream, records) in &report.delivery.records_by_stream {
        add(Per::Stream, &[("Stream", stream)], &[("RecordsWritten", *records as f64)]);
    }
    for ((stage, class), count) in &report.dead_letters {
        add(Per::Stage, &[("Stage", stage.as_str()), ("Class", class)], &[("DeadLettered", *count as f64)]);
    }
    for (reason, count) in &report.drops {
        add(Per::Reason, &[("Reason", reason)], &[("Dropped", *count as f64)]);
    }
    for ((rule, kind), count) in report.candidate.iter().flat_map(|(_, stats)| &stats.differences) {
        add(Per::Difference, &[("Rule", rule), ("Kind", kind)], &[("ShadowDifferences", *count as f64)]);
    }
    let mut misses = std::collections::BTreeMap::<&str, u64>::new();
    for (_, calls) in &modules {
        for (table, count) in &calls.misses {
            *misses.entry(table).or_default() += count;
        }
    }
    for (table, count) in misses {
        add(Per::Table, &[("Table", table)], &[("TableMisses", count as f64)]);
    }
    for (replay, summary) in &report.replays {
        let metrics = [
            ("ReplayedEvents", summary.events_in as f64),
            ("ReplayWritten", summary.events_written as f64),
            ("ReplayDropped", summary.dropped as f64),
            ("ReplayDeadLettered", summary.dead_lettered as f64),
            ("ReplayFailed", summary.failed as f64),
        ];
        add(Per::Replay, &[("Replay", replay)], &metrics);
    }
    docs
}

/// Writes the documents as JSON lines, in one write (a line never interleaves with another writer's); the bytes
/// written.
pub fn write(out: &mut dyn Write, report: &Report, config: &MetricsConfig) -> std::io::Result<usize> {
    let mut text = String::with_capacity(4096);
    for doc in documents(report, config) {
        text.push_str(&doc);
        text.push('\n');
    }
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(text.len())
}

/// What every document of one report shares. Documents are written as text directly (a few µs, against tens for
/// building a `serde_json::Value` first): every name is weft's own, every value a number or an escaped string.
struct Head<'a> {
    config: &'a MetricsConfig,
    timestamp: u64,
}

impl Head<'_> {
    fn document(
        &self,
        per: Per,
        dimensions: &[(&str, &str)],
        metrics: &[(&'static str, f64)],
        properties: &[(&str, String)],
    ) -> String {
        let mut out = String::with_capacity(1024);
        let _ = write!(out, r#"{{"_aws":{{"Timestamp":{},"CloudWatchMetrics":[{{"Namespace":"#, self.timestamp);
        string(&mut out, &self.config.namespace);
        out.push_str(r#","Dimensions":["#);
        for (i, set) in per.dimensions().iter().enumerate() {
            out.push_str(if i == 0 { "[" } else { ",[" });
            out.push_str(&set.iter().map(|key| format!("\"{key}\"")).collect::<Vec<_>>().join(","));
            out.push(']');
        }
        out.push_str(r#"],"Metrics":["#);
        for (i, (name, _)) in metrics.iter().enumerate() {
            let unit = catalog::of(per).find(|m| m.name == *name).expect("every published metric is in the catalog");
            let comma = if i == 0 { "" } else { "," };
            let _ = write!(out, r#"{comma}{{"Name":"{name}","Unit":"{}"}}"#, unit.unit.as_str());
        }
        out.push_str(r#"]}]},"Function":"#);
        string(&mut out, &self.config.function);
        for (key, value) in dimensions {
            let _ = write!(out, r#","{key}":"#);
            string(&mut out, &dimension_value(value));
        }
        for (name, value) in metrics {
            // Whole numbers as integers: `13`, not `13.0` (Logs Insights shows them as written).
            if value.fract() == 0.0 && value.abs() < 9.0e15 {
                let _ = write!(out, r#","{name}":{}"#, *value as i64);
            } else {
                let _ = write!(out, r#","{name}":{value}"#);
            }
        }
        for (key, json) in properties {
            let _ = write!(out, r#","{key}":{json}"#);
        }
        out.push('}');
        out
    }
}

/// `text` as a JSON string.
fn json_string(text: &str) -> String {
    serde_json::to_string(text).expect("a string serialises")
}

fn string(out: &mut String, text: &str) {
    out.push_str(&json_string(text));
}

/// A dimension value CloudWatch takes: printable ASCII, at most 250 characters.
fn dimension_value(value: &str) -> String {
    let text: String =
        value.chars().take(250).map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '_' }).collect();
    if text.trim().is_empty() { "_".into() } else { text }
}

fn ms(duration: Duration) -> f64 {
    (duration.as_secs_f64() * 1e6).round() / 1e3
}

fn function(r: &Report) -> Vec<(&'static str, f64)> {
    let (s, d) = (&r.summary, &r.delivery);
    let rules = &r.rules.rules;
    let fallback_time = r.rules.fallback.as_ref().map_or(Duration::ZERO, |f| f.busy);
    let mut metrics = vec![
        ("EventsIn", s.events_in as f64),
        ("EventsWritten", s.events_written as f64),
        ("RecordsWritten", s.records_out as f64),
        ("Dropped", s.dropped as f64),
        ("DeadLettered", s.dead_lettered as f64),
        ("Failed", s.failed as f64),
        ("PutRecordsCalls", d.kinesis.calls as f64),
        ("KinesisRetried", d.kinesis.retried as f64),
        ("KinesisThrottled", d.kinesis.throttled as f64),
        ("KinesisAttemptsMax", d.kinesis.max_attempts as f64),
        ("DeadLettersSent", d.letters.sent as f64),
        ("DeadLetterRetries", d.letters.retried as f64),
        ("DeadLettersStored", d.letters.stored as f64),
        ("RuleTime", ms(rules.iter().map(|r| r.busy()).sum::<Duration>() + fallback_time)),
        ("RuleFailures", rules.iter().map(|r| r.stats.failures.total()).sum::<u64>() as f64),
        ("Fallbacks", rules.iter().map(|r| r.stats.fallbacks).sum::<u64>() as f64),
        ("QuarantinedRules", rules.iter().filter(|r| r.quarantined).count() as f64),
    ];
    if let Some(rollout) = &r.rollout {
        metrics.extend([
            ("RuleSetChecks", rollout.checks as f64),
            ("RuleSetSwaps", rollout.swaps as f64),
            ("RuleSetRefusals", rollout.refusals.values().sum::<u64>() as f64),
            ("RuleSetRollbacks", rollout.rollbacks as f64),
            ("CanaryRollbacks", rollout.canary_rollbacks as f64),
            ("RuleSetAge", (rollout.age.as_secs_f64() * 1e3).round() / 1e3),
        ]);
        if let Some(delay) = rollout.swap_delay {
            metrics.push(("SwapDelay", ms(delay)));
        }
    }
    if let Some((_, c)) = &r.candidate {
        metrics.extend([
            ("ShadowEvents", c.shadowed as f64),
            ("ShadowSkipped", c.skipped as f64),
            ("ShadowDiffering", c.differing as f64),
            ("CanaryEvents", c.canary as f64),
            ("CanaryFallbacks", c.fallbacks as f64),
        ]);
    }
    if let Some(left) = r.time_left {
        metrics.push(("TimeLeft", ms(left)));
    }
    metrics.push(("ColdStart", if r.cold_start.is_some() { 1.0 } else { 0.0 }));
    if let Some(init) = r.cold_start {
        metrics.push(("InitTime", ms(init)));
    }
    metrics
}

/// Members that are not metrics, as JSON: what an operator reads next to the numbers in Logs Insights.
fn properties(r: &Report) -> Vec<(&'static str, String)> {
    let mut properties = vec![("RuleSetVersion", json_string(r.rule_set.as_deref().unwrap_or("builtin:default")))];
    if let Some(id) = &r.request_id {
        properties.push(("RequestId", json_string(id)));
    }
    if let Some((version, _)) = &r.candidate {
        properties.push(("CandidateVersion", json_string(version)));
    }
    if let Some(rollout) = r.rollout.as_ref().filter(|r| !r.refusals.is_empty()) {
        properties.push(("RuleSetRefusedFor", serde_json::to_string(&rollout.refusals).expect("counts serialise")));
    }
    properties
}

fn rule_metrics(rule: &crate::rules::stats::RuleReport) -> Vec<(&'static str, f64)> {
    let (s, f) = (&rule.stats, &rule.stats.failures);
    vec![
        ("RuleEvents", s.events as f64),
        ("RuleRecords", s.records as f64),
        ("RuleDropped", s.dropped as f64),
        ("RuleTime", ms(rule.busy())),
        ("RuleTimeMax", ms(rule.longest())),
        ("TrapsDeadline", f.deadline as f64),
        ("TrapsMemory", f.memory as f64),
        ("TrapsPanic", f.panic as f64),
        ("TrapsLimit", f.limit as f64),
        ("TrapsOther", f.trap as f64),
        ("RuleErrors", f.error as f64),
        ("RuleFallbacks", s.fallbacks as f64),
        ("RuleQuarantines", s.quarantines as f64),
        ("RuleQuarantinedEvents", s.quarantined_events as f64),
    ]
}

fn module_metrics(calls: &crate::engine::CallStats) -> Vec<(&'static str, f64)> {
    vec![
        ("ModuleCalls", calls.calls as f64),
        ("ModuleEvents", calls.events as f64),
        ("ModuleTime", ms(calls.busy)),
        ("ModuleTimeMax", ms(calls.longest)),
        ("ModuleInstantiations", calls.instantiations as f64),
    ]
}

/// Each module's calls, summed over the rules that use it and the fallback (the default rule), by name.
fn modules(report: &Report) -> Vec<(String, crate::engine::CallStats)> {
    let mut modules: Vec<(String, crate::engine::CallStats)> = Vec::new();
    let fallback = report.rules.fallback.iter().map(|calls| (crate::rules::embedded::DEFAULT_RULE.to_owned(), calls));
    let used = report.rules.rules.iter().flat_map(|r| r.modules.iter().map(|(name, calls)| (name.clone(), calls)));
    for (name, calls) in used.chain(fallback).filter(|(_, calls)| calls.calls > 0) {
        match modules.iter_mut().find(|(n, _)| *n == name) {
            Some((_, mine)) => mine.add(calls),
            None => modules.push((name, calls.clone())),
        }
    }
    modules
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every metric a document can carry is in the catalog under that document, and the reverse.
    #[test]
    fn the_documents_publish_exactly_the_catalog() {
        let mut report = Report {
            rollout: Some(Default::default()),
            time_left: Some(Duration::from_millis(5)),
            cold_start: Some(Duration::from_millis(7)),
            ..Report::default()
        };
        report.rollout.as_mut().unwrap().swap_delay = Some(Duration::from_secs(1));
        let mut candidate = crate::judge::candidate::CandidateStats::default();
        candidate.differences.insert(("r".into(), "changed"), 1);
        report.candidate = Some(("c@0123".into(), candidate));
        let rule = crate::rules::stats::RuleReport {
            rule: "r".into(),
            stats: crate::rules::stats::RuleStats { events: 1, ..Default::default() },
            modules: vec![(
                "m".into(),
                crate::engine::CallStats { calls: 1, misses: [("queues".into(), 2)].into(), ..Default::default() },
            )],
            quarantined: false,
        };
        report.rules.rules.push(rule);
        report.delivery.records_by_stream.insert("s".into(), 1);
        report.count(&[
            crate::verdict::Fate::DeadLettered { stage: crate::verdict::Stage::Rule, class: "x".into() },
            crate::verdict::Fate::Dropped { reason: "why".into() },
        ]);
        let docs: Vec<serde_json::Value> =
            documents(&report, &MetricsConfig::new("f")).iter().map(|d| serde_json::from_str(d).unwrap()).collect();
        for per in catalog::DOCUMENTS {
            let doc = docs
                .iter()
                .find(|d| d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == serde_json::json!(per.dimensions()))
                .unwrap_or_else(|| panic!("no {per:?} document"));
            let published: Vec<&str> = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["Name"].as_str().unwrap())
                .collect();
            let catalogued: Vec<&str> = catalog::of(per).map(|m| m.name).collect();
            assert_eq!(published, catalogued, "{per:?}");
        }
        let class = docs.iter().find(|d| d["Stage"] == "rule").unwrap();
        assert_eq!(class["Class"], "module-error", "a module's own code is not a dimension");
    }
}
