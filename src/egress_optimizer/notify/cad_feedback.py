"""Telling AWS Cost Anomaly Detection what people said about its anomaly (``ce:ProvideAnomalyFeedback``).

An incident made from a CAD anomaly (``source = aws-cost-anomaly-detection``) names the anomaly in an evidence
reference ``cad:<anomaly id>``, as ``respond.requests.from_cad`` writes it. Alerts' "This was planned" and the
response workflow's verdicts (``respond.requests.send_cad_feedback``) both send through here.
"""

from __future__ import annotations

from typing import Any

from egress_optimizer.contracts.incident import Incident

CAD_SOURCE = "aws-cost-anomaly-detection"
CE_REGION = "us-east-1"  # Cost Explorer's one endpoint
PLANNED = "PLANNED_ACTIVITY"


def anomaly_id(incident: Incident) -> str | None:
    """The CAD anomaly an incident answers (None for our own incidents)."""
    if incident.source != CAD_SOURCE:
        return None
    return next((e.query.get("anomaly_id") or e.id[4:] for e in incident.evidence if e.id.startswith("cad:")), None)


def send(ce: Any, incident: Incident, feedback: str) -> str | None:
    """Send ``feedback`` (YES, NO or PLANNED_ACTIVITY) for the incident's anomaly; what was sent, or None when the
    incident is not CAD's."""
    anomaly = anomaly_id(incident)
    if anomaly is None:
        return None
    ce.provide_anomaly_feedback(AnomalyId=anomaly, Feedback=feedback)
    return feedback
