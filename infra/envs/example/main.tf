# An example deployment: the lake and its log sources (lake.tf), the pipeline feeding it (pipeline.tf), the response
# workflow, approvals and notifications wired together, and the QuickSight dashboard. The code comes from
# `make package` (tools/package.py): build/lambda-<name>.zip, the layers, the image contexts and build/manifest.json,
# whose hashes and per-function layers are read here.

provider "aws" {
  region = var.region

  # The mandatory tags on everything, including what a module leaves untagged (sentinel/mandatory-tags.sentinel).
  default_tags {
    tags = local.tags
  }
}

locals {
  tags = merge(var.tags, {
    project     = var.project
    owner       = var.owner
    environment = var.environment
  })

  repository = "${path.root}/../../.."
  build_dir  = coalesce(var.build_dir, "${local.repository}/build")

  # build/manifest.json (`make package`): artefacts[<file>] = {path, size, sha256, sha256_base64};
  # lambdas[<name>] = {artefact, handlers, layers, ...}; layers[<file>] = {distributions, functions, ...}.
  manifest_path = "${local.build_dir}/manifest.json"
  manifest      = fileexists(local.manifest_path) ? jsondecode(file(local.manifest_path)) : null
  artefacts     = try(local.manifest.artefacts, {})
  layer_files   = toset(try(keys(local.manifest.layers), []))

  lambda_names = ["respond", "approval", "notify"]
  lambda_zip = { for n in local.lambda_names :
    n => "${local.build_dir}/${try(local.artefacts["lambda-${n}.zip"].path, "lambda-${n}.zip")}"
  }
  lambda_hash = { for n in local.lambda_names : n => try(local.artefacts["lambda-${n}.zip"].sha256_base64, "") }
  lambda_layers = { for n in local.lambda_names :
    n => [for f in try(local.manifest.lambdas[n].layers, []) : aws_lambda_layer_version.this[f].arn]
  }

  upload_layers = var.artefact_bucket != ""
}

# Fails the plan, saying what to run, when the artefacts have not been built (a failed precondition is a plan error,
# so nothing else needs to depend on this).
resource "terraform_data" "build" {
  input = try(local.manifest.wheel, null)

  lifecycle {
    precondition {
      condition     = local.manifest != null
      error_message = "No ${local.manifest_path}: run `make package` at the repository's root first (it builds the Lambda zips, the layers and the manifest this deployment reads)."
    }
    precondition {
      condition     = alltrue([for n in local.lambda_names : local.lambda_hash[n] != ""])
      error_message = "build/manifest.json lists no lambda-respond.zip, lambda-approval.zip or lambda-notify.zip: run `make package` again."
    }
  }
}

# ---- layers ------------------------------------------------------------------------------------------------------
resource "aws_s3_object" "layer" {
  for_each = local.upload_layers ? local.layer_files : toset([])

  bucket                 = var.artefact_bucket
  key                    = "${var.artefact_prefix}/${local.artefacts[each.key].sha256}/${each.key}"
  source                 = "${local.build_dir}/${local.artefacts[each.key].path}"
  source_hash            = local.artefacts[each.key].sha256
  server_side_encryption = "aws:kms"
  kms_key_id             = var.artefact_kms_key_arn
  tags                   = local.tags
}

resource "aws_lambda_layer_version" "this" {
  for_each = local.layer_files

  layer_name               = "${var.name_prefix}-${trimsuffix(each.key, ".zip")}"
  description              = "egress_optimizer and the distributions its functions import (tools/package.py)"
  compatible_runtimes      = ["python3.12"]
  compatible_architectures = ["x86_64"]
  source_code_hash         = local.artefacts[each.key].sha256_base64

  s3_bucket = local.upload_layers ? var.artefact_bucket : null
  s3_key    = local.upload_layers ? aws_s3_object.layer[each.key].key : null
  filename  = local.upload_layers ? null : "${local.build_dir}/${local.artefacts[each.key].path}"
}

# ---- the modules -------------------------------------------------------------------------------------------------
module "notifications" {
  source = "../../modules/notifications"

  name_prefix = var.name_prefix
  tags        = local.tags

  lambda_zip               = local.lambda_zip["notify"]
  lambda_zip_sha256_base64 = local.lambda_hash["notify"]
  layer_arns               = local.lambda_layers["notify"]

  email_subscriptions = var.alert_email_subscriptions
  slack_alert_channel = var.slack_alert_channel

  # The response workflow's Alert state sends the explained incident; incidents do not go to the queue directly.
  sender_role_arns         = [module.response.state_machine_role_arn]
  route_incidents_to_queue = false
  incident_event_bus_name  = var.incident_event_bus_name

  alarm_actions = [module.response.alerts_topic_arn]
}

module "approvals" {
  source = "../../modules/approvals"

  name_prefix = var.name_prefix
  tags        = local.tags

  lambda_zip               = local.lambda_zip["approval"]
  lambda_zip_sha256_base64 = local.lambda_hash["approval"]
  layer_arns               = local.lambda_layers["approval"]

  state_machine_arn  = module.response.state_machine_arn
  approver_slack_ids = var.approver_slack_ids
  approver_emails    = var.approver_emails

  alerts_table_name    = module.notifications.alerts_table_name
  alerts_table_arn     = module.notifications.alerts_table_arn
  alerts_kms_key_arn   = module.notifications.kms_key_arn
  alerts_kms_encrypted = true

  alarm_actions = [module.response.alerts_topic_arn]
}

module "response" {
  source = "../../modules/response"

  name_prefix     = var.name_prefix
  tags            = local.tags
  definition_path = "${local.repository}/state_machines/anomaly_response.asl.json"

  lambda_zip               = local.lambda_zip["respond"]
  lambda_zip_sha256_base64 = local.lambda_hash["respond"]
  layer_arns               = local.lambda_layers["respond"]

  lake_uri           = module.lake.lake_uri
  lake_kms_key_arn   = module.lake.kms_key_arn
  lake_kms_encrypted = true
  member_role_name   = var.member_role_name
  member_account_ids = var.member_account_ids
  trail_log_uris     = var.trail_log_uris
  bedrock_model_id   = var.bedrock_model_id

  approvals_table_name    = module.approvals.approvals_table_name
  approvals_table_arn     = module.approvals.approvals_table_arn
  approvals_topic_arn     = module.approvals.approvals_topic_arn
  approval_url            = module.approvals.approval_url
  approval_key_secret_arn = module.approvals.approval_key_secret_arn
  approver_emails         = var.approver_emails
  approvals_kms_key_arn   = module.approvals.kms_key_arn
  approvals_kms_encrypted = true
  approvals_by_email      = true
  reads_approval_secrets  = true

  slack_bot_token_secret_arn = module.notifications.slack_bot_token_secret_arn
  slack_kms_key_arn          = module.notifications.kms_key_arn
  slack_token_kms_encrypted  = true
  slack_approval_channel     = var.slack_approval_channel

  alert_queue_url         = module.notifications.alert_queue_url
  alert_queue_arn         = module.notifications.alert_queue_arn
  alert_queue_kms_key_arn = module.notifications.kms_key_arn

  alerts_topic_emails     = var.workflow_alert_emails
  incident_event_bus_name = var.incident_event_bus_name
}

module "dashboards" {
  source = "../../modules/dashboards"
  count  = var.enable_dashboards ? 1 : 0

  name_prefix      = var.name_prefix
  athena_database  = module.lake.database_name
  athena_workgroup = module.lake.workgroup_name
  admin_group_name = var.dashboard_admin_group_name
  refresh_interval = "DAILY"

  tags = local.tags
}
