# Notifications: the alerts queue (the response workflow's Alert state and the hourly schedule send to it), the notify
# Lambda consuming it (lambdas/notify/handler.py: email through SNS, Slack, signed webhooks; one thread per
# incident), the alerts state table, the email topic and its subscriptions, the Slack bot token's secret (a container:
# its value never passes through Terraform), and alarms.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn   = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn
  function_name = "${var.name_prefix}-notify"

  # Everything lambdas/notify/handler.py and the notify modules it calls read (tests/test_infra_wiring.py checks it).
  environment = {
    POWERTOOLS_SERVICE_NAME    = "egress-notify"
    ALERTS_TABLE               = aws_dynamodb_table.alerts.name
    ALERT_ROUTING_FILE         = var.alert_routing_file
    SLACK_ALERT_CHANNEL        = var.slack_alert_channel
    ALERTS_TOPIC_ARN           = aws_sns_topic.alerts.arn
    ALERT_WEBHOOK_URL          = var.alert_webhook_url
    ALERT_WEBHOOK_SECRET_ARN   = var.alert_webhook_secret_arn
    SLACK_BOT_TOKEN_SECRET_ARN = aws_secretsmanager_secret.slack_bot_token.arn
    SLACK_API_URL              = var.slack_api_url
    REPORT_BASE_URL            = var.report_base_url
    ALERT_SNOOZE_HOURS         = tostring(var.alert_snooze_hours)
    ALERT_RETRY_ATTEMPTS       = tostring(var.alert_retry_attempts)
    ALERT_RETRY_BASE_SECONDS   = tostring(var.alert_retry_base_seconds)
  }

  # At least six times the function's timeout (lambdas/notify/handler.py).
  visibility_timeout = 6 * var.timeout

  secret_arns = compact(concat([aws_secretsmanager_secret.slack_bot_token.arn, var.alert_webhook_secret_arn], var.webhook_secret_arns))

  # The rules whose events may land on the queue.
  sending_rules = concat(
    [aws_cloudwatch_event_rule.hourly.arn],
    [for r in aws_cloudwatch_event_rule.incidents : r.arn],
  )
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} notifications: queues, table, topic, Slack token, logs"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-notifications"
  target_key_id = aws_kms_key.this[0].key_id
}

# EventBridge encrypts what it sends to the queue with this key (an AWS-managed SQS key would not let it); alarms
# publish to the encrypted topic; CloudWatch Logs encrypts the log group.
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
    sid       = "EventBridgeAndAlarmsUseEncryptedQueuesAndTopics"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }
}

# ---- the alerts queue --------------------------------------------------------------------------------------------
resource "aws_sqs_queue" "alerts" {
  name                              = "${var.name_prefix}-alerts"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  visibility_timeout_seconds        = local.visibility_timeout
  message_retention_seconds         = 345600
  tags                              = var.tags
}

resource "aws_sqs_queue" "alerts_dlq" {
  name                              = "${var.name_prefix}-alerts-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

# Its own resource so the redrive is visible in the plan at once (sentinel/lambda-failure-handling-and-concurrency).
resource "aws_sqs_queue_redrive_policy" "alerts" {
  queue_url = aws_sqs_queue.alerts.id
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.alerts_dlq.arn
    maxReceiveCount     = 5
  })
}

resource "aws_sqs_queue_redrive_allow_policy" "alerts_dlq" {
  queue_url = aws_sqs_queue.alerts_dlq.id
  redrive_allow_policy = jsonencode({
    redrivePermission = "byQueue"
    sourceQueueArns   = [aws_sqs_queue.alerts.arn]
  })
}

# The response workflow's Alert state (the state machine's role).
data "aws_iam_policy_document" "alerts_queue_senders" {
  count = length(var.sender_role_arns) > 0 ? 1 : 0

  statement {
    sid       = "ResponseWorkflow"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.alerts.arn]

    principals {
      type        = "AWS"
      identifiers = var.sender_role_arns
    }
  }
}

data "aws_iam_policy_document" "alerts_queue" {
  source_policy_documents = length(var.sender_role_arns) > 0 ? [data.aws_iam_policy_document.alerts_queue_senders[0].json] : []

  statement {
    sid       = "EventBridgeRules"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = local.sending_rules
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.alerts.arn]

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

resource "aws_sqs_queue_policy" "alerts" {
  queue_url = aws_sqs_queue.alerts.id
  policy    = data.aws_iam_policy_document.alerts_queue.json
}

data "aws_iam_policy_document" "alerts_dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.alerts_dlq.arn]

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

resource "aws_sqs_queue_policy" "alerts_dlq" {
  queue_url = aws_sqs_queue.alerts_dlq.id
  policy    = data.aws_iam_policy_document.alerts_dlq.json
}

# ---- what puts events on the queue -------------------------------------------------------------------------------
# Held alerts whose quiet hours or snooze ended, and the daily digest (the handler reads the event's own time).
resource "aws_cloudwatch_event_rule" "hourly" {
  name                = "${var.name_prefix}-alerts-hourly"
  description         = "Hourly tick of the notify function: release held alerts, send the daily digest"
  schedule_expression = "rate(1 hour)"
  tags                = var.tags
}

resource "aws_cloudwatch_event_target" "hourly" {
  rule      = aws_cloudwatch_event_rule.hourly.name
  target_id = "alerts-queue"
  arn       = aws_sqs_queue.alerts.arn
}

# Deployments without the response workflow: incidents straight to the queue (alerts then carry the bill's usage
# types as root cause).
resource "aws_cloudwatch_event_rule" "incidents" {
  count = var.route_incidents_to_queue ? 1 : 0

  name           = "${var.name_prefix}-alerts-incidents"
  description    = "Our incidents straight to the alerts queue (no response workflow)"
  event_bus_name = var.incident_event_bus_name
  event_pattern = jsonencode({
    source        = ["egress.optimizer"]
    "detail-type" = ["Egress Cost Anomaly"]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "incidents" {
  count = var.route_incidents_to_queue ? 1 : 0

  rule           = aws_cloudwatch_event_rule.incidents[0].name
  event_bus_name = var.incident_event_bus_name
  target_id      = "alerts-queue"
  arn            = aws_sqs_queue.alerts.arn
}

# ---- the alerts state table --------------------------------------------------------------------------------------
# One item per incident (notify/alert_state.py): what was sent where, Slack threads, acknowledgements, snoozes, the
# claim lease; suppression windows and once-markers share the table. Items expire (TTL).
resource "aws_dynamodb_table" "alerts" {
  name                        = "${var.name_prefix}-alerts"
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = "incident_id"
  deletion_protection_enabled = var.deletion_protection

  attribute {
    name = "incident_id"
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

# ---- email -------------------------------------------------------------------------------------------------------
resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-alerts-email"
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alerts_topic" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes", "sns:SetTopicAttributes"]
    resources = [aws_sns_topic.alerts.arn]

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

resource "aws_sns_topic_policy" "alerts" {
  arn    = aws_sns_topic.alerts.arn
  policy = data.aws_iam_policy_document.alerts_topic.json
}

# Alerts carry `team` (the route's name) and `severity` attributes (notify/alerts.py); a subscription may filter.
resource "aws_sns_topic_subscription" "email" {
  for_each = { for s in var.email_subscriptions : s.endpoint => s }

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value.endpoint
  filter_policy = length(each.value.teams) + length(each.value.severities) == 0 ? null : jsonencode({
    for attribute, values in { team = each.value.teams, severity = each.value.severities } : attribute => values
    if length(values) > 0
  })
}

# ---- Slack (a container; put the bot token with `aws secretsmanager put-secret-value`, see README) -----------------
resource "aws_secretsmanager_secret" "slack_bot_token" {
  #checkov:skip=CKV2_AWS_57:Slack issues the bot token (xoxb-); it is rotated in Slack's app settings, then stored here (README)
  name                    = "${var.name_prefix}/slack-bot-token"
  description             = "The Slack app's bot token (SLACK_BOT_TOKEN_SECRET_ARN): alerts and approval requests"
  kms_key_id              = local.kms_key_arn
  recovery_window_in_days = var.secret_recovery_window_days
  tags                    = var.tags
}

# ---- the function ------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "notify" {
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

resource "aws_iam_role" "notify" {
  name               = local.function_name
  description        = "Egress notify: the alerts queue, the alerts table, email, Slack and webhooks"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

# The permissions lambdas/notify/handler.py's docstring lists.
data "aws_iam_policy_document" "notify" {
  source_policy_documents = length(var.subnet_ids) > 0 ? [data.aws_iam_policy_document.vpc[0].json] : []

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.notify.arn}:*"]
  }

  statement {
    sid     = "Tracing"
    actions = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    # X-Ray's trace and sampling APIs take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "AlertsQueue"
    actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"]
    resources = [aws_sqs_queue.alerts.arn]
  }

  statement {
    sid       = "AlertState"
    actions   = ["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:BatchGetItem", "dynamodb:Scan"]
    resources = [aws_dynamodb_table.alerts.arn]
  }

  statement {
    sid       = "Email"
    actions   = ["sns:Publish"]
    resources = concat([aws_sns_topic.alerts.arn], var.extra_topic_arns)
  }

  statement {
    sid       = "SlackTokenAndWebhookKeys"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }

  statement {
    sid       = "Keys"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = distinct(concat([local.kms_key_arn], var.extra_kms_key_arns))
  }
}

# Functions in a VPC: the network interfaces Lambda manages (its own document: checkov reads no dynamic statements).
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

resource "aws_iam_role_policy" "notify" {
  name   = "notify"
  role   = aws_iam_role.notify.name
  policy = data.aws_iam_policy_document.notify.json
}

resource "aws_lambda_function" "notify" {
  #checkov:skip=CKV_AWS_116:Only its SQS event source invokes it; the queue's redrive policy (maxReceiveCount 5) is its dead-letter path
  #checkov:skip=CKV_AWS_117:VPC placement is optional (subnet_ids); the function calls AWS APIs, Slack and webhooks, outside a VPC by default
  #checkov:skip=CKV_AWS_272:Code signing is optional (code_signing_config_arn); the zip's hash comes from build/manifest.json
  function_name                  = local.function_name
  description                    = "Egress alerts: email, Slack and webhooks, one thread per incident"
  role                           = aws_iam_role.notify.arn
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
    log_group  = aws_cloudwatch_log_group.notify.name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.notify, aws_cloudwatch_log_group.notify]
}

# Named like its queue: sentinel/lambda-failure-handling-and-concurrency pairs a mapping with the queue in its slot
# when the queue's ARN is unknown at plan time.
resource "aws_lambda_event_source_mapping" "alerts" {
  event_source_arn        = aws_sqs_queue.alerts.arn
  function_name           = aws_lambda_function.notify.function_name
  batch_size              = 10
  function_response_types = ["ReportBatchItemFailures"]

  scaling_config {
    maximum_concurrency = var.reserved_concurrency
  }

  depends_on = [aws_iam_role_policy.notify]
}

# ---- alarms ------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "alerts_dlq_depth" {
  alarm_name          = "${var.name_prefix}-alerts-dlq-depth"
  alarm_description   = "Alerts failed 5 deliveries: see ${aws_sqs_queue.alerts_dlq.name}, fix the cause, redrive to ${aws_sqs_queue.alerts.name} (the state table sends only what is missing)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = aws_sqs_queue.alerts_dlq.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "alerts_age" {
  alarm_name          = "${var.name_prefix}-alerts-oldest-message"
  alarm_description   = "Alerts wait on ${aws_sqs_queue.alerts.name} for more than 15 minutes (the function is failing or throttled)."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = aws_sqs_queue.alerts.name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 900
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "errors" {
  alarm_name          = "${var.name_prefix}-notify-errors"
  alarm_description   = "The notify function failed a run (records are redelivered, then dead-lettered)."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.notify.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = var.alarm_actions
  tags                = var.tags
}
