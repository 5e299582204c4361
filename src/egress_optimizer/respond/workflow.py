"""The response state machine's definition as deployed, and starting it once per incident.

``state_machines/anomaly_response.asl.json`` is the one definition: Terraform renders it with ``templatefile``
and the local runner renders the same file with the same placeholder names (``TASKS``), so the two cannot
drift. The file ships inside the package as a link to that file.
"""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources
from typing import Any

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError

DEFINITION = "anomaly_response.asl.json"
# Placeholder -> the handler function (lambdas/respond/handler.py) behind it.
TASKS = {
    "normalise_arn": "normalise",
    "collect_changes_arn": "collect_changes",
    "collect_resources_arn": "collect_resources",
    "collect_traffic_arn": "collect_traffic",
    "explain_arn": "explain",
    "recommend_arn": "recommend",
    "request_approval_arn": "request_approval",
    "escalate_arn": "escalate",
    "apply_arn": "apply",
    "verify_arn": "verify",
    "rollback_arn": "rollback",
    "check_egress_arn": "check_egress",
    "notify_arn": "notify",
}
OTHER_PLACEHOLDERS = ("dead_letter_queue_url", "alerts_topic_arn", "alert_queue_url")
_PLACEHOLDER = re.compile(r"\$\{(\w+)\}")


def definition_text() -> str:
    return resources.files("egress_optimizer").joinpath("data", DEFINITION).read_text()


def placeholders(text: str | None = None) -> set[str]:
    return set(_PLACEHOLDER.findall(text if text is not None else definition_text()))


def render(values: dict[str, str], text: str | None = None) -> str:
    """The definition with every placeholder filled (as Terraform's ``templatefile`` does); a missing or an
    unknown name is an error, so the local and the deployed definitions have the same holes."""
    text = text if text is not None else definition_text()
    wanted = placeholders(text)
    if set(values) != wanted:
        missing, extra = sorted(wanted - set(values)), sorted(set(values) - wanted)
        raise InputError(f"state machine placeholders: missing {missing}, unknown {extra}")
    out = _PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    json.loads(out)
    return out


def execution_name(incident_id: str) -> str:
    """At most 80 characters of [A-Za-z0-9-_], the same for the same incident (Step Functions refuses a second
    execution of that name: the response runs once per incident)."""
    safe = re.sub(r"[^A-Za-z0-9_-]", "-", incident_id)[:60]
    return f"{safe}-{hashlib.sha256(incident_id.encode()).hexdigest()[:12]}"


def start(sfn: Any, state_machine_arn: str, incident: Incident, event: dict[str, Any]) -> dict[str, Any]:
    """Start the response to ``incident`` with ``event`` as its input; a second start of the same incident
    starts nothing and says so."""
    name = execution_name(incident.id)
    try:
        arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(event))["executionArn"]
    except sfn.exceptions.ExecutionAlreadyExists:
        arn = state_machine_arn.replace(":stateMachine:", ":execution:") + ":" + name
        return {"execution_arn": arn, "started": False}
    return {"execution_arn": arn, "started": True}
