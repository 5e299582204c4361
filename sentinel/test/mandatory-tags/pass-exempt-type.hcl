# an untagged queue, its type exempted by the exempt_resource_types parameter

param "exempt_resource_types" {
  value = ["aws_sqs_queue"]
}

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-pass-exempt-type.sentinel"
  }
}

test {
  rules = {
    main = true
  }
}
