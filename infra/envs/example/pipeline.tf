# The log pipeline on the lake of lake.tf: ingestion (infra/modules/ingestion: new log objects -> the lake),
# processing (infra/modules/processing: attribution and features, hourly, in a Lambda or the Glue job) and detection
# with its weekly training (infra/modules/ml). Their variables are in variables_pipeline.tf.
#
# The ingest, process and detect functions are container images (with pyarrow, duckdb, numpy, pandas and, for detect,
# scikit-learn they exceed the 250 MB a zip and its layers may hold). `make package` writes their build contexts,
# build/images/<name>/, and records each in build/manifest.json (images[<name>].tag); push each to its module's
# repository under that tag (the modules' READMEs), and these modules run it. On a first deployment the repositories
# must exist before the images can be pushed:
#
#   make package
#   terraform apply -target=module.ingestion.aws_ecr_repository.ingest \
#     -target=module.processing.aws_ecr_repository.process -target=module.ml.aws_ecr_repository.detect
#   # docker build and push build/images/{ingest,process,detect} (infra/modules/ingestion/README.md)
#   terraform apply

data "aws_caller_identity" "pipeline" {}
data "aws_region" "pipeline" {}
data "aws_partition" "pipeline" {}

locals {
  # The functions deployed as images, and their build contexts in build/manifest.json.
  image_functions = ["ingest", "process", "detect"]
  image_contexts  = { for n in local.image_functions : n => try(local.manifest.images[n], null) }

  # Each image's URI: the variable's, or the module's repository (named <name_prefix>-<function>) at the tag
  # `make package` computed from the build context (pushed under it, as the modules' READMEs say).
  ecr_registry = "${data.aws_caller_identity.pipeline.account_id}.dkr.ecr.${data.aws_region.pipeline.name}.${data.aws_partition.pipeline.dns_suffix}"
  image_uris = {
    ingest  = coalesce(var.ingest_image_uri, "${local.ecr_registry}/${var.name_prefix}-ingest:${try(local.image_contexts.ingest.tag, "unbuilt")}")
    process = coalesce(var.process_image_uri, "${local.ecr_registry}/${var.name_prefix}-process:${try(local.image_contexts.process.tag, "unbuilt")}")
    detect  = coalesce(var.detect_image_uri, "${local.ecr_registry}/${var.name_prefix}-detect:${try(local.image_contexts.detect.tag, "unbuilt")}")
  }

  # The Glue script, the library's wheel and the SageMaker bundle (their sha256 keys their objects in the bucket).
  # Without a manifest the build precondition below stops the plan; the zeros only keep the modules' validation quiet.
  no_hash         = "0000000000000000000000000000000000000000000000000000000000000000"
  wheel           = try(local.manifest.wheel, "egress_optimizer.whl")
  glue_script     = "glue/attribute.py"
  source_bundle   = try(local.manifest.sagemaker.source_dir, "sagemaker-sourcedir.tar.gz")
  artefact_sha256 = { for f in [local.wheel, local.glue_script, local.source_bundle] : f => try(local.artefacts[f].sha256, local.no_hash) }

  # SageMaker's scikit-learn image (sagemaker/README.md: framework 1.4-2). AWS publishes it from an account of its
  # own per region; the us-east-1 one is known here, any other region must name it (sagemaker_training_image_uri).
  training_image_uri = var.sagemaker_training_image_uri != null ? var.sagemaker_training_image_uri : (
    var.region == "us-east-1" ? "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3" : null
  )

  # What lands where in the lake's buckets (module.lake.log_prefixes, without trailing slashes).
  raw_prefixes = [for k in ["vpc_flow", "cloudfront", "cur"] : "${module.lake.log_prefixes[k]}/"]
}

# Fails the plan, saying what to run, when the manifest predates the image contexts or names no training image.
resource "terraform_data" "pipeline_build" {
  input = [for n in local.image_functions : try(local.image_contexts[n].tag, null)]

  lifecycle {
    precondition {
      condition     = alltrue([for n in local.image_functions : local.image_contexts[n] != null])
      error_message = "build/manifest.json has no image contexts (images.ingest, images.process, images.detect): run `make package` at the repository's root."
    }
    precondition {
      condition     = local.training_image_uri != null
      error_message = "Set sagemaker_training_image_uri: SageMaker's scikit-learn 1.4-2 image in ${var.region} (the SageMaker SDK's image_uris.retrieve(\"sklearn\", region, \"1.4-2\") prints it)."
    }
  }
}

module "ingestion" {
  source = "../../modules/ingestion"

  name_prefix = var.name_prefix
  tags        = local.tags

  image_uri            = local.image_uris.ingest
  lambda_architecture  = var.pipeline_lambda_architecture
  reserved_concurrency = var.ingest_reserved_concurrency

  # The lake module sends its raw and access log buckets' events to EventBridge (it owns their notification
  # configurations); the rules here forward what lands under the log sources' prefixes. The lake buckets' own
  # access logs (log_prefixes.lake_access) are not ingested.
  notifications               = "eventbridge"
  manage_bucket_notifications = false
  sources = {
    raw = {
      bucket      = module.lake.raw_bucket_name
      prefixes    = local.raw_prefixes
      kms_key_arn = module.lake.kms_key_arn
    }
    access_logs = {
      bucket      = module.lake.access_log_bucket_name
      prefixes    = ["${module.lake.log_prefixes.s3_access}/"]
      kms_key_arn = module.lake.kms_key_arn
    }
  }

  lake_uri         = module.lake.lake_uri
  lake_kms_key_arn = module.lake.kms_key_arn
  # With partition projection nothing needs registering (variables_lake.tf).
  glue_database = var.lake_partition_projection ? "" : module.lake.database_name

  alarm_actions = [module.response.alerts_topic_arn]
}

module "processing" {
  source = "../../modules/processing"

  name_prefix = var.name_prefix
  tags        = local.tags

  image_uri           = local.image_uris.process
  lambda_architecture = var.pipeline_lambda_architecture

  lake_uri         = module.lake.lake_uri
  lake_kms_key_arn = module.lake.kms_key_arn

  # The ml module's bucket holds the Glue code and temporary files too.
  artefact_bucket      = module.ml.artefact_bucket_name
  artefact_kms_key_arn = module.ml.kms_key_arn
  glue_script          = "${local.build_dir}/${try(local.artefacts[local.glue_script].path, local.glue_script)}"
  glue_script_sha256   = local.artefact_sha256[local.glue_script]
  library_wheel        = "${local.build_dir}/${try(local.artefacts[local.wheel].path, local.wheel)}"
  library_wheel_sha256 = local.artefact_sha256[local.wheel]

  glue_number_of_workers = var.glue_number_of_workers

  alarm_actions = [module.response.alerts_topic_arn]
}

module "ml" {
  source = "../../modules/ml"

  name_prefix = var.name_prefix
  tags        = local.tags

  lake_uri         = module.lake.lake_uri
  lake_kms_key_arn = module.lake.kms_key_arn

  image_uri           = local.image_uris.detect
  lambda_architecture = var.pipeline_lambda_architecture

  # Incidents go where the response module's rule listens.
  incident_event_bus_name = var.incident_event_bus_name
  min_impact_usd          = var.detect_min_impact_usd

  # Detection runs after each feature update: the processing module's bus and Glue job.
  processing_event_bus_name = module.processing.event_bus_name
  glue_job_name             = module.processing.glue_job_name

  training_image_uri             = coalesce(local.training_image_uri, "000000000000.dkr.ecr.${var.region}.amazonaws.com/unset:unset")
  sagemaker_source_bundle        = "${local.build_dir}/${try(local.artefacts[local.source_bundle].path, local.source_bundle)}"
  sagemaker_source_bundle_sha256 = local.artefact_sha256[local.source_bundle]
  training_hyperparameters       = var.training_hyperparameters

  alarm_actions = [module.response.alerts_topic_arn]
}

# ---- outputs -----------------------------------------------------------------------------------------------------
output "ingest_repository_url" {
  description = "Where the ingest image (build/images/ingest) is pushed."
  value       = module.ingestion.repository_url
}

output "process_repository_url" {
  description = "Where the process image (build/images/process) is pushed."
  value       = module.processing.repository_url
}

output "detect_repository_url" {
  description = "Where the detect image (build/images/detect) is pushed."
  value       = module.ml.repository_url
}

output "image_uris" {
  description = "The images the pipeline's functions run (push each build context under its tag first)."
  value       = local.image_uris
}

output "detector_training_state_machine_arn" {
  description = "The detector's training state machine (weekly; `aws stepfunctions start-execution` trains now)."
  value       = module.ml.state_machine_arn
}

output "pipeline_dead_letter_queues" {
  description = "Where the pipeline's failures wait: notifications that failed 5 times, failed process and Glue runs, failed detect runs."
  value = {
    ingest     = module.ingestion.dead_letter_queue_url
    processing = module.processing.dead_letter_queue_url
    ml         = module.ml.dead_letter_queue_url
  }
}
