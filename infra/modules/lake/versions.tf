terraform {
  # Optional object attributes with defaults (log_prefixes): 1.4 is the floor the repository's modules share.
  required_version = ">= 1.4"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_s3_bucket_logging's target_object_key_format (partitioned prefixes) and the 5.x S3, Glue and Athena arguments used here.
      version = "~> 5.40"
    }
  }
}
