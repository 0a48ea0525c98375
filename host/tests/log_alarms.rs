//! The Terraform module's log-based alarms can fire: each metric filter in `terraform/modules/weft` is evaluated
//! against the lines weft really writes — through its own log formatter — when a rule set is refused, a rule set is
//! rolled back and a rule is quarantined (an event neither delivered nor dead-lettered is staged too: its line is
//! for Logs Insights, its alarm is the `FailedEvents` metric alarm of tests/metrics.rs). Each filter must match the
//! line of its case and no other line. (A filter written for flat JSON never matched weft's lines while
//! tracing nested their fields under `fields`.)

mod common;

use std::time::{Duration, Instant};

use common::Captured;
use common::aws::{self, clients, closed_port, create_bucket, unique};
use serde_json::{Value, json};
use weft::delivery::{Budget, Delivery, LetterPort, RecordPort};
use weft::engine::Limits;
use weft::judge::Judge;
use weft::judge::candidate::{Candidate, Settings};
use weft::rollout::reload::Reloader;
use weft::rollout::source::Trust;
use weft::rules::manifest::Rollout;

/// A CloudWatch Logs JSON filter pattern of the form the module uses: `{ $.a.b = "text" }` or `{ $.a = 12 }`.
/// Anything else fails the test, so a new kind of pattern is not silently taken as matching.
fn matches(pattern: &str, line: &Value) -> bool {
    let inner = pattern.trim().strip_prefix('{').and_then(|p| p.strip_suffix('}')).expect("a JSON filter pattern");
    let (selector, value) = inner.split_once('=').expect("a `selector = value` pattern");
    assert!(!inner.contains("&&") && !inner.contains("||") && !selector.contains('!'), "unsupported: {pattern}");
    let path = selector.trim().strip_prefix("$.").expect("a `$.` selector");
    let node = path.split('.').try_fold(line, |node, key| node.get(key));
    let value = value.trim();
    match (node, value.strip_prefix('"').and_then(|v| v.strip_suffix('"'))) {
        (Some(Value::String(s)), Some(text)) => s == text,
        (Some(Value::Number(n)), None) => n.to_string() == value,
        _ => false,
    }
}

/// The module's log metric filters: (metric name, pattern), read from the Terraform text.
fn filters() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(common::repo().join("terraform/modules/weft/alarms.tf")).unwrap();
    let names: Vec<String> = text
        .split("log_alarms = {")
        .nth(1)
        .expect("the log_alarms map")
        .split('}')
        .next()
        .unwrap()
        .lines()
        .filter_map(|line| line.trim().split_once(" = ").map(|(name, _)| name.trim().to_owned()))
        .collect();
    let template = text
        .lines()
        .find_map(|line| {
            line.trim().strip_prefix("pattern").map(|p| p.trim().trim_start_matches('=').trim().to_owned())
        })
        .expect("a pattern");
    // The HCL string: unescape its quotes and put each key in place of `${each.key}`.
    let template = template.trim_matches('"').replace("\\\"", "\"");
    names.into_iter().map(|name| (name.clone(), template.replace("${each.key}", &name))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_alarm_filter_matches_the_line_weft_writes_for_its_case_and_no_other() {
    let captured = Captured::weft_logs(tracing::Level::TRACE);

    // A rule set refused: a good version, then one whose JSONPath does not compile.
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("alarms");
    create_bucket(&c, &bucket).await;
    let put = async |manifest: Value| {
        let body = manifest.to_string().into_bytes().into();
        c.s3.put_object().bucket(&bucket).key("p/manifest.json").body(body).send().await.unwrap();
    };
    put(json!({"name": "good", "rules": [{"name": "all", "modules": [{"module": "builtin:default"}]}]})).await;
    let poll = Duration::from_millis(100);
    let reloader = Reloader::new(
        c.s3.clone(),
        bucket.clone(),
        "p/manifest.json".into(),
        common::engine().clone(),
        Limits::default(),
        Trust::default(),
        poll,
    );
    reloader.load_now().await.unwrap();
    put(json!({"name": "bad", "rules": [{"name": "m", "match": {"where": [{"path": "$..[?"}]},
        "modules": [{"module": "builtin:default"}]}]}))
    .await;
    let started = Instant::now();
    while reloader.status().refused.is_none() {
        assert!(started.elapsed() < Duration::from_secs(20), "never refused");
        reloader.poll();
        tokio::time::sleep(poll).await;
    }

    // A rule quarantined, and the rule set rolled back: a new version whose only rule fails every event.
    let quarantining = common::quarantining_hostile_rules(3, 60);
    let mut judge = Judge::new(default_rules()).with_rollback_after(5);
    judge.replace_rules(quarantining);
    let input: String =
        (0..8).map(|i| common::event(&format!("p{i}"), "customer.start", json!({"attack": "panic"})) + "\n").collect();
    judge.judge(weft::input::split(input.as_bytes(), "t".into()));
    assert!(judge.take_rollback().is_some(), "the failing version was rolled back");
    let flaky = judge.take_stats().rules.into_iter().find(|r| r.rule == "flaky").map(|r| r.stats);
    let counts = flaky.map(|s| (s.events, s.failures.panic, s.quarantines, s.quarantined_events));
    // One batch of 8: all called (quarantine is decided per batch), quarantined once, on the third failure.
    assert_eq!(counts, Some((8, 8, 1, 0)), "the rolled-back version's counts reach the metrics");

    // A canary rolled back: a candidate whose module panics on every event (each one judged by the active set).
    let hostile = common::hostile_rules(Limits::default());
    let mut judge = Judge::new(default_rules());
    judge.set_candidate(Some(Candidate::new(hostile, Rollout::Canary { percent: 100 }, Settings::default())));
    let input: String =
        (0..64).map(|i| common::event(&format!("k{i}"), "customer.start", json!({"attack": "panic"})) + "\n").collect();
    let judged = judge.judge(weft::input::split(input.as_bytes(), "t".into()));
    assert!(judged.iter().all(|j| matches!(&j.verdict, weft::verdict::Verdict::Records(r) if r.len() == 1)));
    assert!(judge.take_canary_rollback().is_some(), "the failing canary was rolled back");

    // An event neither delivered nor dead-lettered: the dead-letter queue is unreachable.
    let nowhere = clients(&aws::endpoint(), &closed_port(), &aws::endpoint()).await;
    let mut delivery = Delivery::new(
        RecordPort::Lines(Box::new(std::io::sink())),
        LetterPort::Queue(nowhere.dead_letter_queue("http://127.0.0.1:9/000000000000/none", None)),
        None,
    );
    let broken = weft::input::split(b"{not json", "t".into());
    let judged = Judge::new(default_rules()).judge(broken);
    delivery.deliver(judged, Budget::from_now(Duration::from_secs(3))).await.unwrap();

    // An invocation's summary: its counts as fields of their own.
    let local = Delivery::local(Box::new(std::io::sink()), None, None);
    let handler = weft::lambda::Handler::new(Judge::new(default_rules()), local);
    let event = common::event("s1", "customer.start", json!({"conversationId": "c-1"}));
    let payload = serde_json::value::RawValue::from_string(event).unwrap();
    handler.handle(&payload, "req-1", Instant::now() + Duration::from_secs(30)).await.unwrap();

    let lines: Vec<Value> =
        captured.lines().iter().map(|line| serde_json::from_str(line).expect("a JSON line")).collect();
    let summary = lines.iter().find(|line| line["request_id"] == "req-1").expect("the invocation's summary line");
    let counts = ["events_in", "events_written", "records_out", "dropped", "dead_lettered", "failed"]
        .map(|k| summary[k].as_u64());
    assert_eq!(counts, [Some(1), Some(1), Some(1), Some(0), Some(0), Some(0)], "{summary}");
    assert_eq!(summary["rule_set"], "builtin:default");
    let filters = filters();
    assert!(filters.len() >= 4, "{filters:?}");
    for (name, pattern) in &filters {
        let matched: Vec<&Value> = lines.iter().filter(|line| matches(pattern, line)).collect();
        let expected = match name.as_str() {
            // A cold start without its rule set is not staged here: its line is checked for shape below.
            "RuleSetUnavailable" => continue,
            _ => 1..,
        };
        assert!(expected.contains(&matched.len()), "{name}: `{pattern}` matched {} lines of {lines:#?}", matched.len());
        assert!(matched.iter().all(|line| line["metric"] == name.as_str()), "{name}: {matched:#?}");
    }
    // The fields an operator queries are at the top level of every line.
    for line in &lines {
        assert!(line.get("fields").is_none() && line["level"].is_string() && line["message"].is_string(), "{line}");
    }
    // The failed event's line, for Logs Insights (its alarm is the `FailedEvents` metric alarm).
    let failed: Vec<&Value> = lines.iter().filter(|l| l["metric"] == "EventFailed").collect();
    assert_eq!(failed.len(), 1, "{lines:#?}");
    assert!(failed[0]["reason"].is_string(), "{}", failed[0]);
    let refused = lines.iter().find(|l| l["metric"] == "RuleSetRefused").unwrap();
    assert!(refused["reason"].as_str().unwrap().contains("is not JSONPath"), "{refused}");
}

#[test]
fn the_filter_evaluator_reads_the_patterns_it_claims_to() {
    let line = json!({"metric": "RuleSetRefused", "n": 3, "a": {"b": "x"}});
    assert!(matches(r#"{ $.metric = "RuleSetRefused" }"#, &line));
    assert!(!matches(r#"{ $.metric = "RuleQuarantined" }"#, &line));
    assert!(matches(r#"{ $.a.b = "x" }"#, &line));
    assert!(matches("{ $.n = 3 }", &line));
    assert!(!matches(r#"{ $.fields.metric = "RuleSetRefused" }"#, &line));
    assert!(!matches(r#"{ $.metric = "RuleSetRefused" }"#, &json!({"fields": {"metric": "RuleSetRefused"}})));
}

fn default_rules() -> weft::rules::RuleSet {
    weft::rules::RuleSet::embedded_default(common::engine(), Limits::default()).unwrap()
}
