output "repository_url" {
  description = "ECR repository the ingest image is pushed to (build/images/ingest; see README): image_uri is <repository_url>:<tag>."
  value       = aws_ecr_repository.ingest.repository_url
}

output "queue_arn" {
  description = "The objects queue: new objects' events go here (with notifications = \"s3\" and a notification configuration managed elsewhere, add it there)."
  value       = aws_sqs_queue.objects.arn
}

output "queue_url" {
  description = "URL of the objects queue (a backfill may send S3 notifications or EventBridge \"Object Created\" events here)."
  value       = aws_sqs_queue.objects.url
}

output "dead_letter_queue_url" {
  description = "Notifications that failed 5 times (alarmed): redrive them to the objects queue once the cause is fixed."
  value       = aws_sqs_queue.objects_dlq.url
}

output "idempotency_table_name" {
  description = "IDEMPOTENCY_TABLE: the objects already ingested (Powertools' records, TTL on `expiration`)."
  value       = aws_dynamodb_table.idempotency.name
}

output "idempotency_table_arn" {
  description = "ARN of the idempotency table."
  value       = aws_dynamodb_table.idempotency.arn
}

output "function_arn" {
  description = "The ingest function."
  value       = aws_lambda_function.ingest.arn
}

output "function_name" {
  description = "Name of the ingest function."
  value       = aws_lambda_function.ingest.function_name
}

output "role_arn" {
  description = "The ingest function's role (for bucket or key policies that name their readers)."
  value       = aws_iam_role.ingest.arn
}

output "kms_key_arn" {
  description = "The key of the queues, the table, the repository, the environment and the logs (created or given)."
  value       = local.kms_key_arn
}
