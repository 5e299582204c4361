"""Response workflow Lambdas: one function per state of ``state_machines/anomaly_response.asl.json``.

Thin on purpose: each parses its payload into the library's types, calls one step of
``egress_optimizer.respond.tasks`` and returns JSON. Terraform deploys each function (``handler.<name>``) with
only the permissions its step needs. ``start`` is the EventBridge target (our incidents and Cost Anomaly
Detection's anomalies); it names the execution after the incident, so each incident is answered once.

Environment: ``LAKE_URI``, ``APPROVALS_TABLE``, ``ALERTS_TOPIC_ARN``, ``APPROVAL_TIMEOUT_SECONDS``,
``MEMBER_ROLE_NAME`` (the role each member account grants the response), ``ALERT_QUEUE_URL`` (the alerts
queue, where the approval request updates the incident's alert), ``EGRESS_CHECK_SECONDS`` (how long
after a fix the lake is asked whether the egress fell), ``TRAIL_LOGS`` (the organisation
trail's S3 prefix, read instead of LookupEvents), ``STATE_MACHINE_ARN`` (``start``), ``COST_ANOMALY_LOOKUP``
(``off`` skips Cost Anomaly Detection's view), ``BEDROCK_MODEL_ID`` (optional: Bedrock narrates the rules'
explanation), ``BEDROCK_GUARDRAIL_ID`` / ``BEDROCK_GUARDRAIL_VERSION``, ``BEDROCK_MAX_TOKENS``,
``BEDROCK_USD_PER_1K_INPUT`` / ``BEDROCK_USD_PER_1K_OUTPUT`` (cost logging), ``REMEDIATION_POLICY`` (the YAML
policy file: per-account opt-in, blast radius, approvers, change windows).
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.respond import tasks
from egress_optimizer.respond.actions import Applied, Plan
from egress_optimizer.respond.evidence import brief, cited, owner_tags
from egress_optimizer.respond.rootcause import Explanation

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "egress-response"))


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IncidentPayload(_Payload):
    incident: Incident


class ContextPayload(IncidentPayload):
    context: list[dict[str, Any]]


class ExplanationPayload(IncidentPayload):
    explanation: Explanation


class ApprovalPayload(IncidentPayload):
    token: str
    execution: str
    actions: list[Plan]
    explained: dict[str, Any] = {}  # the Explain step's output: the alert is updated with the approval


class PlansPayload(IncidentPayload):
    actions: list[Plan]


class ApplyPayload(PlansPayload):
    approval: dict[str, Any]


class AppliedPayload(IncidentPayload):
    applied: list[Applied]


class NotifyPayload(IncidentPayload):
    explanation: Explanation
    actions: list[Plan]
    outcome: dict[str, Any]


def _settings() -> tasks.Settings:
    return tasks.Settings.from_env()


@logger.inject_lambda_context
def start(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = tasks.start(event, os.environ["STATE_MACHINE_ARN"])
    logger.info("response start", extra=result)
    return result


@logger.inject_lambda_context
def normalise(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return tasks.normalise(event, _settings())


@logger.inject_lambda_context
def collect_changes(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = IncidentPayload.model_validate(event)
    return {"evidence": tasks.dumps(tasks.collect_changes(p.incident, _settings()))}


@logger.inject_lambda_context
def collect_resources(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = IncidentPayload.model_validate(event)
    return {"evidence": tasks.dumps(tasks.collect_resources(p.incident, _settings()))}


@logger.inject_lambda_context
def collect_traffic(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = IncidentPayload.model_validate(event)
    return {"evidence": tasks.dumps(tasks.collect_traffic(p.incident, _settings()))}


@logger.inject_lambda_context
def explain(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = ContextPayload.model_validate(event)
    evidence = tasks.evidence_of(p.context)
    explanation = tasks.explain(p.incident, evidence, _settings())
    logger.info("explained", extra={"incident_id": p.incident.id, "category": explanation.category.value})
    shown = [brief(e) for e in cited(evidence, explanation.evidence_ids)]
    return {"explanation": explanation.model_dump(mode="json"), "cited": shown, "owner_tags": owner_tags(evidence)}


@logger.inject_lambda_context
def recommend(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = ExplanationPayload.model_validate(event)
    settings = _settings()
    plans = tasks.recommend(p.incident, p.explanation, settings)
    return {"actions": tasks.dumps(plans), "auto_approval": tasks.auto_approval(plans, settings.policy)}


@logger.inject_lambda_context
def request_approval(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = ApprovalPayload.model_validate(event)
    asked = tasks.request_approval(p.token, p.execution, p.incident, p.actions, _settings(), p.explained)
    logger.info("approval requested", extra={"incident_id": p.incident.id, **asked})
    return asked


@logger.inject_lambda_context
def escalate(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = PlansPayload.model_validate(event)
    return {"detail": tasks.escalate(p.incident, p.actions, _settings())}


@logger.inject_lambda_context
def apply(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = ApplyPayload.model_validate(event)
    return {"applied": tasks.dumps(tasks.apply(p.actions, p.approval, _settings(), p.incident.id))}


@logger.inject_lambda_context
def verify(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = AppliedPayload.model_validate(event)
    verified, detail = tasks.verify(p.applied, _settings(), p.incident.id)
    return {"verified": verified, "detail": detail}


@logger.inject_lambda_context
def check_egress(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = AppliedPayload.model_validate(event)
    result = tasks.check_egress(p.incident, p.applied, _settings())
    logger.info("egress check", extra={"incident_id": p.incident.id, "status": result.status})
    return {"status": result.status, "detail": result.detail}


@logger.inject_lambda_context
def rollback(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = AppliedPayload.model_validate(event)
    return {"detail": tasks.rollback(p.applied, _settings(), p.incident.id)}


@logger.inject_lambda_context
def notify(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    p = NotifyPayload.model_validate(event)
    message_id = tasks.notify(p.incident, p.explanation, p.actions, p.outcome, _settings())
    return {"notified": message_id is not None}
