# an SQS-triggered function whose queue has no redrive policy

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-queue-without-redrive.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
