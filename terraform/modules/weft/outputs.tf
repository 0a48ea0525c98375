output "stream_name" {
  description = "The Kinesis stream records are written to (`weft tail --stream`)."
  value       = aws_kinesis_stream.records.name
}

output "stream_arn" {
  description = "ARN of the Kinesis stream."
  value       = aws_kinesis_stream.records.arn
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue (`weft redrive --dlq`)."
  value       = aws_sqs_queue.dead_letters.url
}

output "rules_bucket" {
  description = "The rules bucket (`weft rules publish --bucket`)."
  value       = aws_s3_bucket.rules.id
}

output "rules_manifest" {
  description = "Where the Lambda reads its rule set (empty: the embedded default rule)."
  value       = local.rules_manifest
}

output "function_name" {
  description = "The weft Lambda function."
  value       = aws_lambda_function.weft.function_name
}

output "event_bus_name" {
  description = "The partner event bus bound to the Genesys Cloud source."
  value       = aws_cloudwatch_event_bus.genesys.name
}

output "consumer_policy_arn" {
  description = "IAM policy for stream consumers (attach it to more roles or users as needed)."
  value       = aws_iam_policy.consumer.arn
}

output "kms_key_arn" {
  description = "The key that encrypts the stream, queues, buckets and logs (consumers need kms:Decrypt on it)."
  value       = aws_kms_key.weft.arn
}

output "genesys_client_secret_arn" {
  description = "The secret the table sync reads its Genesys OAuth client from (null without tables_sync_schedule): put {\"clientId\": ..., \"clientSecret\": ...} in it."
  value       = one(aws_secretsmanager_secret.genesys_client[*].arn)
}

output "archive_name" {
  description = "The archive of the Genesys bus (`weft replay start --archive`; null with archive_retention_days = 0)."
  value       = one(aws_cloudwatch_event_archive.genesys[*].name)
}

output "event_rule_name" {
  description = "The rule that sends the bus's events to weft: a replay is sent to it alone (`weft replay start --rule`)."
  value       = aws_cloudwatch_event_rule.conversations.name
}

output "replay_stream_name" {
  description = "The stream replayed events' records go to (null: the live stream)."
  value       = one(aws_kinesis_stream.replay[*].name)
}

output "backfill_state_machine_arn" {
  description = "The backfill state machine (`weft backfill start --state-machine`; null without backfill = true)."
  value       = one(aws_sfn_state_machine.backfill[*].arn)
}
