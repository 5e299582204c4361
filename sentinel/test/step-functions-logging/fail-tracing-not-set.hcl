# tracing_configuration not set (the provider computes it: unknown at plan time)

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-tracing-not-set.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
