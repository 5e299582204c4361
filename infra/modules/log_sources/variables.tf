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

# ---- where the logs go (the lake module's outputs) ---------------------------------------------------------------
variable "raw_bucket_name" {
  description = "The lake module's raw_bucket_name: flow logs, CloudFront logs and the CUR export land there. It must be in the default provider's region."
  type        = string
}

variable "access_log_bucket_name" {
  description = "The lake module's access_log_bucket_name: the source buckets' S3 server access logs land there."
  type        = string
}

variable "log_prefixes" {
  description = "The lake module's log_prefixes: vpc_flow, cloudfront and cur in the raw bucket, s3_access in the access log bucket (its bucket policy lets each service write only there)."
  type = object({
    vpc_flow   = string
    cloudfront = string
    cur        = string
    s3_access  = string
  })
}

# ---- VPC Flow Logs -----------------------------------------------------------------------------------------------
variable "vpc_ids" {
  description = "VPCs (in the default provider's region) to log: one flow log each, Parquet with Hive-compatible hourly partitions, in the custom format the attribution needs (README)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for v in var.vpc_ids : can(regex("^vpc-[0-9a-f]{8,17}$", v))])
    error_message = "vpc_ids must be VPC ids (vpc-...)."
  }
}

variable "flow_log_traffic_type" {
  description = "Traffic the flow logs capture: ALL (egress is billed whether or not a security group accepted it), ACCEPT or REJECT."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ACCEPT", "REJECT"], var.flow_log_traffic_type)
    error_message = "flow_log_traffic_type must be ALL, ACCEPT or REJECT."
  }
}

variable "flow_log_max_aggregation_interval" {
  description = "Seconds a flow is aggregated into one record: 600 (AWS's default, fewer records) or 60 (finer bursts, up to ten times the records)."
  type        = number
  default     = 600

  validation {
    condition     = contains([60, 600], var.flow_log_max_aggregation_interval)
    error_message = "flow_log_max_aggregation_interval must be 60 or 600."
  }
}

# ---- S3 server access logs ---------------------------------------------------------------------------------------
variable "s3_access_logged_bucket_names" {
  description = "Buckets whose server access logs go to the access log bucket (partitioned keys: account, region, bucket, date). They must be in the access log bucket's region and account (S3's rule), and their logging must not be managed elsewhere."
  type        = list(string)
  default     = []
}

# ---- CloudFront standard logging (v2) ----------------------------------------------------------------------------
variable "cloudfront_distribution_arns" {
  description = "CloudFront distributions to log (standard logging v2: a CloudWatch Logs delivery source each, created in us-east-1 through the aws.us_east_1 provider)."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for a in var.cloudfront_distribution_arns : can(regex("^arn:aws[a-z-]*:cloudfront::[0-9]{12}:distribution/[A-Z0-9]+$", a))])
    error_message = "cloudfront_distribution_arns must be distribution ARNs (arn:aws:cloudfront::<account>:distribution/<id>)."
  }
}

variable "cloudfront_output_format" {
  description = "Format of the delivered CloudFront logs: parquet, w3c (#Fields header) or json; the ingest maps each by field name (plain has no header, so it is not offered)."
  type        = string
  default     = "parquet"

  validation {
    condition     = contains(["parquet", "w3c", "json"], var.cloudfront_output_format)
    error_message = "cloudfront_output_format must be parquet, w3c or json."
  }
}

variable "cloudfront_record_fields" {
  description = "Fields of each CloudFront record, in order (CloudWatch Logs' names for CloudFront's fields). Empty: the delivery's default fields (CloudFront's standard log fields). A selection must keep what the ingest requires: date and time (or timestamp), x-edge-location and sc-bytes; the distribution id comes from the file name."
  type        = list(string)
  default     = []
}

# ---- the CUR 2.0 export ------------------------------------------------------------------------------------------
variable "create_cur_export" {
  description = "Create the CUR 2.0 export (Data Exports, in us-east-1). In an organisation, only the management account's export covers every account: set false in member accounts."
  type        = bool
  default     = true
}

variable "cur_export_name" {
  description = "Name of the CUR 2.0 export; its files land under <log_prefixes.cur>/<name>/data/BILLING_PERIOD=YYYY-MM/. Null: <name_prefix>-cur2."
  type        = string
  default     = null

  validation {
    condition     = var.cur_export_name == null || can(regex("^[0-9A-Za-z!\\-_.*'()]{1,128}$", var.cur_export_name))
    error_message = "cur_export_name must be 1-128 letters, digits or !-_.*'()."
  }
}
