# The table sync (`weft tables sync`, docs/writing-rules.md, "Tables that keep themselves current"), behind one
# variable, `tables_sync_schedule`: a second function from the same zip, started as WEFT_ROLE=tables-sync, invoked
# by an EventBridge Scheduler schedule. It has a role of its own: it may write the rule set, which the event
# function may only read, and read the Genesys OAuth client's secret, which the event function never sees.

locals {
  tables_sync    = var.tables_sync_schedule != null
  rules_objects  = "${aws_s3_bucket.rules.arn}/${local.rules_key_prefix}*"
  signing_secret = var.rules_signing_key_secret_arn == null ? [] : [var.rules_signing_key_secret_arn]

  # Every variable the sync reads (`weft env` lists them; host/tests/terraform.rs checks the two lists match).
  tables_sync_environment = {
    WEFT_ROLE                     = "tables-sync"
    WEFT_RULES                    = local.rules_manifest
    GENESYS_DOMAIN                = var.genesys_domain
    GENESYS_CREDENTIALS_SECRET    = local.tables_sync ? aws_secretsmanager_secret.genesys_client[0].arn : ""
    WEFT_RULES_SIGNING_KEY_SECRET = var.rules_signing_key_secret_arn == null ? "" : var.rules_signing_key_secret_arn
    WEFT_DEPLOYMENT               = var.deployment == "" ? var.name : var.deployment
    # The event function's trust: the sync publishes nothing the event function would refuse.
    WEFT_RULES_PUBLIC_KEY   = var.rules_public_key
    WEFT_RULES_MIN_SEQUENCE = tostring(var.rules_min_sequence)
  }
}

# The OAuth client (client credentials) the sync signs in to Genesys Cloud with. Terraform creates the secret, not
# its value: put `{"clientId": "…", "clientSecret": "…"}` in it once (docs/operating.md), so the client secret is
# never in Terraform's state.
resource "aws_secretsmanager_secret" "genesys_client" {
  # checkov:skip=CKV2_AWS_57:The value is a Genesys Cloud OAuth client's secret: it is rotated in Genesys Cloud, then put here; a rotation Lambda cannot mint a Genesys client.
  count                   = local.tables_sync ? 1 : 0
  name                    = "${var.name}-genesys-oauth-client"
  description             = "Genesys Cloud OAuth client for weft's table sync: {\"clientId\": ..., \"clientSecret\": ...}"
  kms_key_id              = aws_kms_key.weft.arn
  recovery_window_in_days = 7
  tags                    = local.tags
}

resource "aws_cloudwatch_log_group" "tables_sync" {
  count             = local.tables_sync ? 1 : 0
  name              = "/aws/lambda/${var.name}-tables-sync"
  retention_in_days = var.log_retention_days
  kms_key_id        = aws_kms_key.weft.arn
  tags              = local.tags
}

resource "aws_lambda_function" "tables_sync" {
  # checkov:skip=CKV_AWS_117:The sync talks only to AWS APIs and Genesys Cloud's public API; a VPC would add NAT and no isolation the IAM policy does not already give.
  # checkov:skip=CKV_AWS_272:Code signing needs an AWS Signer profile the operator owns; the zip is built from source by scripts/build-lambda.sh and its hash pinned here.
  # checkov:skip=CKV_AWS_116:A failed sync is not an event to keep: the next scheduled run syncs again, and the tables_sync_failed alarm reports the failure.
  count                          = local.tables_sync ? 1 : 0
  function_name                  = "${var.name}-tables-sync"
  description                    = "weft: keeps the rule set's lookup tables current from the Genesys Cloud API"
  role                           = aws_iam_role.tables_sync[0].arn
  runtime                        = "provided.al2023"
  handler                        = "bootstrap"
  architectures                  = ["arm64"]
  filename                       = var.lambda_zip
  source_code_hash               = filebase64sha256(var.lambda_zip)
  memory_size                    = 256
  timeout                        = 300
  reserved_concurrent_executions = 1
  kms_key_arn                    = aws_kms_key.weft.arn

  environment {
    variables = local.tables_sync_environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "JSON"
    log_group  = aws_cloudwatch_log_group.tables_sync[0].name
  }

  tags = local.tags

  lifecycle {
    precondition {
      condition     = var.rules_prefix != ""
      error_message = "tables_sync_schedule needs rules_prefix: the sync keeps the tables of the published rule set current."
    }
  }

  depends_on = [aws_iam_role_policy.tables_sync, aws_cloudwatch_log_group.tables_sync]
}

resource "aws_iam_role" "tables_sync" {
  count              = local.tables_sync ? 1 : 0
  name               = "${var.name}-tables-sync"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = local.tags
}

resource "aws_iam_role_policy" "tables_sync" {
  count  = local.tables_sync ? 1 : 0
  name   = "tables-sync"
  role   = aws_iam_role.tables_sync[0].id
  policy = data.aws_iam_policy_document.tables_sync.json
}

data "aws_iam_policy_document" "tables_sync" {
  statement {
    sid = "RepublishRuleSets"
    # Read the manifest and the tables it pins; write new table versions, the manifest, and the sync's status.
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.rules_objects]
  }

  statement {
    sid       = "TellMissingObjects"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.rules.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.rules_key_prefix}*"]
    }
  }

  statement {
    sid       = "ReadTheSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = concat(aws_secretsmanager_secret.genesys_client[*].arn, local.signing_secret)
  }

  statement {
    sid       = "UseTheKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.weft.arn]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${local.tables_sync_log_group_arn}:*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    # X-Ray has no resource-level permissions: AWS requires "*" here.
    resources = ["*"]
  }
}

locals {
  tables_sync_log_group_arn = "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}-tables-sync"
}

# The schedule, and the role it invokes the sync with (that function only).
resource "aws_scheduler_schedule" "tables_sync" {
  # checkov:skip=CKV_AWS_297:The schedule's only input is the constant {"weft": "tables-sync"}; there is nothing secret for a customer key to protect.
  count               = local.tables_sync ? 1 : 0
  name                = "${var.name}-tables-sync"
  description         = "Runs weft's table sync"
  schedule_expression = var.tables_sync_schedule

  flexible_time_window {
    mode = "OFF"
  }

  target {
    arn      = aws_lambda_function.tables_sync[0].arn
    role_arn = aws_iam_role.tables_sync_scheduler[0].arn
    input    = jsonencode({ weft = "tables-sync" })

    retry_policy {
      # The next run is the retry: a sync that fails now fails again in seconds (credentials, a refused table).
      maximum_retry_attempts = 0
    }
  }
}

resource "aws_iam_role" "tables_sync_scheduler" {
  count              = local.tables_sync ? 1 : 0
  name               = "${var.name}-tables-sync-schedule"
  assume_role_policy = data.aws_iam_policy_document.assume_scheduler.json
  tags               = local.tags
}

data "aws_iam_policy_document" "assume_scheduler" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["scheduler.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role_policy" "tables_sync_scheduler" {
  count  = local.tables_sync ? 1 : 0
  name   = "invoke-tables-sync"
  role   = aws_iam_role.tables_sync_scheduler[0].id
  policy = data.aws_iam_policy_document.tables_sync_scheduler.json
}

data "aws_iam_policy_document" "tables_sync_scheduler" {
  statement {
    sid       = "InvokeTheSync"
    actions   = ["lambda:InvokeFunction"]
    resources = aws_lambda_function.tables_sync[*].arn
  }
}

resource "aws_cloudwatch_metric_alarm" "tables_sync_failed" {
  count               = local.tables_sync ? 1 : 0
  alarm_name          = "${var.name}-tables-sync-failed"
  alarm_description   = "The table sync failed (its log says why: credentials, the Genesys API, a table refused as too small); the rule set keeps its last tables."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.tables_sync[0].function_name }
  statistic           = "Sum"
  period              = 3600
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = local.tags
}
