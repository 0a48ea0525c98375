# One customer-managed key for everything weft stores: the stream, the queues, the buckets, the logs and the
# function's environment.
resource "aws_kms_key" "weft" {
  description         = "${var.name}: Kinesis records, dead letters, rule sets, logs"
  enable_key_rotation = true
  policy              = data.aws_iam_policy_document.key.json
  tags                = local.tags
}

resource "aws_kms_alias" "weft" {
  name          = "alias/${var.name}"
  target_key_id = aws_kms_key.weft.key_id
}

data "aws_iam_policy_document" "key" {
  # checkov:skip=CKV_AWS_111:A key policy's resource "*" means this key only; AWS requires it in key policies.
  # checkov:skip=CKV_AWS_356:A key policy's resource "*" means this key only; AWS requires it in key policies.
  # checkov:skip=CKV_AWS_109:The account-root statement is AWS's default key policy; without it IAM cannot grant use of the key.
  # The account administers the key through IAM (the AWS default key policy statement).
  statement {
    sid       = "AccountAdministersTheKey"
    actions   = ["kms:*"]
    resources = ["*"] # in a key policy, "*" means this key
    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  # CloudWatch Logs encrypts the function's log group with it.
  statement {
    sid       = "CloudWatchLogsUsesTheKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"]
    resources = ["*"] # in a key policy, "*" means this key
    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/lambda/${var.name}"]
    }
  }

  # EventBridge sends to the encrypted queues (the ingest queue, and the dead-letter queue for undeliverable events).
  statement {
    sid       = "EventBridgeSendsToEncryptedQueues"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"] # in a key policy, "*" means this key
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
  }

  # EventBridge encrypts the archive of the Genesys bus with it, and decrypts it to replay.
  statement {
    sid       = "EventBridgeEncryptsTheArchive"
    actions   = ["kms:DescribeKey", "kms:GenerateDataKey", "kms:Decrypt", "kms:ReEncrypt*"]
    resources = ["*"] # in a key policy, "*" means this key
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

  # CloudWatch alarms notify encrypted SNS topics only if they can use the key; harmless otherwise.
  statement {
    sid       = "CloudWatchAlarmsUseTheKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"] # in a key policy, "*" means this key
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
  }
}
