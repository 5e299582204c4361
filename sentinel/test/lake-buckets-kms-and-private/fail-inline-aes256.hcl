# an existing bucket whose own (provider v3 style) encryption is AES256 and that has no encryption configuration

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-inline-aes256.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
