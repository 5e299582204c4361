output "alert_queue_url" {
  description = "The alerts queue: the response module's alert_queue_url (its Alert state sends here)."
  value       = aws_sqs_queue.alerts.url
}

output "alert_queue_arn" {
  description = "ARN of the alerts queue: the response module's alert_queue_arn."
  value       = aws_sqs_queue.alerts.arn
}

output "alert_dead_letter_queue_url" {
  description = "Alerts that failed 5 deliveries (alarmed): redrive them to the alerts queue once the cause is fixed."
  value       = aws_sqs_queue.alerts_dlq.url
}

output "alerts_table_name" {
  description = "ALERTS_TABLE: the approvals module's alerts_table_name (the alert buttons)."
  value       = aws_dynamodb_table.alerts.name
}

output "alerts_table_arn" {
  description = "ARN of the alerts table: the approvals module's alerts_table_arn."
  value       = aws_dynamodb_table.alerts.arn
}

output "alerts_topic_arn" {
  description = "The alert email topic (the default route's email_topic_arn)."
  value       = aws_sns_topic.alerts.arn
}

output "slack_bot_token_secret_arn" {
  description = "SLACK_BOT_TOKEN_SECRET_ARN: the response module's slack_bot_token_secret_arn too (put its value: see README)."
  value       = aws_secretsmanager_secret.slack_bot_token.arn
}

output "function_arn" {
  description = "The notify function."
  value       = aws_lambda_function.notify.arn
}

output "kms_key_arn" {
  description = "The key of the queues, table, topic, secret and logs (created or given): the response module's alert_queue_kms_key_arn and slack_kms_key_arn, the approvals module's alerts_kms_key_arn."
  value       = local.kms_key_arn
}
