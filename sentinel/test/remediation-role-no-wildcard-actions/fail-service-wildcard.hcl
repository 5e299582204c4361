# an attached managed policy, updated to allow "s3:*"

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-service-wildcard.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
