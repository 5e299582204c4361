# an SQS-triggered function whose queue is not in this plan: its redrive policy cannot be checked

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-queue-outside-plan.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
