variable "name_prefix" {
  description = "Prefix of every name this module creates."
  type        = string
  default     = "egress"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,20}$", var.name_prefix))
    error_message = "name_prefix must be lower-case letters, digits and dashes, starting with a letter, at most 21 characters."
  }
}

variable "tags" {
  description = "Tags for every taggable resource; must carry project, owner and environment (sentinel/mandatory-tags.sentinel). Keep the values known at plan time."
  type        = map(string)

  validation {
    condition     = alltrue([for k in ["project", "owner", "environment"] : try(var.tags[k], "") != ""])
    error_message = "tags must set project, owner and environment to non-empty values."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the queues, the table, the topic, the Slack token secret and the logs. Null: the module creates one (with the key policy EventBridge and CloudWatch Logs need). A key of your own must let events.amazonaws.com use it, or the rules cannot send to the queue."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's log group."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "SNS topic ARNs the alarms notify (e.g. the response module's alerts topic)."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Deletion protection of the alerts table."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the Slack token secret when it is deleted (0 deletes at once)."
  type        = number
  default     = 30
}

# ---- the code ----------------------------------------------------------------------------------------------------
variable "lambda_zip" {
  description = "Path of build/lambda-notify.zip (`make package`): lambdas/notify/handler.py at the zip's root."
  type        = string
}

variable "lambda_zip_sha256_base64" {
  description = "Base64 SHA-256 of lambda_zip (build/manifest.json: artefacts[\"lambda-notify.zip\"].sha256_base64)."
  type        = string
}

variable "layer_arns" {
  description = "Lambda layer version ARNs holding the library and its dependencies (build/manifest.json: lambdas.notify.layers)."
  type        = list(string)
  default     = []
}

variable "lambda_runtime" {
  description = "Lambda runtime; the layers are built for Python 3.12 (tools/package.py)."
  type        = string
  default     = "python3.12"
}

variable "lambda_architecture" {
  description = "Instruction set the layers are built for."
  type        = string
  default     = "x86_64"
}

variable "timeout" {
  description = "Timeout of the notify function: 60 s keeps deliveries with their retries under the two-minute claim lease (lambdas/notify/handler.py). The queue's visibility timeout is six times this."
  type        = number
  default     = 60

  validation {
    condition     = var.timeout >= 10 && var.timeout <= 110
    error_message = "timeout must be between 10 and 110 seconds (under the alert state's two-minute claim lease)."
  }
}

variable "memory_size" {
  description = "Memory of the notify function."
  type        = number
  default     = 512
}

variable "reserved_concurrency" {
  description = "Reserved (and so maximum) concurrency of the notify function."
  type        = number
  default     = 5

  validation {
    condition     = var.reserved_concurrency >= 2
    error_message = "reserved_concurrency must be at least 2 (the event source mapping's smallest maximum concurrency)."
  }
}

variable "subnet_ids" {
  description = "Subnets to run the function in (empty: outside a VPC); they need a route to the AWS APIs, Slack and the webhooks."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "code_signing_config_arn" {
  description = "Lambda code signing configuration to enforce (null: none)."
  type        = string
  default     = null
}

# ---- where alerts go ---------------------------------------------------------------------------------------------
variable "email_subscriptions" {
  description = "Email subscriptions to the alerts topic. Each may filter on the attributes alerts carry: `teams` (the route's team; `default` for the default route) and `severities` (low, medium, high, critical); omitted: every alert."
  type = list(object({
    endpoint   = string
    teams      = optional(list(string), [])
    severities = optional(list(string), [])
  }))
  default = []
}

variable "slack_alert_channel" {
  description = "SLACK_ALERT_CHANNEL: the default route's Slack channel id (empty: no Slack). Needs the Slack bot token secret's value."
  type        = string
  default     = ""
}

variable "slack_api_url" {
  description = "SLACK_API_URL (GovSlack; empty: Slack's)."
  type        = string
  default     = ""
}

variable "alert_routing_file" {
  description = "ALERT_ROUTING_FILE: path of the routing YAML inside the package or a layer (empty: the default route from this module's settings). The file's topics and webhook secrets must be in extra_topic_arns and webhook_secret_arns."
  type        = string
  default     = ""
}

variable "alert_webhook_url" {
  description = "ALERT_WEBHOOK_URL: the default route's webhook (empty: none)."
  type        = string
  default     = ""
}

variable "alert_webhook_secret_arn" {
  description = "ALERT_WEBHOOK_SECRET_ARN: the secret that signs the default webhook's requests (empty: none)."
  type        = string
  default     = ""
}

variable "webhook_secret_arns" {
  description = "Further webhook secrets the routing file names (secretsmanager:GetSecretValue)."
  type        = list(string)
  default     = []
}

variable "extra_topic_arns" {
  description = "Further SNS topics the routing file names (sns:Publish)."
  type        = list(string)
  default     = []
}

variable "extra_kms_key_arns" {
  description = "KMS keys of extra_topic_arns and of the webhook secrets, when they are not this module's."
  type        = list(string)
  default     = []
}

variable "report_base_url" {
  description = "REPORT_BASE_URL: base of the incident pages alerts link to (empty: no links)."
  type        = string
  default     = ""
}

variable "alert_snooze_hours" {
  description = "ALERT_SNOOZE_HOURS."
  type        = number
  default     = 4
}

variable "alert_retry_attempts" {
  description = "ALERT_RETRY_ATTEMPTS: tries per channel inside one run."
  type        = number
  default     = 4
}

variable "alert_retry_base_seconds" {
  description = "ALERT_RETRY_BASE_SECONDS: first backoff between those tries."
  type        = number
  default     = 0.5
}

# ---- who sends to the queue --------------------------------------------------------------------------------------
variable "sender_role_arns" {
  description = "Roles allowed to send to the alerts queue besides EventBridge: the response state machine's role (its Alert state)."
  type        = list(string)
  default     = []
}

variable "route_incidents_to_queue" {
  description = "Also send our incident events (egress.optimizer / Egress Cost Anomaly) straight to the queue: for deployments without the response workflow, whose Alert state otherwise sends the explained incident."
  type        = bool
  default     = false
}

variable "incident_event_bus_name" {
  description = "Event bus our incidents are put on (the detect Lambda's EVENT_BUS_NAME)."
  type        = string
  default     = "default"
}
