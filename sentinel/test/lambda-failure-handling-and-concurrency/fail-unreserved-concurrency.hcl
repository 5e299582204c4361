# a function with a DLQ but unreserved concurrency (-1)

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-unreserved-concurrency.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
