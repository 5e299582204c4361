# an analysis shared with a whole namespace (every user of the account)

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-namespace-principal.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
