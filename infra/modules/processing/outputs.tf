output "repository_url" {
  description = "ECR repository the process image is pushed to (build/images/process; see README): image_uri is <repository_url>:<tag>."
  value       = aws_ecr_repository.process.repository_url
}

output "function_arn" {
  description = "The process function."
  value       = aws_lambda_function.process.arn
}

output "function_name" {
  description = "Name of the process function."
  value       = aws_lambda_function.process.function_name
}

output "event_bus_name" {
  description = "EVENT_BUS_NAME of the process function: the bus \"Features Updated\" (source egress.optimizer) is put on. The ml module's processing_event_bus_name."
  value       = local.event_bus_name
}

output "event_bus_arn" {
  description = "ARN of that bus."
  value       = local.event_bus_arn
}

output "glue_job_name" {
  description = "GLUE_JOB_NAME: the Glue attribution job. The ml module's glue_job_name (its SUCCEEDED runs trigger detection)."
  value       = aws_glue_job.attribute.name
}

output "glue_job_arn" {
  description = "ARN of the Glue attribution job."
  value       = aws_glue_job.attribute.arn
}

output "glue_role_arn" {
  description = "The Glue job's role (a lake bucket policy or key of another account must grant it read and write)."
  value       = aws_iam_role.glue.arn
}

output "dead_letter_queue_url" {
  description = "Failed process runs, undeliverable schedule events and failed Glue runs (alarmed)."
  value       = aws_sqs_queue.failures.url
}

output "kms_key_arn" {
  description = "The module's key (created or given): queue, repository, environment, logs, Glue security configuration."
  value       = local.kms_key_arn
}
