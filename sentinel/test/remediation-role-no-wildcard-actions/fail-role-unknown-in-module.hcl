# an inline policy whose role is unknown at plan time, in the module of a remediation role: checked

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-role-unknown-in-module.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
