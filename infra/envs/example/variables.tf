variable "region" {
  description = "Region of the deployment (the lake's, the workflow's, the approvals API's)."
  type        = string
  default     = "us-east-1"
}

variable "name_prefix" {
  description = "Prefix of every name the modules create."
  type        = string
  default     = "egress"
}

variable "project" {
  description = "The mandatory `project` tag."
  type        = string
  default     = "egress-optimizer"
}

variable "owner" {
  description = "The mandatory `owner` tag: who answers for these resources and what they cost."
  type        = string
}

variable "environment" {
  description = "The mandatory `environment` tag (dev, staging, prod...)."
  type        = string
}

variable "tags" {
  description = "Further tags for every resource."
  type        = map(string)
  default     = {}
}

# ---- artefacts (`make package`) ----------------------------------------------------------------------------------
variable "build_dir" {
  description = "Folder `make package` wrote the zips and manifest.json to. Null: build/ at the repository's root."
  type        = string
  default     = null
}

variable "artefact_bucket" {
  description = "Existing S3 bucket the Lambda layers are uploaded to (layers with pandas and pyarrow exceed the 50 MB direct upload). Empty: layers are uploaded directly, which works only for small layers."
  type        = string
  default     = ""
}

variable "artefact_prefix" {
  description = "Key prefix of the uploaded layers."
  type        = string
  default     = "egress-optimizer/layers"
}

variable "artefact_kms_key_arn" {
  description = "KMS key the uploaded layers are encrypted with (null: the bucket's default encryption)."
  type        = string
  default     = null
}

# ---- the accounts --------------------------------------------------------------------------------------------------
variable "member_role_name" {
  description = "The role each member account grants the response (empty: single-account). See the response module's README."
  type        = string
  default     = ""
}

variable "member_account_ids" {
  description = "Member accounts whose member_role_name may be assumed (empty: any)."
  type        = list(string)
  default     = []
}

variable "trail_log_uris" {
  description = "S3 prefixes of the organisation trail's logs (empty: CloudTrail LookupEvents)."
  type        = list(string)
  default     = []
}

variable "incident_event_bus_name" {
  description = "Event bus the detect stage puts incidents on."
  type        = string
  default     = "default"
}

variable "bedrock_model_id" {
  description = "Bedrock model that narrates explanations (empty: the rules' own; must be in sentinel/bedrock-model-allowlist.sentinel)."
  type        = string
  default     = ""
}

# ---- people ------------------------------------------------------------------------------------------------------
variable "approver_emails" {
  description = "Approvers asked by email (signed links)."
  type        = list(string)
  default     = []
}

variable "approver_slack_ids" {
  description = "Slack user ids allowed to approve."
  type        = list(string)
  default     = []
}

variable "slack_approval_channel" {
  description = "Slack channel id approval requests go to (empty: none)."
  type        = string
  default     = ""
}

variable "slack_alert_channel" {
  description = "Slack channel id alerts go to (empty: none)."
  type        = string
  default     = ""
}

variable "alert_email_subscriptions" {
  description = "Alert email subscriptions, each optionally filtered by team and severity."
  type = list(object({
    endpoint   = string
    teams      = optional(list(string), [])
    severities = optional(list(string), [])
  }))
  default = []
}

variable "workflow_alert_emails" {
  description = "Addresses subscribed to the response workflow's alerts topic (failures, outcomes, alarms)."
  type        = list(string)
  default     = []
}

# ---- dashboards --------------------------------------------------------------------------------------------------
variable "enable_dashboards" {
  description = "Deploy the QuickSight dashboard (infra/modules/dashboards; needs a QuickSight subscription)."
  type        = bool
  default     = false
}

variable "athena_database" {
  description = "Glue database of the lake's tables and the dashboard views."
  type        = string
  default     = "egress"
}

variable "dashboard_admin_group_name" {
  description = "Existing QuickSight group that owns the dashboard's assets (null: none)."
  type        = string
  default     = null
}
