# queues encrypted with a KMS key (a reference unknown at plan time, or an alias) or with SSE-SQS

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-pass.sentinel"
  }
}

test {
  rules = {
    main = true
  }
}
