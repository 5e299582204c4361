terraform {
  # terraform_data and optional object attributes with defaults: 1.4 is the floor the repository's modules share.
  required_version = ">= 1.4"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_lambda_function's logging_config (5.32) and the 5.x S3, Step Functions, EventBridge, SQS and ECR
      # arguments used here.
      version = "~> 5.40"
    }
  }
}
