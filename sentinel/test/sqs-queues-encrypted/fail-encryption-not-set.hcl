# neither kms_master_key_id nor sqs_managed_sse_enabled set

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-encryption-not-set.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
