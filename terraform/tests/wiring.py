"""Reads the weft Terraform module with python-hcl2 and prints, as JSON, the wiring a typo would break: the
Lambda's environment, its on-failure destination, the event target's dead-letter queue, and every IAM statement
(its actions and resources, as written). host/tests/terraform.rs asserts on it."""

import json
import pathlib
import sys

import hcl2


def load(directory):
    blocks = {"resource": {}, "data": {}, "locals": {}}
    for path in sorted(pathlib.Path(directory).glob("*.tf")):
        with open(path) as f:
            document = hcl2.load(f)
        for kind in ("resource", "data"):
            for block in document.get(kind, []):
                for type_, named in block.items():
                    for name, body in named.items():
                        blocks[kind][f"{type_}.{name}"] = body
        for local in document.get("locals", []):
            blocks["locals"].update(local)
    return blocks


def first(value):
    """python-hcl2 wraps nested blocks in lists."""
    return value[0] if isinstance(value, list) and value else value


def statements(policy):
    out = []
    for statement in policy.get("statement", []):
        out.append(
            {
                "sid": statement.get("sid"),
                "effect": statement.get("effect", "Allow"),
                "actions": statement.get("actions", []),
                "resources": statement.get("resources", []),
            }
        )
    for dynamic in policy.get("dynamic", []):
        for name, body in dynamic.items():
            content = first(first(body).get("content", [{}]))
            out.append(
                {
                    "sid": content.get("sid"),
                    "effect": content.get("effect", "Allow"),
                    "actions": content.get("actions", []),
                    "resources": content.get("resources", []),
                    "dynamic": True,
                }
            )
    return out


def main():
    blocks = load(sys.argv[1])
    resources, data, local = blocks["resource"], blocks["data"], blocks["locals"]
    function = resources["aws_lambda_function.weft"]
    invoke = resources["aws_lambda_function_event_invoke_config.weft"]
    target = resources["aws_cloudwatch_event_target.lambda"]
    report = {
        "resources": sorted(resources),
        "function": {
            "environment": first(first(function["environment"])["variables"]),
            "runtime": function["runtime"],
            "architectures": function["architectures"],
            "role": function["role"],
        },
        "locals_environment": local.get("environment", {}),
        "on_failure_destination": first(first(first(invoke["destination_config"])["on_failure"])["destination"]),
        "event_target_dead_letter": first(target["dead_letter_config"])["arn"],
        "lambda_policy": statements(data["aws_iam_policy_document.weft"]),
        "consumer_policy": statements(data["aws_iam_policy_document.consumer"]),
        "queue_policy": statements(data["aws_iam_policy_document.dead_letters_queue"]),
        "kinesis_encryption": resources["aws_kinesis_stream.records"].get("encryption_type"),
        "dead_letter_retention": resources["aws_sqs_queue.dead_letters"].get("message_retention_seconds"),
        "dead_letter_visibility": resources["aws_sqs_queue.dead_letters"].get("visibility_timeout_seconds"),
        "sync_function": {
            "environment": first(first(resources["aws_lambda_function.tables_sync"]["environment"])["variables"]),
            "role": resources["aws_lambda_function.tables_sync"]["role"],
            "filename": resources["aws_lambda_function.tables_sync"]["filename"],
            "count": resources["aws_lambda_function.tables_sync"]["count"],
        },
        "sync_environment": local.get("tables_sync_environment", {}),
        "sync_policy": statements(data["aws_iam_policy_document.tables_sync"]),
        "sync_schedule_target": first(resources["aws_scheduler_schedule.tables_sync"]["target"]),
        "sync_scheduler_policy": statements(data["aws_iam_policy_document.tables_sync_scheduler"]),
        "sync_alarm_dimensions": resources["aws_cloudwatch_metric_alarm.tables_sync_failed"]["dimensions"],
        "archive": resources["aws_cloudwatch_event_archive.genesys"],
        "replay_stream": resources["aws_kinesis_stream.replay"],
        "extra_stream_arns": local.get("extra_stream_arns"),
        "key_policy": statements(data["aws_iam_policy_document.key"]),
        "backfill_function": {
            "environment": first(first(resources["aws_lambda_function.backfill"]["environment"])["variables"]),
            "filename": resources["aws_lambda_function.backfill"]["filename"],
            "count": resources["aws_lambda_function.backfill"]["count"],
            "timeout": resources["aws_lambda_function.backfill"]["timeout"],
        },
        "backfill_state_machine": {
            "definition": resources["aws_sfn_state_machine.backfill"]["definition"],
            "count": resources["aws_sfn_state_machine.backfill"]["count"],
        },
        "backfill_states_policy": statements(data["aws_iam_policy_document.backfill_states"]),
        "outputs": sorted(
            name
            for path in sorted(pathlib.Path(sys.argv[1]).glob("*.tf"))
            for block in hcl2.load(open(path)).get("output", [])
            for name in block
        ),
    }
    json.dump(report, sys.stdout, indent=1)


main()
