# no logging_configuration

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-logging.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
