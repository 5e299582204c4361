# The policy set: one policy per file, each with its tests in test/<policy>/ (pass*.hcl, fail*.hcl and the
# tfplan/v2 mocks they load). `sentinel test` here runs them all; Terraform Cloud/Enterprise runs the set against
# each plan of the workspaces it is attached to (a VCS policy set whose path is sentinel/).
#
# Every policy reads the plan through the tfplan/v2 import, which Terraform Cloud provides and the tests mock.
# Parameters keep their defaults unless a `param` block here (or the policy set in Terraform Cloud) overrides them.

policy "lake-buckets-kms-and-private" {
  source            = "./lake-buckets-kms-and-private.sentinel"
  enforcement_level = "hard-mandatory"
}

policy "lambda-failure-handling-and-concurrency" {
  source            = "./lambda-failure-handling-and-concurrency.sentinel"
  enforcement_level = "soft-mandatory"
}

policy "remediation-role-no-wildcard-actions" {
  source            = "./remediation-role-no-wildcard-actions.sentinel"
  enforcement_level = "hard-mandatory"
}

policy "mandatory-tags" {
  source            = "./mandatory-tags.sentinel"
  enforcement_level = "soft-mandatory"
}

policy "bedrock-model-allowlist" {
  source            = "./bedrock-model-allowlist.sentinel"
  enforcement_level = "soft-mandatory"
}

policy "step-functions-logging" {
  source            = "./step-functions-logging.sentinel"
  enforcement_level = "advisory"
}

policy "quicksight-not-public" {
  source            = "./quicksight-not-public.sentinel"
  enforcement_level = "hard-mandatory"
}

policy "sqs-queues-encrypted" {
  source            = "./sqs-queues-encrypted.sentinel"
  enforcement_level = "hard-mandatory"
}
