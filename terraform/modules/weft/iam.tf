# The function's role: exactly what weft does, on exactly what this module creates.
resource "aws_iam_role" "weft" {
  name               = "${var.name}-lambda"
  assume_role_policy = data.aws_iam_policy_document.assume_lambda.json
  tags               = local.tags
}

data "aws_iam_policy_document" "assume_lambda" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "weft" {
  name   = "weft"
  role   = aws_iam_role.weft.id
  policy = data.aws_iam_policy_document.weft.json
}

data "aws_iam_policy_document" "weft" {
  statement {
    sid       = "WriteRecords"
    actions   = ["kinesis:PutRecords"]
    resources = concat([aws_kinesis_stream.records.arn], local.extra_stream_arns)
  }

  statement {
    sid = "DeadLetters"
    # SendMessage: weft's dead letters and Lambda's on-failure destination (which uses this role).
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }

  # The backfill role (same role, same zip) reads the objects of history it is given.
  dynamic "statement" {
    for_each = local.backfill && length(local.history_buckets) > 0 ? [1] : []
    content {
      sid       = "ReadHistory"
      actions   = ["s3:GetObject"]
      resources = [for b in local.history_buckets : "${b}/*"]
    }
  }

  statement {
    sid       = "OversizeDeadLetters"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.dead_letters.arn}/*"]
  }

  statement {
    sid       = "ReadRuleSets"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.rules.arn}/${local.rules_key_prefix}*"]
  }

  statement {
    sid = "TellMissingRuleSets"
    # Without ListBucket, S3 answers 403 for a key that does not exist; with it, 404: how a deployment tells "no
    # candidate published" (PREFIX/candidate.json) from "not allowed". Listing is limited to the rule set's prefix.
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.rules.arn]
    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.rules_key_prefix}*"]
    }
  }

  statement {
    sid = "ReportRuleSetStatus"
    # What the function runs, refused and rolled back, for `weft rules status` (never read back by the function).
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.rules.arn}/${local.rules_key_prefix}status/*"]
  }

  statement {
    sid       = "UseTheKey"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = [aws_kms_key.weft.arn]
  }

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.weft.arn}:*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    # X-Ray has no resource-level permissions: AWS requires "*" here.
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = var.batched ? [1] : []
    content {
      sid       = "ReadIngestQueue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [aws_sqs_queue.ingest[0].arn]
    }
  }
}

# For whoever reads the stream: the seed's consumer policy, plus what KCL 2.x and enhanced fan-out use.
resource "aws_iam_policy" "consumer" {
  name        = "${var.name}-stream-consumer"
  description = "Read the weft Kinesis stream (KCL 2.x included)"
  policy      = data.aws_iam_policy_document.consumer.json
  tags        = local.tags
}

data "aws_iam_policy_document" "consumer" {
  statement {
    sid = "ReadTheStream"
    actions = [
      "kinesis:GetShardIterator",
      "kinesis:GetRecords",
      "kinesis:DescribeStream",
      "kinesis:DescribeStreamSummary",
      "kinesis:ListShards",
      "kinesis:RegisterStreamConsumer",
    ]
    # The live stream, and the replay stream when there is one.
    resources = concat([aws_kinesis_stream.records.arn], aws_kinesis_stream.replay[*].arn)
  }

  statement {
    sid       = "EnhancedFanOut"
    actions   = ["kinesis:SubscribeToShard", "kinesis:DescribeStreamConsumer"]
    resources = [for arn in concat([aws_kinesis_stream.records.arn], aws_kinesis_stream.replay[*].arn) : "${arn}/consumer/*"]
  }

  statement {
    sid     = "ListStreams"
    actions = ["kinesis:ListStreams"]
    # ListStreams has no resource-level permissions: AWS requires "*" here.
    resources = ["*"]
  }

  statement {
    sid       = "DecryptRecords"
    actions   = ["kms:Decrypt"]
    resources = [aws_kms_key.weft.arn]
  }
}

resource "aws_iam_role_policy_attachment" "consumer" {
  for_each   = toset(var.consumer_role_names)
  role       = each.value
  policy_arn = aws_iam_policy.consumer.arn
}

resource "aws_iam_user_policy_attachment" "consumer" {
  # checkov:skip=CKV_AWS_40:The operator chooses users as consumers (e.g. an external reader); roles are preferred and supported too.
  for_each   = toset(var.consumer_user_names)
  user       = each.value
  policy_arn = aws_iam_policy.consumer.arn
}
