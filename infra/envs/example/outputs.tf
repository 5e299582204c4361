output "state_machine_arn" {
  description = "The response workflow."
  value       = module.response.state_machine_arn
}

output "remediation_role_arn" {
  description = "The role apply, verify and rollback run as."
  value       = module.response.remediation_role_arn
}

output "member_role_policy_json" {
  description = "Organisation deployments: the policy of member_role_name in each member account."
  value       = module.response.member_role_policy_json
}

output "slack_interactivity_url" {
  description = "The Slack app's Interactivity Request URL."
  value       = module.approvals.slack_interactivity_url
}

output "approval_url" {
  description = "Where approvers' email links lead."
  value       = module.approvals.approval_url
}

output "secrets_to_fill" {
  description = "Secret containers whose values you put with `aws secretsmanager put-secret-value` (README)."
  value = {
    approval_signing_key = module.approvals.approval_key_secret_arn
    slack_signing_secret = module.approvals.slack_signing_secret_arn
    slack_bot_token      = module.notifications.slack_bot_token_secret_arn
  }
}

output "dead_letter_queues" {
  description = "Where failures wait to be inspected and replayed."
  value = {
    workflow = module.response.dead_letter_queue_url
    start    = module.response.lambda_dead_letter_queue_url
    resume   = module.approvals.resume_dead_letter_queue_url
    alerts   = module.notifications.alert_dead_letter_queue_url
  }
}

output "dashboard_url" {
  description = "The QuickSight dashboard (when enable_dashboards)."
  value       = try(module.dashboards[0].dashboard_url, null)
}
