# a dashboard shared with "*"

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-wildcard-principal.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
