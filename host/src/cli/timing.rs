//! The timing table `weft run` prints after its summary: per rule and per module, the numbers CloudWatch's
//! `Rule` and `Module` metrics will show for the same events, so a rule author sees a slow module before it ships.

use std::fmt::Write;
use std::time::Duration;

use weft::engine::CallStats;
use weft::rules::RuleSet;
use weft::rules::stats::RuleSetStats;

/// The table, one row per rule and one per module under it (empty when no rule ran).
pub fn table(stats: &RuleSetStats) -> String {
    if stats.rules.iter().all(|r| r.stats.events == 0) {
        return String::new();
    }
    let mut out = format!(
        "  {:<32} {:>8} {:>8} {:>8} {:>7} {:>10} {:>9} {:>11}\n",
        "rule / module", "events", "records", "dropped", "failed", "time ms", "µs/event", "longest ms"
    );
    for rule in &stats.rules {
        let s = &rule.stats;
        let name = if rule.quarantined { format!("{} (quarantined)", rule.rule) } else { rule.rule.clone() };
        let _ = writeln!(
            out,
            "  {:<32} {:>8} {:>8} {:>8} {:>7} {}",
            clip(&name, 32),
            s.events,
            s.records,
            s.dropped,
            s.failures.total(),
            times(rule.busy(), s.events, rule.longest())
        );
        for (module, calls) in &rule.modules {
            let _ =
                writeln!(out, "    {:<30} {:>8} {:>25} {}", clip(module, 30), calls.events, "", module_times(calls));
        }
    }
    if let Some(calls) = stats.fallback.as_ref().filter(|c| c.calls > 0) {
        let _ =
            writeln!(out, "  {:<32} {:>8} {:>25} {}", "fallback (default rule)", calls.events, "", module_times(calls));
    }
    out
}

/// A line per module compiled when the rules loaded, each once: what a cold start loading them spends compiling.
pub fn compiles(rules: &RuleSet) -> String {
    let mut seen = std::collections::HashSet::new();
    let compiled = rules.modules().filter(|m| seen.insert(&m.module().sha256));
    compiled.filter_map(|m| Some(format!("  {}: {}\n", m.module().name, m.compiled()?))).collect()
}

fn module_times(calls: &CallStats) -> String {
    times(calls.busy, calls.events, calls.longest)
}

fn times(busy: Duration, events: u64, longest: Duration) -> String {
    let per_event = if events == 0 { 0.0 } else { busy.as_secs_f64() * 1e6 / events as f64 };
    format!("{:>10.1} {:>9.1} {:>11.2}", busy.as_secs_f64() * 1e3, per_event, longest.as_secs_f64() * 1e3)
}

fn clip(text: &str, max: usize) -> String {
    let text: String = text.chars().filter(|c| !c.is_control()).collect();
    if text.chars().count() <= max { text } else { text.chars().take(max - 1).chain(['…']).collect() }
}
