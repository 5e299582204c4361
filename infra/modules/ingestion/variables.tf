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
  description = "KMS key for the queues, the idempotency table, the image repository, the function's environment and its logs. Null: the module creates one (with the key policy EventBridge, S3 and CloudWatch Logs need). A key of your own must let events.amazonaws.com (or, with notifications = \"s3\", s3.amazonaws.com) use it, or nothing reaches the queue."
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
  description = "Deletion protection of the idempotency table."
  type        = bool
  default     = true
}

# ---- the code ----------------------------------------------------------------------------------------------------
variable "image_uri" {
  description = "The ingest function's container image: <repository_url>:<tag> or <repository_url>@sha256:<digest>, built from build/images/ingest (`make package`) and pushed to this module's repository (output repository_url; see README)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$", var.image_uri))
    error_message = "image_uri must be an ECR image URI with a tag or a digest (Lambda runs images from ECR only)."
  }
}

variable "lambda_architecture" {
  description = "Instruction set of the function: the platform the image was built for (`docker buildx build --platform linux/amd64` for x86_64, linux/arm64 for arm64)."
  type        = string
  default     = "x86_64"

  validation {
    condition     = contains(["x86_64", "arm64"], var.lambda_architecture)
    error_message = "lambda_architecture must be x86_64 or arm64."
  }
}

variable "image_keep_count" {
  description = "Images the repository keeps (older ones expire; untagged ones after 14 days). Keep more than any image a function version still runs."
  type        = number
  default     = 20
}

variable "timeout" {
  description = "Timeout of the ingest function (a batch of objects parsed into the lake). The queue's visibility timeout is six times this."
  type        = number
  default     = 300

  validation {
    condition     = var.timeout >= 30 && var.timeout <= 900
    error_message = "timeout must be between 30 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Memory of the ingest function (pyarrow parses whole log files; memory buys CPU too)."
  type        = number
  default     = 2048
}

variable "reserved_concurrency" {
  description = "Reserved (and so maximum) concurrency of the ingest function; the event source mapping's maximum concurrency is the same."
  type        = number
  default     = 5

  validation {
    condition     = var.reserved_concurrency >= 2 && var.reserved_concurrency <= 1000
    error_message = "reserved_concurrency must be between 2 (the event source mapping's smallest maximum concurrency) and 1000."
  }
}

variable "batch_size" {
  description = "Notifications per invocation (each names one object; a failed one is retried alone: ReportBatchItemFailures)."
  type        = number
  default     = 5

  validation {
    condition     = var.batch_size >= 1 && var.batch_size <= 10
    error_message = "batch_size must be between 1 and 10."
  }
}

variable "subnet_ids" {
  description = "Subnets to run the function in (empty: outside a VPC); they need a route to S3, DynamoDB, SQS and Glue."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids is set."
  type        = list(string)
  default     = []
}

# ---- the raw logs ------------------------------------------------------------------------------------------------
variable "sources" {
  description = "Where the logs land (VPC Flow Logs, S3 access logs, CloudFront logs, the CUR, inventory snapshots), by a name of your choice: `bucket` (in this account), the key `prefixes` whose new objects are ingested ([\"\"]: the whole bucket), and the `kms_key_arn` of its objects (null: SSE-S3, nothing to grant). Keys must be known at plan time; bucket names and key ARNs need not be."
  type = map(object({
    bucket      = string
    prefixes    = optional(list(string), [""])
    kms_key_arn = optional(string)
  }))

  validation {
    condition     = length(var.sources) > 0 && alltrue([for k, s in var.sources : can(regex("^[a-z0-9][a-z0-9_-]{0,30}$", k)) && length(s.prefixes) > 0])
    error_message = "sources must name at least one source, by lower-case names of up to 31 letters, digits, _ and -, each with at least one prefix (\"\" for the whole bucket)."
  }
}

variable "notifications" {
  description = "How new objects reach the queue. \"eventbridge\": the buckets send their events to EventBridge (the lake module turns that on) and a rule per source forwards its \"Object Created\" events under its prefixes. \"s3\": the buckets' notification configurations send to the queue directly (manage_bucket_notifications, or add queue_arn yourself)."
  type        = string
  default     = "eventbridge"

  validation {
    condition     = contains(["eventbridge", "s3"], var.notifications)
    error_message = "notifications must be eventbridge or s3."
  }
}

variable "manage_bucket_notifications" {
  description = "Create each source bucket's notification configuration here (EventBridge on, or the queue per prefix). A bucket has one configuration, which this replaces: leave false when another module owns it (the lake module turns EventBridge on for its buckets)."
  type        = bool
  default     = false
}

# ---- the lake ----------------------------------------------------------------------------------------------------
variable "lake_uri" {
  description = "LAKE_URI: the lake, s3://bucket/prefix (the function writes the log tables, the quarantine and the journal)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", var.lake_uri))
    error_message = "lake_uri must be an s3:// URI."
  }
}

variable "lake_kms_key_arn" {
  description = "KMS key of the lake bucket (null: SSE-S3 or a key the function needs no grant for)."
  type        = string
  default     = null
}

variable "glue_database" {
  description = "GLUE_DATABASE: Glue database the partitions the function writes are registered in (tables created when missing). Empty: no registration (e.g. Athena partition projection, sql/athena/)."
  type        = string
  default     = ""
}

# ---- settings ----------------------------------------------------------------------------------------------------
variable "idempotency_expires_seconds" {
  description = "IDEMPOTENCY_EXPIRES_SECONDS: how long a processed object's record keeps a redelivered notification from ingesting it again. Longer than the queue's retention (4 days) covers every redelivery."
  type        = number
  default     = 86400
}

variable "metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE: CloudWatch namespace of the function's metrics (ObjectsFailed, RecordsParsed, ...)."
  type        = string
  default     = "EgressOptimizer"
}
