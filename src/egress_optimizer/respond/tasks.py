"""The response workflow's steps as library functions: each Lambda handler parses its payload, calls one of
these and returns what it returns. Configuration comes from the environment Terraform sets (``Settings``).

Errors AWS may clear by itself (throttling, a service's 5xx, a dropped connection) are raised as
``TransientError``, which the state machine retries with backoff; anything else fails the step into the
dead-letter path.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, EndpointConnectionError

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake
from egress_optimizer.respond import (
    actions,
    approvals,
    audit,
    delivery,
    egress_check,
    narrative,
    remediation,
    rootcause,
    workflow,
)
from egress_optimizer.respond.clients import for_account
from egress_optimizer.respond.collectors.changes import lookup_changes, trail_changes
from egress_optimizer.respond.collectors.resources import resource_evidence
from egress_optimizer.respond.collectors.traffic import traffic_evidence
from egress_optimizer.respond.evidence import Evidence
from egress_optimizer.respond.policy import AUTO_APPROVER, Policy
from egress_optimizer.respond.requests import cad_anomaly_id, incident_from_event, send_cad_feedback

TRANSIENT_CODES = {
    "Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException", "SlowDown",
    "ServiceUnavailable", "InternalError", "InternalFailure", "RequestTimeout",
}  # fmt: skip
DEFAULT_APPROVAL_TIMEOUT = 24 * 3600
DEFAULT_EGRESS_CHECK = 6 * 3600  # flow logs arrive within ~10 min, the hourly run after; six hours to judge
# A bounded wait and a few retries inside the step; the rules' explanation stands if Bedrock still fails.
BEDROCK_CONFIG = Config(read_timeout=30, connect_timeout=5, retries={"mode": "adaptive", "max_attempts": 3})
T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying (the state machine's Retry names this error type)."""


def transient(fn: Callable[..., T]) -> Callable[..., T]:
    """Raise AWS's retryable failures as ``TransientError``."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in TRANSIENT_CODES:
                raise TransientError(str(exc)) from exc
            raise
        except (EndpointConnectionError, ConnectionError) as exc:
            raise TransientError(str(exc)) from exc

    return wrapper


@dataclass(frozen=True)
class Settings:
    lake_uri: str | None
    approvals_table: str | None
    alerts_topic_arn: str | None
    approval_timeout_seconds: int
    member_role_name: str | None
    egress_check_seconds: int = DEFAULT_EGRESS_CHECK
    alert_queue_url: str | None = None
    trail_logs: str | None = None
    policy: Policy = field(default_factory=Policy)
    bedrock: narrative.BedrockSettings | None = None
    cost_anomalies: bool = True
    delivery: delivery.ApprovalDelivery = field(default_factory=lambda: delivery.ApprovalDelivery())

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            lake_uri=os.environ.get("LAKE_URI"),
            approvals_table=os.environ.get("APPROVALS_TABLE"),
            alerts_topic_arn=os.environ.get("ALERTS_TOPIC_ARN"),
            approval_timeout_seconds=int(os.environ.get("APPROVAL_TIMEOUT_SECONDS", DEFAULT_APPROVAL_TIMEOUT)),
            member_role_name=os.environ.get("MEMBER_ROLE_NAME") or None,
            egress_check_seconds=int(os.environ.get("EGRESS_CHECK_SECONDS", DEFAULT_EGRESS_CHECK)),
            alert_queue_url=os.environ.get("ALERT_QUEUE_URL") or None,
            trail_logs=os.environ.get("TRAIL_LOGS") or None,
            policy=Policy.load(os.environ.get("REMEDIATION_POLICY") or None),
            cost_anomalies=os.environ.get("COST_ANOMALY_LOOKUP", "on") != "off",
            delivery=delivery.ApprovalDelivery.from_env(),
            bedrock=narrative.BedrockSettings(
                model_id=os.environ["BEDROCK_MODEL_ID"],
                guardrail_id=os.environ.get("BEDROCK_GUARDRAIL_ID") or None,
                guardrail_version=os.environ.get("BEDROCK_GUARDRAIL_VERSION", "DRAFT"),
                max_tokens=int(os.environ.get("BEDROCK_MAX_TOKENS", "700")),
                usd_per_1k_input=float(os.environ.get("BEDROCK_USD_PER_1K_INPUT", "0")),
                usd_per_1k_output=float(os.environ.get("BEDROCK_USD_PER_1K_OUTPUT", "0")),
            )
            if os.environ.get("BEDROCK_MODEL_ID")
            else None,
        )

    def clients(self, account: str, region: str) -> Any:
        return for_account(account, region, self.member_role_name)


def normalise(event: dict[str, Any], settings: Settings) -> dict[str, Any]:
    incident = incident_from_event(event)
    timing = {
        "approval_timeout_seconds": settings.approval_timeout_seconds,
        "egress_check_seconds": settings.egress_check_seconds,
    }
    return {"incident": incident.to_json(), "settings": timing}


@transient
def collect_changes(incident: Incident, settings: Settings) -> list[Evidence]:
    """From the organisation trail's log files when ``TRAIL_LOGS`` names them (comma-separated folders or S3
    prefixes), else ``LookupEvents``."""
    if settings.trail_logs:
        roots = [r.strip() for r in settings.trail_logs.split(",") if r.strip()]
        return [e for root in roots for e in trail_changes(root, incident)]
    return lookup_changes(settings.clients(incident.account, incident.region).for_service("cloudtrail"), incident)


@transient
def collect_resources(incident: Incident, settings: Settings) -> list[Evidence]:
    return resource_evidence(settings.clients(incident.account, incident.region), incident, settings.cost_anomalies)


@transient
def collect_traffic(incident: Incident, settings: Settings) -> list[Evidence]:
    if not settings.lake_uri:
        return []
    return traffic_evidence(Lake.open(settings.lake_uri, create=False), incident)


def explain(incident: Incident, evidence: list[Evidence], settings: Settings | None = None) -> rootcause.Explanation:
    """The rules' explanation; with ``BEDROCK_MODEL_ID`` set, Bedrock's narrative of it when that passes the
    checks (``narrative``), the rules' own otherwise. Recorded in the lake's ``explanations`` table."""
    explanation = rootcause.explain(incident, evidence)
    if settings is not None and settings.bedrock is not None:
        client = boto3.client("bedrock-runtime", config=BEDROCK_CONFIG)
        explanation = narrative.narrate(client, settings.bedrock, incident, explanation, evidence)
    if settings is not None and settings.lake_uri:
        audit.record_explanation(Lake.open(settings.lake_uri, create=False), incident, explanation, evidence)
    return explanation


@transient
def recommend(incident: Incident, explanation: rootcause.Explanation, settings: Settings) -> list[actions.Plan]:
    """Dry-run plans of the explanation's actions that the policy allows in their accounts, for at most
    ``max_resources_per_run`` resources (the blast radius of one approval)."""
    plans = actions.plans_for(explanation.action_ids, list(incident.entities), settings.clients)
    plans = [p for p in plans if settings.policy.allows(p.action_id, p.account)]
    kept = sorted({p.resource for p in plans})[: settings.policy.max_resources_per_run]
    plans = [p for p in plans if p.resource in kept]
    for p in plans:
        _audit(settings, incident.id, "planned", p, detail="; ".join(p.changes))
    return plans


def auto_approval(plans: list[actions.Plan], policy: Policy) -> dict[str, Any] | None:
    """The policy's own approval when it lets every one of the plans apply without a person; None otherwise."""
    if not plans or not all(policy.auto_applies(p.action_id, p.account) for p in plans):
        return None
    return {"decision": "approved", "approver": AUTO_APPROVER, "plan_hashes": [p.hash for p in plans]}


@transient
def request_approval(
    token: str,
    execution: str,
    incident: Incident,
    plans: list[actions.Plan],
    settings: Settings,
    explained: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Store the token under an approval id and ask the approvers: Slack buttons and each approver's own signed
    email link (the id and the plans' diffs travel, never the token). Fails only when every configured way of
    asking failed, so the request is retried or reaches the dead-letter path rather than waiting unseen."""
    table = boto3.resource("dynamodb").Table(_required(settings.approvals_table, "APPROVALS_TABLE"))
    approval_id = approvals.request(
        table, token, execution, incident.id, [p.hash for p in plans], settings.approval_timeout_seconds
    )
    expires_at = approvals.expiry(table, approval_id)
    sent, failed = delivery.ask(approval_id, incident, plans, expires_at, settings.delivery, settings.policy)
    if failed and not sent:
        raise TransientError(f"approval {approval_id}: no approver could be asked ({'; '.join(failed)})")
    if not sent:  # nothing configured: the alerts topic carries the id (decide with `egress` or the API)
        lines = [f"Approval {approval_id} requested for incident {incident.id}:"]
        lines += [f"- {p.action_id} on {p.resource}: {'; '.join(p.changes) or 'no change'}" for p in plans]
        lines.append(f"Approve or refuse {approval_id} within {_duration(settings.approval_timeout_seconds)}.")
        _publish(settings, f"Approval needed: {incident.id}", "\n".join(lines))
    _update_alert(settings, incident, plans, explained or {}, approval_id)
    return {"approval_id": approval_id, "asked": sent, "failed": failed}


def _update_alert(
    settings: Settings, incident: Incident, plans: list[actions.Plan], explained: dict[str, Any], approval_id: str
) -> None:
    """The incident's alert gains the approval (its id, and Approve / Reject in its Slack message)."""
    if not settings.alert_queue_url:
        return
    extras = {
        "explanation": explained.get("explanation"),
        "evidence": explained.get("cited", []),
        "owner_tags": explained.get("owner_tags", {}),
        "recommendations": dumps(plans),
        "approval_id": approval_id,
    }
    body = json.dumps({"incident": incident.to_json(), "extras": extras}, default=str)
    boto3.client("sqs").send_message(QueueUrl=settings.alert_queue_url, MessageBody=body)


@transient
def escalate(incident: Incident, plans: list[actions.Plan], settings: Settings) -> str:
    detail = f"nobody approved or refused {len(plans)} action(s) for {incident.id} in time; nothing was changed"
    _publish(settings, f"Approval expired: {incident.id}", detail)
    return detail


def _approved_plans(plans: list[actions.Plan], approval: dict[str, Any], policy: Policy) -> list[actions.Plan]:
    """The plans, if the approval approved exactly these (their hashes), by someone the policy lets decide
    each (or by the policy itself, for actions it lets apply automatically), inside a change window."""
    if approval.get("decision") != "approved":
        raise PermissionError("the actions were not approved")
    if sorted(approval.get("plan_hashes") or []) != sorted(p.hash for p in plans):
        raise PermissionError("the approval was given for other plans than these")
    approver, now = str(approval.get("approver")), datetime.now(UTC)
    if approver == AUTO_APPROVER:
        refused = [p.action_id for p in plans if not policy.auto_applies(p.action_id, p.account)]
        reason = f"{approver} may not approve {', '.join(refused)} (remediation policy)" if refused else None
        if reason is None and not policy.in_window(now):
            reason = "outside every change window of the remediation policy: nothing was applied"
    else:
        reason = remediation.policy_refusal(plans, approver, policy, now)
    if reason:
        raise PermissionError(reason)
    return plans


@transient
def apply(
    plans: list[actions.Plan], approval: dict[str, Any], settings: Settings, incident_id: str = ""
) -> list[actions.Applied]:
    """Every approved plan, or none: when one fails, those already applied are rolled back and the error says so
    (``remediation.PartialApply``)."""
    approved = _approved_plans(plans, approval, settings.policy)
    approver = str(approval.get("approver", ""))
    return remediation.Remediator(settings.clients, approver, incident_id, _auditor(settings)).apply_all(approved)


@transient
def verify(applied: list[actions.Applied], settings: Settings, incident_id: str = "") -> tuple[bool, str]:
    held = remediation.Remediator(settings.clients, "", incident_id, _auditor(settings)).verify_all(applied)
    detail = "; ".join(f"{a.plan.action_id} on {a.plan.resource}: {'in place' if ok else 'NOT in place'}"
                       for a, ok in zip(applied, held, strict=True))  # fmt: skip
    return all(held), detail


@transient
def check_egress(incident: Incident, applied: list[actions.Applied], settings: Settings) -> egress_check.EgressCheck:
    """Whether the targeted egress fell since the actions were applied (the lake's view)."""
    lake = Lake.open(settings.lake_uri, create=False) if settings.lake_uri else None
    applied_at = max((a.applied_at for a in applied), default=datetime.now(UTC))
    result = egress_check.check(lake, incident, applied_at, datetime.now(UTC))
    for a in applied:
        _audit(settings, incident.id, f"egress_{result.status}", a.plan, detail=result.detail)
    return result


@transient
def rollback(applied: list[actions.Applied], settings: Settings, incident_id: str = "") -> str:
    failed = remediation.Remediator(settings.clients, "", incident_id, _auditor(settings)).rollback_all(applied)
    if failed:
        raise failed[0][1]  # retried by the state machine; the audit trail names every failure
    return f"restored the prior configuration of {len(applied)} resource(s)"


@transient
def notify(
    incident: Incident,
    explanation: rootcause.Explanation,
    plans: list[actions.Plan],
    outcome: dict[str, Any],
    settings: Settings,
) -> str | None:
    text = message(incident, explanation, plans, outcome)
    verdict = {"remediated": "approved", "rolled_back": "approved"}.get(outcome.get("outcome"))
    if verdict and cad_anomaly_id(incident) and settings.cost_anomalies:
        send_cad_feedback(boto3.client("ce", region_name="us-east-1"), incident, verdict)
    return _publish(settings, f"Egress incident {incident.id}: {explanation.category.value}", text)


def message(
    incident: Incident, explanation: rootcause.Explanation, plans: list[actions.Plan], outcome: dict[str, Any]
) -> str:
    lines = [explanation.summary, f"Confidence {explanation.confidence:.0%} ({explanation.source})."]
    lines += [f"Action {p.action_id} on {p.resource}" for p in plans]
    lines.append(f"Outcome: {outcome.get('outcome')}" + (f" ({outcome['detail']})" if outcome.get("detail") else ""))
    return "\n".join(lines)


def _publish(settings: Settings, subject: str, text: str) -> str | None:
    if not settings.alerts_topic_arn:
        return None
    # Subjects are single-line ASCII of at most 100 characters.
    clean = "".join(c if 32 <= ord(c) < 127 else "?" for c in subject)[:100]
    sns = boto3.client("sns", region_name=settings.alerts_topic_arn.split(":")[3])
    return sns.publish(TopicArn=settings.alerts_topic_arn, Subject=clean, Message=text)["MessageId"]


def _audit(settings: Settings, incident_id: str, event: str, plan: actions.Plan, actor: str = "",
           before: dict | None = None, after: dict | None = None, detail: str = "") -> None:  # fmt: skip
    """Append to the lake's remediation audit trail (deployments without a lake keep the step logs only)."""
    if settings.lake_uri:
        audit.record(Lake.open(settings.lake_uri, create=False), incident_id, event, plan, actor, before, after, detail)


def _auditor(settings: Settings) -> remediation.Audit:
    return functools.partial(_audit, settings)


def _duration(seconds: int) -> str:
    if seconds < 120:
        return f"{seconds} seconds"
    return f"{seconds // 60} minutes" if seconds < 7200 else f"{seconds // 3600} hours"


def _required(value: str | None, name: str) -> str:
    if not value:
        raise RuntimeError(f"{name} is not set")
    return value


def start(event: dict[str, Any], state_machine_arn: str) -> dict[str, Any]:
    """The EventBridge target: start the response to the incident the event carries, once per incident."""
    incident = incident_from_event(event)
    return workflow.start(boto3.client("stepfunctions"), state_machine_arn, incident, event)


def evidence_of(context: list[dict[str, Any]]) -> list[Evidence]:
    """The evidence every collector branch returned (the Parallel state's output), in order."""
    return [Evidence.model_validate(e) for branch in context for e in branch.get("evidence", [])]


def dumps(items: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(i.model_dump_json()) for i in items]
