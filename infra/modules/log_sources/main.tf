# The sources the lake ingests, delivered where the lake module lets each write: VPC Flow Logs (Parquet, Hive-style
# hourly partitions, the attribution's custom format) and CloudFront standard logs v2 and the CUR 2.0 export into
# the raw bucket, S3 server access logs (partitioned keys) into the access log bucket. CloudFront's delivery
# sources and the CUR export are made in us-east-1 (the aws.us_east_1 provider); everything else in the default
# provider's region, which must be the lake's.

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id = data.aws_caller_identity.current.account_id
  region     = data.aws_region.current.name
  partition  = data.aws_partition.current.partition

  raw_bucket_arn = "arn:${local.partition}:s3:::${var.raw_bucket_name}"

  # The fields README.md ("On your own AWS data", 2. Flow-log fields) names, in its order: packet addresses behind
  # NAT gateways and load balancers, direction, zones, and the AWS service and path bytes took (v3 to v5 fields).
  # tests/test_infra_lake.py holds this list to the README's and to formats/vpc_flow.py's catalogue.
  flow_log_fields = [
    "version", "account-id", "interface-id", "srcaddr", "dstaddr", "srcport", "dstport", "protocol", "packets",
    "bytes", "start", "end", "action", "log-status", "vpc-id", "subnet-id", "az-id", "pkt-srcaddr", "pkt-dstaddr",
    "flow-direction", "traffic-path", "pkt-src-aws-service", "pkt-dst-aws-service",
  ]
  flow_log_format = join(" ", [for f in local.flow_log_fields : format("$${%s}", f)])

  distributions = { for arn in var.cloudfront_distribution_arns : regex("distribution/([A-Z0-9]+)$", arn)[0] => arn }

  # What the CUR parser (src/egress_optimizer/ingest/cur.py) reads, as CUR 2.0 names it: its canonical columns'
  # sources, the account names that mark CUR 2.0, and the product, resource_tags and cost_category maps (the
  # product map carries transfer_type and region, which have no column of their own). tests/test_infra_lake.py
  # checks this against the parser.
  cur_columns = [
    "bill_billing_period_start_date", "bill_payer_account_id", "bill_payer_account_name",
    "identity_line_item_id", "identity_time_interval",
    "line_item_line_item_type", "line_item_usage_account_id", "line_item_usage_account_name",
    "line_item_usage_start_date", "line_item_usage_end_date", "line_item_product_code", "line_item_usage_type",
    "line_item_operation", "line_item_resource_id", "line_item_availability_zone", "line_item_usage_amount",
    "line_item_unblended_rate", "line_item_unblended_cost", "line_item_blended_cost", "line_item_net_unblended_cost",
    "line_item_currency_code", "line_item_line_item_description",
    "pricing_public_on_demand_cost", "pricing_unit",
    "product_product_family", "product_servicecode", "product_region_code",
    "product_from_location", "product_from_location_type", "product_from_region_code",
    "product_to_location", "product_to_location_type", "product_to_region_code",
    "product", "resource_tags", "cost_category",
  ]
  cur_export_name = coalesce(var.cur_export_name, "${var.name_prefix}-cur2")
}

# ---- VPC Flow Logs -----------------------------------------------------------------------------------------------
# Keys: <vpc_flow prefix>/AWSLogs/aws-account-id=<id>/aws-service=vpcflowlogs/aws-region=<region>/year=/month=/day=/
# hour=/<id>_vpcflowlogs_<region>_fl-..._<time>_<hash>.log.parquet; the ingest recognises them by "vpcflowlogs"
# and reads the account and region from the Hive segments when a record lacks them.
resource "aws_flow_log" "vpc" {
  for_each = toset(var.vpc_ids)

  vpc_id                   = each.value
  traffic_type             = var.flow_log_traffic_type
  max_aggregation_interval = var.flow_log_max_aggregation_interval
  log_destination_type     = "s3"
  log_destination          = "${local.raw_bucket_arn}/${var.log_prefixes.vpc_flow}"
  log_format               = local.flow_log_format

  destination_options {
    file_format                = "parquet"
    hive_compatible_partitions = true
    per_hour_partition         = true
  }

  tags = var.tags
}

# ---- S3 server access logs ---------------------------------------------------------------------------------------
# Keys: <s3_access prefix>/<account>/<region>/<bucket>/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-<unique>: the ingest
# recognises the name and takes the account and region from the partitioned prefix.
resource "aws_s3_bucket_logging" "source" {
  for_each = toset(var.s3_access_logged_bucket_names)

  bucket        = each.value
  target_bucket = var.access_log_bucket_name
  target_prefix = "${var.log_prefixes.s3_access}/"

  target_object_key_format {
    partitioned_prefix {
      partition_date_source = "EventTime"
    }
  }

  lifecycle {
    precondition {
      condition     = each.value != var.access_log_bucket_name
      error_message = "The access log bucket cannot log itself (each delivery would log another)."
    }
  }
}

# ---- CloudFront standard logging (v2) ----------------------------------------------------------------------------
# Keys: <cloudfront prefix>/AWSLogs/<account>/CloudFront/<distribution>/YYYY/MM/DD/HH/<distribution>.<YYYY-MM-DD-HH>.
# <unique>.<format>: the ingest reads the account from AWSLogs/<account>/, the distribution from the name, and
# recognises the Parquet by its columns (x-edge-location, ...). Not Hive paths: the account segment would become
# aws-account-id=<id>, which the ingest does not read for CloudFront.
resource "aws_cloudwatch_log_delivery_source" "cloudfront" {
  provider = aws.us_east_1
  for_each = local.distributions

  name         = "${var.name_prefix}-cloudfront-${each.key}"
  log_type     = "ACCESS_LOGS"
  resource_arn = each.value
  tags         = var.tags
}

resource "aws_cloudwatch_log_delivery_destination" "cloudfront" {
  provider = aws.us_east_1
  count    = length(local.distributions) > 0 ? 1 : 0

  name          = "${var.name_prefix}-cloudfront-s3"
  output_format = var.cloudfront_output_format

  delivery_destination_configuration {
    destination_resource_arn = "${local.raw_bucket_arn}/${var.log_prefixes.cloudfront}"
  }

  tags = var.tags
}

resource "aws_cloudwatch_log_delivery" "cloudfront" {
  provider = aws.us_east_1
  for_each = local.distributions

  delivery_source_name     = aws_cloudwatch_log_delivery_source.cloudfront[each.key].name
  delivery_destination_arn = aws_cloudwatch_log_delivery_destination.cloudfront[0].arn
  record_fields            = length(var.cloudfront_record_fields) > 0 ? var.cloudfront_record_fields : null

  s3_delivery_configuration {
    # AWS puts AWSLogs/<account>/CloudFront/ before this itself.
    suffix_path                 = "{DistributionId}/{yyyy}/{MM}/{dd}/{HH}"
    enable_hive_compatible_path = false
  }

  tags = var.tags
}

# ---- the CUR 2.0 export ------------------------------------------------------------------------------------------
# Keys: <cur prefix>/<export name>/data/BILLING_PERIOD=YYYY-MM/<export name>-<n>.snappy.parquet (the ingest
# recognises BILLING_PERIOD=) and .../metadata/BILLING_PERIOD=YYYY-MM/<export name>-Manifest.json (skipped).
resource "aws_bcmdataexports_export" "cur" {
  provider = aws.us_east_1
  count    = var.create_cur_export ? 1 : 0

  export {
    name        = local.cur_export_name
    description = "${var.name_prefix}: CUR 2.0 line items, hourly, with resource ids, for the egress lake"

    data_query {
      query_statement = "SELECT ${join(", ", local.cur_columns)} FROM COST_AND_USAGE_REPORT"
      # Every setting is required once one is given; the billing view is the account's own (primary) one.
      table_configurations = {
        COST_AND_USAGE_REPORT = {
          BILLING_VIEW_ARN                      = "arn:${local.partition}:billing::${local.account_id}:billingview/primary"
          INCLUDE_MANUAL_DISCOUNT_COMPATIBILITY = "FALSE"
          INCLUDE_RESOURCES                     = "TRUE"
          INCLUDE_SPLIT_COST_ALLOCATION_DATA    = "FALSE"
          TIME_GRANULARITY                      = "HOURLY"
        }
      }
    }

    destination_configurations {
      s3_destination {
        s3_bucket = var.raw_bucket_name
        s3_prefix = var.log_prefixes.cur
        s3_region = local.region

        s3_output_configurations {
          overwrite   = "OVERWRITE_REPORT"
          format      = "PARQUET"
          compression = "PARQUET"
          output_type = "CUSTOM"
        }
      }
    }

    refresh_cadence {
      frequency = "SYNCHRONOUS"
    }
  }

  tags = var.tags
}
