# Backfill from S3 (docs/operating.md, "Backfilling from S3"), behind one variable, `backfill`: a Step Functions
# state machine whose Distributed Map lists the objects under a prefix and gives each to a third function from the
# same zip, started as WEFT_ROLE=backfill, which reads the object from where it stopped until it is done. The scale
# is AWS's: the map's concurrency, Lambda's; weft schedules nothing.

locals {
  backfill         = var.backfill
  backfill_results = "backfill/results"
  history_buckets  = [for b in var.backfill_source_buckets : "arn:${local.partition}:s3:::${b}"]
}

resource "aws_cloudwatch_log_group" "backfill" {
  count             = local.backfill ? 1 : 0
  name              = "/aws/lambda/${var.name}-backfill"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.weft.arn
  tags              = local.tags
}

resource "aws_lambda_function" "backfill" {
  # checkov:skip=CKV_AWS_117:weft talks only to AWS APIs (S3, Kinesis, SQS); a VPC would add NAT or endpoints and no isolation the IAM policy does not already give.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the operator owns; the zip is built from source by scripts/build-lambda.sh and its hash pinned here.
  # checkov:skip=CKV_AWS_116:The state machine invokes it synchronously and retries a failed item; an invocation that fails is the map item's failure, reported in the map run.
  # checkov:skip=CKV_AWS_115:Its concurrency is the map's MaxConcurrency (backfill_max_concurrency), set on the state machine.
  count                          = local.backfill ? 1 : 0
  function_name                  = "${var.name}-backfill"
  description                    = "weft backfill: one S3 object of history per item of the backfill state machine"
  role                           = aws_iam_role.weft.arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  memory_size                    = var.lambda_memory_mb
  timeout                        = var.backfill_timeout_seconds
  reserved_concurrent_executions = -1
  kms_key_arn                    = aws_kms_key.weft.arn

  environment {
    variables = merge(local.environment, { WEFT_ROLE = "backfill" })
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.backfill[0].name
  }

  tags       = local.tags
  depends_on = [aws_iam_role_policy.weft, aws_cloudwatch_log_group.backfill]
}

resource "aws_cloudwatch_log_group" "backfill_states" {
  count             = local.backfill ? 1 : 0
  name              = "/aws/vendedlogs/states/${var.name}-backfill"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.weft.arn
  tags              = local.tags
}

resource "aws_sfn_state_machine" "backfill" {
  count    = local.backfill ? 1 : 0
  name     = "${var.name}-backfill"
  role_arn = aws_iam_role.backfill_states[0].arn
  definition = templatefile("${path.module}/backfill.asl.json", {
    function_arn    = aws_lambda_function.backfill[0].arn
    max_concurrency = var.backfill_max_concurrency
    results_bucket  = aws_s3_bucket.rules.id
    results_prefix  = local.backfill_results
  })

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.backfill_states[0].arn}:*"
    include_execution_data = false
    level                  = "ERROR"
  }

  tracing_configuration {
    enabled = true
  }

  encryption_configuration {
    type                              = "CUSTOMER_MANAGED_KMS_KEY"
    kms_key_id                        = aws_kms_key.weft.arn
    kms_data_key_reuse_period_seconds = 300
  }

  tags = local.tags
}

resource "aws_iam_role" "backfill_states" {
  count              = local.backfill ? 1 : 0
  name               = "${var.name}-backfill-states"
  assume_role_policy = data.aws_iam_policy_document.assume_states.json
  tags               = local.tags
}

data "aws_iam_policy_document" "assume_states" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "backfill_states" {
  count  = local.backfill ? 1 : 0
  name   = "backfill"
  role   = aws_iam_role.backfill_states[0].id
  policy = data.aws_iam_policy_document.backfill_states.json
}

data "aws_iam_policy_document" "backfill_states" {
  statement {
    sid       = "InvokeTheBackfill"
    actions   = ["lambda:InvokeFunction"]
    resources = ["arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${var.name}-backfill"]
  }

  statement {
    sid       = "ListHistory"
    actions   = ["s3:ListBucket"]
    resources = length(local.history_buckets) > 0 ? local.history_buckets : [aws_s3_bucket.rules.arn]
  }

  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject", "s3:GetObject", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
    resources = ["${aws_s3_bucket.rules.arn}/${local.backfill_results}/*"]
  }

  statement {
    sid       = "RunTheMap"
    actions   = ["states:StartExecution", "states:DescribeExecution", "states:StopExecution"]
    resources = ["arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${var.name}-backfill"]
  }

  statement {
    sid       = "UseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [aws_kms_key.weft.arn]
  }

  statement {
    sid = "Logs"
    # Step Functions' log delivery API has no resource-level permissions: AWS requires "*" here.
    actions = [
      "logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  statement {
    sid       = "Tracing"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"] # X-Ray has no resource-level permissions
  }
}
