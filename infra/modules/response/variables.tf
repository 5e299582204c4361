# ---- naming, tags, encryption, logs ------------------------------------------------------------------------------
variable "name_prefix" {
  description = "Prefix of every name this module creates (functions, roles, queues, topic, state machine, alarms)."
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
  description = "KMS key for the queues, the alerts topic, the log groups and the functions' environment. Null: the module creates one (with the key policy CloudWatch Logs, EventBridge and CloudWatch alarms need). A key of your own must allow those services the same way."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of every log group (functions and the state machine)."
  type        = number
  default     = 365
}

variable "state_machine_log_level" {
  description = "Execution log level: ALL or ERROR (sentinel/step-functions-logging.sentinel allows no other). Execution data is always included."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ERROR"], var.state_machine_log_level)
    error_message = "state_machine_log_level must be ALL or ERROR."
  }
}

variable "alarm_actions" {
  description = "Further SNS topic ARNs the alarms notify (the module's alerts topic always is)."
  type        = list(string)
  default     = []
}

# ---- the code ----------------------------------------------------------------------------------------------------
variable "definition_path" {
  description = "Path of state_machines/anomaly_response.asl.json. Null: the file three levels above this module (the repository's own, wherever the module is sourced from with its repository)."
  type        = string
  default     = null
}

variable "lambda_zip" {
  description = "Path of build/lambda-respond.zip (`make package`): lambdas/respond/handler.py at the zip's root."
  type        = string
}

variable "lambda_zip_sha256_base64" {
  description = "Base64 SHA-256 of lambda_zip (build/manifest.json: artefacts[\"lambda-respond.zip\"].sha256_base64)."
  type        = string
}

variable "layer_arns" {
  description = "Lambda layer version ARNs holding the library and its dependencies (build/manifest.json: lambdas.respond.layers)."
  type        = list(string)
  default     = []
}

variable "lambda_runtime" {
  description = "Lambda runtime; the layers are built for Python 3.12 (tools/package.py)."
  type        = string
  default     = "python3.12"
}

variable "lambda_architecture" {
  description = "Instruction set the layers are built for (manylinux x86_64)."
  type        = string
  default     = "x86_64"
}

variable "default_reserved_concurrency" {
  description = "Reserved (and so maximum) concurrency of each workflow step function. Every function's concurrency is bounded (sentinel/lambda-failure-handling-and-concurrency.sentinel)."
  type        = number
  default     = 5

  validation {
    condition     = var.default_reserved_concurrency >= 1
    error_message = "default_reserved_concurrency must be at least 1 (0 would stop the workflow)."
  }
}

variable "start_reserved_concurrency" {
  description = "Reserved concurrency of the start function (the EventBridge target)."
  type        = number
  default     = 5

  validation {
    condition     = var.start_reserved_concurrency >= 1
    error_message = "start_reserved_concurrency must be at least 1."
  }
}

variable "function_settings" {
  description = "Per step (normalise, collect_changes, ..., notify, start): timeout, memory_size or reserved_concurrency overriding the module's defaults."
  type = map(object({
    timeout              = optional(number)
    memory_size          = optional(number)
    reserved_concurrency = optional(number)
  }))
  default = {}
}

variable "subnet_ids" {
  description = "Subnets to run the functions in (empty: outside a VPC). The subnets need a route to the AWS APIs the steps call and to Slack."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the functions when subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "code_signing_config_arn" {
  description = "Lambda code signing configuration to enforce on every function (null: none)."
  type        = string
  default     = null
}

# ---- what the steps read -----------------------------------------------------------------------------------------
variable "lake_uri" {
  description = "The lake (LAKE_URI): s3://bucket/prefix. collect_traffic and check_egress read it; explain, recommend, apply, verify, rollback and check_egress append to its audit tables."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", var.lake_uri))
    error_message = "lake_uri must be an s3:// URI."
  }
}

variable "lake_kms_key_arn" {
  description = "KMS key of the lake bucket (null: SSE-S3 or a key the functions need no grant for)."
  type        = string
  default     = null
}

variable "lake_kms_encrypted" {
  description = "Grant the functions lake_kms_key_arn (true when it is set; a separate flag because Terraform must know it at plan time, when the ARN of a key or topic created in the same apply is not yet known)."
  type        = bool
  default     = false
}

variable "member_role_name" {
  description = "The role each member account grants the response (MEMBER_ROLE_NAME). Empty: a single-account deployment, the functions' own roles call the APIs (read APIs on the step roles, the catalogue's actions on the remediation role). Set: the step and remediation roles may only assume this role, which holds those permissions in each member account (see README)."
  type        = string
  default     = ""
}

variable "member_account_ids" {
  description = "Member accounts whose member_role_name the functions may assume. Empty: any account (the role's own trust policy decides)."
  type        = list(string)
  default     = []
}

variable "trail_log_uris" {
  description = "S3 prefixes of the organisation trail's log files (TRAIL_LOGS), each s3://bucket[/prefix] above AWSLogs/. Empty: collect_changes calls CloudTrail LookupEvents instead."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for u in var.trail_log_uris : can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", u))])
    error_message = "trail_log_uris must be s3:// URIs."
  }
}

variable "trail_kms_key_arn" {
  description = "KMS key the trail's log files are encrypted with (null: none to grant)."
  type        = string
  default     = null
}

variable "cost_anomaly_lookup" {
  description = "Whether collect_resources asks Cost Anomaly Detection for the same days and notify sends CAD feedback (COST_ANOMALY_LOOKUP on/off)."
  type        = bool
  default     = true
}

variable "ip_ranges_path" {
  description = "EGRESS_IP_RANGES for collect_traffic: a path inside the package or a layer (empty: the shipped snapshot)."
  type        = string
  default     = ""
}

variable "networks_path" {
  description = "EGRESS_NETWORKS for collect_traffic: the networks file inside the package or a layer (empty: the shipped cloud ranges only)."
  type        = string
  default     = ""
}

variable "geoip_dir" {
  description = "EGRESS_GEOIP_DIR for collect_traffic: a folder (in a layer of your own: the licence forbids shipping it) with the GeoLite2 country CSVs (empty: countries unknown)."
  type        = string
  default     = ""
}

# ---- Bedrock -----------------------------------------------------------------------------------------------------
variable "bedrock_model_id" {
  description = "BEDROCK_MODEL_ID: the model (or us./eu./apac. inference profile) that narrates explanations; empty: the rules' own explanation. Must be in sentinel/bedrock-model-allowlist.sentinel's list."
  type        = string
  default     = ""
}

variable "bedrock_guardrail_id" {
  description = "BEDROCK_GUARDRAIL_ID (id or ARN; empty: none)."
  type        = string
  default     = ""
}

variable "bedrock_guardrail_version" {
  description = "BEDROCK_GUARDRAIL_VERSION."
  type        = string
  default     = "DRAFT"
}

variable "bedrock_max_tokens" {
  description = "BEDROCK_MAX_TOKENS."
  type        = number
  default     = 700
}

variable "bedrock_usd_per_1k_input" {
  description = "BEDROCK_USD_PER_1K_INPUT (cost logging only)."
  type        = string
  default     = "0"
}

variable "bedrock_usd_per_1k_output" {
  description = "BEDROCK_USD_PER_1K_OUTPUT (cost logging only)."
  type        = string
  default     = "0"
}

# ---- remediation -------------------------------------------------------------------------------------------------
variable "remediation_role_name" {
  description = "Name of the role apply, verify and rollback run as. sentinel/remediation-role-no-wildcard-actions.sentinel recognises it by `egress-remediation` in its name."
  type        = string
  default     = "egress-remediation"

  validation {
    condition     = can(regex("egress-remediation", var.remediation_role_name))
    error_message = "remediation_role_name must contain egress-remediation, or the Sentinel policy no longer checks the role."
  }
}

variable "remediation_policy_path" {
  description = "REMEDIATION_POLICY: path of the remediation policy YAML inside the package or a layer (empty: the default policy: nothing automatic, five resources, any time)."
  type        = string
  default     = ""
}

variable "approval_timeout_seconds" {
  description = "APPROVAL_TIMEOUT_SECONDS: how long RequestApproval waits before Escalate."
  type        = number
  default     = 86400
}

variable "egress_check_seconds" {
  description = "EGRESS_CHECK_SECONDS: how long after a fix CheckEgress asks the lake whether the egress fell."
  type        = number
  default     = 21600
}

# ---- the other modules -------------------------------------------------------------------------------------------
variable "approvals_table_name" {
  description = "APPROVALS_TABLE (the approvals module's table)."
  type        = string
}

variable "approvals_table_arn" {
  description = "ARN of the approvals table (request_approval: PutItem, GetItem)."
  type        = string
}

variable "approvals_topic_arn" {
  description = "APPROVALS_TOPIC_ARN: the approvals module's topic for approvers' emails (empty: no email approvals)."
  type        = string
  default     = ""
}

variable "approvals_by_email" {
  description = "Let request_approval publish to approvals_topic_arn (true when it is set; a flag because Terraform must know it at plan time, when the ARN of a key or topic created in the same apply is not yet known)."
  type        = bool
  default     = false
}

variable "approval_url" {
  description = "APPROVAL_URL: the approvals module's https://.../approve (empty: emails carry no link)."
  type        = string
  default     = ""
}

variable "approval_key_secret_arn" {
  description = "APPROVAL_KEY_SECRET_ARN: the link-signing key's secret (approvals module; empty: no signed links)."
  type        = string
  default     = ""
}

variable "reads_approval_secrets" {
  description = "Let request_approval read approval_key_secret_arn and slack_bot_token_secret_arn (true when either is set; a flag because Terraform must know it at plan time, when the ARN of a key or topic created in the same apply is not yet known)."
  type        = bool
  default     = false
}

variable "approver_emails" {
  description = "APPROVER_EMAILS: approvers asked by email (each also needs a subscription in the approvals module)."
  type        = list(string)
  default     = []
}

variable "approvals_kms_key_arn" {
  description = "KMS key of the approvals table, topic and key secret (the approvals module's kms_key_arn)."
  type        = string
  default     = null
}

variable "approvals_kms_encrypted" {
  description = "Grant approvals_kms_key_arn (true when it is set; a flag because Terraform must know it at plan time, when the ARN of a key or topic created in the same apply is not yet known)."
  type        = bool
  default     = false
}

variable "slack_bot_token_secret_arn" {
  description = "SLACK_BOT_TOKEN_SECRET_ARN: the notifications module's Slack bot token secret (empty: no Slack approvals)."
  type        = string
  default     = ""
}

variable "slack_kms_key_arn" {
  description = "KMS key of the Slack bot token secret (the notifications module's kms_key_arn)."
  type        = string
  default     = null
}

variable "slack_token_kms_encrypted" {
  description = "Grant slack_kms_key_arn for the Slack token secret (true when both are set; a flag because Terraform must know it at plan time, when the ARN of a key or topic created in the same apply is not yet known)."
  type        = bool
  default     = false
}

variable "slack_approval_channel" {
  description = "SLACK_APPROVAL_CHANNEL: the channel id approval requests are posted to (empty: none)."
  type        = string
  default     = ""
}

variable "slack_api_url" {
  description = "SLACK_API_URL (GovSlack; empty: Slack's)."
  type        = string
  default     = ""
}

variable "alert_queue_url" {
  description = "The notifications module's alerts queue: the Alert state sends the explained incident there."
  type        = string
}

variable "alert_queue_arn" {
  description = "ARN of the alerts queue (the state machine's sqs:SendMessage)."
  type        = string
}

variable "alert_queue_kms_key_arn" {
  description = "KMS key of the alerts queue (the notifications module's kms_key_arn)."
  type        = string
  default     = null
}

variable "alerts_topic_emails" {
  description = "Email addresses subscribed to the module's alerts topic (workflow failures, outcomes, escalations, alarms)."
  type        = list(string)
  default     = []
}

variable "incident_event_bus_name" {
  description = "Event bus our incidents are put on (the detect Lambda's EVENT_BUS_NAME). Cost Anomaly Detection's events are always on the default bus."
  type        = string
  default     = "default"
}
