# History (docs/operating.md, "Replaying history"): an archive of what the Genesys bus receives, which `weft replay
# start` replays to weft's rule alone, and optionally a stream of its own for replayed events' records.
#
# The archive is of the partner bus itself: EventBridge archives any event bus, partner buses included (the
# provider's aws_cloudwatch_event_archive takes any bus ARN as event_source_arn), and a replay goes back to the bus
# its archive is of, where `Destination.FilterArns` sends it to weft's rule only. A custom bus in between would add
# a rule, a hop and a second place events can be lost, for nothing.
resource "aws_cloudwatch_event_archive" "genesys" {
  count              = var.archive_retention_days > 0 ? 1 : 0
  name               = "${var.name}-genesys"
  description        = "Genesys Cloud events as they reached the bus, for weft replay"
  event_source_arn   = aws_cloudwatch_event_bus.genesys.arn
  retention_days     = var.archive_retention_days
  kms_key_identifier = aws_kms_key.weft.arn
}

# Replayed events' records, away from live consumers (WEFT_REPLAY_STREAM), when replay_stream_name is set.
resource "aws_kinesis_stream" "replay" {
  count            = var.replay_stream_name == "" ? 0 : 1
  name             = var.replay_stream_name
  retention_period = var.stream_retention_hours
  shard_count      = var.stream_mode == "PROVISIONED" ? var.shard_count : null
  encryption_type  = "KMS"
  kms_key_id       = aws_kms_key.weft.arn

  stream_mode_details {
    stream_mode = var.stream_mode
  }

  tags = local.tags
}
