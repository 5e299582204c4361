# a bounded function with no DLQ, no on-failure destination and no SQS source

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-failure-handling.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
