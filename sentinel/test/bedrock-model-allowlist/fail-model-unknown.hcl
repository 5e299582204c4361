# a model id unknown at plan time

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-model-unknown.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
