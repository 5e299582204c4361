# a function whose reserved concurrency is unknown at plan time

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-concurrency-unknown.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
