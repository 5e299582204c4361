# Variables of the lake and its log sources (lake.tf).

# ---- the lake ----------------------------------------------------------------------------------------------------
variable "lake_partition_projection" {
  description = "Athena partition projection on the lake's tables (every query must then filter `account`); false: the ingest registers partitions in Glue."
  type        = bool
  default     = false
}

variable "lake_raw_log_retention_days" {
  description = "Days delivered flow logs, CloudFront logs and S3 access logs are kept (re-ingesting needs them)."
  type        = number
  default     = 90
}

variable "lake_cur_retention_days" {
  description = "Days the CUR export's files are kept."
  type        = number
  default     = 1095
}

variable "lake_athena_bytes_scanned_cutoff" {
  description = "Bytes one Athena query in the lake's workgroup may scan before it is cancelled."
  type        = number
  default     = 107374182400 # 100 GiB
}

variable "lake_force_destroy" {
  description = "Let `terraform destroy` delete the lake's buckets and workgroup with their contents (dev only)."
  type        = bool
  default     = false
}

# ---- the log sources ---------------------------------------------------------------------------------------------
variable "log_sources_vpc_ids" {
  description = "VPCs in var.region whose flow logs go to the lake (Parquet, the attribution's custom format)."
  type        = list(string)
  default     = []
}

variable "log_sources_s3_access_logged_bucket_names" {
  description = "Buckets in var.region whose server access logs go to the lake's access log bucket."
  type        = list(string)
  default     = []
}

variable "log_sources_cloudfront_distribution_arns" {
  description = "CloudFront distributions whose standard logs (v2) go to the lake."
  type        = list(string)
  default     = []
}

variable "log_sources_create_cur_export" {
  description = "Create the CUR 2.0 export into the lake (in an organisation, only from the management account)."
  type        = bool
  default     = true
}
