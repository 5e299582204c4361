# tags_all unknown at plan time and tags lacking keys that default_tags may or may not add

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-tags-all-unknown.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
