# an Allow with NotAction: everything but what it lists

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-not-action.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
