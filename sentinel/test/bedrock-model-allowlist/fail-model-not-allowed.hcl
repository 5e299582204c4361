# a model id that is not on the allowlist

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-model-not-allowed.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
