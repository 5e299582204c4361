# taggable resources carrying project, owner and environment (in tags_all, or in tags when tags_all is unknown)

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-pass.sentinel"
  }
}

test {
  rules = {
    main = true
  }
}
