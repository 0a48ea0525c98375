module "weft" {
  source = "../../modules/weft"

  name                     = var.name
  lambda_zip               = var.lambda_zip
  batched                  = var.batched
  rules_prefix             = var.rules_prefix
  rules_public_key         = var.rules_public_key
  consumer_role_names      = var.consumer_role_names
  alarm_actions            = var.alarm_actions
  event_source_suffix      = var.name
  genesys_integration_name = "weft (${var.name})"
  tables_sync_schedule     = var.tables_sync_schedule
  genesys_domain           = var.genesys_domain
}
