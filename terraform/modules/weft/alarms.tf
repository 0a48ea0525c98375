# Alarms on what an operator must act on. A refused rule set is a log line (`"metric": "RuleSetRefused"`); the
# metric filter turns it into a metric.
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

resource "aws_cloudwatch_log_metric_filter" "rule_set_refused" {
  name           = "${var.name}-rule-set-refused"
  log_group_name = aws_cloudwatch_log_group.weft.name
  pattern        = "{ $.metric = \"RuleSetRefused\" }"

  metric_transformation {
    name      = "RuleSetRefused"
    namespace = "weft"
    value     = "1"
  }
}

resource "aws_cloudwatch_metric_alarm" "rule_set_refused" {
  alarm_name          = "${var.name}-rule-set-refused"
  alarm_description   = "A published rule set was refused (the log line says why); the previous version keeps running."
  namespace           = "weft"
  metric_name         = aws_cloudwatch_log_metric_filter.rule_set_refused.metric_transformation[0].name
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}
