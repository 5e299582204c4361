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
  description = "KMS key for the dead-letter queue, the image repository, the function's environment, the logs and the Glue job's security configuration (its S3 temporary files, CloudWatch logs and bookmarks). Null: the module creates one (with the key policy EventBridge and CloudWatch Logs need). A key of your own must let events.amazonaws.com use it, or failed events cannot reach the dead-letter queue."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's and the Glue job's log groups."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "SNS topic ARNs the alarms notify (e.g. the response module's alerts topic)."
  type        = list(string)
  default     = []
}

# ---- the function's code -----------------------------------------------------------------------------------------
variable "image_uri" {
  description = "The process function's container image: <repository_url>:<tag> or <repository_url>@sha256:<digest>, built from build/images/process (`make package`) and pushed to this module's repository (output repository_url; see README)."
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
  description = "Timeout of the process function: a backlog up to lambda_max_pending_bytes attributed and featurised in one run (larger ones go to Glue)."
  type        = number
  default     = 900

  validation {
    condition     = var.timeout >= 60 && var.timeout <= 900
    error_message = "timeout must be between 60 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Memory of the process function (pandas, pyarrow and DuckDB over a day of logs; memory buys CPU too)."
  type        = number
  default     = 4096
}

variable "subnet_ids" {
  description = "Subnets to run the function in (empty: outside a VPC); they need routes to S3, Glue and EventBridge."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids is set."
  type        = list(string)
  default     = []
}

# ---- the lake and the bus ----------------------------------------------------------------------------------------
variable "lake_uri" {
  description = "LAKE_URI: the lake, s3://bucket/prefix (the function and the Glue job read the logs and the journal, and write attributed, egress_hourly and cur_daily)."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", var.lake_uri))
    error_message = "lake_uri must be an s3:// URI."
  }
}

variable "lake_kms_key_arn" {
  description = "KMS key of the lake bucket (null: SSE-S3 or a key the function and the job need no grant for)."
  type        = string
  default     = null
}

variable "event_bus_name" {
  description = "EVENT_BUS_NAME: the bus \"Features Updated\" is put on. Null: the module creates one (`<name_prefix>-pipeline`). The ml module's rules on it trigger detection."
  type        = string
  default     = null
}

variable "schedule_expression" {
  description = "When the process function runs (EventBridge, default bus): the backlog since the last run is attributed here or handed to Glue."
  type        = string
  default     = "rate(1 hour)"
}

variable "lambda_max_pending_bytes" {
  description = "LAMBDA_MAX_PENDING_BYTES: pending log bytes above which the Glue job runs instead of the function (the code's default: 256 MiB)."
  type        = number
  default     = 268435456
}

variable "metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE: CloudWatch namespace of the function's metrics (PendingLogBytes, HoursAttributed)."
  type        = string
  default     = "EgressOptimizer"
}

# ---- the Glue job ------------------------------------------------------------------------------------------------
variable "artefact_bucket" {
  description = "Existing S3 bucket the Glue script and the library's wheel are uploaded to, and the job's temporary directory (e.g. the ml module's artefact_bucket_name)."
  type        = string
}

variable "artefact_prefix" {
  description = "Key prefix of what this module puts in artefact_bucket (glue/, wheels/, glue-temp/ below it)."
  type        = string
  default     = "egress-optimizer"
}

variable "artefact_kms_key_arn" {
  description = "KMS key of artefact_bucket: the uploads are encrypted with it and the job's role may decrypt them. Null: the bucket's default encryption, nothing to grant."
  type        = string
  default     = null
}

variable "glue_script" {
  description = "Path of build/glue/attribute.py (`make package`; glue_jobs/attribute.py)."
  type        = string
}

variable "glue_script_sha256" {
  description = "Hex SHA-256 of glue_script (build/manifest.json: artefacts[\"glue/attribute.py\"].sha256): its key in the bucket, so a new script is a new object."
  type        = string

  validation {
    condition     = can(regex("^[a-f0-9]{64}$", var.glue_script_sha256))
    error_message = "glue_script_sha256 must be a hex SHA-256."
  }
}

variable "library_wheel" {
  description = "Path of the library's wheel, build/egress_optimizer-<version>-py3-none-any.whl (build/manifest.json: wheel). The job installs it with --additional-python-modules; its file name is kept (pip reads it)."
  type        = string
}

variable "library_wheel_sha256" {
  description = "Hex SHA-256 of library_wheel (build/manifest.json: artefacts[<wheel>].sha256)."
  type        = string

  validation {
    condition     = can(regex("^[a-f0-9]{64}$", var.library_wheel_sha256))
    error_message = "library_wheel_sha256 must be a hex SHA-256."
  }
}

variable "glue_version" {
  description = "Glue version of the job: 5.0 (Spark 3.5, Python 3.11). 4.0 runs Python 3.10, below the library's requires-python >= 3.11, so it is refused."
  type        = string
  default     = "5.0"

  validation {
    condition     = contains(["5.0"], var.glue_version)
    error_message = "glue_version must be 5.0 (the library needs Python 3.11; Glue 4.0 runs 3.10)."
  }
}

variable "glue_worker_type" {
  description = "Worker type of the job (G.1X: 4 vCPU, 16 GB; G.2X for larger days)."
  type        = string
  default     = "G.1X"
}

variable "glue_number_of_workers" {
  description = "Workers of the job (attribution runs one Spark task per run of whole hours)."
  type        = number
  default     = 4

  validation {
    condition     = var.glue_number_of_workers >= 2
    error_message = "glue_number_of_workers must be at least 2 (a driver and an executor)."
  }
}

variable "glue_timeout_minutes" {
  description = "Timeout of a job run, in minutes."
  type        = number
  default     = 240
}

variable "glue_extra_arguments" {
  description = "Further default arguments of the job, merged over the module's (e.g. {\"--python-modules-installer-option\" = \"--index-url=https://pypi.internal/simple\"} when the job cannot reach PyPI, or \"--enable-spark-ui\")."
  type        = map(string)
  default     = {}
}
