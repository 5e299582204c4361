variable "name_prefix" {
  description = "Prefix of every QuickSight id and name this module creates (data source, datasets, schedules, dashboard)."
  type        = string
  default     = "egress"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,30}$", var.name_prefix))
    error_message = "name_prefix must be lower-case letters, digits and dashes, starting with a letter, at most 31 characters."
  }
}

variable "aws_account_id" {
  description = "The AWS account that holds the QuickSight subscription. Defaults to the caller's account."
  type        = string
  default     = null
}

variable "identity_region" {
  description = "The region of the QuickSight identity store (where users and groups live), used in group ARNs. Defaults to the provider's region."
  type        = string
  default     = null
}

variable "namespace" {
  description = "QuickSight namespace of the groups."
  type        = string
  default     = "default"
}

variable "athena_database" {
  description = "Glue/Athena database that holds the lake's tables and the dashboard views (src/egress_optimizer/sql/athena/views)."
  type        = string
}

variable "athena_workgroup" {
  description = "Athena workgroup QuickSight queries run in (its result location and encryption apply)."
  type        = string
  default     = "primary"
}

variable "create_reader_group" {
  description = "Create the QuickSight group of dashboard readers. False: reader_group_name names an existing group."
  type        = bool
  default     = true
}

variable "reader_group_name" {
  description = "QuickSight group whose members may view the dashboard (view actions only, nothing on the data source or datasets)."
  type        = string
  default     = "egress-dashboard-readers"
}

variable "admin_group_name" {
  description = "Existing QuickSight group given owner actions on the data source, the datasets and the dashboard. Null: only the API caller (this Terraform) manages them."
  type        = string
  default     = null
}

variable "refresh_interval" {
  description = "How often SPICE re-imports every dataset: HOURLY (QuickSight Enterprise edition) or DAILY."
  type        = string
  default     = "DAILY"

  validation {
    condition     = contains(["HOURLY", "DAILY"], var.refresh_interval)
    error_message = "refresh_interval must be HOURLY or DAILY."
  }
}

variable "refresh_time_of_day" {
  description = "HH:MM of the daily refresh (ignored for HOURLY)."
  type        = string
  default     = "06:00"

  validation {
    condition     = can(regex("^([01][0-9]|2[0-3]):[0-5][0-9]$", var.refresh_time_of_day))
    error_message = "refresh_time_of_day must be HH:MM (24-hour clock)."
  }
}

variable "refresh_timezone" {
  description = "Time zone of the refresh schedule (IANA name)."
  type        = string
  default     = "UTC"
}

variable "dashboard_name" {
  description = "Display name of the dashboard."
  type        = string
  default     = "Data-transfer egress"
}

variable "theme_arn" {
  description = "ARN of a QuickSight theme for the dashboard (null: QuickSight's default theme)."
  type        = string
  default     = null
}

variable "tags" {
  description = "Tags for every taggable resource."
  type        = map(string)
  default     = {}
}
