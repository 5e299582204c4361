# the remediation role with named actions only (inline, attached, from a deferred policy document)

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
