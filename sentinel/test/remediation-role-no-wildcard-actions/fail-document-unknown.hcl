# an inline policy whose document is unknown at plan time, with no policy document in its slot

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-document-unknown.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
