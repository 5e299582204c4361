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
  description = "Tags for every taggable resource (and the training jobs); must carry project, owner and environment (sentinel/mandatory-tags.sentinel). Keep the values known at plan time."
  type        = map(string)

  validation {
    condition     = alltrue([for k in ["project", "owner", "environment"] : try(var.tags[k], "") != ""])
    error_message = "tags must set project, owner and environment to non-empty values."
  }
}

variable "kms_key_arn" {
  description = "KMS key for the artefact bucket, the training jobs' output and volumes, the dead-letter queue, the image repository, the function's environment and the logs. Null: the module creates one (with the key policy EventBridge and CloudWatch Logs need). A key of your own must let events.amazonaws.com use it."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Retention of the function's and the state machine's log groups."
  type        = number
  default     = 365
}

variable "alarm_actions" {
  description = "SNS topic ARNs the alarms notify (e.g. the response module's alerts topic)."
  type        = list(string)
  default     = []
}

variable "state_machine_log_level" {
  description = "Execution log level of the training state machine: ALL or ERROR (sentinel/step-functions-logging.sentinel allows no other). Execution data is always included."
  type        = string
  default     = "ALL"

  validation {
    condition     = contains(["ALL", "ERROR"], var.state_machine_log_level)
    error_message = "state_machine_log_level must be ALL or ERROR."
  }
}

# ---- the lake ----------------------------------------------------------------------------------------------------
variable "lake_uri" {
  description = "LAKE_URI: the lake, s3://bucket/prefix. The detect function reads egress_hourly and the model store and writes anomalies and incidents; training reads <lake>/egress_hourly/."
  type        = string

  validation {
    condition     = can(regex("^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/.*)?$", var.lake_uri))
    error_message = "lake_uri must be an s3:// URI."
  }
}

variable "lake_kms_key_arn" {
  description = "KMS key of the lake bucket (null: SSE-S3 or a key the function and training need no grant for)."
  type        = string
  default     = null
}

# ---- the artefact bucket -----------------------------------------------------------------------------------------
variable "artefact_bucket_name" {
  description = "Name of the artefact bucket the module creates (SageMaker source bundles and model outputs; the processing module's Glue script, wheel and temporary files). Null: <name_prefix>-artefacts-<account>-<region>."
  type        = string
  default     = null
}

variable "artefact_prefix" {
  description = "Key prefix of what this module puts in the artefact bucket (sagemaker/, models/ below it). Give the processing module the same, so the bucket's lifecycle rule expires its glue-temp/."
  type        = string
  default     = "egress-optimizer"
}

variable "access_log_bucket" {
  description = "Existing bucket the artefact bucket's server access logs go to (null: none)."
  type        = string
  default     = null
}

variable "noncurrent_version_expiration_days" {
  description = "Days a replaced or deleted object's old version is kept in the artefact bucket."
  type        = number
  default     = 90
}

# ---- training ----------------------------------------------------------------------------------------------------
variable "training_image_uri" {
  description = "SageMaker's scikit-learn framework image for training (the one sagemaker/README.md names: framework 1.4-2), from AWS's registry in this region, e.g. 683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3 (the SageMaker Python SDK's image_uris.retrieve(\"sklearn\", region, \"1.4-2\") prints it)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]{12}\\.dkr\\.ecr\\.[a-z0-9-]+\\.amazonaws\\.com(\\.cn)?/[a-z0-9._/-]+(:[A-Za-z0-9._-]+|@sha256:[a-f0-9]{64})$", var.training_image_uri))
    error_message = "training_image_uri must be an ECR image URI with a tag or a digest."
  }
}

variable "sagemaker_source_bundle" {
  description = "Path of build/sagemaker-sourcedir.tar.gz (`make package`: train.py, inference.py, the library's wheel and a requirements.txt installing it)."
  type        = string
}

variable "sagemaker_source_bundle_sha256" {
  description = "Hex SHA-256 of sagemaker_source_bundle (build/manifest.json: artefacts[\"sagemaker-sourcedir.tar.gz\"].sha256): its key in the bucket, so a new bundle is a new object."
  type        = string

  validation {
    condition     = can(regex("^[a-f0-9]{64}$", var.sagemaker_source_bundle_sha256))
    error_message = "sagemaker_source_bundle_sha256 must be a hex SHA-256."
  }
}

variable "training_schedule_expression" {
  description = "When the training state machine runs (EventBridge, default bus): weekly by default, Mondays 03:00 UTC."
  type        = string
  default     = "cron(0 3 ? * MON *)"
}

variable "training_instance_type" {
  description = "Instance type of the training jobs (one instance; it must support EBS volume encryption, i.e. have no instance storage)."
  type        = string
  default     = "ml.m5.xlarge"
}

variable "training_volume_size_gb" {
  description = "EBS volume of a training job, in GB (egress_hourly is copied onto it)."
  type        = number
  default     = 30
}

variable "training_max_runtime_seconds" {
  description = "Longest a training job may run; the state machine's own timeout is an hour more."
  type        = number
  default     = 7200

  validation {
    condition     = var.training_max_runtime_seconds >= 600 && var.training_max_runtime_seconds <= 432000
    error_message = "training_max_runtime_seconds must be between 600 and 432000 (SageMaker's five days)."
  }
}

variable "training_hyperparameters" {
  description = "Hyperparameters of sagemaker/train.py (`mode`: ensemble, baseline or forest; `seed`; `n-estimators`); empty: the script's defaults."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(setsubtract(keys(var.training_hyperparameters), ["mode", "seed", "n-estimators"])) == 0
    error_message = "training_hyperparameters takes mode, seed and n-estimators only (sagemaker/train.py)."
  }
}

# ---- the detect function -----------------------------------------------------------------------------------------
variable "image_uri" {
  description = "The detect function's container image: <repository_url>:<tag> or <repository_url>@sha256:<digest>, built from build/images/detect (`make package`) and pushed to this module's repository (output repository_url; see README)."
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
  description = "Timeout of the detect function (scoring the new hours with the current model, writing anomalies and incidents, putting incidents on the bus)."
  type        = number
  default     = 600

  validation {
    condition     = var.timeout >= 60 && var.timeout <= 900
    error_message = "timeout must be between 60 and 900 seconds."
  }
}

variable "memory_size" {
  description = "Memory of the detect function (a week of hourly series and scikit-learn; memory buys CPU too)."
  type        = number
  default     = 3008
}

variable "subnet_ids" {
  description = "Subnets to run the function in (empty: outside a VPC); they need routes to S3 and EventBridge."
  type        = list(string)
  default     = []
}

variable "security_group_ids" {
  description = "Security groups of the function when subnet_ids is set."
  type        = list(string)
  default     = []
}

variable "detect_schedule_expression" {
  description = "When the detect function runs on its own (EventBridge, default bus), besides after each feature update."
  type        = string
  default     = "rate(1 hour)"
}

variable "incident_event_bus_name" {
  description = "EVENT_BUS_NAME of the detect function: the bus incidents (egress.optimizer / Egress Cost Anomaly) are put on, the one the response module's rule listens on."
  type        = string
  default     = "default"
}

variable "processing_event_bus_name" {
  description = "The processing module's event_bus_name: \"Features Updated\" there triggers the detect function, and the training state machine puts \"Model Trained\" there for it to install. Null: no \"Features Updated\" rule (the schedule only), and \"Model Trained\" goes on the default bus."
  type        = string
  default     = null
}

variable "glue_job_name" {
  description = "The processing module's glue_job_name: its SUCCEEDED runs (\"Glue Job State Change\", default bus) trigger the detect function. Null: no such rule."
  type        = string
  default     = null
}

variable "min_impact_usd" {
  description = "MIN_IMPACT_USD: smallest excess, in dollars, an event must reach to be reported as an incident (0: only the materiality share applies)."
  type        = number
  default     = 0
}

variable "min_impact_pct" {
  description = "MIN_IMPACT_PCT: smallest excess as a percentage of the expected cost over the event (0: no floor)."
  type        = number
  default     = 0
}

variable "min_share_pct" {
  description = "MIN_SHARE_PCT: smallest impact as a percentage of the account's daily egress spend (the code's default: 0.02, i.e. $0.20 on a $1,000-a-day account)."
  type        = number
  default     = 0.02
}

variable "metrics_namespace" {
  description = "POWERTOOLS_METRICS_NAMESPACE: CloudWatch namespace of the function's metrics (AnomalousSeriesHours, IncidentsEmitted)."
  type        = string
  default     = "EgressOptimizer"
}
