# companions whose bucket is unknown at plan time and that are not in the bucket's slot: cannot be paired

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-unpaired-unknown-reference.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
