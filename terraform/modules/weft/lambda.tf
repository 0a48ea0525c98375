resource "aws_cloudwatch_log_group" "weft" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.weft.arn
  tags              = local.tags
}

resource "aws_lambda_function" "weft" {
  # checkov:skip=CKV_AWS_117:weft talks only to AWS APIs (Kinesis, SQS, S3); a VPC would add NAT or endpoints and no isolation the IAM policy does not already give.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the operator owns; the zip is built from source by scripts/build-lambda.sh and its hash pinned here.
  # checkov:skip=CKV_AWS_116:Failed asynchronous invocations go to the on-failure destination (aws_lambda_function_event_invoke_config), which carries more than a function DLQ would.
  function_name                  = var.name
  description                    = "weft: Genesys Cloud events to Kinesis records through WebAssembly rules"
  role                           = aws_iam_role.weft.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  memory_size                    = var.lambda_memory_mb
  timeout                        = var.lambda_timeout_seconds
  reserved_concurrent_executions = var.reserved_concurrency == null ? -1 : var.reserved_concurrency
  kms_key_arn                    = aws_kms_key.weft.arn

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.weft.name
  }

  tags = local.tags

  depends_on = [aws_iam_role_policy.weft, aws_cloudwatch_log_group.weft]
}

# Asynchronous (EventBridge) invocations that fail as a whole are retried, then sent to the dead-letter queue.
resource "aws_lambda_function_event_invoke_config" "weft" {
  function_name                = aws_lambda_function.weft.function_name
  maximum_retry_attempts       = var.async_retry_attempts
  maximum_event_age_in_seconds = var.async_max_event_age_seconds

  destination_config {
    on_failure {
      destination = aws_sqs_queue.dead_letters.arn
    }
  }
}
