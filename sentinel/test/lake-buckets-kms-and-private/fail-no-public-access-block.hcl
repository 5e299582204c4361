# a KMS-encrypted bucket without a public access block

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-public-access-block.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
