# an encryption configuration (for a bucket outside this plan) that uses AES256

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-configuration-aes256.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
