# Machine learning: the detect Lambda (lambdas/detect/handler.py, a container image: with scikit-learn, pyarrow, duckdb,
# numpy and pandas it exceeds the 250 MB a zip and its layers may hold) with its hourly schedule and the rules that
# run it after each feature update; weekly SageMaker training of the detector (sagemaker/train.py) through a small
# Step Functions state machine, since Terraform has no training-job resource; the artefact bucket (source bundles,
# model outputs, the processing module's Glue code); the SageMaker execution role; a dead-letter queue; the image
# repository; and alarms.
#
# How a trained model reaches detect: the detect function scores with the lake's model store
# (egress_optimizer.detection.model_store), not with SageMaker's output. After the training job, the state machine
# puts "Model Trained" (source egress.optimizer; detail model_artifacts = the job's model.tar.gz, training_job_name)
# on the model bus (the processing bus, else the default bus); a rule there invokes the detect function, which
# installs the archive as a new model store version (stages.install_model: checksum, metadata with its source and
# job, latest.json moved) and scores nothing in that run. The function installs only archives under
# MODEL_ARTIFACTS_PREFIX (this module's model output path): the event names the archive, the deployment decides
# where an archive that gets unpickled may come from. A refused model fails the run and leaves the current one.
#
# No aws_sagemaker_model or endpoint: nothing serves sagemaker/inference.py (sagemaker/README.md describes the
# entry points only; the detect function scores in-process with the lake's model).

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn   = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn
  function_name = "${var.name_prefix}-detect"

  # Everything lambdas/detect/handler.py and the library modules it calls read (tests/test_infra_wiring.py checks
  # it). POWERTOOLS_SERVICE_NAME is the image's (build/images/detect/Dockerfile): only Powertools reads it.
  environment = {
    LAKE_URI                     = var.lake_uri
    EVENT_BUS_NAME               = var.incident_event_bus_name
    MIN_IMPACT_USD               = tostring(var.min_impact_usd)
    MIN_IMPACT_PCT               = tostring(var.min_impact_pct)
    MIN_SHARE_PCT                = tostring(var.min_share_pct)
    MODEL_ARTIFACTS_PREFIX       = local.model_output_uri
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
  }
  incident_bus_arn = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${var.incident_event_bus_name}"

  # The lake: s3://bucket[/prefix]; training reads its egress_hourly table.
  lake_bucket       = regex("^s3://([^/]+)", var.lake_uri)[0]
  lake_prefix       = trim(replace(var.lake_uri, "/^s3://[^/]+/?/", ""), "/")
  lake_base         = local.lake_prefix == "" ? "" : "${local.lake_prefix}/"
  lake_objects      = "arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_base}*"
  lake_listing      = local.lake_prefix == "" ? ["*"] : [local.lake_prefix, "${local.lake_prefix}/*"]
  training_data_uri = "s3://${local.lake_bucket}/${local.lake_base}egress_hourly/"

  # The artefact bucket and what this module keeps in it.
  bucket_name    = coalesce(var.artefact_bucket_name, "${var.name_prefix}-artefacts-${local.account_id}-${local.region}")
  artefact_base  = trim(var.artefact_prefix, "/") == "" ? "" : "${trim(var.artefact_prefix, "/")}/"
  source_key     = "${local.artefact_base}sagemaker/${var.sagemaker_source_bundle_sha256}/sourcedir.tar.gz"
  models_prefix  = "${local.artefact_base}models/"
  glue_temp_base = "${local.artefact_base}glue-temp/"

  # Training jobs write <model_output_uri><job>/output/model.tar.gz; the detect function installs models from here
  # only (MODEL_ARTIFACTS_PREFIX) and may read nothing else of the bucket.
  model_output_uri     = "s3://${aws_s3_bucket.artefacts.bucket}/${local.models_prefix}"
  model_output_objects = "${aws_s3_bucket.artefacts.arn}/${local.models_prefix}*"

  # "Model Trained" travels on the processing bus (where detect's other custom trigger, "Features Updated", is),
  # or the default bus when there is none: installing the weekly model must not depend on the processing module.
  model_event_source      = "egress.optimizer"
  model_event_detail_type = "Model Trained"
  model_bus_name          = coalesce(var.processing_event_bus_name, "default")
  model_bus_arn           = "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${local.model_bus_name}"

  # Training jobs: <prefix>-detector-<execution name> (an EventBridge-started execution's name is a 36-character
  # UUID; SageMaker allows 63 characters). The framework image's repository, for the execution role's pulls.
  machine_name        = "${var.name_prefix}-detector-training"
  training_job_prefix = "${substr(var.name_prefix, 0, 10)}-detector"
  training_image      = regex("^([0-9]{12})\\.dkr\\.ecr\\.([a-z0-9-]+)\\.amazonaws\\.com(?:\\.cn)?/([a-z0-9._/-]+)", var.training_image_uri)
  training_repository = "arn:${local.partition}:ecr:${local.training_image[1]}:${local.training_image[0]}:repository/${local.training_image[2]}"
  hyperparameters = merge(var.training_hyperparameters, {
    sagemaker_program             = "train.py"
    sagemaker_submit_directory    = "s3://${aws_s3_bucket.artefacts.bucket}/${aws_s3_object.source_bundle.key}"
    sagemaker_region              = local.region
    sagemaker_container_log_level = "20"
  })

  # The training state machine: CreateTrainingJob run to completion (.sync), then "Model Trained" onto the model bus
  # (the .sync task's output is DescribeTrainingJob's response: the job's name and its model.tar.gz).
  definition = jsonencode({
    Comment        = "Trains the egress detector on SageMaker (sagemaker/train.py on the lake's egress_hourly); the model lands under ${local.models_prefix} in the artefact bucket and is announced for the detect function to install"
    StartAt        = "Train"
    TimeoutSeconds = var.training_max_runtime_seconds + 3600
    States = {
      Train = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::sagemaker:createTrainingJob.sync"
        Parameters = {
          "TrainingJobName.$" = "States.Format('${local.training_job_prefix}-{}', $$.Execution.Name)"
          RoleArn             = aws_iam_role.sagemaker.arn
          AlgorithmSpecification = {
            TrainingImage     = var.training_image_uri
            TrainingInputMode = "File"
          }
          HyperParameters = local.hyperparameters
          InputDataConfig = [{
            ChannelName = "train"
            DataSource = {
              S3DataSource = {
                S3DataType             = "S3Prefix"
                S3Uri                  = local.training_data_uri
                S3DataDistributionType = "FullyReplicated"
              }
            }
          }]
          OutputDataConfig = {
            S3OutputPath = local.model_output_uri
            KmsKeyId     = local.kms_key_arn
          }
          ResourceConfig = {
            InstanceType   = var.training_instance_type
            InstanceCount  = 1
            VolumeSizeInGB = var.training_volume_size_gb
            VolumeKmsKeyId = local.kms_key_arn
          }
          StoppingCondition = { MaxRuntimeInSeconds = var.training_max_runtime_seconds }
          ProfilerConfig    = { DisableProfiler = true }
          Tags              = [for k, v in var.tags : { Key = k, Value = v }]
        }
        Next = "AnnounceModel"
      }
      AnnounceModel = {
        Type     = "Task"
        Resource = "arn:${local.partition}:states:::events:putEvents"
        Parameters = {
          Entries = [{
            EventBusName = local.model_bus_arn
            Source       = local.model_event_source
            DetailType   = local.model_event_detail_type
            Detail = {
              "model_artifacts.$"   = "$.ModelArtifacts.S3ModelArtifacts"
              "training_job_name.$" = "$.TrainingJobName"
            }
          }]
        }
        # A refused or throttled put is retried: the model is trained, only its announcement is missing.
        Retry = [{
          ErrorEquals     = ["States.TaskFailed"]
          IntervalSeconds = 10
          MaxAttempts     = 5
          BackoffRate     = 2
        }]
        End = true
      }
    }
  })

  # Keys: listed in always-present statements (never behind a count: a key created in the same run is unknown at
  # plan time), the module's own keeping each list non-empty.
  data_keys = compact(distinct([local.kms_key_arn, var.lake_kms_key_arn]))

  # The rules whose events may land on the dead-letter queue.
  dead_letter_rules = concat(
    [aws_cloudwatch_event_rule.detect_schedule.arn, aws_cloudwatch_event_rule.training_schedule.arn, aws_cloudwatch_event_rule.model_trained.arn],
    [for r in aws_cloudwatch_event_rule.features_updated : r.arn],
    [for r in aws_cloudwatch_event_rule.glue_succeeded : r.arn],
  )
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} ml: artefact bucket, training output and volumes, dead-letter queue, image repository, function environment, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-ml"
  target_key_id = aws_kms_key.this[0].key_id
}

# EventBridge sends undeliverable events to the encrypted dead-letter queue; CloudWatch Logs encrypts the log groups;
# everything else (the bucket's objects, SageMaker's output and volumes through the execution role, the function's
# environment) uses the key through IAM (the first statement).
data "aws_iam_policy_document" "kms" {
  count = var.kms_key_arn == null ? 1 : 0

  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"] # AWS's default key policy: lets IAM policies of this account grant the key; no narrower form keeps the key manageable
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchLogsEncryptsTheLogGroups"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logs.${local.region}.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "kms:EncryptionContext:aws:logs:arn"
      values   = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:*"]
    }
  }

  statement {
    sid       = "EventBridgeUsesTheEncryptedQueue"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---- the artefact bucket -----------------------------------------------------------------------------------------
# SageMaker source bundles and model outputs (this module); the Glue script, the library's wheel and the Glue job's
# temporary files (the processing module). Private, KMS, versioned, TLS only.
resource "aws_s3_bucket" "artefacts" {
  #checkov:skip=CKV_AWS_144:Everything here is rebuilt from the repository (make package) or retrained weekly from the lake; a cross-region copy would protect nothing that cannot be recreated
  #checkov:skip=CKV2_AWS_62:Nothing reacts to objects landing here: the state machine and the Glue job are told where their inputs and outputs are
  bucket = local.bucket_name
  tags   = var.tags
}

resource "aws_s3_bucket_ownership_controls" "artefacts" {
  bucket = aws_s3_bucket.artefacts.bucket

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "artefacts" {
  bucket                  = aws_s3_bucket.artefacts.bucket
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artefacts" {
  bucket = aws_s3_bucket.artefacts.bucket

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_versioning" "artefacts" {
  bucket = aws_s3_bucket.artefacts.bucket

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "artefacts" {
  bucket = aws_s3_bucket.artefacts.bucket

  rule {
    id     = "old-versions-and-uploads"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_expiration_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # The Glue job's temporary files outlive no run.
  rule {
    id     = "glue-temporary-files"
    status = "Enabled"

    filter {
      prefix = local.glue_temp_base
    }

    expiration {
      days = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.artefacts]
}

resource "aws_s3_bucket_logging" "artefacts" {
  count = var.access_log_bucket != null ? 1 : 0

  bucket        = aws_s3_bucket.artefacts.bucket
  target_bucket = var.access_log_bucket
  target_prefix = "${local.bucket_name}/"
}

data "aws_iam_policy_document" "artefacts" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # every S3 action: a rule that refuses plain HTTP has no narrower form
    resources = [aws_s3_bucket.artefacts.arn, "${aws_s3_bucket.artefacts.arn}/*"]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "artefacts" {
  bucket = aws_s3_bucket.artefacts.bucket
  policy = data.aws_iam_policy_document.artefacts.json

  depends_on = [aws_s3_bucket_public_access_block.artefacts]
}

# The SageMaker source bundle (build/sagemaker-sourcedir.tar.gz), keyed by its hash: a new bundle is a new object,
# and the state machine's definition names it.
resource "aws_s3_object" "source_bundle" {
  bucket                 = aws_s3_bucket.artefacts.bucket
  key                    = local.source_key
  source                 = var.sagemaker_source_bundle
  source_hash            = var.sagemaker_source_bundle_sha256
  content_type           = "application/gzip"
  server_side_encryption = "aws:kms"
  kms_key_id             = local.kms_key_arn
  tags                   = var.tags

  depends_on = [aws_s3_bucket_server_side_encryption_configuration.artefacts, aws_s3_bucket_policy.artefacts]
}

# ---- dead letters ------------------------------------------------------------------------------------------------
# Detect runs that failed after Lambda's retries (a refused incident delivery included), and events EventBridge could
# not deliver to the function or the state machine. The next hourly run scores what is new and offers again the
# incidents not yet delivered, so nothing needs replaying; the queue says what failed.
resource "aws_sqs_queue" "dead_letters" {
  name                              = "${var.name_prefix}-ml-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

data "aws_iam_policy_document" "dead_letters" {
  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.dead_letter_rules
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.dead_letters.arn]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_sqs_queue_policy" "dead_letters" {
  queue_url = aws_sqs_queue.dead_letters.id
  policy    = data.aws_iam_policy_document.dead_letters.json
}

# ---- training ----------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "sagemaker_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["sagemaker.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "sagemaker" {
  name               = "${var.name_prefix}-sagemaker-training"
  description        = "SageMaker execution role of the egress detector's training jobs: the source bundle, egress_hourly, the model output"
  assume_role_policy = data.aws_iam_policy_document.sagemaker_trust.json
  tags               = var.tags
}

# What a script-mode training job does as its execution role (CreateTrainingJob's documented execution-role
# permissions), narrowed to this job's inputs and outputs.
data "aws_iam_policy_document" "sagemaker" {
  statement {
    sid       = "SourceBundle"
    actions   = ["s3:GetObject"]
    resources = ["${aws_s3_bucket.artefacts.arn}/${local.source_key}"]
  }

  statement {
    sid       = "ListTrainingData"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${local.lake_bucket}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.lake_base}egress_hourly", "${local.lake_base}egress_hourly/*"]
    }
  }

  statement {
    sid       = "ReadTrainingData"
    actions   = ["s3:GetObject"]
    resources = ["arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_base}egress_hourly/*"]
  }

  statement {
    sid       = "ListModelOutput"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.artefacts.arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.models_prefix}*"]
    }
  }

  statement {
    sid       = "WriteModelOutput"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.artefacts.arn}/${local.models_prefix}*"]
  }

  statement {
    sid     = "TrainingLogs"
    actions = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"]
    resources = [
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/TrainingJobs",
      "arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws/sagemaker/TrainingJobs:*",
    ]
  }

  statement {
    sid     = "TrainingMetrics"
    actions = ["cloudwatch:PutMetricData"]
    # PutMetricData takes no resource: "*" is the only form IAM accepts; the condition keeps it to SageMaker's.
    resources = ["*"]

    condition {
      test     = "StringLike"
      variable = "cloudwatch:namespace"
      values   = ["/aws/sagemaker/*"]
    }
  }

  statement {
    sid     = "RegistryLogin"
    actions = ["ecr:GetAuthorizationToken"]
    # GetAuthorizationToken is account-wide: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "FrameworkImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [local.training_repository]
  }

  # The lake's key: training reads egress_hourly.
  statement {
    sid       = "TrainingDataKey"
    actions   = ["kms:Decrypt"]
    resources = local.data_keys
  }

  statement {
    sid       = "OutputAndVolumeKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [local.kms_key_arn]
  }

  # The training instance's EBS volume is encrypted with the key through a grant for it.
  statement {
    sid       = "VolumeKeyGrant"
    actions   = ["kms:CreateGrant"]
    resources = [local.kms_key_arn]

    condition {
      test     = "Bool"
      variable = "kms:GrantIsForAWSResource"
      values   = ["true"]
    }
  }
}

resource "aws_iam_role_policy" "sagemaker" {
  name   = "training"
  role   = aws_iam_role.sagemaker.name
  policy = data.aws_iam_policy_document.sagemaker.json
}

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${local.machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "states_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = local.machine_name
  description        = "The detector's training state machine: SageMaker training jobs, run to completion, and the Model Trained event"
  assume_role_policy = data.aws_iam_policy_document.states_trust.json
  tags               = var.tags
}

# The sagemaker:createTrainingJob.sync integration's documented policy, narrowed to this machine's jobs; and the
# events:putEvents integration's, on the model bus only.
data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "TrainingJobs"
    actions   = ["sagemaker:CreateTrainingJob", "sagemaker:DescribeTrainingJob", "sagemaker:StopTrainingJob", "sagemaker:AddTags"]
    resources = ["arn:${local.partition}:sagemaker:${local.region}:${local.account_id}:training-job/${local.training_job_prefix}-*"]
  }

  # .sync waits on the rule Step Functions manages for SageMaker training jobs.
  statement {
    sid       = "SyncRule"
    actions   = ["events:PutTargets", "events:PutRule", "events:DescribeRule"]
    resources = ["arn:${local.partition}:events:${local.region}:${local.account_id}:rule/StepFunctionsGetEventsForSageMakerTrainingJobsRule"]
  }

  statement {
    sid       = "AnnounceModel"
    actions   = ["events:PutEvents"]
    resources = [local.model_bus_arn]
  }

  statement {
    sid       = "PassExecutionRole"
    actions   = ["iam:PassRole"]
    resources = [aws_iam_role.sagemaker.arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["sagemaker.amazonaws.com"]
    }
  }

  statement {
    sid     = "LogDelivery"
    actions = ["logs:CreateLogDelivery", "logs:GetLogDelivery", "logs:UpdateLogDelivery", "logs:DeleteLogDelivery", "logs:ListLogDeliveries", "logs:PutResourcePolicy", "logs:DescribeResourcePolicies", "logs:DescribeLogGroups"]
    # CloudWatch Logs' vended-log delivery APIs take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    # X-Ray's trace and sampling APIs take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "state_machine" {
  name   = "state-machine"
  role   = aws_iam_role.state_machine.name
  policy = data.aws_iam_policy_document.state_machine.json
}

resource "aws_sfn_state_machine" "training" {
  name       = local.machine_name
  role_arn   = aws_iam_role.state_machine.arn
  type       = "STANDARD"
  definition = local.definition

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.state_machine.arn}:*"
    include_execution_data = true
    level                  = var.state_machine_log_level
  }

  tracing_configuration {
    enabled = true
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.state_machine]
}

# Weekly training: EventBridge starts an execution (its name, a UUID, names the training job).
resource "aws_cloudwatch_event_rule" "training_schedule" {
  name                = "${var.name_prefix}-detector-training"
  description         = "Trains the egress detector on SageMaker"
  schedule_expression = var.training_schedule_expression
  tags                = var.tags
}

data "aws_iam_policy_document" "events_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "training_schedule" {
  name               = "${var.name_prefix}-detector-training-schedule"
  description        = "EventBridge starts the detector's training state machine"
  assume_role_policy = data.aws_iam_policy_document.events_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "training_schedule" {
  statement {
    sid       = "StartTraining"
    actions   = ["states:StartExecution"]
    resources = [aws_sfn_state_machine.training.arn]
  }
}

resource "aws_iam_role_policy" "training_schedule" {
  name   = "start-training"
  role   = aws_iam_role.training_schedule.name
  policy = data.aws_iam_policy_document.training_schedule.json
}

resource "aws_cloudwatch_event_target" "training_schedule" {
  rule      = aws_cloudwatch_event_rule.training_schedule.name
  target_id = "training"
  arn       = aws_sfn_state_machine.training.arn
  role_arn  = aws_iam_role.training_schedule.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 20
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

# ---- the detect function's image repository ----------------------------------------------------------------------
resource "aws_ecr_repository" "detect" {
  name                 = local.function_name
  image_tag_mutability = "IMMUTABLE"

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = local.kms_key_arn
  }

  tags = var.tags
}

# Lambda pulls the image for this function only.
data "aws_iam_policy_document" "repository" {
  statement {
    sid     = "LambdaPullsTheFunctionsImage"
    actions = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "aws:sourceArn"
      values = [
        "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}",
        "arn:${local.partition}:lambda:${local.region}:${local.account_id}:function:${local.function_name}:*",
      ]
    }
  }
}

resource "aws_ecr_repository_policy" "detect" {
  repository = aws_ecr_repository.detect.name
  policy     = data.aws_iam_policy_document.repository.json
}

resource "aws_ecr_lifecycle_policy" "detect" {
  repository = aws_ecr_repository.detect.name
  policy = jsonencode({
    rules = [
      {
        rulePriority = 1
        description  = "Untagged images (superseded pushes) after 14 days"
        selection    = { tagStatus = "untagged", countType = "sinceImagePushed", countUnit = "days", countNumber = 14 }
        action       = { type = "expire" }
      },
      {
        rulePriority = 2
        description  = "Keep the newest ${var.image_keep_count} images"
        selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.image_keep_count }
        action       = { type = "expire" }
      },
    ]
  })
}

# ---- the detect function -----------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "detect" {
  name              = "/aws/lambda/${local.function_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "lambda_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "detect" {
  name               = local.function_name
  description        = "Egress detect: the lake (features, model store, anomalies, incidents), trained models in, incidents onto the bus"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

# What lambdas/detect/handler.py, stages.detect, stages.deliver_incidents and stages.install_model call.
data "aws_iam_policy_document" "detect" {
  source_policy_documents = length(var.subnet_ids) > 0 ? [data.aws_iam_policy_document.vpc[0].json] : []

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.detect.arn}:*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    # X-Ray's trace and sampling APIs take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "DeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.dead_letters.arn]
  }

  # The module's key (dead-letter queue, environment, the trained models SageMaker encrypted with it) and the lake's.
  statement {
    sid       = "DataKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.data_keys
  }

  # notify.eventbridge.put_incidents: each new incident onto the incident bus.
  statement {
    sid       = "Incidents"
    actions   = ["events:PutEvents"]
    resources = [local.incident_bus_arn]
  }

  statement {
    sid       = "ListLake"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${local.lake_bucket}"]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.lake_listing
    }
  }

  # pyarrow's create_dir (before every lake write: Lake._write_atomic) asks HeadBucket, which IAM authorises as
  # s3:ListBucket without an s3:prefix: no prefix condition can allow it, so it is allowed when no prefix is given.
  statement {
    sid       = "HeadLakeBucket"
    actions   = ["s3:ListBucket"]
    resources = ["arn:${local.partition}:s3:::${local.lake_bucket}"]

    condition {
      test     = "Null"
      variable = "s3:prefix"
      values   = ["true"]
    }
  }

  # stages.install_model: a training job's model.tar.gz, read from the model output path only (the prefix the
  # function's MODEL_ARTIFACTS_PREFIX allows; nothing else of the artefact bucket).
  statement {
    sid       = "ReadTrainedModels"
    actions   = ["s3:GetObject"]
    resources = [local.model_output_objects]
  }

  # egress_hourly and the model store read; anomalies, incidents and the run state rewritten hour by hour.
  statement {
    sid       = "WriteLake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.lake_objects]
  }
}

resource "aws_iam_role_policy" "detect" {
  name   = "detect"
  role   = aws_iam_role.detect.name
  policy = data.aws_iam_policy_document.detect.json
}

# Functions in a VPC: the network interfaces Lambda manages (its own document: checkov reads no dynamic statements).
data "aws_iam_policy_document" "vpc" {
  count = length(var.subnet_ids) > 0 ? 1 : 0

  statement {
    sid     = "VpcNetworkInterfaces"
    actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    # AWSLambdaVPCAccessExecutionRole's actions, narrowed to this account and region: Lambda creates the interfaces
    # (ids not known here) in the function's subnets and security groups.
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:*"]
  }

  statement {
    sid     = "DescribeNetworkInterfaces"
    actions = ["ec2:DescribeNetworkInterfaces"]
    # EC2's Describe calls take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

resource "aws_lambda_function" "detect" {
  #checkov:skip=CKV_AWS_272:Lambda code signing applies to zip packages only, not to container images; the image is pinned by an immutable tag or digest in an encrypted, scanned repository
  function_name = local.function_name
  description   = "Egress detect: score the new hours, write anomalies and incidents, put new incidents on the bus; install trained models (lambdas/detect)"
  role          = aws_iam_role.detect.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.lambda_architecture]
  timeout       = var.timeout
  memory_size   = var.memory_size
  # One run at a time: the schedule, "Features Updated" and the Glue job's success may fire together, and each run
  # rewrites the scored hours' anomalies and incidents and the run state in the lake; a concurrent trigger is
  # throttled and retried by Lambda, and then finds nothing new or only what arrived since. "Model Trained" moves
  # latest.json, so it too never lands in the middle of a scoring run.
  reserved_concurrent_executions = 1
  kms_key_arn                    = local.kms_key_arn

  # The image's CMD too (build/images/detect/Dockerfile); named here so the plan shows the entry point.
  image_config {
    command = ["handler.handler"]
  }

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.dead_letters.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.detect.name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.detect, aws_cloudwatch_log_group.detect, aws_ecr_repository_policy.detect]
}

# Lambda's own retries of a failed run (a refused incident delivery fails the run on purpose), then the dead-letter
# queue; an hour-old trigger is superseded by the schedule.
resource "aws_lambda_function_event_invoke_config" "detect" {
  function_name                = aws_lambda_function.detect.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

# ---- what runs it ------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_event_rule" "detect_schedule" {
  name                = "${var.name_prefix}-detect-schedule"
  description         = "Runs the detect function: score the hours that arrived since the last run"
  schedule_expression = var.detect_schedule_expression
  tags                = var.tags
}

# The process function's "Features Updated" (egress_optimizer.processing.announce_features), on the processing bus.
resource "aws_cloudwatch_event_rule" "features_updated" {
  count = var.processing_event_bus_name != null ? 1 : 0

  name           = "${var.name_prefix}-detect-features-updated"
  description    = "New features from the process function: run the detect function"
  event_bus_name = var.processing_event_bus_name
  event_pattern = jsonencode({
    source        = ["egress.optimizer"]
    "detail-type" = ["Features Updated"]
  })
  tags = var.tags
}

# The Glue attribution job's successful runs (AWS services' events are on the default bus only).
resource "aws_cloudwatch_event_rule" "glue_succeeded" {
  count = var.glue_job_name != null ? 1 : 0

  name        = "${var.name_prefix}-detect-glue-succeeded"
  description = "The Glue attribution job wrote new features: run the detect function"
  event_pattern = jsonencode({
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = [var.glue_job_name]
      state   = ["SUCCEEDED"]
    }
  })
  tags = var.tags
}

# The training state machine's "Model Trained", on the model bus: the detect function installs the new model.
resource "aws_cloudwatch_event_rule" "model_trained" {
  name           = "${var.name_prefix}-detect-model-trained"
  description    = "A training job wrote a model: the detect function installs it into the lake's model store"
  event_bus_name = local.model_bus_name
  event_pattern = jsonencode({
    source        = [local.model_event_source]
    "detail-type" = [local.model_event_detail_type]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "detect_schedule" {
  rule      = aws_cloudwatch_event_rule.detect_schedule.name
  target_id = "detect"
  arn       = aws_lambda_function.detect.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_cloudwatch_event_target" "features_updated" {
  count = var.processing_event_bus_name != null ? 1 : 0

  rule           = aws_cloudwatch_event_rule.features_updated[0].name
  event_bus_name = var.processing_event_bus_name
  target_id      = "detect"
  arn            = aws_lambda_function.detect.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_cloudwatch_event_target" "glue_succeeded" {
  count = var.glue_job_name != null ? 1 : 0

  rule      = aws_cloudwatch_event_rule.glue_succeeded[0].name
  target_id = "detect"
  arn       = aws_lambda_function.detect.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

# A day of retries: the week's model is not superseded by the next event the way an hourly trigger is.
resource "aws_cloudwatch_event_target" "model_trained" {
  rule           = aws_cloudwatch_event_rule.model_trained.name
  event_bus_name = local.model_bus_name
  target_id      = "detect"
  arn            = aws_lambda_function.detect.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 20
  }

  dead_letter_config {
    arn = aws_sqs_queue.dead_letters.arn
  }
}

resource "aws_lambda_permission" "detect_schedule" {
  statement_id  = "AllowScheduleRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.detect.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.detect_schedule.arn
}

resource "aws_lambda_permission" "features_updated" {
  count = var.processing_event_bus_name != null ? 1 : 0

  statement_id  = "AllowFeaturesUpdatedRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.detect.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.features_updated[0].arn
}

resource "aws_lambda_permission" "glue_succeeded" {
  count = var.glue_job_name != null ? 1 : 0

  statement_id  = "AllowGlueSucceededRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.detect.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.glue_succeeded[0].arn
}

resource "aws_lambda_permission" "model_trained" {
  statement_id  = "AllowModelTrainedRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.detect.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.model_trained.arn
}

# ---- alarms ------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "dead_letters_depth" {
  alarm_name          = "${var.name_prefix}-ml-dlq-depth"
  alarm_description   = "A detect run failed after its retries (incidents refused by EventBridge included), or an event could not reach the detect function or the training state machine: see ${aws_sqs_queue.dead_letters.name} and the logs."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.dead_letters.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name_prefix}-detect-errors"
  alarm_description   = "The detect function failed a run (no model yet, a refused incident delivery, a trained model it refused to install, a timeout): Lambda retries twice, then ${aws_sqs_queue.dead_letters.name}."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.detect.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "training_failed" {
  for_each = {
    "failed"    = "ExecutionsFailed"
    "timed-out" = "ExecutionsTimedOut"
  }

  alarm_name          = "${var.name_prefix}-detector-training-${each.key}"
  alarm_description   = "A training run of the egress detector ${each.key == "failed" ? "failed (its training job's FailureReason, or the refused Model Trained put, is in the execution's history)" : "ran past its timeout"}."
  namespace           = "AWS/States"
  metric_name         = each.value
  dimensions          = { StateMachineArn = aws_sfn_state_machine.training.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
