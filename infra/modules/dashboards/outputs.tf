output "data_source_arn" {
  description = "ARN of the Athena data source."
  value       = aws_quicksight_data_source.athena.arn
}

output "data_set_arns" {
  description = "ARN of each SPICE dataset, by dataset key (datasets.json)."
  value       = { for k, d in aws_quicksight_data_set.this : k => d.arn }
}

output "data_set_ids" {
  description = "Id of each SPICE dataset, by dataset key (for ingestions: aws quicksight create-ingestion)."
  value       = { for k, d in aws_quicksight_data_set.this : k => d.data_set_id }
}

output "data_set_views" {
  description = "The Athena view each dataset reads, by dataset key."
  value       = { for k, d in local.datasets : k => d.view }
}

output "refresh_schedule_arns" {
  description = "ARN of each dataset's SPICE refresh schedule, by dataset key."
  value       = { for k, s in aws_quicksight_refresh_schedule.this : k => s.arn }
}

output "dashboard_id" {
  description = "Id of the dashboard (stable across redeployments)."
  value       = aws_quicksight_dashboard.this.dashboard_id
}

output "dashboard_arn" {
  description = "ARN of the dashboard."
  value       = aws_quicksight_dashboard.this.arn
}

output "dashboard_version_number" {
  description = "The dashboard's published version."
  value       = aws_quicksight_dashboard.this.version_number
}

output "dashboard_url" {
  description = "Console URL of the dashboard."
  value       = "https://${data.aws_region.current.name}.quicksight.aws.amazon.com/sn/dashboards/${aws_quicksight_dashboard.this.dashboard_id}"
}

output "reader_group_arn" {
  description = "ARN of the readers' group (created or existing)."
  value       = local.reader_principal
}
