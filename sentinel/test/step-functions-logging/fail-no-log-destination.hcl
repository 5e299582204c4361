# a logging level with no log destination

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-log-destination.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
