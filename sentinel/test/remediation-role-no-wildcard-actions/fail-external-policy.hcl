# an AWS managed policy not on the allowed list (its content is not in the plan)

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-external-policy.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
