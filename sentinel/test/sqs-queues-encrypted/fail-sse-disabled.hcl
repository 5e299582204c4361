# SSE-SQS explicitly disabled and no KMS key

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-sse-disabled.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
