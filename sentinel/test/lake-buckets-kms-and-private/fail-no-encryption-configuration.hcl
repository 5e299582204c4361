# a bucket with a public access block but no encryption configuration

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-encryption-configuration.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
