data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  # The rule set the Lambda reads; empty prefix: the embedded default rule.
  rules_manifest = var.rules_prefix == "" ? "" : "s3://${aws_s3_bucket.rules.id}/${var.rules_prefix}/manifest.json"
  # Where the rule set's objects start in the bucket's keys ("" or "PREFIX/"): every S3 permission on them uses it.
  rules_key_prefix = var.rules_prefix == "" ? "" : "${var.rules_prefix}/"

  # Every variable `weft env` lists, set here (host/tests/terraform.rs checks the two lists match).
  environment = {
    WEFT_STREAM                = aws_kinesis_stream.records.name
    WEFT_DLQ_URL               = aws_sqs_queue.dead_letters.url
    WEFT_DLQ_BUCKET            = aws_s3_bucket.dead_letters.id
    WEFT_RULES                 = local.rules_manifest
    WEFT_RULES_POLL_SECONDS    = tostring(var.rules_poll_seconds)
    WEFT_RULES_PUBLIC_KEY      = var.rules_public_key
    WEFT_DEPLOYMENT            = var.deployment == "" ? var.name : var.deployment
    WEFT_RULES_MIN_SEQUENCE    = tostring(var.rules_min_sequence)
    WEFT_RULES_COLD_START      = var.rules_cold_start
    WEFT_RULES_ROLLBACK_AFTER  = tostring(var.rules_rollback_after)
    WEFT_SHADOW_BUDGET_PERCENT = tostring(var.shadow_budget_percent)
    WEFT_CANARY_MARGIN_PERCENT = tostring(var.canary_margin_percent)
    WEFT_TIME_PER_EVENT_MS     = tostring(var.time_per_event_ms)
    WEFT_MEMORY_MB             = tostring(var.memory_per_module_mb)
    WEFT_RULES_MEMORY_MB       = tostring(floor(var.lambda_memory_mb / 2))
    WEFT_RECORDS_PER_EVENT     = tostring(var.records_per_event)
    WEFT_BATCH                 = "64"
    WEFT_LOG                   = var.log_level
    WEFT_METRICS_NAMESPACE     = var.metrics_namespace
    WEFT_METRICS_DIMENSIONS    = var.metrics_dimensions
    WEFT_RULE_LOGS             = var.rule_logs
    WEFT_REPLAY_STREAM         = var.replay_stream_name
  }

  extra_stream_arns = concat(
    [for s in var.extra_stream_names : "arn:${local.partition}:kinesis:${local.region}:${local.account_id}:stream/${s}"],
    aws_kinesis_stream.replay[*].arn,
  )

  tags = merge({ "app" = "weft" }, var.tags)
}
