# The response workflow: state_machines/anomaly_response.asl.json as a Step Functions state machine, one Lambda per
# task state (lambdas/respond/handler.py), the start function EventBridge invokes for our incidents and Cost Anomaly
# Detection's, the workflow's dead-letter queue and alerts topic, and alarms. The IAM roles, one per step and the
# separate remediation role, are in iam.tf.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  kms_key_arn = var.kms_key_arn != null ? var.kms_key_arn : aws_kms_key.this[0].arn

  definition_path    = coalesce(var.definition_path, "${path.module}/../../../state_machines/anomaly_response.asl.json")
  state_machine_name = "${var.name_prefix}-anomaly-response"
  # Built rather than read from the resource, so the start function's role and environment do not wait for it.
  state_machine_arn = "arn:${local.partition}:states:${local.region}:${local.account_id}:stateMachine:${local.state_machine_name}"

  # One function per task state: the key is the handler function in lambdas/respond/handler.py (the values of
  # egress_optimizer.respond.workflow.TASKS). `role`: "step" runs as its own role, "remediation" as the shared
  # remediation role. Timeouts: LookupEvents allows two calls a second (13 event names, up to 5 pages each); the
  # lake readers load pyarrow and pandas (memory buys CPU); explain waits for Bedrock (30 s reads, 3 attempts).
  task_functions = {
    normalise         = { handler = "handler.normalise", timeout = 30, memory_size = 512, role = "step" }
    collect_changes   = { handler = "handler.collect_changes", timeout = 300, memory_size = 1024, role = "step" }
    collect_resources = { handler = "handler.collect_resources", timeout = 120, memory_size = 512, role = "step" }
    collect_traffic   = { handler = "handler.collect_traffic", timeout = 300, memory_size = 1769, role = "step" }
    explain           = { handler = "handler.explain", timeout = 180, memory_size = 1024, role = "step" }
    recommend         = { handler = "handler.recommend", timeout = 120, memory_size = 1024, role = "step" }
    request_approval  = { handler = "handler.request_approval", timeout = 60, memory_size = 512, role = "step" }
    escalate          = { handler = "handler.escalate", timeout = 30, memory_size = 512, role = "step" }
    apply             = { handler = "handler.apply", timeout = 300, memory_size = 1024, role = "remediation" }
    verify            = { handler = "handler.verify", timeout = 120, memory_size = 1024, role = "remediation" }
    rollback          = { handler = "handler.rollback", timeout = 300, memory_size = 1024, role = "remediation" }
    check_egress      = { handler = "handler.check_egress", timeout = 300, memory_size = 1769, role = "step" }
    notify            = { handler = "handler.notify", timeout = 60, memory_size = 512, role = "step" }
  }
  step_functions = { for k, v in local.task_functions : k => v if v.role == "step" }
  # Every function, the start function included (log groups, base permissions).
  all_functions = merge(local.task_functions, {
    start = { handler = "handler.start", timeout = 30, memory_size = 512, role = "start" }
  })
  function_names = { for k in keys(local.all_functions) : k => "${var.name_prefix}-respond-${replace(k, "_", "-")}" }

  # Every placeholder of the state machine definition, and nothing else (templatefile fails on a missing one;
  # tests/test_infra_wiring.py checks both ways against the file and workflow.TASKS / OTHER_PLACEHOLDERS).
  definition_vars = {
    normalise_arn         = aws_lambda_function.task["normalise"].arn
    collect_changes_arn   = aws_lambda_function.task["collect_changes"].arn
    collect_resources_arn = aws_lambda_function.task["collect_resources"].arn
    collect_traffic_arn   = aws_lambda_function.task["collect_traffic"].arn
    explain_arn           = aws_lambda_function.task["explain"].arn
    recommend_arn         = aws_lambda_function.task["recommend"].arn
    request_approval_arn  = aws_lambda_function.task["request_approval"].arn
    escalate_arn          = aws_lambda_function.task["escalate"].arn
    apply_arn             = aws_lambda_function.task["apply"].arn
    verify_arn            = aws_lambda_function.task["verify"].arn
    rollback_arn          = aws_lambda_function.task["rollback"].arn
    check_egress_arn      = aws_lambda_function.task["check_egress"].arn
    notify_arn            = aws_lambda_function.task["notify"].arn
    dead_letter_queue_url = aws_sqs_queue.workflow_dlq.url
    alerts_topic_arn      = aws_sns_topic.alerts.arn
    alert_queue_url       = var.alert_queue_url
  }

  # What every step reads (tasks.Settings.from_env and delivery.ApprovalDelivery.from_env read all of it in every
  # step; collect_traffic's collectors read the EGRESS_* paths). Empty strings mean "not configured" to the code.
  task_environment = {
    POWERTOOLS_SERVICE_NAME    = "egress-response"
    LAKE_URI                   = var.lake_uri
    APPROVALS_TABLE            = var.approvals_table_name
    ALERTS_TOPIC_ARN           = aws_sns_topic.alerts.arn
    APPROVAL_TIMEOUT_SECONDS   = tostring(var.approval_timeout_seconds)
    MEMBER_ROLE_NAME           = var.member_role_name
    EGRESS_CHECK_SECONDS       = tostring(var.egress_check_seconds)
    TRAIL_LOGS                 = join(",", var.trail_log_uris)
    REMEDIATION_POLICY         = var.remediation_policy_path
    COST_ANOMALY_LOOKUP        = var.cost_anomaly_lookup ? "on" : "off"
    BEDROCK_MODEL_ID           = var.bedrock_model_id
    BEDROCK_GUARDRAIL_ID       = var.bedrock_guardrail_id
    BEDROCK_GUARDRAIL_VERSION  = var.bedrock_guardrail_version
    BEDROCK_MAX_TOKENS         = tostring(var.bedrock_max_tokens)
    BEDROCK_USD_PER_1K_INPUT   = var.bedrock_usd_per_1k_input
    BEDROCK_USD_PER_1K_OUTPUT  = var.bedrock_usd_per_1k_output
    APPROVALS_TOPIC_ARN        = var.approvals_topic_arn
    APPROVAL_URL               = var.approval_url
    APPROVAL_KEY_SECRET_ARN    = var.approval_key_secret_arn
    APPROVER_EMAILS            = join(",", var.approver_emails)
    SLACK_BOT_TOKEN_SECRET_ARN = var.slack_bot_token_secret_arn
    SLACK_APPROVAL_CHANNEL     = var.slack_approval_channel
    SLACK_API_URL              = var.slack_api_url
    EGRESS_IP_RANGES           = var.ip_ranges_path
    EGRESS_NETWORKS            = var.networks_path
    EGRESS_GEOIP_DIR           = var.geoip_dir
    ALERT_QUEUE_URL            = var.alert_queue_url
  }

  alarm_actions = concat([aws_sns_topic.alerts.arn], var.alarm_actions)
}

# ---- encryption at rest ------------------------------------------------------------------------------------------
resource "aws_kms_key" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  description             = "${var.name_prefix} response workflow: queues, alerts topic, logs, function environment"
  enable_key_rotation     = true
  deletion_window_in_days = 30
  policy                  = data.aws_iam_policy_document.kms[0].json
  tags                    = var.tags
}

resource "aws_kms_alias" "this" {
  count = var.kms_key_arn == null ? 1 : 0

  name          = "alias/${var.name_prefix}-response"
  target_key_id = aws_kms_key.this[0].key_id
}

# A key policy's Resource "*" is the key itself. CloudWatch Logs encrypts the log groups, EventBridge sends the start
# function's undeliverable events to the KMS-encrypted dead-letter queue, CloudWatch alarms publish to the encrypted
# topic; everything else uses the key through IAM (the first statement).
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

# ---- dead-letter queues ------------------------------------------------------------------------------------------
# The RecordFailure state's queue: the failed execution's whole state, error included, to inspect and replay.
resource "aws_sqs_queue" "workflow_dlq" {
  name                              = "${var.name_prefix}-response-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

# Asynchronous invocations of the functions that failed (the start function's EventBridge events after Lambda's
# retries) and events EventBridge could not deliver to it: replay by putting the event back on its bus.
resource "aws_sqs_queue" "lambda_dlq" {
  name                              = "${var.name_prefix}-response-lambda-dlq"
  kms_master_key_id                 = local.kms_key_arn
  kms_data_key_reuse_period_seconds = 300
  message_retention_seconds         = 1209600
  tags                              = var.tags
}

data "aws_iam_policy_document" "workflow_dlq" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.workflow_dlq.arn]

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

resource "aws_sqs_queue_policy" "workflow_dlq" {
  queue_url = aws_sqs_queue.workflow_dlq.id
  policy    = data.aws_iam_policy_document.workflow_dlq.json
}

data "aws_iam_policy_document" "lambda_dlq" {
  statement {
    sid       = "EventBridgeDeadLetters"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.lambda_dlq.arn]

    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }

    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values   = [aws_cloudwatch_event_rule.incidents.arn, aws_cloudwatch_event_rule.cost_anomalies.arn]
    }
  }

  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["sqs:SendMessage", "sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility", "sqs:PurgeQueue"]
    resources = [aws_sqs_queue.lambda_dlq.arn]

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

resource "aws_sqs_queue_policy" "lambda_dlq" {
  queue_url = aws_sqs_queue.lambda_dlq.id
  policy    = data.aws_iam_policy_document.lambda_dlq.json
}

# ---- the alerts topic --------------------------------------------------------------------------------------------
# NotifyFailure, Escalate, Notify and (when no approver channel is configured) RequestApproval publish here; so do the
# alarms below.
resource "aws_sns_topic" "alerts" {
  name              = "${var.name_prefix}-response-alerts"
  kms_master_key_id = local.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alerts" {
  statement {
    sid       = "AlarmsPublish"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [local.account_id]
    }
  }

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
  policy = data.aws_iam_policy_document.alerts.json
}

resource "aws_sns_topic_subscription" "alerts_email" {
  for_each = toset(var.alerts_topic_emails)

  topic_arn = aws_sns_topic.alerts.arn
  protocol  = "email"
  endpoint  = each.value
}

# ---- logs --------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_log_group" "lambda" {
  for_each = local.function_names

  name              = "/aws/lambda/${each.value}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = var.tags
}

resource "aws_cloudwatch_log_group" "state_machine" {
  name              = "/aws/vendedlogs/states/${local.state_machine_name}"
  retention_in_days = var.log_retention_days
  kms_key_id        = local.kms_key_arn
  tags              = var.tags
}

# ---- the functions -----------------------------------------------------------------------------------------------
resource "aws_lambda_function" "task" {
  #checkov:skip=CKV_AWS_117:VPC placement is optional (subnet_ids); the steps call AWS APIs and Slack, and run outside a VPC by default
  #checkov:skip=CKV_AWS_272:Code signing is optional (code_signing_config_arn); the zip's hash comes from build/manifest.json
  for_each = local.task_functions

  function_name                  = local.function_names[each.key]
  description                    = "Egress response step ${each.key} (state_machines/anomaly_response.asl.json)"
  role                           = each.value.role == "remediation" ? aws_iam_role.remediation.arn : aws_iam_role.step[each.key].arn
  handler                        = each.value.handler
  runtime                        = var.lambda_runtime
  architectures                  = [var.lambda_architecture]
  filename                       = var.lambda_zip
  source_code_hash               = var.lambda_zip_sha256_base64
  layers                         = var.layer_arns
  timeout                        = coalesce(try(var.function_settings[each.key].timeout, null), each.value.timeout)
  memory_size                    = coalesce(try(var.function_settings[each.key].memory_size, null), each.value.memory_size)
  reserved_concurrent_executions = coalesce(try(var.function_settings[each.key].reserved_concurrency, null), var.default_reserved_concurrency)
  kms_key_arn                    = local.kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn

  environment {
    variables = local.task_environment
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.lambda_dlq.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda[each.key].name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.base, aws_cloudwatch_log_group.lambda]
}

resource "aws_lambda_function" "start" {
  #checkov:skip=CKV_AWS_117:VPC placement is optional (subnet_ids); start only calls Step Functions
  #checkov:skip=CKV_AWS_272:Code signing is optional (code_signing_config_arn); the zip's hash comes from build/manifest.json
  function_name                  = local.function_names["start"]
  description                    = "Starts the egress response once per incident (EventBridge: our incidents and Cost Anomaly Detection's)"
  role                           = aws_iam_role.start.arn
  handler                        = "handler.start"
  runtime                        = var.lambda_runtime
  architectures                  = [var.lambda_architecture]
  filename                       = var.lambda_zip
  source_code_hash               = var.lambda_zip_sha256_base64
  layers                         = var.layer_arns
  timeout                        = coalesce(try(var.function_settings["start"].timeout, null), local.all_functions["start"].timeout)
  memory_size                    = coalesce(try(var.function_settings["start"].memory_size, null), local.all_functions["start"].memory_size)
  reserved_concurrent_executions = coalesce(try(var.function_settings["start"].reserved_concurrency, null), var.start_reserved_concurrency)
  kms_key_arn                    = local.kms_key_arn
  code_signing_config_arn        = var.code_signing_config_arn

  environment {
    variables = {
      POWERTOOLS_SERVICE_NAME = "egress-response"
      STATE_MACHINE_ARN       = local.state_machine_arn
    }
  }

  tracing_config {
    mode = "Active"
  }

  dead_letter_config {
    target_arn = aws_sqs_queue.lambda_dlq.arn
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.lambda["start"].name
  }

  dynamic "vpc_config" {
    for_each = length(var.subnet_ids) > 0 ? [1] : []
    content {
      subnet_ids         = var.subnet_ids
      security_group_ids = var.security_group_ids
    }
  }

  tags = var.tags

  depends_on = [aws_iam_role_policy.base, aws_cloudwatch_log_group.lambda]
}

# Lambda's own retries of an asynchronous invocation (EventBridge's), then the dead-letter queue above.
resource "aws_lambda_function_event_invoke_config" "start" {
  function_name                = aws_lambda_function.start.function_name
  maximum_retry_attempts       = 2
  maximum_event_age_in_seconds = 21600
}

# ---- the state machine -------------------------------------------------------------------------------------------
resource "aws_sfn_state_machine" "this" {
  name       = local.state_machine_name
  role_arn   = aws_iam_role.state_machine.arn
  type       = "STANDARD"
  definition = templatefile(local.definition_path, local.definition_vars)

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

# ---- what starts a response --------------------------------------------------------------------------------------
resource "aws_cloudwatch_event_rule" "incidents" {
  name           = "${var.name_prefix}-response-incidents"
  description    = "Our incidents (the detect stage) start the response workflow"
  event_bus_name = var.incident_event_bus_name
  event_pattern = jsonencode({
    source        = ["egress.optimizer"]
    "detail-type" = ["Egress Cost Anomaly"]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_rule" "cost_anomalies" {
  name           = "${var.name_prefix}-response-cost-anomalies"
  description    = "AWS Cost Anomaly Detection's anomalies start the response workflow"
  event_bus_name = "default"
  event_pattern = jsonencode({
    source        = ["aws.ce"]
    "detail-type" = ["Anomaly Detected"]
  })
  tags = var.tags
}

resource "aws_cloudwatch_event_target" "incidents" {
  rule           = aws_cloudwatch_event_rule.incidents.name
  event_bus_name = var.incident_event_bus_name
  target_id      = "start-response"
  arn            = aws_lambda_function.start.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.lambda_dlq.arn
  }
}

resource "aws_cloudwatch_event_target" "cost_anomalies" {
  rule           = aws_cloudwatch_event_rule.cost_anomalies.name
  event_bus_name = "default"
  target_id      = "start-response"
  arn            = aws_lambda_function.start.arn

  retry_policy {
    maximum_event_age_in_seconds = 86400
    maximum_retry_attempts       = 185
  }

  dead_letter_config {
    arn = aws_sqs_queue.lambda_dlq.arn
  }
}

resource "aws_lambda_permission" "incidents" {
  statement_id  = "AllowIncidentRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.start.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.incidents.arn
}

resource "aws_lambda_permission" "cost_anomalies" {
  statement_id  = "AllowCostAnomalyRule"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.start.function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.cost_anomalies.arn
}

# ---- alarms ------------------------------------------------------------------------------------------------------
resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  alarm_name          = "${var.name_prefix}-response-executions-failed"
  alarm_description   = "A response execution failed (its state is in ${aws_sqs_queue.workflow_dlq.name})."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "executions_timed_out" {
  alarm_name          = "${var.name_prefix}-response-executions-timed-out"
  alarm_description   = "A response execution ran past the state machine's 48-hour timeout."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsTimedOut"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this.arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "dlq_depth" {
  for_each = {
    workflow = aws_sqs_queue.workflow_dlq.name
    lambda   = aws_sqs_queue.lambda_dlq.name
  }

  alarm_name          = "${var.name_prefix}-response-${each.key}-dlq-depth"
  alarm_description   = "Messages wait in the dead-letter queue ${each.value}: inspect and replay them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "start_errors" {
  alarm_name          = "${var.name_prefix}-response-start-errors"
  alarm_description   = "The start function failed: an incident may not have been answered (Lambda retries, then ${aws_sqs_queue.lambda_dlq.name})."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = aws_lambda_function.start.function_name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  tags                = var.tags
}
