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
  description = "KMS key for the table, the secrets, the queues, the topic and the logs. Null: the module creates one (with the key policy CloudWatch Logs and alarms need)."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's and the API's log groups."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "SNS topic ARNs the alarms notify (e.g. the response module's alerts topic)."
  type        = list(string)
  default     = []
}

variable "deletion_protection" {
  description = "Deletion protection of the approvals table."
  type        = bool
  default     = true
}

variable "secret_recovery_window_days" {
  description = "Recovery window of the secrets when they are deleted (0 deletes at once)."
  type        = number
  default     = 30
}

# ---- the code ----------------------------------------------------------------------------------------------------
variable "lambda_zip" {
  description = "Path of build/lambda-approval.zip (`make package`): lambdas/approval/handler.py at the zip's root."
  type        = string
}

variable "lambda_zip_sha256_base64" {
  description = "Base64 SHA-256 of lambda_zip (build/manifest.json: artefacts[\"lambda-approval.zip\"].sha256_base64)."
  type        = string
}

variable "layer_arns" {
  description = "Lambda layer version ARNs holding the library and its dependencies (build/manifest.json: lambdas.approval.layers)."
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
  description = "Timeout of the approval function (the HTTP API waits at most 30 s; Slack wants an answer within 3 s, which recording a decision gives well inside)."
  type        = number
  default     = 30

  validation {
    condition     = var.timeout >= 3 && var.timeout <= 30
    error_message = "timeout must be between 3 and 30 seconds (the HTTP API's integration limit)."
  }
}

variable "memory_size" {
  description = "Memory of the approval function."
  type        = number
  default     = 512
}

variable "reserved_concurrency" {
  description = "Reserved (and so maximum) concurrency of the approval function (clicks and resume messages together)."
  type        = number
  default     = 10

  validation {
    condition     = var.reserved_concurrency >= 2
    error_message = "reserved_concurrency must be at least 2 (the resume queue's event source mapping needs 2)."
  }
}

variable "subnet_ids" {
  description = "Subnets to run the function in (empty: outside a VPC); they need a route to the AWS APIs and to Slack."
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

# ---- who decides -------------------------------------------------------------------------------------------------
variable "state_machine_arn" {
  description = "The response state machine (the response module's state_machine_arn): the function resumes its executions (states:SendTaskSuccess)."
  type        = string
}

variable "approver_slack_ids" {
  description = "APPROVER_SLACK_IDS: Slack user ids allowed to approve or refuse."
  type        = list(string)
  default     = []
}

variable "approver_emails" {
  description = "Approvers asked by email: each gets a subscription to the approvals topic that filters on its own address (the `approver` attribute), so nobody receives another's signed link. Pass the same list to the response module's approver_emails."
  type        = list(string)
  default     = []
}

variable "slack_response_hosts" {
  description = "SLACK_RESPONSE_HOSTS: hosts a Slack response_url may name (empty: Slack's own)."
  type        = list(string)
  default     = []
}

variable "approval_snooze_seconds" {
  description = "APPROVAL_SNOOZE_SECONDS: how long Snooze puts an approval off before a reminder (at most 900, SQS's longest delay)."
  type        = number
  default     = 900

  validation {
    condition     = var.approval_snooze_seconds >= 0 && var.approval_snooze_seconds <= 900
    error_message = "approval_snooze_seconds must be between 0 and 900."
  }
}

# ---- the alert buttons (notify's Acknowledge, Snooze, "This was planned") ------------------------------------------
variable "alerts_table_name" {
  description = "ALERTS_TABLE: the notifications module's alerts table (the alert buttons update it)."
  type        = string
}

variable "alerts_table_arn" {
  description = "ARN of the alerts table (GetItem, UpdateItem)."
  type        = string
}

variable "alerts_kms_key_arn" {
  description = "KMS key of the alerts table (the notifications module's kms_key_arn; null: none to grant)."
  type        = string
  default     = null
}

variable "alerts_kms_encrypted" {
  description = "Grant alerts_kms_key_arn (true when it is set; a flag because Terraform must know it at plan time, when the ARN of a key or topic created in the same apply is not yet known)."
  type        = bool
  default     = false
}

variable "alert_responder_slack_ids" {
  description = "ALERT_RESPONDER_SLACK_IDS: Slack users allowed to press alert buttons (empty: the approvers)."
  type        = list(string)
  default     = []
}

variable "alert_planned_hours" {
  description = "ALERT_PLANNED_HOURS: how long after an incident \"This was planned\" silences its resources."
  type        = number
  default     = 24
}

variable "cost_anomaly_feedback" {
  description = "Whether \"This was planned\" may send Cost Anomaly Detection feedback (ce:ProvideAnomalyFeedback)."
  type        = bool
  default     = true
}

# ---- the HTTP API ------------------------------------------------------------------------------------------------
variable "throttling_burst_limit" {
  description = "The API's burst limit (requests)."
  type        = number
  default     = 20
}

variable "throttling_rate_limit" {
  description = "The API's steady rate limit (requests per second)."
  type        = number
  default     = 10
}
