# the role's own inline_policy block allowing ec2:*

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-role-inline-policy.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
