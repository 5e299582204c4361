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

# ---- encryption --------------------------------------------------------------------------------------------------
variable "kms_key_arn" {
  description = "KMS key of the buckets and of the Athena results. Null: the module creates one, whose policy lets the log delivery services write (flow logs, CloudFront, S3 access logs, the CUR export). A key of your own needs those statements too: the output `service_key_policy_json` holds them."
  type        = string
  default     = null
}

variable "key_deletion_window_days" {
  description = "Waiting period before the created key is deleted (7 to 30 days)."
  type        = number
  default     = 30

  validation {
    condition     = var.key_deletion_window_days >= 7 && var.key_deletion_window_days <= 30
    error_message = "key_deletion_window_days must be between 7 and 30."
  }
}

# ---- buckets -----------------------------------------------------------------------------------------------------
variable "raw_bucket_name" {
  description = "Name of the raw bucket, where flow logs, CloudFront logs and the CUR export land. Null: <name_prefix>-raw-<account>-<region>."
  type        = string
  default     = null
}

variable "curated_bucket_name" {
  description = "Name of the curated bucket: the Parquet lake and the Athena results. Null: <name_prefix>-lake-<account>-<region>."
  type        = string
  default     = null
}

variable "access_log_bucket_name" {
  description = "Name of the S3 server access log bucket: the source buckets' access logs and the lake buckets' own. Null: <name_prefix>-s3-access-<account>-<region>."
  type        = string
  default     = null
}

variable "access_log_bucket_sse_algorithm" {
  description = "Default encryption of the access log bucket. aws:kms (the lake's key, whose policy lets logging.s3.amazonaws.com encrypt into that bucket only) is what sentinel/lake-buckets-kms-and-private requires. AWS documents SSE-S3 (AES256) as the only default encryption of a server access log target; should S3 not deliver into the KMS-encrypted bucket, set AES256 and exempt the bucket from that policy (README)."
  type        = string
  default     = "aws:kms"

  validation {
    condition     = contains(["aws:kms", "AES256"], var.access_log_bucket_sse_algorithm)
    error_message = "access_log_bucket_sse_algorithm must be aws:kms or AES256."
  }
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete the buckets and the workgroup with their contents. Keep false where the lake matters."
  type        = bool
  default     = false
}

variable "lake_prefix" {
  description = "Prefix of the lake inside the curated bucket: the lake URI is s3://<curated bucket>/<lake_prefix> (LAKE_URI, `egress ... --lake`)."
  type        = string
  default     = "lake"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*$", var.lake_prefix))
    error_message = "lake_prefix must be a non-empty key prefix without leading or trailing slashes."
  }
}

variable "athena_results_prefix" {
  description = "Prefix of the Athena query results inside the curated bucket (outside the lake: they are not tables)."
  type        = string
  default     = "athena-results"

  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9_.-]*(/[a-z0-9][a-z0-9_.-]*)*$", var.athena_results_prefix))
    error_message = "athena_results_prefix must be a non-empty key prefix without leading or trailing slashes."
  }
}

variable "log_prefixes" {
  description = "Where each source lands: `vpc_flow`, `cloudfront` and `cur` in the raw bucket, `s3_access` in the access log bucket (the lake buckets' own access logs go under `lake_access`). The ingest recognises the objects by the keys AWS writes below them (see README), so any prefix works except AWSLogs. Pass the output `log_prefixes` to the log_sources module."
  type = object({
    vpc_flow    = optional(string, "vpc-flow")
    cloudfront  = optional(string, "cloudfront")
    cur         = optional(string, "cur")
    s3_access   = optional(string, "s3-access")
    lake_access = optional(string, "lake")
  })
  default = {}

  validation {
    condition = alltrue([
      # startswith() needs Terraform 1.5; the repository's floor is 1.4.
      for p in values(var.log_prefixes) : can(regex("^[A-Za-z0-9][A-Za-z0-9_.=-]*(/[A-Za-z0-9][A-Za-z0-9_.=-]*)*$", p)) && !can(regex("^AWSLogs", p))
    ])
    error_message = "log_prefixes must be non-empty key prefixes without leading or trailing slashes, not starting with AWSLogs (flow logs refuse it)."
  }

  validation {
    condition     = length(distinct(values(var.log_prefixes))) == length(values(var.log_prefixes))
    error_message = "log_prefixes must all differ."
  }
}

# ---- retention ---------------------------------------------------------------------------------------------------
variable "raw_log_retention_days" {
  description = "Days flow logs, CloudFront logs and S3 access logs (the sources' and the lake's own) are kept once delivered; the lake keeps what was ingested from them. Re-ingesting needs them, so keep more than the longest rebuild you expect."
  type        = number
  default     = 90

  validation {
    condition     = var.raw_log_retention_days >= 1
    error_message = "raw_log_retention_days must be at least 1."
  }
}

variable "cur_retention_days" {
  description = "Days the CUR export's files are kept. The export rewrites the current month's files (OVERWRITE_REPORT), so this bounds how many past months stay re-ingestable."
  type        = number
  default     = 1095

  validation {
    condition     = var.cur_retention_days >= 32
    error_message = "cur_retention_days must be at least 32 (the export rewrites a month's files until the month is closed)."
  }
}

variable "noncurrent_version_retention_days" {
  description = "Days a replaced or deleted object version is kept in every bucket (re-ingest and upserts rewrite lake files in place)."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_retention_days >= 1
    error_message = "noncurrent_version_retention_days must be at least 1."
  }
}

variable "abort_incomplete_multipart_upload_days" {
  description = "Days after which unfinished multipart uploads are aborted in every bucket."
  type        = number
  default     = 7

  validation {
    condition     = var.abort_incomplete_multipart_upload_days >= 1
    error_message = "abort_incomplete_multipart_upload_days must be at least 1."
  }
}

variable "athena_results_retention_days" {
  description = "Days Athena query results are kept."
  type        = number
  default     = 30

  validation {
    condition     = var.athena_results_retention_days >= 1
    error_message = "athena_results_retention_days must be at least 1."
  }
}

# ---- who delivers ------------------------------------------------------------------------------------------------
variable "log_delivery_source_accounts" {
  description = "Accounts whose flow logs, CloudFront logs, S3 access logs and CUR export may be delivered to the buckets (aws:SourceAccount). Empty: this account only."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.log_delivery_source_accounts : can(regex("^[0-9]{12}$", a))])
    error_message = "log_delivery_source_accounts must be 12-digit account ids."
  }
}

variable "deliver_vpc_flow_logs" {
  description = "Let VPC Flow Logs (delivery.logs.amazonaws.com) write under log_prefixes.vpc_flow and use the key."
  type        = bool
  default     = true
}

variable "deliver_cloudfront_logs" {
  description = "Let CloudFront standard logging v2 (CloudWatch Logs delivery, delivery.logs.amazonaws.com) write under log_prefixes.cloudfront and use the key."
  type        = bool
  default     = true
}

variable "deliver_s3_access_logs" {
  description = "Let S3 server access logging (logging.s3.amazonaws.com) write the source buckets' logs under log_prefixes.s3_access in the access log bucket."
  type        = bool
  default     = true
}

variable "deliver_cur" {
  description = "Let the CUR 2.0 export (bcm-data-exports.amazonaws.com, billingreports.amazonaws.com) write under log_prefixes.cur and use the key."
  type        = bool
  default     = true
}

variable "data_exports_region" {
  description = "Region of the Data Exports service (its exports' ARNs, aws:SourceArn); us-east-1 in the commercial partition."
  type        = string
  default     = "us-east-1"
}

# ---- catalog and queries -----------------------------------------------------------------------------------------
variable "database_name" {
  description = "Glue database of the lake's tables (every table of the registry, from tables.json): the ingest's GLUE_DATABASE, the dashboards' athena_database."
  type        = string
  default     = "egress"

  validation {
    condition     = can(regex("^[a-z0-9_]{1,255}$", var.database_name))
    error_message = "database_name must be lower-case letters, digits and underscores (Athena's rule)."
  }
}

variable "partition_projection" {
  description = "Add Athena partition projection to every table (as the committed sql/athena DDL has it): no partition needs registering, but every query must filter `account` with = or IN. False: partitions are registered in Glue by the ingest (register_files) or `register_lake`."
  type        = bool
  default     = false
}

variable "workgroup_name" {
  description = "Name of the Athena workgroup. Null: name_prefix."
  type        = string
  default     = null
}

variable "athena_bytes_scanned_cutoff" {
  description = "Bytes one query may scan before Athena cancels it (at least 10 MB)."
  type        = number
  default     = 107374182400 # 100 GiB

  validation {
    condition     = var.athena_bytes_scanned_cutoff >= 10485760
    error_message = "athena_bytes_scanned_cutoff must be at least 10485760 (10 MB, Athena's minimum)."
  }
}
