# an inline policy allowing "*"

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-star-action.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
