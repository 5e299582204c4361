# The egress dashboard in QuickSight, on an account already subscribed to QuickSight (Enterprise edition for the
# hourly refresh) whose service role may read the lake bucket, the Glue catalog and the workgroup's results.
# The views of src/egress_optimizer/sql/athena/views must exist in the database before the first apply.

provider "aws" {
  region = var.region
}

module "dashboards" {
  source = "../../modules/dashboards"

  name_prefix      = "egress"
  athena_database  = var.athena_database
  athena_workgroup = var.athena_workgroup

  create_reader_group = true
  reader_group_name   = "egress-dashboard-readers"
  admin_group_name    = var.admin_group_name

  refresh_interval    = "HOURLY"
  refresh_time_of_day = "06:00" # used when refresh_interval is DAILY
  refresh_timezone    = "UTC"

  tags = {
    project = "egress-optimizer"
  }
}
