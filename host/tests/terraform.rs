//! The Terraform module, checked as far as this machine allows (no provider can be downloaded, so no `terraform
//! validate`): formatting, checkov's security checks, and the wiring a typo would break, read from the HCL.

mod common;

use std::collections::BTreeSet;
use std::process::Command;

use serde_json::Value;

fn run(program: &str, args: &[&str]) -> (bool, String) {
    let output = Command::new(program).args(args).current_dir(common::repo()).output().unwrap_or_else(|e| {
        panic!(
            "{program} cannot run ({e}): terraform (>= 1.5) comes with the machine; scripts/setup.sh installs the rest"
        )
    });
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn the_terraform_is_formatted() {
    let (ok, out) = run("terraform", &["fmt", "-check", "-recursive", "terraform"]);
    assert!(ok, "terraform fmt -check found unformatted files:\n{out}");
}

#[test]
fn checkov_finds_nothing_and_every_skip_says_why() {
    let checkov = common::repo().join(".venv-checkov/bin/checkov");
    let (_, out) = run(
        checkov.to_str().unwrap(),
        &["-d", "terraform", "--framework", "terraform", "--skip-download", "-o", "json"],
    );
    let report: Value =
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("checkov output is not JSON ({e}):\n{out}"));
    let summary = &report["summary"];
    assert_eq!(summary["failed"], 0, "checkov failures:\n{}", report["results"]["failed_checks"]);
    assert!(summary["passed"].as_u64().unwrap() > 100, "{summary}");
    for skipped in report["results"]["skipped_checks"].as_array().unwrap() {
        let reason = skipped["check_result"]["suppress_comment"].as_str().unwrap_or_default();
        assert!(reason.len() > 20, "{} on {} is skipped without a reason", skipped["check_id"], skipped["resource"]);
    }
}

fn wiring() -> Value {
    let python = common::repo().join(".venv-hcl/bin/python");
    let (ok, out) = run(python.to_str().unwrap(), &["terraform/tests/wiring.py", "terraform/modules/weft"]);
    assert!(ok, "{out}");
    serde_json::from_str(&out).unwrap()
}

/// The statement with this sid.
fn statement<'a>(policy: &'a Value, sid: &str) -> &'a Value {
    policy.as_array().unwrap().iter().find(|s| s["sid"] == sid).unwrap_or_else(|| panic!("no statement {sid}"))
}

fn resources(statement: &Value) -> String {
    statement["resources"].to_string()
}

#[test]
fn the_lambda_gets_every_variable_weft_reads_from_what_the_module_creates() {
    let w = wiring();
    assert_eq!(w["function"]["environment"], "${local.environment}");
    let set: BTreeSet<&str> = w["locals_environment"].as_object().unwrap().keys().map(String::as_str).collect();
    let documented: BTreeSet<&str> = weft::lambda::config::VARIABLES.iter().map(|v| v.name).collect();
    assert_eq!(set, documented, "the module sets exactly the variables `weft env` lists");
    let env = &w["locals_environment"];
    assert_eq!(env["WEFT_STREAM"], "${aws_kinesis_stream.records.name}");
    assert_eq!(env["WEFT_DLQ_URL"], "${aws_sqs_queue.dead_letters.url}");
    assert_eq!(env["WEFT_DLQ_BUCKET"], "${aws_s3_bucket.dead_letters.id}");
    assert_eq!(env["WEFT_RULES"], "${local.rules_manifest}");
    assert_eq!(
        (&w["function"]["runtime"], &w["function"]["architectures"][0]),
        (&"provided.al2023".into(), &"arm64".into())
    );
}

#[test]
fn failures_on_every_path_end_on_the_dead_letter_queue() {
    let w = wiring();
    assert_eq!(w["on_failure_destination"], "${aws_sqs_queue.dead_letters.arn}", "async invocations that fail");
    assert_eq!(w["event_target_dead_letter"], "${aws_sqs_queue.dead_letters.arn}", "events EventBridge cannot deliver");
    let queue = statement(&w["queue_policy"], "EventBridgeDeadLettersUndeliverableEvents");
    assert!(resources(queue).contains("aws_sqs_queue.dead_letters.arn"));
    assert_eq!(w["dead_letter_retention"], 1209600, "14 days");
    assert_eq!(w["dead_letter_visibility"], "${var.lambda_timeout_seconds + 30}");
    assert_eq!(w["kinesis_encryption"], "KMS");
}

#[test]
fn the_lambda_role_names_exactly_what_the_module_creates() {
    let w = wiring();
    let policy = &w["lambda_policy"];
    for (sid, action, resource) in [
        ("WriteRecords", "kinesis:PutRecords", "aws_kinesis_stream.records.arn"),
        ("DeadLetters", "sqs:SendMessage", "aws_sqs_queue.dead_letters.arn"),
        ("OversizeDeadLetters", "s3:PutObject", "aws_s3_bucket.dead_letters.arn"),
        ("ReadRuleSets", "s3:GetObject", "aws_s3_bucket.rules.arn"),
        ("TellMissingRuleSets", "s3:ListBucket", "aws_s3_bucket.rules.arn"),
        ("ReportRuleSetStatus", "s3:PutObject", "status/*"),
        ("UseTheKey", "kms:Decrypt", "aws_kms_key.weft.arn"),
        ("OwnLogs", "logs:PutLogEvents", "aws_cloudwatch_log_group.weft.arn"),
        ("ReadIngestQueue", "sqs:ReceiveMessage", "aws_sqs_queue.ingest[0].arn"),
    ] {
        let s = statement(policy, sid);
        assert!(s["actions"].as_array().unwrap().iter().any(|a| a == action), "{sid}: {s}");
        assert!(resources(s).contains(resource), "{sid} names {resource}: {s}");
    }
    for s in policy.as_array().unwrap().iter().chain(w["consumer_policy"].as_array().unwrap()) {
        assert!(!s["actions"].to_string().contains('*'), "no wildcard actions: {s}");
        let star = s["resources"].as_array().is_some_and(|r| r.iter().any(|r| r == "*"));
        assert!(
            !star || ["Tracing", "ListStreams"].contains(&s["sid"].as_str().unwrap()),
            "\"*\" only where AWS requires it: {s}"
        );
    }
}

#[test]
fn the_table_sync_is_a_second_function_of_the_same_zip_with_a_role_of_its_own() {
    let w = wiring();
    let sync = &w["sync_function"];
    assert_eq!(sync["environment"], "${local.tables_sync_environment}");
    assert_eq!(sync["filename"], "${var.lambda_zip}", "the same zip as the event function");
    assert_eq!(sync["count"], "${local.tables_sync ? 1 : 0}", "behind one variable");
    assert_eq!(sync["role"], "${aws_iam_role.tables_sync[0].arn}");
    let set: BTreeSet<&str> = w["sync_environment"].as_object().unwrap().keys().map(String::as_str).collect();
    let documented: BTreeSet<&str> = weft::lambda::config::SYNC_VARIABLES.iter().map(|v| v.name).collect();
    assert_eq!(set, documented, "the module sets exactly the variables the sync reads");
    assert_eq!(w["sync_environment"]["WEFT_ROLE"], "tables-sync");
    assert_eq!(w["sync_environment"]["WEFT_RULES"], "${local.rules_manifest}");
    // Least privilege: the rule set's prefix, the two secrets, the module's key, its own logs; nothing else.
    let policy = &w["sync_policy"];
    for (sid, action, resource) in [
        ("RepublishRuleSets", "s3:PutObject", "${local.rules_objects}"),
        ("TellMissingObjects", "s3:ListBucket", "aws_s3_bucket.rules.arn"),
        ("ReadTheSecrets", "secretsmanager:GetSecretValue", "aws_secretsmanager_secret.genesys_client[*].arn"),
        ("UseTheKey", "kms:Decrypt", "aws_kms_key.weft.arn"),
        ("OwnLogs", "logs:PutLogEvents", "local.tables_sync_log_group_arn"),
    ] {
        let s = statement(policy, sid);
        assert!(s["actions"].as_array().unwrap().iter().any(|a| a == action), "{sid}: {s}");
        assert!(resources(s).contains(resource), "{sid} names {resource}: {s}");
    }
    assert_eq!(policy.as_array().unwrap().len(), 6, "{policy}");
    for s in policy.as_array().unwrap() {
        assert!(!s["actions"].to_string().contains('*'), "no wildcard actions: {s}");
    }
    // The event function may read the rule set, never write it or read the OAuth client.
    let event_policy = w["lambda_policy"].to_string();
    assert!(!event_policy.contains("secretsmanager") && !event_policy.contains("rules_objects"), "{event_policy}");
    // The schedule invokes the sync, with the input the sync's test sends, through a role that may do only that.
    let target = &w["sync_schedule_target"];
    assert_eq!(target["arn"], "${aws_lambda_function.tables_sync[0].arn}");
    assert_eq!(target["input"], "${jsonencode({\"weft\": \"tables-sync\"})}");
    // The next run is the retry: the schedule itself does not retry a failed sync.
    assert_eq!(target["retry_policy"][0]["maximum_retry_attempts"], 0, "{target}");
    let invoke = statement(&w["sync_scheduler_policy"], "InvokeTheSync");
    assert_eq!(invoke["actions"], serde_json::json!(["lambda:InvokeFunction"]));
    assert!(resources(invoke).contains("${aws_lambda_function.tables_sync[*].arn}"), "{invoke}");
    assert_eq!(w["sync_alarm_dimensions"]["FunctionName"], "${aws_lambda_function.tables_sync[0].function_name}");
}

#[test]
fn consumers_get_what_kcl_2_needs_on_the_stream() {
    let w = wiring();
    let actions: BTreeSet<String> = w["consumer_policy"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|s| s["actions"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()))
        .collect();
    for action in [
        "kinesis:GetShardIterator",
        "kinesis:GetRecords",
        "kinesis:DescribeStream",
        "kinesis:ListStreams",
        "kinesis:ListShards",
        "kinesis:DescribeStreamSummary",
        "kinesis:SubscribeToShard",
        "kms:Decrypt",
    ] {
        assert!(actions.contains(action), "{action} missing: {actions:?}");
    }
    assert!(resources(statement(&w["consumer_policy"], "ReadTheStream")).contains("aws_kinesis_stream.records.arn"));
}

#[test]
fn the_genesys_bus_is_archived_encrypted_and_replays_can_be_kept_apart() {
    let w = wiring();
    let archive = &w["archive"];
    // On the partner bus itself, on by default, off at 0 days, encrypted with the module's key.
    assert_eq!(archive["event_source_arn"], "${aws_cloudwatch_event_bus.genesys.arn}");
    assert_eq!(archive["count"], "${var.archive_retention_days > 0 ? 1 : 0}");
    assert_eq!(archive["retention_days"], "${var.archive_retention_days}");
    assert_eq!(archive["kms_key_identifier"], "${aws_kms_key.weft.arn}");
    let variables = std::fs::read_to_string(common::repo().join("terraform/modules/weft/variables.tf")).unwrap();
    let retention = variables.split("variable \"archive_retention_days\"").nth(1).unwrap();
    assert!(retention.split("variable ").next().unwrap().contains("default     = 30"), "30 days by default");
    let key = statement(&w["key_policy"], "EventBridgeEncryptsTheArchive");
    assert!(key["actions"].as_array().unwrap().iter().any(|a| a == "kms:GenerateDataKey"), "{key}");
    // The replay stream: created only when named, encrypted, written by the function, read by consumers.
    let stream = &w["replay_stream"];
    assert_eq!(stream["count"], "${var.replay_stream_name == \"\" ? 0 : 1}");
    assert_eq!((&stream["name"], &stream["encryption_type"]), (&"${var.replay_stream_name}".into(), &"KMS".into()));
    assert_eq!(w["locals_environment"]["WEFT_REPLAY_STREAM"], "${var.replay_stream_name}");
    assert!(
        w["extra_stream_arns"].to_string().contains("aws_kinesis_stream.replay[*].arn"),
        "{}",
        w["extra_stream_arns"]
    );
    assert!(resources(statement(&w["consumer_policy"], "ReadTheStream")).contains("aws_kinesis_stream.replay[*].arn"));
    // What `weft replay start` needs from the deployment.
    let outputs: Vec<&str> = w["outputs"].as_array().unwrap().iter().map(|o| o.as_str().unwrap()).collect();
    for output in ["archive_name", "event_rule_name", "replay_stream_name"] {
        assert!(outputs.contains(&output), "output {output}: {outputs:?}");
    }
}

/// The backfill state machine's definition, rendered as Terraform's templatefile renders it (its `${…}` replaced),
/// is valid Amazon States Language by asl-validator, Distributed Map included; and the module wires it to the
/// backfill function (the same zip, WEFT_ROLE=backfill) with a role that may do what the map does and no more.
#[test]
fn the_backfill_is_a_distributed_map_over_s3_driving_the_same_zip_in_its_backfill_role() {
    let template = std::fs::read_to_string(common::repo().join("terraform/modules/weft/backfill.asl.json")).unwrap();
    let w = wiring();
    let machine = &w["backfill_state_machine"];
    let definition = machine["definition"].as_str().unwrap();
    assert!(definition.starts_with("${templatefile(\"${path.module}/backfill.asl.json\""), "{definition}");
    let mut rendered = template.clone();
    for (name, value) in [
        ("function_arn", "arn:aws:lambda:us-east-1:123456789012:function:weft-backfill"),
        ("max_concurrency", "10"),
        ("results_bucket", "weft-rules"),
        ("results_prefix", "backfill/results"),
    ] {
        assert!(definition.contains(&format!("\"{name}\": ")), "the module passes {name}: {definition}");
        rendered = rendered.replace(&format!("${{{name}}}"), value);
    }
    assert!(!rendered.contains("${"), "every placeholder is one the module passes");
    let asl: Value = serde_json::from_str(&rendered).unwrap();
    let map = &asl["States"]["Objects"];
    assert_eq!(map["ItemProcessor"]["ProcessorConfig"]["Mode"], "DISTRIBUTED");
    assert_eq!(map["ItemReader"]["Resource"], "arn:aws:states:::s3:listObjectsV2");
    assert_eq!(map["MaxConcurrency"], 10);
    let task = &map["ItemProcessor"]["States"]["Backfill"];
    assert!(task["Retry"][0]["ErrorEquals"].to_string().contains("Lambda.TooManyRequestsException"), "{task}");
    assert_eq!(task["Retry"][0]["BackoffRate"], 2);
    // An object is invoked again from where it stopped until the function says it is done.
    let choice = &map["ItemProcessor"]["States"]["Object done?"];
    assert_eq!((&choice["Choices"][2]["Variable"], &choice["Default"]), (&"$.done".into(), &"Backfill".into()));
    // An answer without a boolean `done` ends the object instead of invoking the function forever.
    for rule in &choice["Choices"].as_array().unwrap()[..2] {
        assert_eq!((&rule["Not"]["Variable"], &rule["Next"]), (&"$.done".into(), &"Not an answer".into()), "{rule}");
    }
    // A dry run's candidate reaches every item.
    assert_eq!(map["ItemSelector"]["diff.$"], "$.diff");
    let file = std::env::temp_dir().join(format!("weft-backfill-{}.asl.json", std::process::id()));
    std::fs::write(&file, &rendered).unwrap();
    let validator = common::repo().join(".node/node_modules/.bin/asl-validator");
    let (ok, out) = run(validator.to_str().unwrap(), &["--json-path", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(ok, "asl-validator: {out}");
    // A definition with a dangling transition is refused: the validator is not a rubber stamp.
    let broken = rendered.replace("\"Next\": \"Object done?\"", "\"Next\": \"Nowhere\"");
    std::fs::write(&file, &broken).unwrap();
    let (ok, out) = run(validator.to_str().unwrap(), &["--json-path", file.to_str().unwrap()]);
    let _ = std::fs::remove_file(&file);
    assert!(!ok && out.contains("MISSING_TRANSITION_TARGET"), "{out}");

    let function = &w["backfill_function"];
    assert_eq!(function["filename"], "${var.lambda_zip}", "the same zip as the event function");
    assert!(function["environment"].as_str().unwrap().contains("local.environment"), "{function}");
    assert!(function["environment"].to_string().contains("backfill"), "{function}");
    assert_eq!(
        (&function["count"], &machine["count"]),
        (&"${local.backfill ? 1 : 0}".into(), &"${local.backfill ? 1 : 0}".into())
    );
    let policy = &w["backfill_states_policy"];
    for (sid, action) in [
        ("InvokeTheBackfill", "lambda:InvokeFunction"),
        ("ListHistory", "s3:ListBucket"),
        ("WriteResults", "s3:PutObject"),
        ("RunTheMap", "states:StartExecution"),
    ] {
        let s = statement(policy, sid);
        assert!(s["actions"].as_array().unwrap().iter().any(|a| a == action), "{sid}: {s}");
    }
    let read = statement(&w["lambda_policy"], "ReadHistory");
    assert!(resources(read).contains("local.history_buckets"), "{read}");
}
