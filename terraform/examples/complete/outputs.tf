output "stream_name" {
  description = "The Kinesis stream."
  value       = module.weft.stream_name
}

output "dead_letter_queue_url" {
  description = "The dead-letter queue."
  value       = module.weft.dead_letter_queue_url
}

output "rules_bucket" {
  description = "Where `weft rules publish` uploads rule sets."
  value       = module.weft.rules_bucket
}

output "rules_manifest" {
  description = "Where the Lambda reads its rule set."
  value       = module.weft.rules_manifest
}

output "function_name" {
  description = "The Lambda function."
  value       = module.weft.function_name
}

output "archive_name" {
  description = "The archive of the Genesys bus, for `weft replay start --archive`."
  value       = module.weft.archive_name
}

output "event_rule_name" {
  description = "weft's rule on the bus: replays go to it alone (`weft replay start --rule`)."
  value       = module.weft.event_rule_name
}
