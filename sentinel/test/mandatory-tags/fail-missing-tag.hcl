# a queue without the owner tag

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-missing-tag.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
