"""What every event this project puts on EventBridge shares: its source (incidents, "Features Updated", "Model
Trained"); the response workflow tells our events from Cost Anomaly Detection's by it."""

EVENT_SOURCE = "egress.optimizer"
