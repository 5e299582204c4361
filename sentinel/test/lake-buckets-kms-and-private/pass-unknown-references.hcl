# companions refer to their buckets by .id (unknown at plan time) and are paired by slot

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-pass-unknown-references.sentinel"
  }
}

test {
  rules = {
    main = true
  }
}
