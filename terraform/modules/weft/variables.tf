variable "name" {
  description = "Name prefix for every resource (Lambda function, stream, queues, buckets, alarms)."
  type        = string
  default     = "weft"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9-]{1,38}[a-z0-9]$", var.name))
    error_message = "name must be 3 to 40 characters of a-z, 0-9 and -, starting and ending with a letter or digit (it prefixes S3 bucket names)."
  }
}

variable "lambda_zip" {
  description = "Path to the deployment zip built by scripts/build-lambda.sh (target/lambda/weft/bootstrap.zip)."
  type        = string

  validation {
    condition     = endswith(var.lambda_zip, ".zip")
    error_message = "lambda_zip must be the .zip that scripts/build-lambda.sh writes."
  }
}

variable "lambda_memory_mb" {
  description = "Lambda memory. 1769 MB buys a whole vCPU; weft needs ~30 MB, more memory is for CPU."
  type        = number
  default     = 512

  validation {
    condition     = var.lambda_memory_mb >= 128 && var.lambda_memory_mb <= 10240
    error_message = "lambda_memory_mb must be between 128 and 10240."
  }
}

variable "lambda_timeout_seconds" {
  description = "Lambda timeout. Delivery retries stop 0.5 s before it, so a slow Kinesis cannot make weft lose an event."
  type        = number
  default     = 30

  validation {
    condition     = var.lambda_timeout_seconds >= 3 && var.lambda_timeout_seconds <= 900
    error_message = "lambda_timeout_seconds must be between 3 and 900."
  }
}

variable "reserved_concurrency" {
  description = "Reserved concurrent executions for the function; null leaves it unreserved."
  type        = number
  default     = null

  validation {
    condition     = var.reserved_concurrency == null ? true : var.reserved_concurrency >= 1
    error_message = "reserved_concurrency must be at least 1, or null."
  }
}

variable "async_retry_attempts" {
  description = "Retries Lambda makes for an asynchronous (EventBridge) invocation that failed, before the on-failure destination."
  type        = number
  default     = 2

  validation {
    condition     = var.async_retry_attempts >= 0 && var.async_retry_attempts <= 2
    error_message = "async_retry_attempts must be 0, 1 or 2."
  }
}

variable "async_max_event_age_seconds" {
  description = "How long Lambda keeps retrying an asynchronous invocation before the on-failure destination."
  type        = number
  default     = 21600

  validation {
    condition     = var.async_max_event_age_seconds >= 60 && var.async_max_event_age_seconds <= 21600
    error_message = "async_max_event_age_seconds must be between 60 and 21600."
  }
}

variable "batched" {
  description = "Batched mode: EventBridge -> SQS -> Lambda (batching window, partial batch responses) instead of one invocation per event."
  type        = bool
  default     = false
}

variable "batch_size" {
  description = "Batched mode: messages per invocation."
  type        = number
  default     = 100

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10000
    error_message = "batch_size must be between 1 and 10000."
  }
}

variable "batching_window_seconds" {
  description = "Batched mode: how long Lambda gathers messages before invoking."
  type        = number
  default     = 1

  validation {
    condition     = var.batching_window_seconds >= 0 && var.batching_window_seconds <= 300
    error_message = "batching_window_seconds must be between 0 and 300."
  }
}

variable "stream_mode" {
  description = "Kinesis capacity mode: ON_DEMAND or PROVISIONED."
  type        = string
  default     = "ON_DEMAND"

  validation {
    condition     = contains(["ON_DEMAND", "PROVISIONED"], var.stream_mode)
    error_message = "stream_mode must be ON_DEMAND or PROVISIONED."
  }
}

variable "shard_count" {
  description = "PROVISIONED mode: shards (each takes 1 MB/s or 1000 records/s)."
  type        = number
  default     = 1

  validation {
    condition     = var.shard_count >= 1
    error_message = "shard_count must be at least 1."
  }
}

variable "stream_retention_hours" {
  description = "How long Kinesis keeps records (24 to 8760 hours)."
  type        = number
  default     = 24

  validation {
    condition     = var.stream_retention_hours >= 24 && var.stream_retention_hours <= 8760
    error_message = "stream_retention_hours must be between 24 and 8760."
  }
}

variable "extra_stream_names" {
  description = "Other Kinesis streams (names, in this account and region) that rule sets write to with output.stream; the function may PutRecords to them."
  type        = list(string)
  default     = []
}

variable "rules_prefix" {
  description = "Key prefix of the rule set in the rules bucket; the Lambda reads s3://<rules bucket>/<prefix>/manifest.json. Empty: run the embedded default rule."
  type        = string
  default     = "prod"

  validation {
    condition     = can(regex("^([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?$", var.rules_prefix))
    error_message = "rules_prefix must be empty or path segments of A-Z a-z 0-9 _ . - separated by /."
  }
}

variable "rules_poll_seconds" {
  description = "How often the Lambda re-checks the rule set manifest in S3."
  type        = number
  default     = 30

  validation {
    condition     = var.rules_poll_seconds >= 1 && var.rules_poll_seconds <= 3600
    error_message = "rules_poll_seconds must be between 1 and 3600."
  }
}

variable "rules_public_key" {
  description = "ed25519 public keys (64 hex digits each, from `weft rules keygen`; comma-separated while a key is rotated); when set, unsigned or wrongly signed rule sets, and signed ones with a table not pinned by sha256, are refused."
  type        = string
  default     = ""

  validation {
    condition     = var.rules_public_key == "" || can(regex("^[0-9a-f]{64}$", var.rules_public_key))
    error_message = "rules_public_key must be empty or 64 lowercase hex digits."
  }
}

variable "deployment" {
  description = "This deployment's name: a signed rule set must be published for it (`weft rules publish --deployment`). Empty: var.name."
  type        = string
  default     = ""
}

variable "rules_min_sequence" {
  description = "The lowest signed rule set sequence a cold start accepts; raise it to refuse older signed publications outright."
  type        = number
  default     = 0
}

variable "rules_cold_start" {
  description = "A container that cannot load its rule set: fail its invocations (Lambda retries) or run the embedded default rule."
  type        = string
  default     = "fail"

  validation {
    condition     = contains(["fail", "default"], var.rules_cold_start)
    error_message = "rules_cold_start must be fail or default."
  }
}

variable "rules_rollback_after" {
  description = "A new rule set version that fails this many of its first events in a row is rolled back to the one before it (0: never)."
  type        = number
  default     = 10

  validation {
    condition     = var.rules_rollback_after >= 0 && var.rules_rollback_after <= 1000000 && floor(var.rules_rollback_after) == var.rules_rollback_after
    error_message = "rules_rollback_after must be a whole number from 0 to 1000000."
  }
}

variable "shadow_budget_percent" {
  description = "A shadow candidate's rule time may reach this percentage of the active rules' time; beyond it events are not shadowed (counted as ShadowSkipped)."
  type        = number
  default     = 100

  validation {
    condition     = var.shadow_budget_percent >= 1 && var.shadow_budget_percent <= 1000 && floor(var.shadow_budget_percent) == var.shadow_budget_percent
    error_message = "shadow_budget_percent must be a whole number from 1 to 1000."
  }
}

variable "canary_margin_percent" {
  description = "A canary whose share of failed events exceeds the active rule set's by more than this many percentage points (after 50 events) is rolled back."
  type        = number
  default     = 5

  validation {
    condition     = var.canary_margin_percent >= 0 && var.canary_margin_percent <= 100 && floor(var.canary_margin_percent) == var.canary_margin_percent
    error_message = "canary_margin_percent must be a whole number from 0 to 100."
  }
}

variable "time_per_event_ms" {
  description = "Time a rule module may spend on one event."
  type        = number
  default     = 100
}

variable "memory_per_module_mb" {
  description = "Linear memory of one rule module instance."
  type        = number
  default     = 64
}

variable "records_per_event" {
  description = "Records one event may produce."
  type        = number
  default     = 100
}

variable "log_level" {
  description = "weft's log filter (error, warn, info, debug). Logs never hold event contents."
  type        = string
  default     = "info"
}

variable "log_retention_days" {
  description = "CloudWatch Logs retention for the function's logs."
  type        = number
  default     = 365

  validation {
    condition     = contains([1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653], var.log_retention_days)
    error_message = "log_retention_days must be a value CloudWatch Logs accepts (1, 3, 5, 7, 14, 30, 60, 90, ... 3653)."
  }
}

variable "metrics_namespace" {
  description = "CloudWatch namespace of weft's metrics (and of the log-based ones)."
  type        = string
  default     = "weft"
}

variable "metrics_dimensions" {
  description = "Breakdowns published besides the per-function metrics: any of Rule, Module, Stream, Stage, Reason (comma-separated), or none. Each value is a metric series, billed."
  type        = string
  default     = "Rule,Module,Stream,Stage,Reason"
}

variable "rule_logs" {
  description = "Level of rule modules' log lines: debug (whatever the module chose) or as-written. Redacted either way."
  type        = string
  default     = "debug"

  validation {
    condition     = contains(["debug", "as-written"], var.rule_logs)
    error_message = "rule_logs must be debug or as-written."
  }
}

variable "dead_letter_alarm_threshold" {
  description = "Dead letters of one stage (parse, rule, sink) in 5 minutes above which its alarm fires."
  type        = number
  default     = 10
}

variable "rule_set_age_alarm_polls" {
  description = "Poll intervals without an answer from S3 about the rule set after which the RuleSetStale alarm fires."
  type        = number
  default     = 3
}

variable "alarm_actions" {
  description = "ARNs (e.g. SNS topics) notified when an alarm fires: dead letters waiting, Lambda errors, Kinesis throttling, a refused rule set."
  type        = list(string)
  default     = []
}

variable "genesys_integration_name" {
  description = "Name of the Amazon EventBridge source integration in Genesys Cloud."
  type        = string
  default     = "weft"
}

variable "event_source_suffix" {
  description = "Suffix of the partner event source Genesys creates: aws.partner/genesys.com/cloud/<orgId>/<suffix>."
  type        = string
  default     = "weft"

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]{1,64}$", var.event_source_suffix))
    error_message = "event_source_suffix must be 1 to 64 of A-Z a-z 0-9 _ . -."
  }
}

variable "topic_filters" {
  description = "Genesys topics the integration sends ({id} literally). Default: all 16 conversation detail topics."
  type        = list(string)
  default = [
    "v2.detail.events.conversation.{id}.customer.start",
    "v2.detail.events.conversation.{id}.customer.end",
    "v2.detail.events.conversation.{id}.flow.start",
    "v2.detail.events.conversation.{id}.flow.end",
    "v2.detail.events.conversation.{id}.flow.outcome",
    "v2.detail.events.conversation.{id}.acd.start",
    "v2.detail.events.conversation.{id}.acd.end",
    "v2.detail.events.conversation.{id}.user.start",
    "v2.detail.events.conversation.{id}.user.end",
    "v2.detail.events.conversation.{id}.acw",
    "v2.detail.events.conversation.{id}.wrapup",
    "v2.detail.events.conversation.{id}.outbound",
    "v2.detail.events.conversation.{id}.voicemail.start",
    "v2.detail.events.conversation.{id}.voicemail.end",
    "v2.detail.events.conversation.{id}.attributes",
    "v2.detail.events.conversation.{id}.contact",
  ]

  validation {
    condition     = length(var.topic_filters) > 0
    error_message = "topic_filters must name at least one topic."
  }
}

variable "rule_detail_types" {
  description = "Optional: only these detail-types (topic templates) reach the function; empty: everything from the Genesys source."
  type        = list(string)
  default     = []
}

variable "consumer_role_names" {
  description = "IAM roles that read the stream (e.g. a KCL application's role); the consumer policy is attached to each."
  type        = list(string)
  default     = []
}

variable "consumer_user_names" {
  description = "IAM users that read the stream; the consumer policy is attached to each."
  type        = list(string)
  default     = []
}

variable "tags" {
  description = "Tags for every resource."
  type        = map(string)
  default     = {}
}

variable "tables_sync_schedule" {
  description = "When set (e.g. \"rate(1 hour)\", \"cron(0 * * * ? *)\"), a second function keeps the rule set's `sync` tables current from the Genesys Cloud API on this EventBridge Scheduler schedule. Needs rules_prefix, and the OAuth client put in the secret the module creates."
  type        = string
  default     = null
}

variable "genesys_domain" {
  description = "The Genesys Cloud organisation's region domain, for the table sync (mypurecloud.com, mypurecloud.ie, usw2.pure.cloud, ...)."
  type        = string
  default     = "mypurecloud.com"
}

variable "rules_signing_key_secret_arn" {
  description = "Secrets Manager secret holding the rule-set signing key (`weft rules keygen`'s file), with which the table sync re-signs a signed rule set; encrypted with this module's KMS key, or grant the sync's role decrypt on yours. Unset: only an unsigned rule set can be synced."
  type        = string
  default     = null
}

variable "archive_retention_days" {
  description = "Days the archive of the Genesys bus keeps events for `weft replay` (0: no archive). Archived events are billed by volume stored and replayed."
  type        = number
  default     = 30

  validation {
    condition     = var.archive_retention_days >= 0 && floor(var.archive_retention_days) == var.archive_retention_days
    error_message = "archive_retention_days must be a whole number of days, 0 or more (0: no archive)."
  }
}

variable "replay_stream_name" {
  description = "When set, a Kinesis stream of this name (created here) takes the records of replayed events instead of the live stream (WEFT_REPLAY_STREAM), so a warehouse can backfill without live consumers seeing history."
  type        = string
  default     = ""
}

variable "backfill" {
  description = "Adds the backfill state machine and its function (`weft backfill start`): history in S3 through the deployed rules. Needs backfill_source_buckets."
  type        = bool
  default     = false
}

variable "backfill_source_buckets" {
  description = "Buckets holding history to backfill from (objects of EventBridge envelopes, gzip or not): the backfill may list and read them."
  type        = list(string)
  default     = []
}

variable "backfill_max_concurrency" {
  description = "Objects backfilled at once (the Distributed Map's MaxConcurrency): each is one function invocation at a time; mind the stream's shards."
  type        = number
  default     = 10

  validation {
    condition     = var.backfill_max_concurrency >= 1 && var.backfill_max_concurrency <= 10000
    error_message = "backfill_max_concurrency must be 1 to 10000."
  }
}

variable "backfill_timeout_seconds" {
  description = "The backfill function's timeout: an invocation works until a quarter of it is left (at most a minute), then answers where it stopped and is invoked again from there."
  type        = number
  default     = 900

  validation {
    condition     = var.backfill_timeout_seconds >= 60 && var.backfill_timeout_seconds <= 900
    error_message = "backfill_timeout_seconds must be 60 to 900."
  }
}
