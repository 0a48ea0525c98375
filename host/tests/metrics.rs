//! The metrics, as CloudWatch would receive them: every document weft writes is checked against the Embedded Metric
//! Format's required structure, the counts in them balance (in the function's document and across the breakdowns)
//! under faults, and every alarm in `terraform/modules/weft/metric-alarms.json` is evaluated against the documents
//! of its staged fault — where it must fire — and of a healthy invocation — where it must not. The dashboard and
//! the docs may only name metrics weft publishes.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use serde_json::value::RawValue;
use serde_json::{Value, json};
use weft::delivery::{Delivery, LetterPort, RecordPort};
use weft::engine::Limits;
use weft::judge::Judge;
use weft::lambda::Handler;
use weft::metrics::catalog::METRICS;
use weft::metrics::{MetricsConfig, Publisher};
use weft::rollout::reload::Reloader;
use weft::rollout::source::Trust;

use common::aws::{self, clients, closed_port, create_bucket, create_queue, create_stream, unique};
use common::{Captured, event, sqs_batch};

const FUNCTION: &str = "weft-metrics-test";
const UNITS: &[&str] = &[
    "Seconds",
    "Microseconds",
    "Milliseconds",
    "Bytes",
    "Kilobytes",
    "Megabytes",
    "Gigabytes",
    "Terabytes",
    "Bits",
    "Kilobits",
    "Megabits",
    "Gigabits",
    "Terabits",
    "Percent",
    "Count",
    "Bytes/Second",
    "Kilobytes/Second",
    "Megabytes/Second",
    "Gigabytes/Second",
    "Terabytes/Second",
    "Bits/Second",
    "Kilobits/Second",
    "Megabits/Second",
    "Gigabits/Second",
    "Terabits/Second",
    "Count/Second",
    "None",
];

/// The structure the EMF specification requires of a document, checked member by member.
fn check_emf(doc: &Value) {
    let aws = doc["_aws"].as_object().unwrap_or_else(|| panic!("no _aws object: {doc}"));
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let timestamp = aws["Timestamp"].as_i64().expect("Timestamp: milliseconds since the epoch, an integer");
    assert!((now - timestamp).abs() < 60_000, "Timestamp {timestamp} is not now");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics: an array");
    assert!(!directives.is_empty());
    for directive in directives {
        let namespace = directive["Namespace"].as_str().expect("Namespace: a string");
        assert!((1..=255).contains(&namespace.len()) && !namespace.starts_with("AWS/"), "{namespace}");
        let sets = directive["Dimensions"].as_array().expect("Dimensions: an array of arrays");
        for set in sets {
            let keys = set.as_array().expect("a dimension set is an array");
            assert!(keys.len() <= 30, "at most 30 dimensions per set");
            for key in keys {
                let key = key.as_str().expect("a dimension is named by a string");
                let value = doc[key].as_str().unwrap_or_else(|| panic!("dimension {key} has no string value: {doc}"));
                assert!(!value.is_empty() && value.len() <= 1024, "{key}={value}");
            }
        }
        let metrics = directive["Metrics"].as_array().expect("Metrics: an array");
        assert!((1..=100).contains(&metrics.len()), "1 to 100 metrics per directive");
        let mut names = BTreeSet::new();
        for metric in metrics {
            let name = metric["Name"].as_str().expect("a metric has a Name");
            assert!(names.insert(name), "{name} declared twice");
            assert!(UNITS.contains(&metric["Unit"].as_str().unwrap_or("")), "{metric}: not a CloudWatch unit");
            assert!(doc[name].is_number(), "{name} has no numeric value in {doc}");
        }
    }
}

/// The documents one invocation wrote, checked, by their dimension sets (`Function`, `Function,Rule`, ...).
fn by_kind(docs: &[Value]) -> BTreeMap<String, Vec<&Value>> {
    let mut kinds: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for doc in docs {
        check_emf(doc);
        assert_eq!(doc["Function"], FUNCTION);
        let first = &doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"][0];
        let kind = first.as_array().unwrap().iter().map(|k| k.as_str().unwrap()).collect::<Vec<_>>().join(",");
        kinds.entry(kind).or_default().push(doc);
    }
    kinds
}

fn sum(docs: Option<&Vec<&Value>>, metric: &str) -> u64 {
    docs.map_or(0, |docs| docs.iter().map(|d| d[metric].as_u64().unwrap()).sum())
}

/// Counts balance: in the function's document, and each breakdown adds up to the function's total.
fn check_balance(docs: &[Value]) -> Value {
    let kinds = by_kind(docs);
    let function = kinds["Function"][0].clone();
    let n = |name: &str| function[name].as_u64().unwrap();
    assert_eq!(n("EventsIn"), n("EventsWritten") + n("Dropped") + n("DeadLettered") + n("Failed"), "{function}");
    assert_eq!(sum(kinds.get("Function,Stage"), "DeadLettered"), n("DeadLettered"), "dead letters by stage");
    assert_eq!(sum(kinds.get("Function,Reason"), "Dropped"), n("Dropped"), "drops by reason");
    assert_eq!(sum(kinds.get("Function,Stream"), "RecordsWritten"), n("RecordsWritten"), "records by stream");
    let made = sum(kinds.get("Function,Rule"), "RuleRecords");
    assert!(made >= n("RecordsWritten"), "records written were made by a rule: {made} < {function}");
    function
}

struct Setup {
    stream: String,
    dlq: String,
}

async fn setup() -> Setup {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let stream = unique("metrics");
    create_stream(&c, &stream, 1).await;
    let dlq = create_queue(&c, &unique("metrics-dlq")).await;
    Setup { stream, dlq }
}

/// The hostile module as the only rule, delivering to Kinesis and SQS at the given endpoints, publishing to `out`.
async fn handler(s: &Setup, kinesis: &str, sqs: &str, out: &Captured) -> Handler {
    let c = clients(kinesis, sqs, &aws::endpoint()).await;
    let delivery = Delivery::new(
        RecordPort::Kinesis(c.kinesis_sink(&s.stream)),
        LetterPort::Queue(c.dead_letter_queue(&s.dlq, None)),
        None,
    );
    let publisher = Publisher::new(MetricsConfig::new(FUNCTION), Box::new(out.clone()));
    Handler::new(Judge::new(common::hostile_rules(Limits::default())), delivery).with_metrics(publisher)
}

/// Invokes `handler` with an SQS batch of `bodies`, `left` before its deadline; the documents it wrote.
async fn invoke(handler: &Handler, out: &Captured, bodies: &[String], left: Duration) -> Vec<Value> {
    let before = out.lines().len();
    let payload = RawValue::from_string(sqs_batch(bodies)).unwrap();
    handler.handle(&payload, "req", Instant::now() + left).await.unwrap();
    out.lines()[before..].iter().map(|line| serde_json::from_str(line).expect("one JSON document per line")).collect()
}

fn events(attacks: &[&str]) -> Vec<String> {
    attacks
        .iter()
        .enumerate()
        .map(|(i, attack)| match *attack {
            "broken" => "{not json".to_owned(),
            "drop" => event(&format!("e{i}"), "customer.start", json!({"attack": "leak", "leak": "drop"})),
            attack => event(&format!("e{i}"), "customer.start", json!({"attack": attack})),
        })
        .collect()
}

/// An alarm of metric-alarms.json evaluated over one period holding `docs`: whether it would be in ALARM.
fn fires(alarm: &Value, docs: &[Value], thresholds: &BTreeMap<&str, f64>) -> bool {
    let mut keys: BTreeSet<String> = alarm["dimensions"].as_object().unwrap().keys().cloned().collect();
    keys.insert("Function".into());
    let values: Vec<f64> = docs
        .iter()
        .filter(|doc| {
            let sets = doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"].as_array().unwrap();
            let has_set = sets.iter().any(|set| {
                set.as_array().unwrap().iter().map(|k| k.as_str().unwrap().to_owned()).collect::<BTreeSet<_>>() == keys
            });
            let declared = doc["_aws"]["CloudWatchMetrics"][0]["Metrics"]
                .as_array()
                .unwrap()
                .iter()
                .any(|m| m["Name"] == alarm["metric"]);
            has_set
                && declared
                && doc["Function"] == FUNCTION
                && alarm["dimensions"].as_object().unwrap().iter().all(|(k, v)| doc[k] == *v)
        })
        .map(|doc| doc[alarm["metric"].as_str().unwrap()].as_f64().unwrap())
        .collect();
    if values.is_empty() {
        return false; // treat_missing_data = notBreaching
    }
    let value = match alarm["statistic"].as_str().unwrap() {
        "Sum" => values.iter().sum(),
        "Minimum" => values.iter().copied().fold(f64::INFINITY, f64::min),
        "Maximum" => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        other => panic!("statistic {other} is not evaluated here"),
    };
    let threshold = thresholds[alarm["threshold"].as_str().unwrap()];
    match alarm["comparison"].as_str().unwrap() {
        "GreaterThanThreshold" => value > threshold,
        "LessThanThreshold" => value < threshold,
        other => panic!("comparison {other} is not evaluated here"),
    }
}

fn alarms() -> BTreeMap<String, Value> {
    let path = common::repo().join("terraform/modules/weft/metric-alarms.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `local.metric_alarm_thresholds` of alarms.tf, for lambda_timeout_seconds = 30, dead_letter_alarm_threshold = 0,
/// and a poll of 0.1 s with rule_set_age_alarm_polls = 3.
fn thresholds() -> BTreeMap<&'static str, f64> {
    let tf = std::fs::read_to_string(common::repo().join("terraform/modules/weft/alarms.tf")).unwrap();
    for formula in [
        "zero              = 0",
        "dead_letters      = var.dead_letter_alarm_threshold",
        "deadline_pressure = var.lambda_timeout_seconds * 1000 * 0.1",
        "rule_set_age      = var.rules_poll_seconds * var.rule_set_age_alarm_polls",
    ] {
        assert!(tf.contains(formula), "alarms.tf no longer computes `{formula}`: update this test with it");
    }
    BTreeMap::from([("zero", 0.0), ("dead_letters", 0.0), ("deadline_pressure", 3000.0), ("rule_set_age", 0.3)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_document_is_emf_the_counts_balance_and_each_alarm_fires_on_its_fault_only() {
    let s = setup().await;
    let out = Captured::default();
    let (thresholds, alarms) = (thresholds(), alarms());
    let mut fired: BTreeMap<String, &str> = BTreeMap::new();
    let check = |case: &'static str, docs: &[Value], fired: &mut BTreeMap<String, &'static str>| {
        for (name, alarm) in &alarms {
            if fires(alarm, docs, &thresholds) {
                fired.insert(name.clone(), case);
            }
        }
    };
    let far = Duration::from_secs(30);

    // Healthy: every event written, nothing fires.
    let healthy = handler(&s, &aws::endpoint(), &aws::endpoint(), &out).await;
    let docs = invoke(&healthy, &out, &events(&["none", "none"]), far).await;
    let function = check_balance(&docs);
    assert_eq!((function["EventsWritten"].as_u64(), function["PutRecordsCalls"].as_u64()), (Some(2), Some(1)));
    check("healthy", &docs, &mut fired);
    assert!(fired.is_empty(), "alarms fired on a healthy invocation: {fired:?}");

    // Parse and rule dead letters, a drop: the rule's failures by kind, a module's own code as `module-error`.
    let docs = invoke(&healthy, &out, &events(&["none", "broken", "panic", "drop", "error", "none"]), far).await;
    let function = check_balance(&docs);
    let counts = ["EventsIn", "EventsWritten", "Dropped", "DeadLettered", "Failed", "DeadLettersSent", "RuleFailures"]
        .map(|k| function[k].as_u64().unwrap());
    assert_eq!(counts, [6, 2, 1, 3, 0, 3, 2], "{function}");
    let kinds = by_kind(&docs);
    let classes: BTreeSet<(String, String, u64)> = kinds["Function,Stage"]
        .iter()
        .map(|d| {
            (
                d["Stage"].as_str().unwrap().into(),
                d["Class"].as_str().unwrap().into(),
                d["DeadLettered"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = [("parse", "invalid-json", 1), ("rule", "module-error", 1), ("rule", "panic", 1)];
    assert_eq!(classes, expected.map(|(s, c, n)| (s.to_owned(), c.to_owned(), n)).into_iter().collect());
    let rule = kinds["Function,Rule"][0];
    assert_eq!(
        (rule["TrapsPanic"].as_u64(), rule["RuleErrors"].as_u64(), rule["RuleEvents"].as_u64()),
        (Some(1), Some(1), Some(5))
    );
    assert_eq!(kinds["Function,Reason"][0]["Reason"], "rule");
    let module = kinds["Function,Module"][0];
    assert!(module["ModuleInstantiations"].as_u64().unwrap() >= 2, "a fresh instance after the panic: {module}");
    check("rules", &docs, &mut fired);

    // Kinesis unreachable: sink dead letters. Then the queue too: failed events.
    let no_kinesis = handler(&s, &closed_port(), &aws::endpoint(), &out).await;
    let docs = invoke(&no_kinesis, &out, &events(&["none"]), Duration::from_secs(4)).await;
    assert_eq!(check_balance(&docs)["DeadLettered"], 1);
    check("sink", &docs, &mut fired);
    let nowhere = handler(&s, &closed_port(), &closed_port(), &out).await;
    let docs = invoke(&nowhere, &out, &events(&["none"]), Duration::from_secs(4)).await;
    assert_eq!(check_balance(&docs)["Failed"], 1);
    check("failed", &docs, &mut fired);

    // Deadline pressure: an invocation that returns with under 10 % of a 30 s timeout left.
    let docs = invoke(&healthy, &out, &events(&["none"]), Duration::from_millis(2500)).await;
    check_balance(&docs);
    check("deadline", &docs, &mut fired);

    // A rule set S3 has not answered about for over three poll intervals.
    let c = clients(&aws::endpoint(), &aws::endpoint(), &closed_port()).await;
    let poll = Duration::from_millis(100);
    let reloader = Reloader::new(
        c.s3.clone(),
        unique("gone"),
        "p/manifest.json".into(),
        common::engine().clone(),
        Limits::default(),
        Trust::default(),
        poll,
    );
    let delivery = Delivery::new(RecordPort::Lines(Box::new(std::io::sink())), LetterPort::Lines(None), None);
    let judge = Judge::new(common::hostile_rules(Limits::default()));
    let publisher = Publisher::new(MetricsConfig::new(FUNCTION), Box::new(out.clone()));
    let stale = Handler::hot_swapping(Some(judge), delivery, Some(reloader), 64, 0).with_metrics(publisher);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let docs = invoke(&stale, &out, &events(&["none"]), far).await;
    let function = check_balance(&docs);
    assert!(function["RuleSetAge"].as_f64().unwrap() >= 0.4, "{function}");
    check("stale", &docs, &mut fired);

    let expected: BTreeMap<String, &str> = [
        ("DeadLettersParse", "rules"),
        ("DeadLettersRule", "rules"),
        ("DeadLettersSink", "sink"),
        ("FailedEvents", "failed"),
        ("DeadlinePressure", "deadline"),
        ("RuleSetStale", "stale"),
    ]
    .into_iter()
    .map(|(name, case)| (name.to_owned(), case))
    .collect();
    assert_eq!(fired, expected, "each alarm fires on its own fault (the last case that fired it is shown)");
    assert_eq!(alarms.len(), expected.len(), "every alarm in metric-alarms.json is staged here");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_healthy_s3_rule_set_is_fresh_and_the_first_invocation_is_the_cold_start() {
    let c = clients(&aws::endpoint(), &aws::endpoint(), &aws::endpoint()).await;
    let bucket = unique("fresh");
    create_bucket(&c, &bucket).await;
    let manifest = json!({"name": "good", "rules": [{"name": "all", "modules": [{"module": "builtin:default"}]}]});
    let body = manifest.to_string().into_bytes().into();
    c.s3.put_object().bucket(&bucket).key("p/manifest.json").body(body).send().await.unwrap();
    let reloader = Reloader::new(
        c.s3.clone(),
        bucket,
        "p/manifest.json".into(),
        common::engine().clone(),
        Limits::default(),
        Trust::default(),
        Duration::from_secs(30),
    );
    let rules = reloader.load_now().await.unwrap();
    let out = Captured::default();
    let delivery = Delivery::new(RecordPort::Lines(Box::new(std::io::sink())), LetterPort::Lines(None), None);
    let publisher =
        Publisher::new(MetricsConfig::new(FUNCTION), Box::new(out.clone())).cold_start(Duration::from_millis(12));
    let handler =
        Handler::hot_swapping(Some(Judge::new(rules)), delivery, Some(reloader), 64, 0).with_metrics(publisher);
    let first = invoke(&handler, &out, &events(&["none"]), Duration::from_secs(30)).await;
    let second = invoke(&handler, &out, &events(&["none"]), Duration::from_secs(30)).await;
    let (first, second) = (check_balance(&first), check_balance(&second));
    assert_eq!((first["ColdStart"].as_u64(), first["InitTime"].as_f64()), (Some(1), Some(12.0)));
    assert_eq!((second["ColdStart"].as_u64(), second.get("InitTime")), (Some(0), None));
    assert!(first["RuleSetVersion"].as_str().unwrap().starts_with("good@"), "{first}");
    assert_eq!(first["RuleSetChecks"], 1, "the cold start's load");
    assert!(first["RuleSetAge"].as_f64().unwrap() < 0.3, "{first}");
    let thresholds = thresholds();
    for (name, alarm) in alarms() {
        assert!(!fires(&alarm, &[first.clone(), second.clone()], &thresholds), "{name} fired on a healthy rule set");
    }
}

/// Every metric the dashboard, the alarms and the README's table name is one weft publishes, and the table lists
/// each metric weft publishes once, with its unit and dimensions.
#[test]
fn the_dashboard_the_alarms_and_the_docs_name_only_published_metrics() {
    let published: BTreeSet<&str> = METRICS.iter().map(|m| m.name).collect();
    let dashboard = std::fs::read_to_string(common::repo().join("terraform/modules/weft/dashboard.tf")).unwrap();
    let list = dashboard.split("dashboard_metrics = [").nth(1).unwrap().split(']').next().unwrap();
    let named: Vec<&str> = list.split(',').map(|n| n.trim().trim_matches('"')).filter(|n| !n.is_empty()).collect();
    assert!(named.len() > 20, "{named:?}");
    for name in named.iter().chain(["DeadLettered"].iter()) {
        assert!(published.contains(name), "the dashboard names {name}, which weft does not publish");
    }
    for (name, alarm) in alarms() {
        assert!(published.contains(alarm["metric"].as_str().unwrap()), "alarm {name}");
    }
    let docs = std::fs::read_to_string(common::repo().join("README.md")).unwrap();
    let rows: Vec<String> = docs
        .lines()
        .skip_while(|l| !l.starts_with("| metric | unit | dimensions |"))
        .skip(2)
        .take_while(|l| l.starts_with('|'))
        .map(str::to_owned)
        .collect();
    let expected: Vec<String> = METRICS
        .iter()
        .map(|m| {
            let dims = m.per.dimensions().iter().map(|set| set.join(", ")).collect::<Vec<_>>().join("; ");
            format!("| `{}` | {} | {} | {} |", m.name, m.unit.as_str(), dims, m.description)
        })
        .collect();
    assert_eq!(rows, expected, "the README's metric table is the catalog (weft::metrics::catalog)");
}
