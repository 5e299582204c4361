output "repository_url" {
  description = "ECR repository the detect image is pushed to (build/images/detect; see README): image_uri is <repository_url>:<tag>."
  value       = aws_ecr_repository.detect.repository_url
}

output "function_arn" {
  description = "The detect function."
  value       = aws_lambda_function.detect.arn
}

output "function_name" {
  description = "Name of the detect function."
  value       = aws_lambda_function.detect.function_name
}

output "artefact_bucket_name" {
  description = "The artefact bucket: the processing module's artefact_bucket (its Glue script, wheel and temporary files)."
  value       = aws_s3_bucket.artefacts.bucket
}

output "artefact_bucket_arn" {
  description = "ARN of the artefact bucket."
  value       = aws_s3_bucket.artefacts.arn
}

output "model_output_uri" {
  description = "Where training jobs write their model: <model_output_uri><training job name>/output/model.tar.gz (model.joblib and metadata.json); the detect function's MODEL_ARTIFACTS_PREFIX, the only place it installs models from."
  value       = local.model_output_uri
}

output "state_machine_arn" {
  description = "The training state machine (start an execution to train now: `aws stepfunctions start-execution --state-machine-arn ...`)."
  value       = aws_sfn_state_machine.training.arn
}

output "sagemaker_role_arn" {
  description = "The training jobs' execution role (a lake bucket policy or key of another account must grant it read access to egress_hourly)."
  value       = aws_iam_role.sagemaker.arn
}

output "dead_letter_queue_url" {
  description = "Failed detect runs and undeliverable trigger events (alarmed)."
  value       = aws_sqs_queue.dead_letters.url
}

output "kms_key_arn" {
  description = "The module's key (created or given): the artefact bucket's (the processing module's artefact_kms_key_arn), the training output's and volumes', the queue's, the repository's, the environment's and the logs'."
  value       = local.kms_key_arn
}
