# The lake: the raw bucket logs land in (flow logs, CloudFront standard logs v2, the CUR 2.0 export), the curated
# bucket holding the partitioned Parquet lake and the Athena results, the S3 server access log bucket (the sources'
# access logs and the lake buckets' own), one KMS key, the Glue database with every table of the registry
# (tables.json, generated from egress_optimizer.tables) and the Athena workgroup.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn

  # Bucket names are global: the account and region keep the defaults unique.
  bucket_suffix     = "${local.account_id}-${local.region}"
  raw_bucket        = coalesce(var.raw_bucket_name, "${var.name_prefix}-raw-${local.bucket_suffix}")
  curated_bucket    = coalesce(var.curated_bucket_name, "${var.name_prefix}-lake-${local.bucket_suffix}")
  access_log_bucket = coalesce(var.access_log_bucket_name, "${var.name_prefix}-s3-access-${local.bucket_suffix}")
  access_logs_kms   = var.access_log_bucket_sse_algorithm == "aws:kms"

  lake_uri             = "s3://${aws_s3_bucket.curated.bucket}/${var.lake_prefix}"
  athena_results_uri   = "s3://${aws_s3_bucket.curated.bucket}/${var.athena_results_prefix}/"
  prefixes             = var.log_prefixes
  source_accounts      = length(var.log_delivery_source_accounts) > 0 ? var.log_delivery_source_accounts : [local.account_id]
  log_delivery_enabled = var.deliver_vpc_flow_logs || var.deliver_cloudfront_logs

  # Vended log deliveries (flow logs in any region, CloudFront's delivery sources in us-east-1) name themselves by
  # these ARNs (aws:SourceArn).
  log_delivery_source_arns = [for a in local.source_accounts : "arn:${local.partition}:logs:*:${a}:*"]
  # Flow logs write <prefix>/AWSLogs/aws-account-id=<id>/... (Hive partitions) and CloudFront
  # <prefix>/AWSLogs/<id>/CloudFront/...: one pattern per source, the account checked by aws:SourceAccount.
  log_delivery_objects = concat(
    var.deliver_vpc_flow_logs ? ["${aws_s3_bucket.raw.arn}/${local.prefixes.vpc_flow}/AWSLogs/*"] : [],
    var.deliver_cloudfront_logs ? ["${aws_s3_bucket.raw.arn}/${local.prefixes.cloudfront}/AWSLogs/*"] : [],
  )
  data_exports_source_arns = flatten([for a in local.source_accounts : [
    "arn:${local.partition}:cur:${var.data_exports_region}:${a}:definition/*",
    "arn:${local.partition}:bcm-data-exports:${var.data_exports_region}:${a}:export/*",
  ]])

  # The registry's tables, as `python -m egress_optimizer.glue_catalog --terraform` renders them (nothing here
  # spells a table or a column; tests/test_infra_lake.py fails when the file drifts from the code).
  catalog = jsondecode(file("${path.module}/tables.json"))
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} lake: raw logs, the Parquet lake, Athena results"
  enable_key_rotation     = true
  deletion_window_in_days = var.key_deletion_window_days
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-lake"
  target_key_id = aws_kms_key.this[0].key_id
}

# Flow logs and CloudFront (CloudWatch Logs vended delivery) encrypt what they write with the bucket's key.
data "aws_iam_policy_document" "kms_log_delivery" {
  count = local.log_delivery_enabled ? 1 : 0

  statement {
    sid       = "LogDeliveryEncryptsFlowAndCloudFrontLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:ReEncryptFrom", "kms:ReEncryptTo", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:DescribeKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.log_delivery_source_arns
    }
  }
}

# The CUR 2.0 export writes with the bucket's key.
data "aws_iam_policy_document" "kms_data_exports" {
  count = var.deliver_cur ? 1 : 0

  statement {
    sid       = "DataExportsEncryptsTheCurExport"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.data_exports_source_arns
    }
  }
}

# S3 server access logging encrypts what it delivers into the access log bucket (when that bucket uses the key).
# Scoped by the encryption context S3 sets, the bucket's ARN (the object's without a bucket key).
data "aws_iam_policy_document" "kms_s3_access_logs" {
  count = local.access_logs_kms ? 1 : 0

  statement {
    sid       = "S3LoggingEncryptsAccessLogs"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringLike"
      variable = "kms:EncryptionContext:aws:s3:arn"
      values   = ["arn:${local.partition}:s3:::${local.access_log_bucket}", "arn:${local.partition}:s3:::${local.access_log_bucket}/*"]
    }
  }
}

# What the delivering services need from the key, for the created key and for a key of one's own (output).
data "aws_iam_policy_document" "kms_services" {
  source_policy_documents = concat(
    [for d in data.aws_iam_policy_document.kms_log_delivery : d.json],
    [for d in data.aws_iam_policy_document.kms_data_exports : d.json],
    [for d in data.aws_iam_policy_document.kms_s3_access_logs : d.json],
  )
}

data "aws_iam_policy_document" "kms" {
  count = var.kms_key_arn == null ? 1 : 0

  source_policy_documents = [data.aws_iam_policy_document.kms_services.json]

  statement {
    sid       = "AccountAdministersKeyThroughIam"
    actions   = ["kms:*"] # AWS's default key policy: lets IAM policies of this account grant the key; no narrower form keeps the key manageable
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["arn:${local.partition}:iam::${local.account_id}:root"]
    }
  }
}

# ---- the access log bucket ---------------------------------------------------------------------------------------
# S3 server access logs: the source buckets' (log_sources) under log_prefixes.s3_access, the raw and curated
# buckets' own under log_prefixes.lake_access. Partitioned keys (<prefix>/<account>/<region>/<bucket>/YYYY/MM/DD/...)
# carry the account and region the ingest partitions by. The bucket does not log itself: each delivery would log
# another, without end.
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_144:A transient landing zone (expires after raw_log_retention_days) whose content the lake already holds; a replica would be paid for and never read
  bucket        = local.access_log_bucket
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

# The lake's key by default, as sentinel/lake-buckets-kms-and-private requires; AES256 only if S3 stops delivering
# access logs into a KMS-encrypted bucket (see access_log_bucket_sse_algorithm).
resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = var.access_log_bucket_sse_algorithm
      kms_master_key_id = local.access_logs_kms ? local.kms_key_arn : null
    }
    bucket_key_enabled = local.access_logs_kms
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "expire-access-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.raw_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

# Object-created events on the default bus: how the ingest Lambda learns of new access logs.
resource "aws_s3_bucket_notification" "access_logs" {
  bucket      = aws_s3_bucket.access_logs.id
  eventbridge = true
}

data "aws_iam_policy_document" "access_logs_tls" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # every S3 action: a rule that refuses plain HTTP has no narrower form
    resources = [aws_s3_bucket.access_logs.arn, "${aws_s3_bucket.access_logs.arn}/*"]

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

# The raw and curated buckets' own access logs.
data "aws_iam_policy_document" "access_logs_lake" {
  statement {
    sid       = "S3LogsTheLakeBuckets"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/${local.prefixes.lake_access}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_s3_bucket.raw.arn, aws_s3_bucket.curated.arn]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# The source buckets' access logs (log_sources: aws_s3_bucket_logging); which buckets is log_sources' to say, so
# only the accounts are checked here.
data "aws_iam_policy_document" "access_logs_sources" {
  count = var.deliver_s3_access_logs ? 1 : 0

  statement {
    sid       = "S3LogsTheSourceBuckets"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/${local.prefixes.s3_access}/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }
  }
}

data "aws_iam_policy_document" "access_logs" {
  source_policy_documents = concat(
    [data.aws_iam_policy_document.access_logs_tls.json, data.aws_iam_policy_document.access_logs_lake.json],
    [for d in data.aws_iam_policy_document.access_logs_sources : d.json],
  )
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}

# ---- the raw bucket ----------------------------------------------------------------------------------------------
resource "aws_s3_bucket" "raw" {
  #checkov:skip=CKV_AWS_144:A transient landing zone (expires after raw_log_retention_days) whose content the lake already holds; a replica would be paid for and never read
  bucket        = local.raw_bucket
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "raw" {
  bucket = aws_s3_bucket.raw.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "raw" {
  bucket                  = aws_s3_bucket.raw.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "raw" {
  bucket = aws_s3_bucket.raw.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "raw" {
  bucket = aws_s3_bucket.raw.id

  rule {
    id     = "versions-and-uploads"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "expire-flow-logs"
    status = "Enabled"

    filter {
      prefix = "${local.prefixes.vpc_flow}/"
    }

    expiration {
      days = var.raw_log_retention_days
    }
  }

  rule {
    id     = "expire-cloudfront-logs"
    status = "Enabled"

    filter {
      prefix = "${local.prefixes.cloudfront}/"
    }

    expiration {
      days = var.raw_log_retention_days
    }
  }

  rule {
    id     = "expire-cur"
    status = "Enabled"

    filter {
      prefix = "${local.prefixes.cur}/"
    }

    expiration {
      days = var.cur_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.raw]
}

# Object-created events on the default bus: how the ingest Lambda learns of new logs and CUR files.
resource "aws_s3_bucket_notification" "raw" {
  bucket      = aws_s3_bucket.raw.id
  eventbridge = true
}

resource "aws_s3_bucket_logging" "raw" {
  bucket        = aws_s3_bucket.raw.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${local.prefixes.lake_access}/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

data "aws_iam_policy_document" "raw_tls" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # every S3 action: a rule that refuses plain HTTP has no narrower form
    resources = [aws_s3_bucket.raw.arn, "${aws_s3_bucket.raw.arn}/*"]

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

# VPC Flow Logs and CloudFront standard logging v2 (both CloudWatch Logs vended delivery): the statements AWS adds
# itself when a bucket has none, limited to the sources' prefixes.
data "aws_iam_policy_document" "raw_log_delivery" {
  count = local.log_delivery_enabled ? 1 : 0

  statement {
    sid       = "LogDeliveryWrite"
    actions   = ["s3:PutObject"]
    resources = local.log_delivery_objects

    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "s3:x-amz-acl"
      values   = ["bucket-owner-full-control"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.log_delivery_source_arns
    }
  }

  statement {
    sid       = "LogDeliveryCheck"
    actions   = ["s3:GetBucketAcl", "s3:ListBucket"]
    resources = [aws_s3_bucket.raw.arn]

    principals {
      type        = "Service"
      identifiers = ["delivery.logs.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.log_delivery_source_arns
    }
  }
}

# The CUR 2.0 export (Data Exports): the policy the service asks for, limited to its prefix.
data "aws_iam_policy_document" "raw_data_exports" {
  count = var.deliver_cur ? 1 : 0

  statement {
    sid       = "DataExportsWrite"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.raw.arn}/${local.prefixes.cur}/*"]

    principals {
      type        = "Service"
      identifiers = ["bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.data_exports_source_arns
    }
  }

  statement {
    sid       = "DataExportsCheck"
    actions   = ["s3:GetBucketPolicy"]
    resources = [aws_s3_bucket.raw.arn]

    principals {
      type        = "Service"
      identifiers = ["bcm-data-exports.amazonaws.com", "billingreports.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = local.source_accounts
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = local.data_exports_source_arns
    }
  }
}

data "aws_iam_policy_document" "raw" {
  source_policy_documents = concat(
    [data.aws_iam_policy_document.raw_tls.json],
    [for d in data.aws_iam_policy_document.raw_log_delivery : d.json],
    [for d in data.aws_iam_policy_document.raw_data_exports : d.json],
  )
}

resource "aws_s3_bucket_policy" "raw" {
  bucket = aws_s3_bucket.raw.id
  policy = data.aws_iam_policy_document.raw.json

  depends_on = [aws_s3_bucket_public_access_block.raw]
}

# ---- the curated bucket ------------------------------------------------------------------------------------------
resource "aws_s3_bucket" "curated" {
  #checkov:skip=CKV_AWS_144:Versioning covers overwrites and deletes; a cross-region replica needs a bucket and key in a second region, the deployment's choice (see README)
  #checkov:skip=CKV2_AWS_62:Only the pipeline writes here and nothing reacts to its objects (the stages journal what changed in the lake itself)
  bucket        = local.curated_bucket
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "curated" {
  bucket = aws_s3_bucket.curated.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "curated" {
  bucket                  = aws_s3_bucket.curated.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "curated" {
  bucket = aws_s3_bucket.curated.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "curated" {
  bucket = aws_s3_bucket.curated.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = local.kms_key_arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "curated" {
  bucket = aws_s3_bucket.curated.id

  # The lake itself never expires: only superseded versions of its files and abandoned uploads do.
  rule {
    id     = "versions-and-uploads"
    status = "Enabled"

    filter {}

    expiration {
      expired_object_delete_marker = true
    }

    noncurrent_version_expiration {
      noncurrent_days = var.noncurrent_version_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = var.abort_incomplete_multipart_upload_days
    }
  }

  rule {
    id     = "expire-athena-results"
    status = "Enabled"

    filter {
      prefix = "${var.athena_results_prefix}/"
    }

    expiration {
      days = var.athena_results_retention_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.curated]
}

resource "aws_s3_bucket_logging" "curated" {
  bucket        = aws_s3_bucket.curated.id
  target_bucket = aws_s3_bucket.access_logs.id
  target_prefix = "${local.prefixes.lake_access}/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  depends_on = [aws_s3_bucket_policy.access_logs]
}

data "aws_iam_policy_document" "curated" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"] # every S3 action: a rule that refuses plain HTTP has no narrower form
    resources = [aws_s3_bucket.curated.arn, "${aws_s3_bucket.curated.arn}/*"]

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

resource "aws_s3_bucket_policy" "curated" {
  bucket = aws_s3_bucket.curated.id
  policy = data.aws_iam_policy_document.curated.json

  depends_on = [aws_s3_bucket_public_access_block.curated]
}

# ---- the Glue catalog --------------------------------------------------------------------------------------------
resource "aws_glue_catalog_database" "this" {
  name         = var.database_name
  description  = "${var.name_prefix} egress lake (${local.lake_uri}): tables from egress_optimizer.tables"
  location_uri = local.lake_uri
  tags         = var.tags
}

# One table per registry table, exactly as glue_catalog.table_input builds it, so `register_lake` and the ingest's
# register_files find them unchanged and only add partitions.
resource "aws_glue_catalog_table" "this" {
  for_each = local.catalog.tables

  name          = each.key
  database_name = aws_glue_catalog_database.this.name
  description   = each.value.description
  table_type    = each.value.table_type

  # Projection properties only when asked for; their storage template points at this lake.
  parameters = merge(each.value.parameters, {
    for k, v in each.value.projection : k => replace(v, local.catalog.lake_location_placeholder, local.lake_uri)
    if var.partition_projection
  })

  dynamic "partition_keys" {
    for_each = each.value.partition_keys
    content {
      name = partition_keys.value.name
      type = partition_keys.value.type
    }
  }

  storage_descriptor {
    location      = "${local.lake_uri}/${each.value.location_suffix}"
    input_format  = each.value.input_format
    output_format = each.value.output_format

    ser_de_info {
      serialization_library = each.value.serde.serialization_library
      parameters            = each.value.serde.parameters
    }

    dynamic "columns" {
      for_each = each.value.columns
      content {
        name = columns.value.name
        type = columns.value.type
      }
    }
  }
}

# ---- Athena ------------------------------------------------------------------------------------------------------
resource "aws_athena_workgroup" "this" {
  name          = coalesce(var.workgroup_name, var.name_prefix)
  description   = "${var.name_prefix} lake queries: results in ${local.athena_results_uri}, encrypted with the lake's key"
  state         = "ENABLED"
  force_destroy = var.force_destroy

  configuration {
    # The workgroup's results location, encryption and cutoff win over what a client asks for.
    enforce_workgroup_configuration    = true
    publish_cloudwatch_metrics_enabled = true
    bytes_scanned_cutoff_per_query     = var.athena_bytes_scanned_cutoff

    engine_version {
      selected_engine_version = "AUTO"
    }

    result_configuration {
      output_location       = local.athena_results_uri
      expected_bucket_owner = local.account_id

      encryption_configuration {
        encryption_option = "SSE_KMS"
        kms_key_arn       = local.kms_key_arn
      }
    }
  }

  tags = var.tags
}
