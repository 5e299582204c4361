# a public access block that leaves restrict_public_buckets false

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-public-access-flag-false.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
