# state machines logging ALL or ERROR with execution data to a log group, and traced

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-pass.sentinel"
  }
}

test {
  rules = {
    main = true
  }
}
