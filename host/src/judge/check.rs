//! Running a golden case ([`Case`]) through a judge: `weft rules test`, and a rule set's self-test before it
//! goes live.

use serde_json::Value;

use crate::input::{Chunk, Source};
use crate::judge::Judge;
use crate::rules::RuleSet;
use crate::rules::golden::{Case, Expect};
use crate::verdict::Verdict;

/// Runs a rule set's golden cases in order: each case's name and its differences (none: it passes). A case that
/// carries its own `tables` runs on a replica whose tables those rows replace; the others share one judge, so the
/// self-test warms the instances that then judge live events. `weft rules test MANIFEST` and every load's
/// self-test both run here.
pub fn run_cases(rules: RuleSet, cases: &[Case]) -> (RuleSet, Vec<(String, Vec<String>)>) {
    let mut judge = Judge::new(rules).with_batch_size(1);
    let mut results = Vec::with_capacity(cases.len());
    for (i, case) in cases.iter().enumerate() {
        let name = case.name.clone().unwrap_or_else(|| format!("tests[{i}]"));
        let diffs = if case.tables.is_empty() {
            check(&mut judge, case)
        } else {
            match judge.rules().with_tables_replaced(&case.tables) {
                Ok(rules) => check(&mut Judge::new(rules).with_batch_size(1), case),
                Err(problem) => vec![format!("tables: {problem}")],
            }
        };
        results.push((name, diffs));
    }
    (judge.into_rules(), results)
}

/// Runs one case through `judge`; the differences, one line each (empty: the case passes).
pub fn check(judge: &mut Judge, case: &Case) -> Vec<String> {
    let text = case.event.to_string();
    let chunk = Chunk::Object { text: &text, source: Source::Invocation { request_id: "golden".into() } };
    let verdict = judge.judge([chunk]).pop().expect("one verdict per event").verdict;
    let mut diffs = Vec::new();
    match (&case.expect, verdict) {
        (Expect::Records(expected), Verdict::Records(actual)) => {
            if expected.len() != actual.len() {
                diffs.push(format!("expected {} records, got {}", expected.len(), actual.len()));
            }
            for (i, (e, a)) in expected.iter().zip(&actual).enumerate() {
                if let Some(key) = &e.partition_key
                    && *key != a.partition_key
                {
                    diffs.push(format!("records[{i}].partitionKey: expected {key:?}, got {:?}", a.partition_key));
                }
                if e.stream.is_some() && e.stream != a.stream {
                    diffs.push(format!("records[{i}].stream: expected {:?}, got {:?}", e.stream, a.stream));
                }
                let mut data: Value = serde_json::from_str(a.data.get()).unwrap_or(Value::Null);
                if let (Value::Object(actual), false) = (&mut data, e.data.get("_weft").is_some()) {
                    actual.remove("_weft");
                }
                diff(&format!("records[{i}].data"), &e.data, &data, &mut diffs);
            }
        }
        (Expect::Dropped(reason), Verdict::Dropped(d)) if *reason == d.reason => {}
        (Expect::DeadLetter(class), Verdict::DeadLetter(d)) if *class == d.error_class => {}
        (expected, verdict) => {
            diffs.push(format!("expected {}, got {}", describe(expected), describe_verdict(&verdict)))
        }
    }
    diffs
}

fn describe(expect: &Expect) -> String {
    match expect {
        Expect::Records(r) => format!("{} records", r.len()),
        Expect::Dropped(reason) => format!("a drop ({reason:?})"),
        Expect::DeadLetter(class) => format!("a dead letter ({class})"),
    }
}

fn describe_verdict(verdict: &Verdict) -> String {
    match verdict {
        Verdict::Records(r) => format!("{} records", r.len()),
        Verdict::Dropped(d) => format!("a drop ({:?})", d.reason),
        Verdict::DeadLetter(d) => format!("a dead letter ({}: {})", d.error_class, d.reason),
    }
}

/// Member-by-member differences between two JSON values, each named by its path.
pub fn diff(path: &str, expected: &Value, actual: &Value, out: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (key, value) in e {
                match a.get(key) {
                    Some(actual) => diff(&format!("{path}.{key}"), value, actual, out),
                    None => out.push(format!("{path}.{key}: expected {value}, missing")),
                }
            }
            for (key, value) in a {
                if !e.contains_key(key) {
                    out.push(format!("{path}.{key}: not expected, got {value}"));
                }
            }
        }
        (Value::Array(e), Value::Array(a)) if e.len() == a.len() => {
            for (i, (e, a)) in e.iter().zip(a).enumerate() {
                diff(&format!("{path}[{i}]"), e, a, out);
            }
        }
        (e, a) if e == a => {}
        (e, a) => out.push(format!("{path}: expected {e}, got {a}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn differences_are_named_by_path() {
        let mut out = Vec::new();
        diff(
            "data",
            &json!({"a": 1, "b": {"c": "x"}, "d": [1, 2], "e": true}),
            &json!({"a": 1, "b": {"c": "y"}, "d": [1, 3], "f": null}),
            &mut out,
        );
        assert_eq!(
            out,
            [
                "data.b.c: expected \"x\", got \"y\"",
                "data.d[1]: expected 2, got 3",
                "data.e: expected true, missing",
                "data.f: not expected, got null"
            ]
        );
    }
}
