# Roles: one per workflow step (only what that step calls), the start function's, the state machine's, and the
# separate remediation role apply, verify and rollback share. What each step calls is read from
# src/egress_optimizer/respond/tasks.py and the modules it uses (collectors, actions, delivery, lake).
#
# Two deployments: single-account (member_role_name empty): the step roles call the read APIs and the remediation
# role holds the catalogue's actions itself. Organisation (member_role_name set): respond/clients.py assumes that role
# in the incident's account for every call about the account's resources, so those roles hold only sts:AssumeRole
# and each member account's role holds the permissions (output member_role_policy_json).

locals {
  single_account = var.member_role_name == ""

  # Account ids are a wildcard unless member_account_ids names them: incidents come from any member account of the
  # organisation, and each member role's own trust policy decides whether this account may assume it.
  member_role_arns = length(var.member_account_ids) > 0 ? [
    for a in var.member_account_ids : "arn:${local.partition}:iam::${a}:role/${var.member_role_name}"
  ] : ["arn:${local.partition}:iam::*:role/${var.member_role_name}"]

  # The remediation catalogue's IAM actions: the union of every action's `iam_actions` as
  # `.venv/bin/egress remediate list --json` prints them (egress_optimizer.respond.actions.CATALOGUE), grouped by the
  # resources each can be scoped to. Exactly these, no more and no fewer, are granted to the remediation role
  # (tests/test_infra_wiring.py compares them with the catalogue). Literal lists, so checkov reads them too.
  remediation_actions_by_scope = {
    buckets = [
      "s3:GetBucketPublicAccessBlock",
      "s3:PutBucketPublicAccessBlock",
      "s3:GetBucketPolicy",
      "s3:PutBucketPolicy",
      "s3:DeleteBucketPolicy",
      "s3:GetReplicationConfiguration",
      "s3:PutReplicationConfiguration",
      "s3:GetBucketLocation",
    ]
    replication_role = ["iam:PassRole"]
    network_reads = [
      "ec2:DescribeNetworkInterfaces",
      "ec2:DescribeSecurityGroups",
      "ec2:DescribeNatGateways",
      "ec2:DescribeRouteTables",
      "ec2:DescribeVpcEndpoints",
    ]
    network_changes = [
      "ec2:RevokeSecurityGroupEgress",
      "ec2:AuthorizeSecurityGroupEgress",
      "ec2:CreateVpcEndpoint",
      "ec2:ModifyVpcEndpoint",
      "ec2:DeleteVpcEndpoints",
      "ec2:CreateTags",
    ]
    distributions = ["cloudfront:GetDistributionConfig", "cloudfront:UpdateDistribution"]
  }
  remediation_iam_actions = flatten(values(local.remediation_actions_by_scope))

  # What planning an action reads (Action.read): recommend's dry runs, in a single-account deployment. The catalogue's
  # Get and Describe actions (the test checks these lists against the catalogue).
  catalogue_reads_by_scope = {
    buckets       = ["s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicy", "s3:GetReplicationConfiguration", "s3:GetBucketLocation"]
    network       = ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups", "ec2:DescribeNatGateways", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints"]
    distributions = ["cloudfront:GetDistributionConfig"]
  }

  # The lake: s3://bucket[/prefix].
  lake_bucket  = regex("^s3://([^/]+)", var.lake_uri)[0]
  lake_prefix  = trim(replace(var.lake_uri, "/^s3://[^/]+/?/", ""), "/")
  lake_objects = local.lake_prefix == "" ? "arn:${local.partition}:s3:::${local.lake_bucket}/*" : "arn:${local.partition}:s3:::${local.lake_bucket}/${local.lake_prefix}/*"
  lake_listing = local.lake_prefix == "" ? ["*"] : [local.lake_prefix, "${local.lake_prefix}/*"]

  # The organisation trail's log files: s3://bucket[/prefix] above AWSLogs/.
  trail_locations = [for u in var.trail_log_uris : {
    bucket      = regex("^s3://([^/]+)", u)[0]
    logs_prefix = trim(replace(u, "/^s3://[^/]+/?/", ""), "/") == "" ? "AWSLogs/" : "${trim(replace(u, "/^s3://[^/]+/?/", ""), "/")}/AWSLogs/"
  }]
  has_trail_logs = length(var.trail_log_uris) > 0

  # Bedrock: a model id, or a cross-region inference profile (us./eu./apac.) whose requests land on the model in
  # any region of the profile.
  bedrock_enabled   = var.bedrock_model_id != ""
  bedrock_profile   = can(regex("^(us|eu|apac|us-gov)\\.", var.bedrock_model_id))
  bedrock_model     = local.bedrock_profile ? join(".", slice(split(".", var.bedrock_model_id), 1, length(split(".", var.bedrock_model_id)))) : var.bedrock_model_id
  bedrock_guardrail = startswith(var.bedrock_guardrail_id, "arn:") ? var.bedrock_guardrail_id : "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:guardrail/${var.bedrock_guardrail_id}"

  secret_arns = compact([var.approval_key_secret_arn, var.slack_bot_token_secret_arn])
  in_vpc      = length(var.subnet_ids) > 0

  # The role each function runs as.
  role_names = merge(
    { for k in keys(local.step_functions) : k => aws_iam_role.step[k].name },
    { for k, v in local.task_functions : k => aws_iam_role.remediation.name if v.role == "remediation" },
    { start = aws_iam_role.start.name },
  )
}

# ---- trust -------------------------------------------------------------------------------------------------------
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

resource "aws_iam_role" "step" {
  for_each = local.step_functions

  name                 = local.function_names[each.key]
  description          = "Egress response step ${each.key}: only what this step calls"
  assume_role_policy   = data.aws_iam_policy_document.lambda_trust.json
  max_session_duration = 3600
  tags                 = var.tags
}

resource "aws_iam_role" "start" {
  name               = local.function_names["start"]
  description        = "Egress response start: starts the state machine"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}

resource "aws_iam_role" "remediation" {
  name               = var.remediation_role_name
  description        = "Egress response apply, verify and rollback: the remediation catalogue's actions, nothing else"
  assume_role_policy = data.aws_iam_policy_document.lambda_trust.json
  tags               = var.tags
}


# Policy documents hold static statements only (checkov reads neither `dynamic "statement"` blocks nor computed
# action lists): an optional part is a document of its own with `count`, merged with source_policy_documents or
# attached as its own role policy.

# ---- every function: its logs, traces, dead-letter queue and the module's key ------------------------------------
data "aws_iam_policy_document" "base" {
  for_each = local.all_functions

  statement {
    sid       = "OwnLogGroup"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.lambda[each.key].arn}:*"]
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
    resources = [aws_sqs_queue.lambda_dlq.arn]
  }

  statement {
    sid       = "ModuleKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [local.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "base" {
  for_each = local.all_functions

  name   = "base-${each.key}"
  role   = local.role_names[each.key]
  policy = data.aws_iam_policy_document.base[each.key].json
}

# Functions in a VPC: the network interfaces Lambda manages for them.
data "aws_iam_policy_document" "vpc" {
  for_each = local.in_vpc ? local.all_functions : {}

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

resource "aws_iam_role_policy" "vpc" {
  for_each = local.in_vpc ? local.all_functions : {}

  name   = "vpc-${each.key}"
  role   = local.role_names[each.key]
  policy = data.aws_iam_policy_document.vpc[each.key].json
}

# ---- the lake ----------------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "lake_key_read" {
  count = var.lake_kms_encrypted ? 1 : 0

  statement {
    sid       = "LakeKey"
    actions   = ["kms:Decrypt"]
    resources = [var.lake_kms_key_arn]
  }
}

data "aws_iam_policy_document" "lake_key_write" {
  count = var.lake_kms_encrypted ? 1 : 0

  statement {
    sid       = "LakeKeyWrite"
    actions   = ["kms:GenerateDataKey"]
    resources = [var.lake_kms_key_arn]
  }
}

data "aws_iam_policy_document" "lake_read" {
  source_policy_documents = var.lake_kms_encrypted ? [data.aws_iam_policy_document.lake_key_read[0].json] : []

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

  statement {
    sid       = "ReadLake"
    actions   = ["s3:GetObject"]
    resources = [local.lake_objects]
  }
}

# Reading, and appending to the audit tables (explanations, remediation_audit): one new object per row.
data "aws_iam_policy_document" "lake_write" {
  source_policy_documents = concat(
    [data.aws_iam_policy_document.lake_read.json],
    var.lake_kms_encrypted ? [data.aws_iam_policy_document.lake_key_write[0].json] : [],
  )

  statement {
    sid       = "AppendToLake"
    actions   = ["s3:PutObject"]
    resources = [local.lake_objects]
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
}

resource "aws_iam_role_policy" "lake" {
  for_each = {
    collect_traffic = data.aws_iam_policy_document.lake_read.json
    explain         = data.aws_iam_policy_document.lake_write.json
    recommend       = data.aws_iam_policy_document.lake_write.json
    check_egress    = data.aws_iam_policy_document.lake_write.json
  }

  name   = "lake"
  role   = aws_iam_role.step[each.key].name
  policy = each.value
}

# ---- reaching the member accounts --------------------------------------------------------------------------------
data "aws_iam_policy_document" "assume_member" {
  count = local.single_account ? 0 : 1

  statement {
    sid       = "AssumeMemberRole"
    actions   = ["sts:AssumeRole"]
    resources = local.member_role_arns
  }
}

# ---- the steps ---------------------------------------------------------------------------------------------------
# collect_changes: the trail's log files when TRAIL_LOGS names them, else LookupEvents (in the member account).
data "aws_iam_policy_document" "trail_key" {
  count = local.has_trail_logs && var.trail_kms_key_arn != null ? 1 : 0

  statement {
    sid       = "TrailKey"
    actions   = ["kms:Decrypt"]
    resources = [var.trail_kms_key_arn]
  }
}

data "aws_iam_policy_document" "trail_logs" {
  count = local.has_trail_logs ? 1 : 0

  source_policy_documents = local.has_trail_logs && var.trail_kms_key_arn != null ? [data.aws_iam_policy_document.trail_key[0].json] : []

  statement {
    sid       = "ListTrailLogs"
    actions   = ["s3:ListBucket"]
    resources = distinct([for l in local.trail_locations : "arn:${local.partition}:s3:::${l.bucket}"])

    condition {
      test     = "StringLike"
      variable = "s3:prefix"
      values   = distinct([for l in local.trail_locations : "${l.logs_prefix}*"])
    }
  }

  statement {
    sid       = "ReadTrailLogs"
    actions   = ["s3:GetObject"]
    resources = [for l in local.trail_locations : "arn:${local.partition}:s3:::${l.bucket}/${l.logs_prefix}*"]
  }
}

data "aws_iam_policy_document" "lookup_events" {
  count = !local.has_trail_logs && local.single_account ? 1 : 0

  statement {
    sid     = "LookupEvents"
    actions = ["cloudtrail:LookupEvents"]
    # LookupEvents takes no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

# collect_resources: the resources' configuration (collectors/resources.py), tags and Cost Anomaly Detection's view.
data "aws_iam_policy_document" "cost_anomaly_reads" {
  count = local.single_account && var.cost_anomaly_lookup ? 1 : 0

  statement {
    sid       = "CostAnomalies"
    actions   = ["ce:GetAnomalies"]
    resources = ["arn:${local.partition}:ce::${local.account_id}:anomalymonitor/*"]
  }
}

data "aws_iam_policy_document" "resource_reads" {
  count = local.single_account ? 1 : 0

  source_policy_documents = local.single_account && var.cost_anomaly_lookup ? [data.aws_iam_policy_document.cost_anomaly_reads[0].json] : []

  statement {
    sid       = "BucketConfiguration"
    actions   = ["s3:GetBucketPublicAccessBlock", "s3:GetBucketPolicyStatus", "s3:GetBucketPolicy", "s3:GetBucketAcl", "s3:GetReplicationConfiguration", "s3:GetBucketLocation"]
    resources = ["arn:${local.partition}:s3:::*"]

    condition {
      test     = "StringEquals"
      variable = "s3:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid     = "NetworkConfiguration"
    actions = ["ec2:DescribeNatGateways", "ec2:DescribeRouteTables", "ec2:DescribeVpcEndpoints", "ec2:DescribeNetworkInterfaces", "ec2:DescribeSecurityGroups"]
    # EC2's Describe calls take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "Distributions"
    actions   = ["cloudfront:GetDistributionConfig"]
    resources = ["arn:${local.partition}:cloudfront::${local.account_id}:distribution/*"]
  }

  statement {
    sid     = "OwnerTags"
    actions = ["tag:GetResources"]
    # The Resource Groups Tagging API takes no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

# recommend: dry-run plans read what each catalogue action would change (Action.read).
data "aws_iam_policy_document" "catalogue_reads" {
  count = local.single_account ? 1 : 0

  statement {
    sid       = "PlanBucketActions"
    actions   = local.catalogue_reads_by_scope.buckets
    resources = ["arn:${local.partition}:s3:::*"]

    condition {
      test     = "StringEquals"
      variable = "s3:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid     = "PlanNetworkActions"
    actions = local.catalogue_reads_by_scope.network
    # EC2's Describe calls take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "PlanDistributionActions"
    actions   = local.catalogue_reads_by_scope.distributions
    resources = ["arn:${local.partition}:cloudfront::${local.account_id}:distribution/*"]
  }
}

# request_approval: the task token under an approval id, Slack and the approvers' emails, else the alerts topic.
data "aws_iam_policy_document" "approvals_topic" {
  count = var.approvals_by_email ? 1 : 0

  statement {
    sid       = "ApprovalsTopic"
    actions   = ["sns:Publish"]
    resources = [var.approvals_topic_arn]
  }
}

data "aws_iam_policy_document" "approval_secrets" {
  count = var.reads_approval_secrets ? 1 : 0

  statement {
    sid       = "SlackTokenAndApprovalKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = local.secret_arns
  }
}

data "aws_iam_policy_document" "approvals_key" {
  count = var.approvals_kms_encrypted ? 1 : 0

  statement {
    sid       = "ApprovalsKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.approvals_kms_key_arn]
  }
}

data "aws_iam_policy_document" "slack_key" {
  count = var.slack_token_kms_encrypted ? 1 : 0

  statement {
    sid       = "SlackTokenKey"
    actions   = ["kms:Decrypt"]
    resources = [var.slack_kms_key_arn]
  }
}

data "aws_iam_policy_document" "request_approval" {
  source_policy_documents = concat(
    var.approvals_by_email ? [data.aws_iam_policy_document.approvals_topic[0].json] : [],
    var.reads_approval_secrets ? [data.aws_iam_policy_document.approval_secrets[0].json] : [],
    var.approvals_kms_encrypted ? [data.aws_iam_policy_document.approvals_key[0].json] : [],
    var.slack_token_kms_encrypted ? [data.aws_iam_policy_document.slack_key[0].json] : [],
  )

  statement {
    sid       = "ApprovalsTable"
    actions   = ["dynamodb:PutItem", "dynamodb:GetItem"]
    resources = [var.approvals_table_arn]
  }

  statement {
    sid       = "AlertsQueue"
    actions   = ["sqs:SendMessage"]
    resources = [var.alert_queue_arn]
  }

  statement {
    sid       = "AlertsTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

data "aws_iam_policy_document" "escalate" {
  statement {
    sid       = "AlertsTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

# notify: the outcome to the alerts topic; an applied fix confirms a Cost Anomaly Detection anomaly (feedback).
data "aws_iam_policy_document" "cost_anomaly_feedback" {
  count = var.cost_anomaly_lookup ? 1 : 0

  statement {
    sid     = "CostAnomalyFeedback"
    actions = ["ce:ProvideAnomalyFeedback"]
    # ProvideAnomalyFeedback names an anomaly id, not a resource IAM knows: "*" is the only form IAM accepts.
    resources = ["*"]
  }
}

data "aws_iam_policy_document" "notify" {
  source_policy_documents = var.cost_anomaly_lookup ? [data.aws_iam_policy_document.cost_anomaly_feedback[0].json] : []

  statement {
    sid       = "AlertsTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }
}

resource "aws_iam_role_policy" "step" {
  for_each = {
    collect_changes = local.has_trail_logs ? data.aws_iam_policy_document.trail_logs[0].json : (
      local.single_account ? data.aws_iam_policy_document.lookup_events[0].json : data.aws_iam_policy_document.assume_member[0].json
    )
    collect_resources = local.single_account ? data.aws_iam_policy_document.resource_reads[0].json : data.aws_iam_policy_document.assume_member[0].json
    recommend         = local.single_account ? data.aws_iam_policy_document.catalogue_reads[0].json : data.aws_iam_policy_document.assume_member[0].json
    request_approval  = data.aws_iam_policy_document.request_approval.json
    escalate          = data.aws_iam_policy_document.escalate.json
    notify            = data.aws_iam_policy_document.notify.json
  }

  name   = "step"
  role   = aws_iam_role.step[each.key].name
  policy = each.value
}

# explain: Bedrock narrates the rules' explanation when a model is configured.
data "aws_iam_policy_document" "guardrail" {
  count = local.bedrock_enabled && var.bedrock_guardrail_id != "" ? 1 : 0

  statement {
    sid       = "Guardrail"
    actions   = ["bedrock:ApplyGuardrail"]
    resources = [local.bedrock_guardrail]
  }
}

data "aws_iam_policy_document" "bedrock" {
  count = local.bedrock_enabled ? 1 : 0

  source_policy_documents = local.bedrock_enabled && var.bedrock_guardrail_id != "" ? [data.aws_iam_policy_document.guardrail[0].json] : []

  statement {
    sid     = "Narrate"
    actions = ["bedrock:InvokeModel"]
    # An inference profile routes each request to the model in any region of the profile, hence the region wildcard.
    resources = local.bedrock_profile ? [
      "arn:${local.partition}:bedrock:${local.region}:${local.account_id}:inference-profile/${var.bedrock_model_id}",
      "arn:${local.partition}:bedrock:*::foundation-model/${local.bedrock_model}",
    ] : ["arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.bedrock_model_id}"]
  }
}

resource "aws_iam_role_policy" "bedrock" {
  count = local.bedrock_enabled ? 1 : 0

  name   = "bedrock"
  role   = aws_iam_role.step["explain"].name
  policy = data.aws_iam_policy_document.bedrock[0].json
}

# start: one execution per incident (its name is the incident's; a second start is refused by Step Functions).
data "aws_iam_policy_document" "start" {
  statement {
    sid       = "StartResponse"
    actions   = ["states:StartExecution"]
    resources = [local.state_machine_arn]
  }
}

resource "aws_iam_role_policy" "start" {
  name   = "start"
  role   = aws_iam_role.start.name
  policy = data.aws_iam_policy_document.start.json
}

# ---- the remediation role ----------------------------------------------------------------------------------------
# Exactly the catalogue's actions (local.remediation_actions_by_scope), each scoped as narrowly as the action allows.
# sentinel/remediation-role-no-wildcard-actions.sentinel reads a policy's document when the policy is unknown at plan
# time: every policy on this role has a document of the same name and index for that reason.
data "aws_iam_policy_document" "remediation" {
  count = local.single_account ? 1 : 0

  statement {
    sid       = "BucketActions"
    actions   = local.remediation_actions_by_scope.buckets
    resources = ["arn:${local.partition}:s3:::*"]

    condition {
      test     = "StringEquals"
      variable = "s3:ResourceAccount"
      values   = [local.account_id]
    }
  }

  statement {
    sid       = "ReplicationRole"
    actions   = local.remediation_actions_by_scope.replication_role
    resources = ["arn:${local.partition}:iam::${local.account_id}:role/*"]

    # Rewriting a replication configuration hands its role back to S3, and only to S3.
    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["s3.amazonaws.com"]
    }
  }

  statement {
    sid     = "NetworkReads"
    actions = local.remediation_actions_by_scope.network_reads
    # EC2's Describe calls take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid     = "NetworkChanges"
    actions = local.remediation_actions_by_scope.network_changes
    # This account's security groups, VPC endpoints, route tables and VPCs in any region; the gateway endpoint
    # services (com.amazonaws.<region>.s3 / dynamodb) belong to AWS's own accounts.
    resources = [
      "arn:${local.partition}:ec2:*:${local.account_id}:*",
      "arn:${local.partition}:ec2:*:*:vpc-endpoint-service/*",
    ]
  }

  statement {
    sid       = "DistributionActions"
    actions   = local.remediation_actions_by_scope.distributions
    resources = ["arn:${local.partition}:cloudfront::${local.account_id}:distribution/*"]
  }
}

resource "aws_iam_role_policy" "remediation" {
  count = local.single_account ? 1 : 0

  name   = "remediation"
  role   = aws_iam_role.remediation.name
  policy = data.aws_iam_policy_document.remediation[0].json
}

# What apply, verify and rollback need besides the catalogue: the lake's audit trail (read and append) ...
data "aws_iam_policy_document" "remediation_runtime" {
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

  statement {
    sid       = "AuditTrail"
    actions   = ["s3:GetObject", "s3:PutObject"]
    resources = [local.lake_objects]
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
}

resource "aws_iam_role_policy" "remediation_runtime" {
  name   = "remediation-runtime"
  role   = aws_iam_role.remediation.name
  policy = data.aws_iam_policy_document.remediation_runtime.json
}

# ... the lake's key ...
data "aws_iam_policy_document" "remediation_lake_key" {
  count = var.lake_kms_encrypted ? 1 : 0

  statement {
    sid       = "LakeKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.lake_kms_key_arn]
  }
}

resource "aws_iam_role_policy" "remediation_lake_key" {
  count = var.lake_kms_encrypted ? 1 : 0

  name   = "remediation-lake-key"
  role   = aws_iam_role.remediation.name
  policy = data.aws_iam_policy_document.remediation_lake_key[0].json
}

# ... and in an organisation the member role, which then holds the catalogue's actions.
data "aws_iam_policy_document" "remediation_member" {
  count = local.single_account ? 0 : 1

  statement {
    sid       = "AssumeMemberRole"
    actions   = ["sts:AssumeRole"]
    resources = local.member_role_arns
  }
}

resource "aws_iam_role_policy" "remediation_member" {
  count = local.single_account ? 0 : 1

  name   = "remediation-member"
  role   = aws_iam_role.remediation.name
  policy = data.aws_iam_policy_document.remediation_member[0].json
}

# ---- the state machine -------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "state_machine_trust" {
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

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = [local.state_machine_arn]
    }
  }
}

resource "aws_iam_role" "state_machine" {
  name               = "${var.name_prefix}-anomaly-response-sfn"
  description        = "Egress response state machine: invokes its steps, the dead-letter queue, the alerts queue and topic"
  assume_role_policy = data.aws_iam_policy_document.state_machine_trust.json
  tags               = var.tags
}

data "aws_iam_policy_document" "state_machine" {
  statement {
    sid       = "InvokeSteps"
    actions   = ["lambda:InvokeFunction"]
    resources = flatten([for k in keys(local.task_functions) : [aws_lambda_function.task[k].arn, "${aws_lambda_function.task[k].arn}:*"]])
  }

  statement {
    sid       = "DeadLetterAndAlertQueues"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.workflow_dlq.arn, var.alert_queue_arn]
  }

  statement {
    sid       = "AlertsTopic"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alerts.arn]
  }

  statement {
    sid       = "QueueAndTopicKeys"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = distinct(compact([local.kms_key_arn, var.alert_queue_kms_key_arn]))
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

# ---- for member accounts -----------------------------------------------------------------------------------------
# The permissions member_role_name needs in each member account (output member_role_policy_json): what the step and
# remediation roles hold in a single-account deployment. A template for every member account, hence the account
# wildcards in its ARNs.
data "aws_iam_policy_document" "member_role" {
  statement {
    sid       = "BucketReads"
    actions   = ["s3:GetBucketPolicyStatus", "s3:GetBucketAcl"]
    resources = ["arn:${local.partition}:s3:::*"]
  }

  statement {
    sid       = "BucketActions"
    actions   = local.remediation_actions_by_scope.buckets
    resources = ["arn:${local.partition}:s3:::*"]
  }

  statement {
    sid       = "ReplicationRole"
    actions   = local.remediation_actions_by_scope.replication_role
    resources = ["arn:${local.partition}:iam::*:role/*"]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["s3.amazonaws.com"]
    }
  }

  statement {
    sid     = "NetworkReads"
    actions = local.remediation_actions_by_scope.network_reads
    # EC2's Describe calls take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "NetworkChanges"
    actions   = local.remediation_actions_by_scope.network_changes
    resources = ["arn:${local.partition}:ec2:*:*:*"]
  }

  statement {
    sid       = "Distributions"
    actions   = local.remediation_actions_by_scope.distributions
    resources = ["arn:${local.partition}:cloudfront::*:distribution/*"]
  }

  statement {
    sid     = "ChangesAndTags"
    actions = ["cloudtrail:LookupEvents", "tag:GetResources"]
    # LookupEvents and the Tagging API take no resource: "*" is the only form IAM accepts.
    resources = ["*"]
  }

  statement {
    sid       = "CostAnomalies"
    actions   = ["ce:GetAnomalies"]
    resources = ["arn:${local.partition}:ce::*:anomalymonitor/*"]
  }
}
