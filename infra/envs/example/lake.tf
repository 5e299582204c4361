# The lake (infra/modules/lake: raw, curated and access log buckets, the key, the Glue tables of the registry, the
# Athena workgroup) and the sources feeding it (infra/modules/log_sources: flow logs, S3 access logs, CloudFront
# standard logs v2, the CUR 2.0 export). Their variables are in variables_lake.tf.

# CloudFront's log delivery sources and the CUR 2.0 export exist only in us-east-1, whatever var.region is.
provider "aws" {
  alias  = "us_east_1"
  region = "us-east-1"

  default_tags {
    tags = local.tags
  }
}

module "lake" {
  source = "../../modules/lake"

  name_prefix = var.name_prefix
  tags        = local.tags

  # The database the dashboards read (athena_database) is the one the lake's tables are created in.
  database_name        = var.athena_database
  partition_projection = var.lake_partition_projection

  raw_log_retention_days      = var.lake_raw_log_retention_days
  cur_retention_days          = var.lake_cur_retention_days
  athena_bytes_scanned_cutoff = var.lake_athena_bytes_scanned_cutoff

  # Only the sources this deployment configures may deliver.
  deliver_vpc_flow_logs   = length(var.log_sources_vpc_ids) > 0
  deliver_cloudfront_logs = length(var.log_sources_cloudfront_distribution_arns) > 0
  deliver_s3_access_logs  = length(var.log_sources_s3_access_logged_bucket_names) > 0
  deliver_cur             = var.log_sources_create_cur_export

  force_destroy = var.lake_force_destroy
}

module "log_sources" {
  source = "../../modules/log_sources"

  providers = {
    aws           = aws
    aws.us_east_1 = aws.us_east_1
  }

  name_prefix = var.name_prefix
  tags        = local.tags

  raw_bucket_name        = module.lake.raw_bucket_name
  access_log_bucket_name = module.lake.access_log_bucket_name
  log_prefixes           = module.lake.log_prefixes

  vpc_ids                       = var.log_sources_vpc_ids
  s3_access_logged_bucket_names = var.log_sources_s3_access_logged_bucket_names
  cloudfront_distribution_arns  = var.log_sources_cloudfront_distribution_arns
  create_cur_export             = var.log_sources_create_cur_export
}
