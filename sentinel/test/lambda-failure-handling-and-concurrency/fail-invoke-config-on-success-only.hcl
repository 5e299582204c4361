# an invoke config for the function (named by ARN) with an on-success destination only

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-invoke-config-on-success-only.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
