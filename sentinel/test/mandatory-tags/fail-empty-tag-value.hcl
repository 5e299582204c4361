# a state machine whose environment tag is empty

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-empty-tag-value.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
