# Alarms on what an operator must act on: AWS's own metrics first, then weft's log lines (below).
resource "aws_cloudwatch_metric_alarm" "dead_letters_waiting" {
  alarm_name          = "${var.name}-dead-letters-waiting"
  alarm_description   = "Events are waiting on the dead-letter queue: read the reasons, fix, then `weft redrive`."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  alarm_name          = "${var.name}-lambda-errors"
  alarm_description   = "Invocations failed as a whole (Lambda retries them, then the dead-letter queue gets them)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.weft.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}

resource "aws_cloudwatch_metric_alarm" "kinesis_throttled" {
  alarm_name          = "${var.name}-kinesis-write-throttled"
  alarm_description   = "Kinesis refused writes for throughput: weft retries them, but the stream needs capacity (more shards, or on-demand)."
  namespace           = "AWS/Kinesis"
  metric_name         = "WriteProvisionedThroughputExceeded"
  dimensions          = { StreamName = aws_kinesis_stream.records.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}

# weft's own metrics (Embedded Metric Format, one set of documents per invocation): rates and levels. The alarms
# are defined in metric-alarms.json, which host/tests/metrics.rs evaluates against the documents weft writes when
# each alarm's fault is staged.
locals {
  metric_alarms = {
    for name, alarm in jsondecode(file("${path.module}/metric-alarms.json")) : name => alarm
    if alarm.metric != "RuleSetAge" || var.rules_prefix != ""
  }
  metric_alarm_thresholds = {
    zero              = 0
    dead_letters      = var.dead_letter_alarm_threshold
    deadline_pressure = var.lambda_timeout_seconds * 1000 * 0.1
    rule_set_age      = var.rules_poll_seconds * var.rule_set_age_alarm_polls
  }
}

resource "aws_cloudwatch_metric_alarm" "weft_metric" {
  for_each            = local.metric_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value.description
  namespace           = var.metrics_namespace
  metric_name         = each.value.metric
  dimensions          = merge({ Function = aws_lambda_function.weft.function_name }, each.value.dimensions)
  statistic           = each.value.statistic
  period              = 300
  evaluation_periods  = 1
  threshold           = local.metric_alarm_thresholds[each.value.threshold]
  comparison_operator = each.value.comparison
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}

# Happenings an operator must act on at once, even when no invocation follows to publish a metric: weft's log lines
# for them carry a top-level `"metric"` field; each becomes a metric (by a filter on the function's log group) and
# an alarm. host/tests/log_alarms.rs evaluates these patterns against the lines weft really writes in each case.
locals {
  log_alarms = {
    RuleSetRefused     = "A published rule set was refused; the previous version keeps running. `weft rules status` shows why; fix, `weft rules test`, publish again."
    RuleSetRolledBack  = "A new rule set version failed its first live events and was rolled back to the last good one. Its failed events are dead letters: fix the rule set, publish, then `weft redrive`."
    RuleSetUnavailable = "A cold start could not load its rule set (S3 unreachable, refused, or not published yet); invocations fail and Lambda retries them (or the default rule runs, with WEFT_RULES_COLD_START=default)."
    CanaryRolledBack   = "A canary candidate failed more events than the active rule set by more than canary_margin_percent and was retired in a container (its failed events were delivered by the active set). Withdraw it (`weft rules rollback --candidate`), fix it, publish again."
    RuleQuarantined    = "A rule failed event after event and is quarantined: its on-error policy applies without calling it. Read its dead letters, fix the module, publish."
  }
}

resource "aws_cloudwatch_log_metric_filter" "weft" {
  for_each       = local.log_alarms
  name           = "${var.name}-${each.key}"
  log_group_name = aws_cloudwatch_log_group.weft.name
  pattern        = "{ $.metric = \"${each.key}\" }"

  metric_transformation {
    name      = each.key
    namespace = var.metrics_namespace
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "weft_log" {
  for_each            = local.log_alarms
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = each.value
  namespace           = var.metrics_namespace
  metric_name         = aws_cloudwatch_log_metric_filter.weft[each.key].metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}
