"""What every event this project puts on EventBridge shares: its source (the response workflow tells our events
from Cost Anomaly Detection's by it) and the detail types its rules match. Terraform spells them too;
``tests/test_infra_wiring.py`` holds the two to each other."""

EVENT_SOURCE = "egress.optimizer"
INCIDENT = "Egress Cost Anomaly"  # one per new incident, its detail the incident contract (notify.eventbridge)
FEATURES_UPDATED = "Features Updated"  # hours of features landed (processing): triggers detection
MODEL_TRAINED = "Model Trained"  # a training job wrote its model (infra/modules/ml): detection installs it
DETAIL_TYPES = (INCIDENT, FEATURES_UPDATED, MODEL_TRAINED)
