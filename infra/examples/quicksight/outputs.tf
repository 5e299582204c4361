output "dashboard_url" {
  description = "Where to open the dashboard."
  value       = module.quicksight.dashboard_url
}

output "data_set_ids" {
  description = "The SPICE datasets, by key."
  value       = module.quicksight.data_set_ids
}

output "reader_group_arn" {
  description = "Add readers to this group (aws quicksight create-group-membership)."
  value       = module.quicksight.reader_group_arn
}
