output "state_machine_arn" {
  description = "The response state machine (the approvals module's state_machine_arn: SendTaskSuccess)."
  value       = aws_sfn_state_machine.this.arn
}

output "state_machine_role_arn" {
  description = "The state machine's role (the notifications module's alert queue lets it send)."
  value       = aws_iam_role.state_machine.arn
}

output "function_arns" {
  description = "Every function of the workflow by handler function name (the start function included)."
  value       = merge({ for k, f in aws_lambda_function.task : k => f.arn }, { start = aws_lambda_function.start.arn })
}

output "function_names" {
  description = "Every function's name by handler function name."
  value       = local.function_names
}

output "remediation_role_arn" {
  description = "The role apply, verify and rollback run as."
  value       = aws_iam_role.remediation.arn
}

output "remediation_iam_actions" {
  description = "The remediation catalogue's IAM actions the remediation role holds (egress remediate list --json)."
  value       = local.remediation_iam_actions
}

output "member_role_policy_json" {
  description = "The policy member_role_name needs in each member account (organisation deployments): the read APIs and the remediation catalogue. Its trust policy must let the step and remediation roles of this module assume it."
  value       = data.aws_iam_policy_document.member_role.json
}

output "member_role_trusted_principals" {
  description = "The roles that assume member_role_name: put them in the member role's trust policy."
  value       = concat([for k in ["collect_changes", "collect_resources", "recommend"] : aws_iam_role.step[k].arn], [aws_iam_role.remediation.arn])
}

output "alerts_topic_arn" {
  description = "The workflow's alerts topic (failures, outcomes, escalations, alarms)."
  value       = aws_sns_topic.alerts.arn
}

output "dead_letter_queue_url" {
  description = "The workflow's dead-letter queue: the state of each failed execution."
  value       = aws_sqs_queue.workflow_dlq.url
}

output "lambda_dead_letter_queue_url" {
  description = "Failed asynchronous invocations (the start function's events) and events EventBridge could not deliver."
  value       = aws_sqs_queue.lambda_dlq.url
}

output "kms_key_arn" {
  description = "The key of the queues, topic, logs and function environment (created or given)."
  value       = local.kms_key_arn
}
