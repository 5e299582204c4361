# `terraform test` plans the whole example root against mocked AWS providers: no credentials, no calls. It catches
# what `terraform validate` cannot (a for_each over values known only after apply, a failing precondition, a wrong
# type passed between modules). `build_dir` names a folder `make package` wrote (tests/test_infra_plan.py builds one).

mock_provider "aws" {
  source = "./tests/aws_mocks"
}

mock_provider "aws" {
  alias  = "us_east_1"
  source = "./tests/aws_mocks"
}

variables {
  owner                                     = "platform-finops"
  environment                               = "test"
  artefact_bucket                           = "deployment-artefacts"
  approver_emails                           = ["finops-lead@example.com"]
  approver_slack_ids                        = ["U0123456789"]
  slack_approval_channel                    = "C0APPROVALS"
  slack_alert_channel                       = "C0ALERTS"
  log_sources_vpc_ids                       = ["vpc-0123456789abcdef0"]
  log_sources_s3_access_logged_bucket_names = ["app-assets"]
  log_sources_cloudfront_distribution_arns  = ["arn:aws:cloudfront::111111111111:distribution/E2EXAMPLE"]
  enable_dashboards                         = true
}

run "the_whole_pipeline_plans" {
  command = plan

  # What the plan knows before anything exists: the names and images chosen from the variables and the manifest.
  assert {
    condition     = module.lake.database_name == var.athena_database
    error_message = "the lake's Glue database is not the one the dashboards read"
  }

  assert {
    condition     = alltrue([for n in local.image_functions : endswith(local.image_uris[n], ":${local.image_contexts[n].tag}")])
    error_message = "an image function does not run the image its build context was tagged with"
  }
}

run "without_a_build_the_plan_says_to_run_make_package" {
  command = plan

  variables {
    build_dir = "/nonexistent/build"
  }

  expect_failures = [terraform_data.build, terraform_data.pipeline_build]
}
