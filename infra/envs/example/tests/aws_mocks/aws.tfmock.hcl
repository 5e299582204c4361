# The data sources the example root reads before anything exists, as both AWS providers (the default and
# us_east_1) answer them in tests/plan.tftest.hcl.

mock_data "aws_caller_identity" {
  defaults = { account_id = "111111111111", arn = "arn:aws:iam::111111111111:user/test", user_id = "test" }
}

mock_data "aws_region" {
  defaults = { name = "us-east-1", id = "us-east-1" }
}

mock_data "aws_partition" {
  defaults = { partition = "aws", dns_suffix = "amazonaws.com" }
}

mock_data "aws_iam_policy_document" {
  defaults = { json = "{\"Version\":\"2012-10-17\",\"Statement\":[]}" }
}
