terraform {
  # terraform_data (the dashboard's definition trigger) needs 1.4.
  required_version = ">= 1.4"

  required_providers {
    aws = {
      source = "hashicorp/aws"
      # aws_quicksight_dashboard's `definition` block, aws_quicksight_refresh_schedule and
      # aws_quicksight_data_set's SPICE settings as used here are all in the 5.x provider.
      version = "~> 5.40"
    }
  }
}
