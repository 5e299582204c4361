# the model the default list refuses, allowed by the allowed_bedrock_model_ids parameter

param "allowed_bedrock_model_ids" {
  value = ["anthropic.claude-3-opus-20240229-v1:0"]
}

mock "tfplan/v2" {
  module {
    source = "mock-tfplan-fail-model-not-allowed.sentinel"
  }
}

test {
  rules = {
    main = true
  }
}
