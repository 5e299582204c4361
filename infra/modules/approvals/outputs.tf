output "api_endpoint" {
  description = "The HTTP API's base URL."
  value       = aws_apigatewayv2_api.this.api_endpoint
}

output "slack_interactivity_url" {
  description = "Put this in the Slack app's Interactivity & Shortcuts > Request URL."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/slack/actions"
}

output "approval_url" {
  description = "APPROVAL_URL for the response module: the page an approver's email link opens."
  value       = "${aws_apigatewayv2_api.this.api_endpoint}/approve"
}

output "approvals_table_name" {
  description = "APPROVALS_TABLE for the response module."
  value       = aws_dynamodb_table.approvals.name
}

output "approvals_table_arn" {
  description = "ARN of the approvals table."
  value       = aws_dynamodb_table.approvals.arn
}

output "approvals_topic_arn" {
  description = "APPROVALS_TOPIC_ARN for the response module: approvers' emails, filtered per approver."
  value       = aws_sns_topic.approvals.arn
}

output "approval_key_secret_arn" {
  description = "APPROVAL_KEY_SECRET_ARN: the link-signing key's secret (put its value: see README)."
  value       = aws_secretsmanager_secret.approval_key.arn
}

output "slack_signing_secret_arn" {
  description = "SLACK_SIGNING_SECRET_ARN: the Slack app's signing secret (put its value: see README)."
  value       = aws_secretsmanager_secret.slack_signing_secret.arn
}

output "resume_queue_url" {
  description = "The resume queue."
  value       = aws_sqs_queue.resume.url
}

output "resume_dead_letter_queue_url" {
  description = "Resumptions that failed 5 times (alarmed): redrive them to the resume queue once the cause is fixed."
  value       = aws_sqs_queue.resume_dlq.url
}

output "function_arn" {
  description = "The approval function."
  value       = aws_lambda_function.approval.arn
}

output "kms_key_arn" {
  description = "The key of the table, secrets, queues, topic and logs (created or given): the response module's approvals_kms_key_arn."
  value       = local.kms_key_arn
}
