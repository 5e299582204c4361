# X-Ray tracing disabled

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-tracing.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
