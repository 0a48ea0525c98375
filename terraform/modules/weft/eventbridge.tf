# The partner event bus bound to the Genesys source, and the rule that sends its events to weft.
resource "aws_cloudwatch_event_bus" "genesys" {
  name              = data.aws_cloudwatch_event_source.genesys.name
  event_source_name = data.aws_cloudwatch_event_source.genesys.name
  tags              = local.tags
}

resource "aws_cloudwatch_event_rule" "conversations" {
  name           = "${var.name}-genesys-events"
  description    = "Genesys Cloud events to weft"
  event_bus_name = aws_cloudwatch_event_bus.genesys.name
  event_pattern = jsonencode(merge(
    { source = [{ prefix = "aws.partner/genesys.com" }] },
    length(var.rule_detail_types) > 0 ? { "detail-type" = var.rule_detail_types } : {}
  ))
  tags = local.tags
}

# Direct mode: one asynchronous invocation per event. Events EventBridge cannot deliver go to the dead-letter queue.
resource "aws_cloudwatch_event_target" "lambda" {
  count          = var.batched ? 0 : 1
  rule           = aws_cloudwatch_event_rule.conversations.name
  event_bus_name = aws_cloudwatch_event_bus.genesys.name
  arn            = aws_lambda_function.weft.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_lambda_permission" "eventbridge" {
  count         = var.batched ? 0 : 1
  statement_id  = "AllowGenesysEventBridgeRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.weft.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.conversations.arn
}

# Batched mode: EventBridge -> SQS -> Lambda, with partial batch responses.
resource "aws_cloudwatch_event_target" "ingest_queue" {
  count          = var.batched ? 1 : 0
  rule           = aws_cloudwatch_event_rule.conversations.name
  event_bus_name = aws_cloudwatch_event_bus.genesys.name
  arn            = aws_sqs_queue.ingest[0].arn

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_lambda_event_source_mapping" "ingest" {
  count                              = var.batched ? 1 : 0
  event_source_arn                   = aws_sqs_queue.ingest[0].arn
  function_name                      = aws_lambda_function.weft.arn
  batch_size                         = var.batch_size
  maximum_batching_window_in_seconds = var.batching_window_seconds
  function_response_types            = ["ReportBatchItemFailures"]
}
