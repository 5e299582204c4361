# a deferred policy document (standing in for an unknown document) allowing "iam:*"

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-policy-document-wildcard.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
