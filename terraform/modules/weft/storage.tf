# Where records go.
resource "aws_kinesis_stream" "records" {
  name             = var.name
  retention_period = var.stream_retention_hours
  shard_count      = var.stream_mode == "PROVISIONED" ? var.shard_count : null
  encryption_type  = "KMS"
  kms_key_id       = aws_kms_key.weft.arn

  stream_mode_details {
    stream_mode = var.stream_mode
  }

  tags = local.tags
}

# Dead letters: events weft could not deliver, with the reason; `weft redrive` puts them back. Also the on-failure
# destination of asynchronous invocations and EventBridge's dead-letter queue, so nothing is lost on any path.
resource "aws_sqs_queue" "dead_letters" {
  name                       = "${var.name}-dead-letters"
  message_retention_seconds  = 1209600 # 14 days, the SQS maximum
  visibility_timeout_seconds = var.lambda_timeout_seconds + 30
  kms_master_key_id          = aws_kms_key.weft.arn
  tags                       = local.tags
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy    = data.aws_iam_policy_document.dead_letters_queue.json
}

data "aws_iam_policy_document" "dead_letters_queue" {
  statement {
    sid       = "EventBridgeDeadLettersUndeliverableEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.conversations.arn]
    }
  }
}

# Batched mode: EventBridge -> this queue -> Lambda.
resource "aws_sqs_queue" "ingest" {
  count                      = var.batched ? 1 : 0
  name                       = "${var.name}-ingest"
  message_retention_seconds  = 1209600
  visibility_timeout_seconds = var.lambda_timeout_seconds * 6 # AWS's advice for an SQS event source
  kms_master_key_id          = aws_kms_key.weft.arn
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dead_letters.arn
    maxReceiveCount     = 5
  })
  tags = local.tags
}

resource "aws_sqs_queue_policy" "ingest" {
  count     = var.batched ? 1 : 0
  queue_url = aws_sqs_queue.ingest[0].id
  policy    = data.aws_iam_policy_document.ingest_queue[0].json
}

data "aws_iam_policy_document" "ingest_queue" {
  count = var.batched ? 1 : 0
  statement {
    sid       = "EventBridgeSendsEvents"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.ingest[0].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.conversations.arn]
    }
  }
}

# Two buckets, both private, versioned, KMS-encrypted and TLS-only: rule sets (read by the Lambda, written by
# `weft rules publish`) and dead letters over SQS's 256 KiB.
locals {
  buckets = {
    rules        = "${var.name}-rules-${local.account_id}-${local.region}"
    dead_letters = "${var.name}-dead-letters-${local.account_id}-${local.region}"
  }
}

resource "aws_s3_bucket" "rules" {
  # checkov:skip=CKV_AWS_144:Rule sets are republished from source (weft rules publish); cross-region replication is the operator's choice.
  # checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket the operator owns; CloudTrail data events cover reads.
  # checkov:skip=CKV2_AWS_62:Nothing consumes bucket event notifications; the Lambda polls the manifest.
  bucket = local.buckets.rules
  tags   = local.tags
}

resource "aws_s3_bucket" "dead_letters" {
  # checkov:skip=CKV_AWS_144:Dead letters are transient (redriven, then expired); cross-region replication is the operator's choice.
  # checkov:skip=CKV_AWS_18:Access logging needs a separate log bucket the operator owns; CloudTrail data events cover reads.
  # checkov:skip=CKV2_AWS_62:Nothing consumes bucket event notifications; the SQS message points at each object.
  bucket = local.buckets.dead_letters
  tags   = local.tags
}

locals {
  bucket_resources = {
    rules        = aws_s3_bucket.rules
    dead_letters = aws_s3_bucket.dead_letters
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.bucket_resources
  bucket   = each.value.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = local.bucket_resources
  bucket   = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.weft.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each                = local.bucket_resources
  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  for_each = local.bucket_resources
  bucket   = each.value.id

  rule {
    id     = "expire-old-versions"
    status = "Enabled"
    filter {}
    noncurrent_version_expiration {
      noncurrent_days = 90
    }
    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

resource "aws_s3_bucket_policy" "tls_only" {
  for_each = local.bucket_resources
  bucket   = each.value.id
  policy   = data.aws_iam_policy_document.tls_only[each.key].json
}

data "aws_iam_policy_document" "tls_only" {
  for_each = local.bucket_resources
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [each.value.arn, "${each.value.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}
