# Ingestion: "object created" events of the buckets the logs land in (through EventBridge, or S3 notifications) onto
# a queue (with its dead-letter queue), the ingest Lambda consuming it (lambdas/ingest/handler.py, a container image:
# with pyarrow, duckdb, numpy and pandas it exceeds the 250 MB a zip and its layers may hold) that parses each
# announced object into the lake and registers the partitions it wrote in Glue, the idempotency table that makes a
# redelivered notification a no-op, the image repository, and alarms.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn   = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn
  function_name = "${var.name_prefix}-ingest"

  # Everything lambdas/ingest/handler.py and the library modules it calls read (tests/test_infra_wiring.py checks
  # it). POWERTOOLS_SERVICE_NAME is the image's (build/images/ingest/Dockerfile): only Powertools reads it.
  environment = {
    LAKE_URI                     = var.lake_uri
    IDEMPOTENCY_TABLE            = aws_dynamodb_table.idempotency.name
    GLUE_DATABASE                = var.glue_database
    IDEMPOTENCY_EXPIRES_SECONDS  = tostring(var.idempotency_expires_seconds)
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
  }

  # At least six times the function's timeout (AWS's advice for SQS event sources: retries within one batch window).
  visibility_timeout = 6 * var.timeout

  # The sources' objects: the prefixes' keys, read one by one (a HEAD, then ranged GETs); pyarrow lists `<key>/` when
  # a HEAD finds nothing, so listing is allowed under the same prefixes (every source's, on every source bucket).
  source_buckets = distinct([for s in values(var.sources) : "arn:${local.partition}:s3:::${s.bucket}"])
  source_objects = distinct(flatten([for s in values(var.sources) : [for p in s.prefixes : "arn:${local.partition}:s3:::${s.bucket}/${p}*"]]))
  source_listing = distinct(flatten([for s in values(var.sources) : [for p in s.prefixes : "${p}*"]]))

  # Keys: listed in always-present statements (never behind a count: a key created in the same run is unknown at
  # plan time), the module's own keeping each list non-empty. Sources' keys are only decrypted with.
  data_keys   = compact(distinct([local.kms_key_arn, var.lake_kms_key_arn]))
  source_keys = compact(distinct(concat([local.kms_key_arn], [for s in values(var.sources) : s.kms_key_arn])))

  # EventBridge: each source's "Object Created" events under its prefixes (no key filter for a whole bucket).
  eventbridge = var.notifications == "eventbridge"
  object_filters = { for k, s in var.sources :
    k => contains(s.prefixes, "") ? "{}" : jsonencode({ object = { key = [for p in s.prefixes : { prefix = p }] } })
  }

  # The lake: s3://bucket[/prefix].
  lake_bucket  = regex("^s3://([^/]+)", var.lake_uri)[0]
  lake_prefix  = trim(replace(var.lake_uri, "/^s3://[^/]+/?/", ""), "/")
  lake_objects = local.lake_prefix == "" ? "arn:${local.partition}:s3:::${local.lake_bucket}/*" : "arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_prefix}/*"
  lake_listing = local.lake_prefix == "" ? ["*"] : [local.lake_prefix, "${local.lake_prefix}/*"]

  # Glue Data Catalog resources of GLUE_DATABASE: its catalog, the database and its tables (partitions are
  # authorised on their table).
  glue_resources = [
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:catalog",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:database/${var.glue_database}",
    "arn:${local.partition}:glue:${local.region}:${local.account_id}:table/${var.glue_database}/*",
  ]
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} ingestion: queues, idempotency table, image repository, function environment, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-ingestion"
  target_key_id = aws_kms_key.this[0].key_id
}

# EventBridge or S3 encrypts what it sends to the queues with this key (an AWS-managed SQS key would let neither);
# CloudWatch Logs encrypts the log group; everything else uses the key through IAM (the first statement).
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
    sid       = "CloudWatchLogsEncryptsTheLogGroup"
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
    sid       = "EventsToTheEncryptedQueues"
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

  statement {
    sid       = "S3NotificationsToTheEncryptedQueue"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.source_buckets
    }
  }
}

# ---- the objects queue -------------------------------------------------------------------------------------------
# One message per event or S3 notification (each names the objects created); the function reports the ones it failed.
resource "aws_sqs_queue" "objects" {
  name                              = "${var.name_prefix}-ingest-objects"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  visibility_timeout_seconds        = local.visibility_timeout
  message_retention_seconds         = 345600
  tags                              = var.tags
}

resource "aws_sqs_queue" "objects_dlq" {
  name                              = "${var.name_prefix}-ingest-objects-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

# Its own resource so the redrive is visible in the plan at once (sentinel/lambda-failure-handling-and-concurrency).
resource "aws_sqs_queue_redrive_policy" "objects" {
  queue_url = aws_sqs_queue.objects.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.objects_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "objects_dlq" {
  queue_url = aws_sqs_queue.objects_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.objects.arn]
  })
}

# Who may send: this module's rules (notifications = "eventbridge") or the source buckets ("s3"), each its own
# document (checkov reads no dynamic statements).
data "aws_iam_policy_document" "objects_queue_rules" {
  count = local.eventbridge ? 1 : 0

  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.objects.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for r in aws_cloudwatch_event_rule.objects : r.arn]
    }
  }
}

data "aws_iam_policy_document" "objects_queue_buckets" {
  count = local.eventbridge ? 0 : 1

  statement {
    sid       = "S3Notifications"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.objects.arn]

    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.source_buckets
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

data "aws_iam_policy_document" "objects_queue" {
  source_policy_documents = concat(
    [for d in data.aws_iam_policy_document.objects_queue_rules : d.json],
    [for d in data.aws_iam_policy_document.objects_queue_buckets : d.json],
  )

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.objects.arn]

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

resource "aws_sqs_queue_policy" "objects" {
  queue_url = aws_sqs_queue.objects.id
  policy    = data.aws_iam_policy_document.objects_queue.json
}

# Events the rules could not deliver to the queue land here too.
data "aws_iam_policy_document" "objects_dlq_rules" {
  count = local.eventbridge ? 1 : 0

  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.objects_dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [for r in aws_cloudwatch_event_rule.objects : r.arn]
    }
  }
}

data "aws_iam_policy_document" "objects_dlq" {
  source_policy_documents = [for d in data.aws_iam_policy_document.objects_dlq_rules : d.json]

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.objects_dlq.arn]

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

resource "aws_sqs_queue_policy" "objects_dlq" {
  queue_url = aws_sqs_queue.objects_dlq.id
  policy    = data.aws_iam_policy_document.objects_dlq.json
}

# ---- what puts notifications on the queue ------------------------------------------------------------------------
# notifications = "eventbridge": a rule per source on the default bus (S3 sends its buckets' events there once their
# notification configuration turns EventBridge on).
resource "aws_cloudwatch_event_rule" "objects" {
  for_each = local.eventbridge ? var.sources : {}

  name        = "${var.name_prefix}-ingest-${each.key}"
  description = "New objects of source ${each.key} to the ingest queue"
  event_pattern = jsonencode({
    source        = ["aws.s3"]
    "detail-type" = ["Object Created"]
    detail        = merge({ bucket = { name = [each.value.bucket] } }, jsondecode(local.object_filters[each.key]))
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "objects" {
  for_each = aws_cloudwatch_event_rule.objects

  rule      = each.value.name
  target_id = "ingest-queue"
  arn       = aws_sqs_queue.objects.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.objects_dlq.arn
  }
}

# manage_bucket_notifications: each source bucket's notification configuration, EventBridge on or the queue per prefix.
# A bucket has one configuration: this replaces whatever else set it (see README). S3 sends a test event when a queue
# is configured, which the handler acknowledges.
resource "aws_s3_bucket_notification" "sources" {
  for_each = var.manage_bucket_notifications ? var.sources : {}

  bucket      = each.value.bucket
  eventbridge = local.eventbridge

  dynamic "queue" {
    for_each = local.eventbridge ? [] : toset(each.value.prefixes)
    content {
      id            = "egress-ingest-${substr(sha256(queue.value), 0, 12)}"
      queue_arn     = aws_sqs_queue.objects.arn
      events        = ["s3:ObjectCreated:*"]
      filter_prefix = queue.value == "" ? null : queue.value
    }
  }

  depends_on = [aws_sqs_queue_policy.objects]
}

# ---- the idempotency table ---------------------------------------------------------------------------------------
# Powertools' DynamoDB persistence layer: partition key `id` (the function's name and a hash of the object's
# bucket, key and ETag), `expiration` its TTL attribute (IDEMPOTENCY_EXPIRES_SECONDS), `in_progress_expiration`,
# `status` and `data` written alongside.
resource "aws_dynamodb_table" "idempotency" {
  name                        = "${var.name_prefix}-ingest-idempotency"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "id"
    type = "S"
  }

  ttl {
    attribute_name = "expiration"
    enabled        = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = local.kms_key_arn
  }

  point_in_time_recovery {
    enabled = true
  }

  tags = var.tags
}

# ---- the image repository ----------------------------------------------------------------------------------------
resource "aws_ecr_repository" "ingest" {
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

# Lambda pulls the image for this function only (Lambda would otherwise add such a statement itself when the
# function is created, given the caller may set the repository's policy).
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

resource "aws_ecr_repository_policy" "ingest" {
  repository = aws_ecr_repository.ingest.name
  policy     = data.aws_iam_policy_document.repository.json
}

resource "aws_ecr_lifecycle_policy" "ingest" {
  repository = aws_ecr_repository.ingest.name
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

# ---- the function ------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "ingest" {
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

resource "aws_iam_role" "ingest" {
  name               = local.function_name
  description        = "Egress ingest: the objects queue, the logs, the lake, the idempotency table, Glue registration"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

# What lambdas/ingest/handler.py and egress_optimizer.stages.ingest_announced call (Powertools' batch processor and
# idempotency layer, pyarrow's S3 filesystem for the log object and the lake).
data "aws_iam_policy_document" "ingest" {
  source_policy_documents = length(var.subnet_ids) > 0 ? [data.aws_iam_policy_document.vpc[0].json] : []

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.ingest.arn}:*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    # X-Ray's trace and sampling APIs take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "ObjectsQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.objects.arn]
  }

  # Powertools' DynamoDBPersistenceLayer: get_item, put_item (conditional), update_item, delete_item.
  statement {
    sid       = "IdempotencyRecords"
    actions   = ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.idempotency.arn]
  }

  statement {
    sid       = "ListSourcePrefixes"
    actions   = ["s3:ListBucket"]
    resources = local.source_buckets

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = local.source_listing
    }
  }

  statement {
    sid       = "ReadSourceObjects"
    actions   = ["s3:GetObject"]
    resources = local.source_objects
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

  # Log tables, quarantine, journal and inventory copies: files are written whole, replaced by id (a copy and a
  # delete when a streamed part is committed) and deleted when an object's earlier output is replaced.
  statement {
    sid       = "WriteLake"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]
    resources = [local.lake_objects]
  }

  # The module's key (queue, table, environment) and the lake's.
  statement {
    sid       = "DataKeys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = local.data_keys
  }

  statement {
    sid       = "SourceKeys"
    actions   = ["kms:Decrypt"]
    resources = local.source_keys
  }
}

# Registration (egress_optimizer.glue_catalog.register_files): BatchGetPartition / GetTable to find what exists,
# BatchCreatePartition for new partitions; a missing table is created (CreateTable, or UpdateTable when the code
# added columns), and its database first when missing (GetDatabase, CreateDatabase).
data "aws_iam_policy_document" "glue" {
  count = var.glue_database != "" ? 1 : 0

  statement {
    sid       = "RegisterPartitions"
    actions   = ["glue:GetDatabase", "glue:CreateDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "glue:BatchGetPartition", "glue:BatchCreatePartition"]
    resources = local.glue_resources
  }
}

resource "aws_iam_role_policy" "glue" {
  count = var.glue_database != "" ? 1 : 0

  name   = "glue-catalog"
  role   = aws_iam_role.ingest.name
  policy = data.aws_iam_policy_document.glue[0].json
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

resource "aws_iam_role_policy" "ingest" {
  name   = "ingest"
  role   = aws_iam_role.ingest.name
  policy = data.aws_iam_policy_document.ingest.json
}

resource "aws_lambda_function" "ingest" {
  #checkov:skip=CKV_AWS_116:Only its SQS event source invokes it; the queue's redrive policy (maxReceiveCount 5) is its dead-letter path
  #checkov:skip=CKV_AWS_272:Lambda code signing applies to zip packages only, not to container images; the image is pinned by an immutable tag or digest in an encrypted, scanned repository
  function_name                  = local.function_name
  description                    = "Egress ingest: new log objects -> lake Parquet and Glue partitions (lambdas/ingest)"
  role                           = aws_iam_role.ingest.arn
  package_type                   = "Image"
  image_uri                      = var.image_uri
  architectures                  = [var.lambda_architecture]
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = local.kms_key_arn

  # The image's CMD too (build/images/ingest/Dockerfile); named here so the plan shows the entry point.
  image_config {
    command = ["handler.lambda_handler"]
  }

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.ingest.name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.ingest, aws_cloudwatch_log_group.ingest, aws_ecr_repository_policy.ingest]
}

# Named like its queue: sentinel/lambda-failure-handling-and-concurrency pairs a mapping with the queue in its slot
# when the queue's ARN is unknown at plan time.
resource "aws_lambda_event_source_mapping" "objects" {
  event_source_arn        = aws_sqs_queue.objects.arn
  function_name           = aws_lambda_function.ingest.function_name
  batch_size              = var.batch_size
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.reserved_concurrency
  }

  depends_on = [aws_iam_role_policy.ingest]
}

# ---- alarms ------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "objects_dlq_depth" {
  alarm_name          = "${var.name_prefix}-ingest-dlq-depth"
  alarm_description   = "Notifications failed 5 times: see ${aws_sqs_queue.objects_dlq.name} (the function's log says why), fix the cause, redrive to ${aws_sqs_queue.objects.name} (ingesting again is idempotent)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.objects_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "objects_age" {
  alarm_name          = "${var.name_prefix}-ingest-oldest-notification"
  alarm_description   = "Notifications wait on ${aws_sqs_queue.objects.name} for more than 30 minutes: ingestion is failing, throttled or behind (detection then scores stale hours)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.objects.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1800
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name_prefix}-ingest-errors"
  alarm_description   = "The ingest function failed a whole invocation (timeout, out of memory, import error): its batch is redelivered, then dead-lettered."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.ingest.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
