"""Delivering incidents to where people and workflows pick them up (EventBridge today; SNS, Slack, webhooks
join with the alerts issue)."""
