variable "region" {
  description = "Region of the lake, its Athena workgroup and the QuickSight assets."
  type        = string
  default     = "us-east-1"
}

variable "athena_database" {
  description = "Glue database holding the lake's tables and the dashboard views."
  type        = string
  default     = "egress"
}

variable "athena_workgroup" {
  description = "Athena workgroup QuickSight queries run in."
  type        = string
  default     = "primary"
}

variable "admin_group_name" {
  description = "Existing QuickSight group that owns the data source, datasets and dashboard (null: none)."
  type        = string
  default     = null
}
