# SSE-SQS where allow_sqs_managed_sse is false requires a KMS key

param "allow_sqs_managed_sse" {
  value = false
}

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-kms-required.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
