# the pass plan, held to a longer mandatory_tags list (cost-center is on none of its resources)

param "mandatory_tags" {
  value = ["project", "owner", "environment", "cost-center"]
}

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-pass.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
