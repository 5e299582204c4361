terraform {
  # terraform_data (the build check) needs 1.4.
  required_version = ">= 1.4"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # modules/log_sources needs 5.83 (CloudFront standard logging v2); the others 5.40.
      version = "~> 5.83"
    }
  }
}
