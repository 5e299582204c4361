# Processing: the process Lambda (lambdas/process/handler.py, a container image: with pyarrow, duckdb, numpy and
# pandas it exceeds the 250 MB a zip and its layers may hold) on an hourly schedule, which attributes and featurises
# a small backlog itself and puts "Features Updated" on the bus, or starts the Glue job (glue_jobs/attribute.py) for
# a large one; the Glue job with its security configuration and role; the bus; a dead-letter queue for failed runs
# and failed Glue runs; the image repository; and alarms. The rules that trigger detection ("Features Updated" on
# the bus, the Glue job's SUCCEEDED) belong to the ml module, which owns the detect function.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn   = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn
  function_name = "${var.name_prefix}-process"
  glue_job_name = "${var.name_prefix}-attribute"

  create_bus     = var.event_bus_name == null
  event_bus_name = local.create_bus ? aws_cloudwatch_event_bus.this[0].name : var.event_bus_name
  event_bus_arn  = local.create_bus ? aws_cloudwatch_event_bus.this[0].arn : "arn:${local.partition}:events:${local.region}:${local.account_id}:event-bus/${var.event_bus_name}"

  # Everything lambdas/process/handler.py and the library modules it calls read, but the attribution inputs'
  # EGRESS_* paths (tests/test_infra_wiring.py checks it). Those stay unset on purpose: the Glue job runs the same
  # stage and cannot be given them, and different inputs would give the two runners different attribution
  # fingerprints, each rebuilding the other's work. POWERTOOLS_SERVICE_NAME is the image's (only Powertools reads it).
  environment = {
    LAKE_URI                     = var.lake_uri
    GLUE_JOB_NAME                = aws_glue_job.attribute.name
    EVENT_BUS_NAME               = local.event_bus_name
    LAMBDA_MAX_PENDING_BYTES     = tostring(var.lambda_max_pending_bytes)
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
  }

  # The lake: s3://bucket[/prefix].
  lake_bucket  = regex("^s3://([^/]+)", var.lake_uri)[0]
  lake_prefix  = trim(replace(var.lake_uri, "/^s3://[^/]+/?/", ""), "/")
  lake_objects = local.lake_prefix == "" ? "arn:${local.partition}:s3:::${local.lake_bucket}/*" : "arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_prefix}/*"
  lake_listing = local.lake_prefix == "" ? ["*"] : [local.lake_prefix, "${local.lake_prefix}/*"]

  # What is uploaded to the artefact bucket, keyed by content: a new script or wheel is a new object.
  artefact_base = trim(var.artefact_prefix, "/") == "" ? "" : "${trim(var.artefact_prefix, "/")}/"
  script_key    = "${local.artefact_base}glue/${var.glue_script_sha256}/${basename(var.glue_script)}"
  wheel_key     = "${local.artefact_base}wheels/${var.library_wheel_sha256}/${basename(var.library_wheel)}"
  temp_prefix   = "${local.artefact_base}glue-temp/${local.glue_job_name}/"
  artefact_arn  = "arn:${local.partition}:s3:::${var.artefact_bucket}"

  glue_log_group = "/aws-glue/jobs/${local.glue_job_name}"

  # Keys: listed in always-present statements (never behind a count: a key created in the same run is unknown at
  # plan time), the module's own keeping each list non-empty.
  data_keys     = compact(distinct([local.kms_key_arn, var.lake_kms_key_arn]))
  artefact_keys = compact(distinct([local.kms_key_arn, var.artefact_kms_key_arn]))
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} processing: dead-letter queue, image repository, function environment, logs, Glue security configuration"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-processing"
  target_key_id = aws_kms_key.this[0].key_id
}

# EventBridge sends undeliverable and failed-run events to the encrypted dead-letter queue; CloudWatch Logs encrypts
# the function's and the Glue job's log groups; everything else (the Glue role's temporary files and bookmarks, the
# function's environment) uses the key through IAM (the first statement).
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

# ---- the bus -----------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_event_bus" "this" {
  count = local.create_bus ? 1 : 0

  name = "${var.name_prefix}-pipeline"
  tags = var.tags
}

# ---- failures ----------------------------------------------------------------------------------------------------
# Scheduled runs that failed after Lambda's retries (the function's dead-letter queue), schedule events EventBridge
# could not deliver, and the Glue job's failed runs (their "Glue Job State Change" events): inspect, fix, and let the
# next hourly run take the backlog (the journal keeps it; nothing needs replaying).
resource "aws_sqs_queue" "failures" {
  name                              = "${var.name_prefix}-processing-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

data "aws_iam_policy_document" "failures" {
  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.schedule.arn, aws_cloudwatch_event_rule.glue_failed.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.failures.arn]

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

resource "aws_sqs_queue_policy" "failures" {
  queue_url = aws_sqs_queue.failures.id
  policy    = data.aws_iam_policy_document.failures.json
}

# ---- the image repository ----------------------------------------------------------------------------------------
resource "aws_ecr_repository" "process" {
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

resource "aws_ecr_repository_policy" "process" {
  repository = aws_ecr_repository.process.name
  policy     = data.aws_iam_policy_document.repository.json
}

resource "aws_ecr_lifecycle_policy" "process" {
  repository = aws_ecr_repository.process.name
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

# ---- the Glue job ------------------------------------------------------------------------------------------------
resource "aws_s3_object" "glue_script" {
  bucket                 = var.artefact_bucket
  key                    = local.script_key
  source                 = var.glue_script
  source_hash            = var.glue_script_sha256
  content_type           = "text/x-python"
  server_side_encryption = var.artefact_kms_key_arn != null ? "aws:kms" : null
  kms_key_id             = var.artefact_kms_key_arn
  tags                   = var.tags
}

resource "aws_s3_object" "library_wheel" {
  bucket                 = var.artefact_bucket
  key                    = local.wheel_key
  source                 = var.library_wheel
  source_hash            = var.library_wheel_sha256
  content_type           = "application/zip"
  server_side_encryption = var.artefact_kms_key_arn != null ? "aws:kms" : null
  kms_key_id             = var.artefact_kms_key_arn
  tags                   = var.tags
}

# What Glue writes on the job's behalf is encrypted with the module's key: its S3 temporary files (EMRFS; the lake's
# files are written by pyarrow on the executors, under the lake bucket's own encryption), its CloudWatch logs and the
# (disabled) bookmarks.
resource "aws_glue_security_configuration" "this" {
  name = "${var.name_prefix}-processing"

  encryption_configuration {
    cloudwatch_encryption {
      cloudwatch_encryption_mode = "SSE-KMS"
      kms_key_arn                = local.kms_key_arn
    }

    job_bookmarks_encryption {
      job_bookmarks_encryption_mode = "CSE-KMS"
      kms_key_arn                   = local.kms_key_arn
    }

    s3_encryption {
      s3_encryption_mode = "SSE-KMS"
      kms_key_arn        = local.kms_key_arn
    }
  }
}

# The job's continuous log (driver and executors), with this module's retention and key.
resource "aws_cloudwatch_log_group" "glue" {
  name              = local.glue_log_group
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "glue_trust" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["glue.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

resource "aws_iam_role" "glue" {
  name               = "${var.name_prefix}-glue-attribute"
  description        = "Egress Glue attribution job: its script and wheel, its temporary files, the lake, its logs"
  assume_role_policy = data.aws_iam_policy_document.glue_trust.json
  tags               = var.tags
}

# What glue_jobs/attribute.py and stages.build_features on the Spark engine touch (Spark reads the lake's files with
# s3://, executors write them with pyarrow), and what Glue itself does as the job's role: fetch the script and the
# wheel, use the temporary directory, write logs and metrics encrypted with the security configuration's key.
data "aws_iam_policy_document" "glue" {
  statement {
    sid       = "ScriptAndWheel"
    actions   = ["s3:GetObject"]
    resources = ["${local.artefact_arn}/${local.script_key}", "${local.artefact_arn}/${local.wheel_key}"]
  }

  statement {
    sid       = "ListTemporaryDirectory"
    actions   = ["s3:ListBucket"]
    resources = [local.artefact_arn]

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = ["${local.temp_prefix}*"]
    }
  }

  statement {
    sid       = "TemporaryDirectory"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = ["${local.artefact_arn}/${local.temp_prefix}*"]
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

  # attributed, egress_hourly, cur_daily, tier_meter, first_seen and the journal: files replaced by id, hours rewritten.
  statement {
    sid       = "WriteLake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.lake_objects]
  }

  # Glue names the job's log groups under /aws-glue/ (with the security configuration's name when it encrypts them)
  # and associates the key with the ones it creates.
  statement {
    sid       = "GlueLogs"
    actions   = ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"]
    resources = ["arn:${local.partition}:logs:${local.region}:${local.account_id}:log-group:/aws-glue/*"]
  }

  statement {
    sid     = "GlueMetrics"
    actions = ["cloudwatch:PutMetricData"]
    # PutMetricData takes no resource: "*" is the only form IAM accepts; the condition keeps it to Glue's namespace.
    resources = ["*"]

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["Glue"]
    }
  }

  statement {
    sid       = "SecurityConfigurationKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }

  # The lake's key (read and write) and the artefact bucket's (read: the script and the wheel).
  statement {
    sid       = "LakeKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.data_keys
  }

  statement {
    sid       = "ArtefactKey"
    actions   = ["kms:Decrypt"]
    resources = local.artefact_keys
  }
}

resource "aws_iam_role_policy" "glue" {
  name   = "glue-attribute"
  role   = aws_iam_role.glue.name
  policy = data.aws_iam_policy_document.glue.json
}

resource "aws_glue_job" "attribute" {
  name                   = local.glue_job_name
  description            = "Egress attribution and features on Spark (glue_jobs/attribute.py): the backlogs too large for the process function"
  role_arn               = aws_iam_role.glue.arn
  glue_version           = var.glue_version
  worker_type            = var.glue_worker_type
  number_of_workers      = var.glue_number_of_workers
  timeout                = var.glue_timeout_minutes
  max_retries            = 0 # the next hourly run finds the backlog again (the journal keeps it)
  security_configuration = aws_glue_security_configuration.this.name

  # One writer on the lake: a second run would consume the same journal (the process function also waits for a run
  # in progress, and starting one while another runs is refused).
  execution_property {
    max_concurrent_runs = 1
  }

  command {
    name            = "glueetl"
    script_location = "s3://${var.artefact_bucket}/${aws_s3_object.glue_script.key}"
    python_version  = "3"
  }

  default_arguments = merge({
    "--job-language" = "python"
    # The library keeps its own journal of what each stage consumed (egress_optimizer.changes): Glue's bookmarks
    # would only hide files from it.
    "--job-bookmark-option"              = "job-bookmark-disable"
    "--additional-python-modules"        = "s3://${var.artefact_bucket}/${aws_s3_object.library_wheel.key}"
    "--LAKE_URI"                         = var.lake_uri
    "--TempDir"                          = "s3://${var.artefact_bucket}/${local.temp_prefix}"
    "--enable-continuous-cloudwatch-log" = "true"
    "--continuous-log-logGroup"          = aws_cloudwatch_log_group.glue.name
    "--enable-metrics"                   = "true"
  }, var.glue_extra_arguments)

  tags = var.tags

  depends_on = [aws_iam_role_policy.glue]
}

# ---- the function ------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "process" {
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

resource "aws_iam_role" "process" {
  name               = local.function_name
  description        = "Egress process: the lake, the Glue job's runs, Features Updated on the bus"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

# What lambdas/process/handler.py, stages.processing_backlog / build_features and egress_optimizer.processing call.
data "aws_iam_policy_document" "process" {
  source_policy_documents = length(var.subnet_ids) > 0 ? [data.aws_iam_policy_document.vpc[0].json] : []

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.process.arn}:*"]
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
    resources = [aws_sqs_queue.failures.arn]
  }

  # The module's key (dead-letter queue, environment) and the lake's.
  statement {
    sid       = "DataKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.data_keys
  }

  # processing.glue_job_running (get_job_runs) and start_glue_job (start_job_run), on this job only.
  statement {
    sid       = "GlueJobRuns"
    actions   = ["glue:GetJobRuns", "glue:StartJobRun"]
    resources = [aws_glue_job.attribute.arn]
  }

  # processing.announce_features: "Features Updated" on the bus.
  statement {
    sid       = "FeaturesUpdated"
    actions   = ["events:PutEvents"]
    resources = [local.event_bus_arn]
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

  statement {
    sid       = "WriteLake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.lake_objects]
  }
}

resource "aws_iam_role_policy" "process" {
  name   = "process"
  role   = aws_iam_role.process.name
  policy = data.aws_iam_policy_document.process.json
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

resource "aws_lambda_function" "process" {
  #checkov:skip=CKV_AWS_272:Lambda code signing applies to zip packages only, not to container images; the image is pinned by an immutable tag or digest in an encrypted, scanned repository
  function_name = local.function_name
  description   = "Egress process: attribute and featurise the backlog here, or start the Glue job (lambdas/process)"
  role          = aws_iam_role.process.arn
  package_type  = "Image"
  image_uri     = var.image_uri
  architectures = [var.lambda_architecture]
  timeout       = var.timeout
  memory_size   = var.memory_size
  # One run at a time, always (lambdas/process/handler.py): a run and the Glue job consume the same journal, and two
  # writers on one lake would race. A tick arriving during a run is throttled and retried by Lambda.
  reserved_concurrent_executions = 1
  kms_key_arn                    = local.kms_key_arn

  # The image's CMD too (build/images/process/Dockerfile); named here so the plan shows the entry point.
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
    target_arn = aws_sqs_queue.failures.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.process.name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.process, aws_cloudwatch_log_group.process, aws_ecr_repository_policy.process]
}

# Lambda's own retries of a scheduled run, then the dead-letter queue; a tick older than an hour is superseded by
# the next one.
resource "aws_lambda_function_event_invoke_config" "process" {
  function_name                = aws_lambda_function.process.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 3600
}

# ---- what runs it ------------------------------------------------------------------------------------------------
# The ingest function puts no events (lambdas/ingest/handler.py): processing runs on this schedule only.
resource "aws_cloudwatch_event_rule" "schedule" {
  name                = "${var.name_prefix}-process-schedule"
  description         = "Runs the process function: attribute and featurise what arrived since the last run"
  schedule_expression = var.schedule_expression
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "schedule" {
  rule      = aws_cloudwatch_event_rule.schedule.name
  target_id = "process"
  arn       = aws_lambda_function.process.arn

  retry_policy {
    maximum_event_age_in_seconds = 3600
    maximum_retry_attempts       = 10
  }

  dead_letter_config {
    arn = aws_sqs_queue.failures.arn
  }
}

resource "aws_lambda_permission" "schedule" {
  statement_id  = "AllowScheduleRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.process.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule.arn
}

# The job's failed runs go to the dead-letter queue (alarmed); its SUCCEEDED runs trigger detection (the ml module's
# rule). AWS services' events are on the default bus only.
resource "aws_cloudwatch_event_rule" "glue_failed" {
  name        = "${var.name_prefix}-attribute-failed"
  description = "A run of the Glue attribution job failed: its event to the processing dead-letter queue"
  event_pattern = jsonencode({
    source        = ["aws.glue"]
    "detail-type" = ["Glue Job State Change"]
    detail = {
      jobName = [aws_glue_job.attribute.name]
      state   = ["FAILED", "TIMEOUT", "ERROR"]
    }
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "glue_failed" {
  rule      = aws_cloudwatch_event_rule.glue_failed.name
  target_id = "processing-dlq"
  arn       = aws_sqs_queue.failures.arn
}

# ---- alarms ------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "failures_depth" {
  alarm_name          = "${var.name_prefix}-processing-dlq-depth"
  alarm_description   = "A processing run or a Glue attribution run failed: see ${aws_sqs_queue.failures.name} and the logs; the next hourly run takes the backlog once the cause is fixed."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.failures.name }
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
  alarm_name          = "${var.name_prefix}-process-errors"
  alarm_description   = "The process function failed a run (Lambda retries twice, then ${aws_sqs_queue.failures.name})."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.process.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
