# an environment unknown at plan time as a whole

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-environment-unknown.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
