# an on-failure destination configured for another function

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-invoke-config-other-function.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
