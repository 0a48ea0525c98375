# The Genesys Cloud side: an Amazon EventBridge source integration that sends the chosen topics to this account.
data "genesyscloud_organizations_me" "this" {}

resource "genesyscloud_integration" "eventbridge" {
  intended_state   = "ENABLED"
  integration_type = "amazon-eventbridge-source"

  config {
    name = var.genesys_integration_name
    properties = jsonencode({
      eventSourceSuffix = var.event_source_suffix
      awsAccountId      = local.account_id
      awsAccountRegion  = local.region
      eventFilter       = var.topic_filters
    })
    advanced = jsonencode({})
  }
}

# The partner event source Genesys creates for the integration (looked up by its full name).
data "aws_cloudwatch_event_source" "genesys" {
  name_prefix = "aws.partner/genesys.com/cloud/${data.genesyscloud_organizations_me.this.id}/${var.event_source_suffix}"

  depends_on = [genesyscloud_integration.eventbridge]
}
