# QuickSight over the lake: an Athena data source, one SPICE dataset per dashboard view, a refresh schedule per
# dataset, the readers' group and the permissions. The dashboard itself is in dashboard.tf (its own file: the
# hash of that file is what redeploys it, see the README's "QuickSight dashboard").

data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account_id      = coalesce(var.aws_account_id, data.aws_caller_identity.current.account_id)
  identity_region = coalesce(var.identity_region, data.aws_region.current.name)
  group_arn_base  = "arn:${data.aws_partition.current.partition}:quicksight:${local.identity_region}:${local.account_id}:group/${var.namespace}"

  # datasets.json: per dataset its view, its SQL ({database} is the Athena database) and its columns with their
  # QuickSight types. tests/test_dashboard_views.py runs every query on the local lake and checks the columns.
  datasets = jsondecode(file("${path.module}/datasets.json")).datasets

  reader_principal = var.create_reader_group ? aws_quicksight_group.readers[0].arn : "${local.group_arn_base}/${var.reader_group_name}"
  admin_principals = var.admin_group_name == null ? [] : ["${local.group_arn_base}/${var.admin_group_name}"]

  # The permission sets QuickSight itself grants (the console's "viewer" and "owner"): readers may open the
  # dashboard and nothing else; the admin group owns everything.
  dashboard_reader_actions = [
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:QueryDashboard",
  ]
  dashboard_owner_actions = [
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboardVersions",
    "quicksight:QueryDashboard",
    "quicksight:UpdateDashboard",
    "quicksight:DeleteDashboard",
    "quicksight:DescribeDashboardPermissions",
    "quicksight:UpdateDashboardPermissions",
    "quicksight:UpdateDashboardPublishedVersion",
  ]
  data_set_owner_actions = [
    "quicksight:DescribeDataSet",
    "quicksight:DescribeDataSetPermissions",
    "quicksight:PassDataSet",
    "quicksight:DescribeIngestion",
    "quicksight:ListIngestions",
    "quicksight:UpdateDataSet",
    "quicksight:DeleteDataSet",
    "quicksight:CreateIngestion",
    "quicksight:CancelIngestion",
    "quicksight:UpdateDataSetPermissions",
  ]
  data_source_owner_actions = [
    "quicksight:DescribeDataSource",
    "quicksight:DescribeDataSourcePermissions",
    "quicksight:PassDataSource",
    "quicksight:UpdateDataSource",
    "quicksight:DeleteDataSource",
    "quicksight:UpdateDataSourcePermissions",
  ]
}

# ---- who may see it ---------------------------------------------------------------------------------------------
# Created in the provider's region, which must then be QuickSight's identity region (else pass an existing group).
resource "aws_quicksight_group" "readers" {
  count = var.create_reader_group ? 1 : 0

  aws_account_id = local.account_id
  namespace      = var.namespace
  group_name     = var.reader_group_name
  description    = "Readers of the ${var.dashboard_name} dashboard (view only)"
}

# ---- where the data comes from ------------------------------------------------------------------------------------
resource "aws_quicksight_data_source" "athena" {
  aws_account_id = local.account_id
  data_source_id = "${var.name_prefix}-athena"
  name           = "${var.name_prefix} lake (Athena, ${var.athena_workgroup})"
  type           = "ATHENA"

  parameters {
    athena {
      work_group = var.athena_workgroup
    }
  }

  ssl_properties {
    disable_ssl = false
  }

  dynamic "permission" {
    for_each = local.admin_principals
    content {
      principal = permission.value
      actions   = local.data_source_owner_actions
    }
  }

  tags = var.tags
}

resource "aws_quicksight_data_set" "this" {
  for_each = local.datasets

  aws_account_id = local.account_id
  data_set_id    = "${var.name_prefix}-${replace(each.key, "_", "-")}"
  name           = each.value.name
  import_mode    = "SPICE"

  physical_table_map {
    physical_table_map_id = replace(each.key, "_", "-")

    custom_sql {
      data_source_arn = aws_quicksight_data_source.athena.arn
      name            = each.value.view
      sql_query       = replace(each.value.sql, "{database}", var.athena_database)

      dynamic "columns" {
        for_each = each.value.columns
        content {
          name = columns.value.name
          type = columns.value.type
        }
      }
    }
  }

  dynamic "permissions" {
    for_each = local.admin_principals
    content {
      principal = permissions.value
      actions   = local.data_set_owner_actions
    }
  }

  tags = var.tags
}

# Full refreshes: the savings and coverage views show the latest run only, so rows go as well as come.
resource "aws_quicksight_refresh_schedule" "this" {
  for_each = aws_quicksight_data_set.this

  aws_account_id = local.account_id
  data_set_id    = each.value.data_set_id
  schedule_id    = "${each.value.data_set_id}-${lower(var.refresh_interval)}"

  schedule {
    refresh_type = "FULL_REFRESH"

    schedule_frequency {
      interval        = var.refresh_interval
      time_of_the_day = var.refresh_interval == "DAILY" ? var.refresh_time_of_day : null
      timezone        = var.refresh_timezone
    }
  }
}
