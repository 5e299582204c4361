output "flow_log_ids" {
  description = "The flow log of each VPC (vpc id => flow log id)."
  value       = { for vpc, f in aws_flow_log.vpc : vpc => f.id }
}

output "flow_log_format" {
  description = "The custom flow log format every flow log uses (README: \"On your own AWS data\", flow-log fields)."
  value       = local.flow_log_format
}

output "s3_access_logged_buckets" {
  description = "The buckets whose server access logs go to the access log bucket."
  value       = sort(keys(aws_s3_bucket_logging.source))
}

output "cloudfront_delivery_ids" {
  description = "The CloudFront standard logging (v2) delivery of each distribution (distribution id => delivery id)."
  value       = { for id, d in aws_cloudwatch_log_delivery.cloudfront : id => d.id }
}

output "cur_export_arn" {
  description = "The CUR 2.0 export (null when create_cur_export is false)."
  value       = try(aws_bcmdataexports_export.cur[0].export[0].export_arn, null)
}

output "cur_query" {
  description = "The CUR 2.0 export's query: the columns the CUR parser reads."
  value       = "SELECT ${join(", ", local.cur_columns)} FROM COST_AND_USAGE_REPORT"
}
