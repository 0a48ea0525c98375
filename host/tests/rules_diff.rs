//! `weft rules diff`: a candidate rule set against the example one over the samples; the report names exactly
//! what the candidate changes, computed here from the samples themselves.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::{Value, json};

fn weft(args: &[&str], dir: &std::path::Path) -> (Option<i32>, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_weft")).args(args).current_dir(dir).output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The samples' events: (id, kind, body).
fn samples() -> Vec<(String, Option<String>, Value)> {
    let mut files: Vec<_> = std::fs::read_dir(common::repo().join("samples/events")).unwrap().flatten().collect();
    files.sort_by_key(|f| f.path());
    files
        .iter()
        .flat_map(|f| std::fs::read_to_string(f.path()).unwrap().lines().map(str::to_owned).collect::<Vec<_>>())
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let event: Value = serde_json::from_str(&line).unwrap();
            let topic = event["detail"]["topicName"].as_str().unwrap_or_default();
            let kind = topic.strip_prefix("v2.detail.events.conversation.").and_then(|rest| rest.split_once('.'));
            (
                event["id"].as_str().unwrap().to_owned(),
                kind.map(|(_, k)| k.to_owned()),
                event["detail"]["eventBody"].clone(),
            )
        })
        .collect()
}

#[test]
fn the_report_names_exactly_what_a_candidate_changes() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["dist", "tables"] {
        std::os::unix::fs::symlink(common::repo().join("rules").join(name), dir.path().join(name)).unwrap();
    }
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(common::repo().join("rules/contact-centre.json")).unwrap())
            .unwrap();
    std::fs::write(dir.path().join("old.json"), manifest.to_string()).unwrap();
    // The candidate: shared fields for customer.* events only; wrap-up records keyed by event id; callers of
    // both directions.
    for rule in manifest["rules"].as_array_mut().unwrap() {
        match rule["name"].as_str().unwrap() {
            "shared-fields" => rule["match"] = json!({"kinds": ["customer.*"]}),
            "wrap-ups" => rule["output"]["partitionKey"] = json!("$._id"),
            "inbound-voice-callers" => {
                rule["match"]["where"] = json!([{"path": "$.detail.eventBody.mediaType", "equals": "VOICE"}])
            }
            _ => {}
        }
    }
    manifest["tests"] = json!([]);
    std::fs::write(dir.path().join("new.json"), manifest.to_string()).unwrap();

    let events = common::repo().join("samples/events");
    let (code, stdout, stderr) = weft(
        &["rules", "diff", "old.json", "new.json", events.to_str().unwrap(), "--json", "--examples", "100"],
        dir.path(),
    );
    assert_eq!(code, Some(1), "differences exit 1: {stderr}");
    let report: Value = serde_json::from_str(&stdout).unwrap();

    let samples = samples();
    let ids = |keep: &dyn Fn(&Option<String>, &Value) -> bool| -> Vec<String> {
        samples.iter().filter(|(_, k, b)| keep(k, b)).map(|(id, _, _)| id.clone()).collect()
    };
    let customer = |k: &Option<String>| k.as_deref().is_some_and(|k| k.starts_with("customer."));
    let outbound_voice = ids(&|k, b| customer(k) && b["mediaType"] == "VOICE" && b["direction"] != "INBOUND");
    let acw = ids(&|k, _| k.as_deref() == Some("acw"));
    let lost = ids(&|k, _| k.is_some() && !customer(k) && k.as_deref() != Some("acw"));
    let other_families = ids(&|k, _| k.is_none());
    assert!(!outbound_voice.is_empty() && !acw.is_empty() && !lost.is_empty() && other_families.len() == 2);

    let sorted = |v: &Value| {
        let mut ids: Vec<String> = v.as_array().unwrap().iter().map(|s| s.as_str().unwrap().to_owned()).collect();
        ids.sort();
        ids
    };
    let sort = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(report["events"], 29);
    assert_eq!(report["eventsChanged"], (outbound_voice.len() + acw.len() + lost.len() + other_families.len()) as u64);
    let counts: BTreeMap<String, Value> = serde_json::from_value(report["records"].clone()).unwrap();
    assert_eq!(
        counts,
        BTreeMap::from([
            (
                "inbound-voice-callers -> genesys-callers".into(),
                json!({"added": outbound_voice.len(), "removed": 0, "changed": 0})
            ),
            ("shared-fields -> (default)".into(), json!({"added": 0, "removed": acw.len(), "changed": 0})),
            ("wrap-ups -> genesys-wrapups".into(), json!({"added": 0, "removed": 0, "changed": acw.len()})),
        ])
    );
    let paths = report["paths"].as_object().unwrap();
    assert_eq!(paths.keys().collect::<Vec<_>>(), ["wrap-ups -> genesys-wrapups: partitionKey"]);
    assert_eq!(sorted(&paths["wrap-ups -> genesys-wrapups: partitionKey"]["events"]), sort(acw));
    let outcomes = report["outcomes"].as_object().unwrap();
    assert_eq!(sorted(&outcomes["records -> dropped: no rule matched"]["events"]), sort(lost));
    assert_eq!(
        sorted(&outcomes["dropped: not a conversation detail event -> dropped: no rule matched"]["events"]),
        sort(other_families)
    );
    assert_eq!(outcomes.len(), 2);
    // Ids only: no event content in the report.
    assert!(!stdout.contains("tel:") && !stdout.contains("VOICE"), "{stdout}");

    // With values, on request: each example of a changed path says what it was and what it becomes.
    let (code, stdout, _) = weft(
        &[
            "rules",
            "diff",
            "old.json",
            "new.json",
            events.to_str().unwrap(),
            "--json",
            "--examples",
            "1",
            "--show-values",
        ],
        dir.path(),
    );
    assert_eq!(code, Some(1));
    let report: Value = serde_json::from_str(&stdout).unwrap();
    let example = &report["paths"]["wrap-ups -> genesys-wrapups: partitionKey"];
    let id = example["events"][0].as_str().unwrap();
    let (_, kind, body) = samples.iter().find(|(i, _, _)| i == id).unwrap();
    assert_eq!(kind.as_deref(), Some("acw"));
    assert_eq!(example["values"], json!([format!("{} -> {}", body["conversationId"], json!(id))]));
    assert!(report["outcomes"]["records -> dropped: no rule matched"].get("values").is_none());

    // A rule set against itself: nothing, exit 0.
    let (code, stdout, _) = weft(&["rules", "diff", "old.json", "old.json", events.to_str().unwrap()], dir.path());
    assert_eq!(code, Some(0));
    assert_eq!(stdout, "29 events compared, 0 changed\n");
}
