# logging level OFF

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-level-off.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
