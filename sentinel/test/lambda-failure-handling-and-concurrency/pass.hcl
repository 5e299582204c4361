# each function bounded, with a DLQ, an on-failure destination, or an SQS source whose queue has a redrive policy

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
