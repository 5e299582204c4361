# Approvals: an HTTP API (Slack's interactivity URL and the approvers' email links) in front of the approval Lambda
# (lambdas/approval/handler.py), the approvals table holding each waiting task token under a short id, the secrets
# of the link-signing key and Slack's signing secret (containers only: the values never pass through Terraform), the
# approvals topic for email, and the resume queue the same Lambda consumes to resume the workflow.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn   = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn
  function_name = "${var.name_prefix}-approval"

  # The routes lambdas/approval/handler.py answers (its docstring); anything else is a 404 from API Gateway.
  routes = {
    slack_actions = { key = "POST /slack/actions", method = "POST", path = "/slack/actions" }
    approve_page  = { key = "GET /approve", method = "GET", path = "/approve" }
    approve       = { key = "POST /approve", method = "POST", path = "/approve" }
  }

  # Everything lambdas/approval/handler.py and notify.alert_actions read (tests/test_infra_wiring.py checks it).
  environment = {
    POWERTOOLS_SERVICE_NAME   = "egress-approval"
    APPROVALS_TABLE           = aws_dynamodb_table.approvals.name
    APPROVAL_KEY_SECRET_ARN   = aws_secretsmanager_secret.approval_key.arn
    SLACK_SIGNING_SECRET_ARN  = aws_secretsmanager_secret.slack_signing_secret.arn
    APPROVER_SLACK_IDS        = join(",", var.approver_slack_ids)
    RESUME_QUEUE_URL          = aws_sqs_queue.resume.url
    SLACK_RESPONSE_HOSTS      = join(",", var.slack_response_hosts)
    APPROVAL_SNOOZE_SECONDS   = tostring(var.approval_snooze_seconds)
    ALERTS_TABLE              = var.alerts_table_name
    ALERT_RESPONDER_SLACK_IDS = join(",", var.alert_responder_slack_ids)
    ALERT_PLANNED_HOURS       = tostring(var.alert_planned_hours)
  }

  # Six times the function's timeout, as AWS recommends for an SQS event source.
  resume_visibility_timeout = 6 * var.timeout
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} approvals: table, secrets, queues, topic, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-approvals"
  target_key_id = aws_kms_key.this[0].key_id
}

data "aws_iam_policy_document" "kms" {
  #checkov:skip=CKV_AWS_109:A key policy's "*" resource is this key only; the root statement delegates to IAM (AWS's default key policy)
  #checkov:skip=CKV_AWS_111:A key policy's "*" resource is this key only; the root statement delegates to IAM (AWS's default key policy)
  #checkov:skip=CKV_AWS_356:A key policy's "*" resource is this key only
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
}

# ---- the approvals table -----------------------------------------------------------------------------------------
# One item per approval (respond/approvals.py): the task token, the execution, the plan hashes, the decision. Items
# expire (TTL) after the approval's own expiry.
resource "aws_dynamodb_table" "approvals" {
  name                        = "${var.name_prefix}-approvals"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "approval_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "approval_id"
    type = "S"
  }

  ttl {
    attribute_name = "expires_at"
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

# ---- secrets (containers; put the values with `aws secretsmanager put-secret-value`, see README) -------------------
resource "aws_secretsmanager_secret" "approval_key" {
  #checkov:skip=CKV2_AWS_57:The HMAC key's rotation invalidates every approval link in flight; rotate it by hand (README) between approvals
  name                    = "${var.name_prefix}/approval-signing-key"
  description             = "HMAC-SHA256 key that signs and verifies approval links (APPROVAL_KEY_SECRET_ARN); at least 16 bytes"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

resource "aws_secretsmanager_secret" "slack_signing_secret" {
  #checkov:skip=CKV2_AWS_57:Slack issues the signing secret; it is rotated in Slack's app settings, then stored here (README)
  name                    = "${var.name_prefix}/slack-signing-secret"
  description             = "The Slack app's signing secret: verifies interaction requests (SLACK_SIGNING_SECRET_ARN)"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

# ---- the approvals topic (email) ---------------------------------------------------------------------------------
resource "aws_sns_topic" "approvals" {
  name              = "${var.name_prefix}-approvals"
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "approvals_topic" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes"]
    resources = [aws_sns_topic.approvals.arn]

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

resource "aws_sns_topic_policy" "approvals" {
  arn    = aws_sns_topic.approvals.arn
  policy = data.aws_iam_policy_document.approvals_topic.json
}

# Each approver receives only the messages published for them: respond/delivery.py sets the `approver` attribute.
resource "aws_sns_topic_subscription" "approver" {
  for_each = toset(var.approver_emails)

  topic_arn     = aws_sns_topic.approvals.arn
  protocol      = "email"
  endpoint      = each.value
  filter_policy = jsonencode({ approver = [each.value] })
}

# ---- the resume queue --------------------------------------------------------------------------------------------
# A decision is recorded at once and its resumption queued here, so Slack gets its answer inside three seconds;
# snoozed approvals' reminders come back through it too (delayed messages).
resource "aws_sqs_queue" "resume" {
  name                              = "${var.name_prefix}-approval-resume"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  visibility_timeout_seconds        = local.resume_visibility_timeout
  message_retention_seconds         = 345600
  tags                              = var.tags
}

resource "aws_sqs_queue" "resume_dlq" {
  name                              = "${var.name_prefix}-approval-resume-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

# Its own resource so the redrive is visible in the plan at once (sentinel/lambda-failure-handling-and-concurrency).
resource "aws_sqs_queue_redrive_policy" "resume" {
  queue_url = aws_sqs_queue.resume.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.resume_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "resume_dlq" {
  queue_url = aws_sqs_queue.resume_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.resume.arn]
  })
}

data "aws_iam_policy_document" "queue_tls" {
  for_each = {
    resume     = aws_sqs_queue.resume.arn
    resume_dlq = aws_sqs_queue.resume_dlq.arn
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [each.value]

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

resource "aws_sqs_queue_policy" "resume" {
  queue_url = aws_sqs_queue.resume.id
  policy    = data.aws_iam_policy_document.queue_tls["resume"].json
}

resource "aws_sqs_queue_policy" "resume_dlq" {
  queue_url = aws_sqs_queue.resume_dlq.id
  policy    = data.aws_iam_policy_document.queue_tls["resume_dlq"].json
}

# ---- the function ------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "approval" {
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

resource "aws_iam_role" "approval" {
  name               = local.function_name
  description        = "Egress approvals: records decisions, resumes the response workflow, handles alert buttons"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "approval" {
  source_policy_documents = concat(
    var.alerts_kms_encrypted ? [data.aws_iam_policy_document.alerts_table_key[0].json] : [],
    var.cost_anomaly_feedback ? [data.aws_iam_policy_document.cost_anomaly_feedback[0].json] : [],
    length(var.subnet_ids) > 0 ? [data.aws_iam_policy_document.vpc[0].json] : [],
  )

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.approval.arn}:*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    # X-Ray's trace and sampling APIs take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "Approvals"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [aws_dynamodb_table.approvals.arn]
  }

  statement {
    sid       = "ResumeWorkflow"
    actions   = ["states:SendTaskSuccess"]
    resources = [var.state_machine_arn]
  }

  statement {
    sid       = "SigningSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.approval_key.arn, aws_secretsmanager_secret.slack_signing_secret.arn]
  }

  statement {
    sid       = "ResumeQueue"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.resume.arn]
  }

  statement {
    sid       = "ModuleKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }

  statement {
    sid       = "AlertButtons"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem"]
    resources = [var.alerts_table_arn]
  }
}

# The optional parts, each its own document (checkov reads no `dynamic "statement"` blocks).
data "aws_iam_policy_document" "alerts_table_key" {
  count = var.alerts_kms_encrypted ? 1 : 0

  statement {
    sid       = "AlertsTableKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.alerts_kms_key_arn]
  }
}

data "aws_iam_policy_document" "cost_anomaly_feedback" {
  count = var.cost_anomaly_feedback ? 1 : 0

  statement {
    sid     = "CostAnomalyFeedback"
    actions = ["ce:ProvideAnomalyFeedback"]
    # ProvideAnomalyFeedback names an anomaly id, not a resource IAM knows: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "vpc" {
  count = length(var.subnet_ids) > 0 ? 1 : 0

  statement {
    sid     = "VpcNetworkInterfaces"
    actions = ["ec2:CreateNetworkInterface", "ec2:DeleteNetworkInterface", "ec2:AssignPrivateIpAddresses", "ec2:UnassignPrivateIpAddresses"]
    # AWSLambdaVPCAccessExecutionRole's actions, narrowed to this account and region: Lambda creates the interfaces
    # (ids not known here) in the functions' subnets and security groups.
    resources = ["arn:${local.partition}:ec2:${local.region}:${local.account_id}:*"]
  }

  statement {
    sid     = "DescribeNetworkInterfaces"
    actions = ["ec2:DescribeNetworkInterfaces"]
    # EC2's Describe calls take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "approval" {
  name   = "approval"
  role   = aws_iam_role.approval.name
  policy = data.aws_iam_policy_document.approval.json
}

resource "aws_lambda_function" "approval" {
  #checkov:skip=CKV_AWS_116:Invoked synchronously (API Gateway) and by its SQS event source, whose redrive policy is its dead-letter path; nothing invokes it asynchronously
  #checkov:skip=CKV_AWS_117:VPC placement is optional (subnet_ids); the function calls AWS APIs and Slack, outside a VPC by default
  #checkov:skip=CKV_AWS_272:Code signing is optional (code_signing_config_arn); the zip's hash comes from build/manifest.json
  function_name                  = local.function_name
  description                    = "Egress approvals: Slack buttons, email links, resuming the response workflow"
  role                           = aws_iam_role.approval.arn
  handler                        = "handler.handler"
  runtime                        = var.lambda_runtime
  architectures                  = [var.lambda_architecture]
  filename                       = var.lambda_zip
  source_code_hash               = var.lambda_zip_sha256_base64
  layers                         = var.layer_arns
  timeout                        = var.timeout
  memory_size                    = var.memory_size
  reserved_concurrent_executions = var.reserved_concurrency
  kms_key_arn                    = local.kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn

  environment {
    variables = local.environment
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.approval.name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.approval, aws_cloudwatch_log_group.approval]
}

# Named like its queue: sentinel/lambda-failure-handling-and-concurrency pairs a mapping with the queue in its slot
# when the queue's ARN is unknown at plan time.
resource "aws_lambda_event_source_mapping" "resume" {
  event_source_arn        = aws_sqs_queue.resume.arn
  function_name           = aws_lambda_function.approval.function_name
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = max(2, floor(var.reserved_concurrency / 2))
  }

  depends_on = [aws_iam_role_policy.approval]
}

# ---- the HTTP API ------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "api" {
  name              = "/aws/vendedlogs/apigateway/${var.name_prefix}-approvals"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = var.tags
}

resource "aws_apigatewayv2_api" "this" {
  name          = "${var.name_prefix}-approvals"
  description   = "Approvals: Slack interactivity (POST /slack/actions) and email links (GET/POST /approve)"
  protocol_type = "HTTP"
  tags          = var.tags
}

resource "aws_apigatewayv2_integration" "approval" {
  api_id                 = aws_apigatewayv2_api.this.id
  integration_type       = "AWS_PROXY"
  integration_uri        = aws_lambda_function.approval.invoke_arn
  integration_method     = "POST"
  payload_format_version = "2.0"
  timeout_milliseconds   = var.timeout * 1000
}

resource "aws_apigatewayv2_route" "this" {
  #checkov:skip=CKV_AWS_309:Slack and email recipients cannot carry AWS credentials or JWTs; the function authenticates each request itself (Slack's signing secret with a five-minute window; HMAC-signed, expiring, single-use approval tokens) and an allowlist of approvers
  for_each = local.routes

  api_id             = aws_apigatewayv2_api.this.id
  route_key          = each.value.key
  target             = "integrations/${aws_apigatewayv2_integration.approval.id}"
  authorization_type = "NONE"
}

resource "aws_apigatewayv2_stage" "default" {
  api_id      = aws_apigatewayv2_api.this.id
  name        = "$default"
  auto_deploy = true

  default_route_settings {
    throttling_burst_limit = var.throttling_burst_limit
    throttling_rate_limit  = var.throttling_rate_limit
  }

  access_log_settings {
    destination_arn = aws_cloudwatch_log_group.api.arn
    format = jsonencode({
      requestId          = "$context.requestId"
      ip                 = "$context.identity.sourceIp"
      requestTime        = "$context.requestTime"
      routeKey           = "$context.routeKey"
      status             = "$context.status"
      responseLength     = "$context.responseLength"
      integrationError   = "$context.integrationErrorMessage"
      integrationLatency = "$context.integrationLatency"
    })
  }

  tags = var.tags
}

resource "aws_lambda_permission" "api" {
  for_each = local.routes

  statement_id  = "AllowApi-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.approval.function_name
  principal     = "apigateway.amazonaws.com"
  source_arn    = "${aws_apigatewayv2_api.this.execution_arn}/*/${each.value.method}${each.value.path}"
}

# ---- alarms ------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "resume_dlq_depth" {
  alarm_name          = "${var.name_prefix}-approval-resume-dlq-depth"
  alarm_description   = "A decision could not resume its workflow after 5 tries: see ${aws_sqs_queue.resume_dlq.name}, fix the cause, redrive."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.resume_dlq.name }
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
  alarm_name          = "${var.name_prefix}-approval-errors"
  alarm_description   = "The approval function failed (an approver's click or link, or a resumption)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.approval.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name_prefix}-approvals-api-5xx"
  alarm_description   = "The approvals API answered with server errors."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5xx"
  dimensions          = { ApiId = aws_apigatewayv2_api.this.id, Stage = "$default" }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
