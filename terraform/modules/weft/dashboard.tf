# One dashboard for the data path, left to right and top to bottom as an event goes: events in → records, drops,
# dead letters; Kinesis calls, retries and throttles; time in the rules and their failures; the rule set's checks
# and swaps; how close invocations come to their deadline; what a candidate rule set does beside the active one. host/tests/metrics.rs checks that every metric named here
# is one weft publishes.
locals {
  dashboard_function = aws_lambda_function.weft.function_name
  dashboard_metric   = { for name in local.dashboard_metrics : name => [var.metrics_namespace, name, "Function", local.dashboard_function] }
  dashboard_metrics = [
    "EventsIn", "EventsWritten", "RecordsWritten", "Dropped", "DeadLettered", "Failed",
    "PutRecordsCalls", "KinesisRetried", "KinesisThrottled", "KinesisAttemptsMax",
    "DeadLettersSent", "DeadLetterRetries", "DeadLettersStored",
    "RuleTime", "RuleFailures", "Fallbacks", "QuarantinedRules",
    "RuleSetChecks", "RuleSetSwaps", "RuleSetRefusals", "RuleSetRollbacks", "SwapDelay", "RuleSetAge",
    "TimeLeft", "ColdStart", "InitTime",
    "ShadowEvents", "ShadowSkipped", "ShadowDiffering", "CanaryEvents", "CanaryFallbacks", "CanaryRollbacks",
  ]
  dashboard_widgets = [
    { title = "Events: in, written, dropped, dead-lettered, failed", stat = "Sum", metrics = ["EventsIn", "EventsWritten", "Dropped", "DeadLettered", "Failed"] },
    { title = "Records and PutRecords calls", stat = "Sum", metrics = ["RecordsWritten", "PutRecordsCalls"] },
    { title = "Kinesis retries and throttles", stat = "Sum", metrics = ["KinesisRetried", "KinesisThrottled"] },
    { title = "Dead-letter queue: sent, retried, stored in S3", stat = "Sum", metrics = ["DeadLettersSent", "DeadLetterRetries", "DeadLettersStored"] },
    { title = "Time in rule modules (ms)", stat = "Sum", metrics = ["RuleTime"] },
    { title = "Rule failures, fallbacks, quarantined rules", stat = "Sum", metrics = ["RuleFailures", "Fallbacks", "QuarantinedRules"] },
    { title = "Rule set: checks, swaps, refusals, rollbacks", stat = "Sum", metrics = ["RuleSetChecks", "RuleSetSwaps", "RuleSetRefusals", "RuleSetRollbacks"] },
    { title = "Rule set: swap delay (ms), age (s)", stat = "Maximum", metrics = ["SwapDelay", "RuleSetAge"] },
    { title = "Time left at return (ms, minimum)", stat = "Minimum", metrics = ["TimeLeft"] },
    { title = "Cold starts and init time (ms)", stat = "Maximum", metrics = ["ColdStart", "InitTime"] },
    { title = "Candidate: shadowed, skipped, differing; canary events, fallbacks, rollbacks", stat = "Sum", metrics = ["ShadowEvents", "ShadowSkipped", "ShadowDiffering", "CanaryEvents", "CanaryFallbacks", "CanaryRollbacks"] },
  ]
}

resource "aws_cloudwatch_dashboard" "weft" {
  dashboard_name = var.name
  dashboard_body = jsonencode({
    widgets = concat(
      [for i, widget in local.dashboard_widgets : {
        type   = "metric"
        x      = (i % 2) * 12
        y      = floor(i / 2) * 6
        width  = 12
        height = 6
        properties = {
          title   = widget.title
          region  = local.region
          stat    = widget.stat
          period  = 300
          view    = "timeSeries"
          metrics = [for name in widget.metrics : local.dashboard_metric[name]]
        }
      }],
      [{
        type   = "metric"
        x      = 0
        y      = ceil(length(local.dashboard_widgets) / 2) * 6
        width  = 24
        height = 6
        properties = {
          title   = "Dead letters by stage"
          region  = local.region
          stat    = "Sum"
          period  = 300
          view    = "timeSeries"
          metrics = [for stage in ["parse", "rule", "sink"] : [var.metrics_namespace, "DeadLettered", "Function", local.dashboard_function, "Stage", stage]]
        }
      }],
    )
  })
}
