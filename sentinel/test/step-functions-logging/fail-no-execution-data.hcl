# include_execution_data false: a failure's input would not be logged

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-no-execution-data.sentinel"
  }
}

test {
  rules = {
    main = false
  }
}
