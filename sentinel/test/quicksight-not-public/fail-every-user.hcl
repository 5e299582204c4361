# a data set shared with every user of the default namespace through a wildcard

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-every-user.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
