# a new queue whose redrive_policy is unknown at plan time (the provider computes it when unset): not counted

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-new-queue-redrive-unknown.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
