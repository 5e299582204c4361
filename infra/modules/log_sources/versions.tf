terraform {
  # Optional object attributes and the other 1.x features the repository's modules share: 1.4 is their floor.
  required_version = ">= 1.4"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # Above the repository's 5.40 floor: the CloudWatch Logs delivery resources (CloudFront standard logging v2)
      # arrived in 5.83; aws_bcmdataexports_export and target_object_key_format are older.
      version = "~> 5.83"
      # CloudFront's log delivery sources and the CUR 2.0 export exist only in us-east-1.
      configuration_aliases = [aws.us_east_1]
    }
  }
}
