# Variables of the log pipeline (pipeline.tf): ingestion, processing, detection and training.

# ---- the images --------------------------------------------------------------------------------------------------
variable "ingest_image_uri" {
  description = "The ingest function's image (ECR, by tag or digest). Null: the ingestion module's repository at the tag build/manifest.json gives build/images/ingest."
  type        = string
  default     = null
}

variable "process_image_uri" {
  description = "The process function's image (ECR, by tag or digest). Null: the processing module's repository at the tag build/manifest.json gives build/images/process."
  type        = string
  default     = null
}

variable "detect_image_uri" {
  description = "The detect function's image (ECR, by tag or digest). Null: the ml module's repository at the tag build/manifest.json gives build/images/detect."
  type        = string
  default     = null
}

variable "pipeline_lambda_architecture" {
  description = "Instruction set the three images are built for (`docker buildx build --platform linux/amd64` for x86_64)."
  type        = string
  default     = "x86_64"
}

# ---- settings ----------------------------------------------------------------------------------------------------
variable "ingest_reserved_concurrency" {
  description = "Reserved (and maximum) concurrency of the ingest function."
  type        = number
  default     = 5
}

variable "glue_number_of_workers" {
  description = "Workers of the Glue attribution job (large backlogs: a rebuild, a busy day)."
  type        = number
  default     = 4
}

variable "detect_min_impact_usd" {
  description = "MIN_IMPACT_USD of the detect function: smallest excess, in dollars, an incident must reach (0: only the materiality share)."
  type        = number
  default     = 0
}

variable "sagemaker_training_image_uri" {
  description = "SageMaker's scikit-learn 1.4-2 image in var.region, for training. Null: the us-east-1 one when var.region is us-east-1 (any other region must name it)."
  type        = string
  default     = null
}

variable "training_hyperparameters" {
  description = "Hyperparameters of sagemaker/train.py (mode, seed, n-estimators); empty: its defaults."
  type        = map(string)
  default     = {}
}
