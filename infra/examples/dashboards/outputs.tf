output "dashboard_url" {
  description = "Where to open the dashboard."
  value       = module.dashboards.dashboard_url
}

output "data_set_ids" {
  description = "The SPICE datasets, by key."
  value       = module.dashboards.data_set_ids
}

output "reader_group_arn" {
  description = "Add readers to this group (aws quicksight create-group-membership)."
  value       = module.dashboards.reader_group_arn
}
