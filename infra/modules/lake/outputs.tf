output "lake_uri" {
  description = "The lake: s3://<curated bucket>/<lake_prefix> (LAKE_URI of the ingest and response functions, `egress ... --lake`)."
  value       = local.lake_uri

  # Whoever reads the lake waits for its bucket to be encrypted and TLS-only.
  depends_on = [aws_s3_bucket_server_side_encryption_configuration.curated, aws_s3_bucket_policy.curated]
}

output "raw_bucket_name" {
  description = "The raw bucket, where flow logs, CloudFront logs and the CUR export land: the log_sources module's raw_bucket_name."
  value       = aws_s3_bucket.raw.id

  # Log deliveries are created only once the bucket lets them write and the key lets them encrypt.
  depends_on = [aws_s3_bucket_policy.raw, aws_s3_bucket_server_side_encryption_configuration.raw]
}

output "raw_bucket_arn" {
  description = "ARN of the raw bucket."
  value       = aws_s3_bucket.raw.arn
}

output "curated_bucket_name" {
  description = "The curated bucket: the Parquet lake under lake_prefix and the Athena results under athena_results_prefix."
  value       = aws_s3_bucket.curated.id
}

output "curated_bucket_arn" {
  description = "ARN of the curated bucket."
  value       = aws_s3_bucket.curated.arn
}

output "access_log_bucket_name" {
  description = "The S3 server access log bucket: the log_sources module's access_log_bucket_name."
  value       = aws_s3_bucket.access_logs.id

  depends_on = [aws_s3_bucket_policy.access_logs]
}

output "access_log_bucket_arn" {
  description = "ARN of the S3 server access log bucket."
  value       = aws_s3_bucket.access_logs.arn
}

output "log_prefixes" {
  description = "Where each source lands (vpc_flow, cloudfront, cur in the raw bucket; s3_access, lake_access in the access log bucket): the log_sources module's log_prefixes."
  value       = local.prefixes
}

output "ingest_uris" {
  description = "What the ingest reads (`egress ingest <uris> --lake <lake_uri>`, or the ingest Lambda's S3 notifications from these prefixes): the raw bucket and the source buckets' access logs (not the lake buckets' own)."
  value = [
    "s3://${aws_s3_bucket.raw.id}/",
    "s3://${aws_s3_bucket.access_logs.id}/${local.prefixes.s3_access}/",
  ]
}

output "kms_key_arn" {
  description = "The key of the buckets and of the Athena results (created or given): the response module's lake_kms_key_arn."
  value       = local.kms_key_arn
}

output "service_key_policy_json" {
  description = "The key policy statements the log delivery services need (flow logs, CloudFront, S3 access logs, the CUR export): add them to a key of your own (kms_key_arn)."
  value       = data.aws_iam_policy_document.kms_services.json
}

output "database_name" {
  description = "The Glue database holding every lake table: the ingest's GLUE_DATABASE, the dashboards module's athena_database."
  value       = aws_glue_catalog_database.this.name
}

output "table_names" {
  description = "The Glue tables created (the registry's, from tables.json)."
  value       = sort(keys(aws_glue_catalog_table.this))
}

output "workgroup_name" {
  description = "The Athena workgroup (results encrypted with the key, bytes-scanned cutoff, CloudWatch metrics): the dashboards module's athena_workgroup."
  value       = aws_athena_workgroup.this.name
}

output "athena_results_uri" {
  description = "Where the workgroup writes query results (enforced)."
  value       = local.athena_results_uri
}
