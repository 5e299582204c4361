# a bucket encrypted with S3-managed keys (AES256), not KMS

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-aes256.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
