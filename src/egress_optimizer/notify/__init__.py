"""Delivering incidents to where people and workflows pick them up: EventBridge (``eventbridge``), and alerts
by email through SNS, Slack and signed webhooks, one thread per incident (``alerts`` and the modules it uses)."""
