variable "aws_region" {
  description = "AWS region for the stack (the same region the Genesys integration sends to)."
  type        = string
}

variable "genesys_aws_region" {
  description = "AWS region of your Genesys Cloud organization (e.g. us-east-1 for mypurecloud.com, eu-west-1 for mypurecloud.ie)."
  type        = string
}

variable "name" {
  description = "Name prefix for every resource."
  type        = string
  default     = "weft"
}

variable "lambda_zip" {
  description = "The zip from scripts/build-lambda.sh."
  type        = string
  default     = "../../../target/lambda/weft/bootstrap.zip"
}

variable "batched" {
  description = "EventBridge -> SQS -> Lambda instead of one invocation per event."
  type        = bool
  default     = false
}

variable "rules_prefix" {
  description = "Prefix of the rule set in the rules bucket; empty runs the embedded default rule."
  type        = string
  default     = "prod"
}

variable "rules_public_key" {
  description = "ed25519 public key from `weft rules keygen`; empty accepts unsigned rule sets."
  type        = string
  default     = ""
}

variable "consumer_role_names" {
  description = "IAM roles that read the stream."
  type        = list(string)
  default     = []
}

variable "alarm_actions" {
  description = "SNS topic ARNs for the alarms."
  type        = list(string)
  default     = []
}

variable "tables_sync_schedule" {
  description = "When set (e.g. \"rate(1 hour)\"), keep the rule set's `sync` tables current from the Genesys Cloud API on this schedule."
  type        = string
  default     = null
}

variable "genesys_domain" {
  description = "Your Genesys Cloud region's domain (mypurecloud.com, mypurecloud.ie, ...), for the table sync."
  type        = string
  default     = "mypurecloud.com"
}
