# new and updated buckets, each with a KMS encryption configuration and a closed public access block naming it

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
