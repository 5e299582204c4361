"""What starts a response: our incidents, and AWS Cost Anomaly Detection's own anomalies, as one incident contract.

Accepted shapes (``incident_from_event``):
- our EventBridge entry (source ``egress.optimizer``): its detail is the incident contract;
- a bare incident document (``egress respond``, a direct start);
- Cost Anomaly Detection's EventBridge event (source ``aws.ce``, detail-type ``Anomaly Detected``), whose
  detail spells the dimension ``dimensionValue``;
- Cost Anomaly Detection's SNS alert (an SNS notification or the Lambda event of an SNS subscription), whose
  message spells it ``dimensionalValue``.
A CAD anomaly becomes an incident with ``source = aws-cost-anomaly-detection``, its root causes as CAD gives them
and no entities: the response's collectors then find the resources behind its usage types.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from egress_optimizer.contracts.events import EVENT_SOURCE
from egress_optimizer.contracts.incident import (
    EvidenceRef,
    Impact,
    Incident,
    RootCause,
    RootCauseImpact,
    Severity,
    Window,
)
from egress_optimizer.detection.events import severity_for
from egress_optimizer.errors import InputError
from egress_optimizer.notify import cad_feedback

CAD_SOURCE = "aws.ce"
CAD_DETAIL_TYPE = "Anomaly Detected"


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CadImpact(_Lenient):
    max_impact: float = Field(0.0, alias="maxImpact")
    total_actual: float = Field(0.0, alias="totalActualSpend")
    total_expected: float = Field(0.0, alias="totalExpectedSpend")
    total_impact: float = Field(0.0, alias="totalImpact")
    total_pct: float | None = Field(None, alias="totalImpactPercentage")


class CadRootCause(_Lenient):
    linked_account: str | None = Field(None, alias="linkedAccount")
    linked_account_name: str | None = Field(None, alias="linkedAccountName")
    region: str | None = None
    service: str | None = None
    usage_type: str | None = Field(None, alias="usageType")
    impact: dict[str, float] | None = None


class CadScore(_Lenient):
    current: float = Field(0.0, alias="currentScore")
    max: float = Field(0.0, alias="maxScore")


class CadAnomaly(_Lenient):
    """An anomaly as Cost Anomaly Detection sends it (either spelling of the dimension)."""

    anomaly_id: str = Field(alias="anomalyId")
    account_id: str | None = Field(None, alias="accountId")
    start: str | None = Field(None, alias="anomalyStartDate")
    end: str | None = Field(None, alias="anomalyEndDate")
    dimension_value: str | None = Field(None, alias="dimensionValue")
    dimensional_value: str | None = Field(None, alias="dimensionalValue")
    score: CadScore = Field(default_factory=CadScore, alias="anomalyScore")
    impact: CadImpact = Field(default_factory=CadImpact)
    root_causes: list[CadRootCause] = Field(default_factory=list, alias="rootCauses")

    @property
    def dimension(self) -> str | None:
        return self.dimension_value or self.dimensional_value


def incident_from_event(event: dict[str, Any]) -> Incident:
    """The incident a response starts from, whatever shape it arrived in (see the module's list)."""
    if not isinstance(event, dict):
        raise InputError("a response starts from a JSON object (an incident or an event carrying one)")
    try:
        if event.get("source") == EVENT_SOURCE and isinstance(event.get("detail"), dict):
            return Incident.from_json(event["detail"])
        if event.get("source") == CAD_SOURCE:
            if event.get("detail-type") != CAD_DETAIL_TYPE:
                raise InputError(f"aws.ce event of type {event.get('detail-type')!r} is not an anomaly")
            return from_cad(CadAnomaly.model_validate(event.get("detail") or {}), event.get("account"))
        message = _sns_message(event)
        if message is not None:
            return from_cad(CadAnomaly.model_validate(message), None)
        if "incident" in event and isinstance(event["incident"], dict):
            return Incident.from_json(event["incident"])
        return Incident.from_json(event)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InputError(f"not an incident or a Cost Anomaly Detection anomaly: {where}: {first['msg']}") from None


def _sns_message(event: dict[str, Any]) -> dict[str, Any] | None:
    """The parsed message of an SNS notification, or of the first record of an SNS-triggered Lambda event."""
    records = event.get("Records")
    note = records[0].get("Sns") if isinstance(records, list) and records and isinstance(records[0], dict) else None
    note = note if isinstance(note, dict) else (event if event.get("Type") == "Notification" else None)
    if note is None:
        return None
    try:
        message = json.loads(note.get("Message") or "")
    except json.JSONDecodeError:
        raise InputError("SNS message is not JSON: not a Cost Anomaly Detection alert") from None
    if not isinstance(message, dict) or "anomalyId" not in message:
        raise InputError("SNS message carries no anomalyId: not a Cost Anomaly Detection alert")
    return message


def from_cad(anomaly: CadAnomaly, event_account: str | None) -> Incident:
    """A Cost Anomaly Detection anomaly in the incident contract (its own root causes; no entities yet)."""
    causes = [c for c in anomaly.root_causes if c.linked_account or c.service]
    accounts = sorted({c.linked_account for c in causes if c.linked_account}) or [
        anomaly.account_id or event_account or "unknown"
    ]
    regions = [c.region for c in causes if c.region]
    start = _day(anomaly.start) or datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    end = max(_day(anomaly.end) or start, start) + timedelta(days=1)
    hours = (end - start).total_seconds() / 3600
    imp = anomaly.impact
    share = 1.0 / len(causes) if causes else 0.0
    return Incident(
        id="cad-" + hashlib.sha256(anomaly.anomaly_id.encode()).hexdigest()[:16],
        source="aws-cost-anomaly-detection",
        accounts=accounts,
        region=regions[0] if regions else "global",
        window=Window(start=start, end=end, detected_at=datetime.now(UTC)),
        severity=Severity(severity_for(imp.total_impact / max(hours, 1.0) * 24)),
        score=min(max(anomaly.score.max, 0.0), 1.0),
        impact=Impact(
            expected_usd=imp.total_expected,
            actual_usd=imp.total_actual,
            total_usd=imp.total_impact,
            percentage=imp.total_pct,
            per_day_usd=imp.total_impact / max(hours, 1.0) * 24,
            max_hourly_usd=imp.max_impact / 24,
        ),
        root_causes=[
            RootCause(
                linked_account=c.linked_account or accounts[0],
                linked_account_name=c.linked_account_name,
                region=c.region or "global",
                service=c.service or (anomaly.dimension or "unknown"),
                usage_type=c.usage_type or "unknown",
                impact=RootCauseImpact(contribution=(c.impact or {}).get("contribution", imp.total_impact * share)),
            )
            for c in causes
        ],
        entities=[],
        destinations=[],
        teams=[],
        evidence=[
            EvidenceRef(
                id=f"cad:{anomaly.anomaly_id}",
                kind="cost_anomaly",
                source="ce:GetAnomalies",
                summary="the Cost Anomaly Detection anomaly this incident answers",
                query={"anomaly_id": anomaly.anomaly_id},
            )
        ],
    )


def cad_anomaly_id(incident: Incident) -> str | None:
    """The Cost Anomaly Detection anomaly an incident answers (None for our own incidents)."""
    return cad_feedback.anomaly_id(incident)


# An approved fix confirms the anomaly; refusing a fix says nothing about it (the fix may be the wrong one).
FEEDBACK = {"approved": "YES", "false_positive": "NO", "planned": cad_feedback.PLANNED}


def send_cad_feedback(ce: Any, incident: Incident, verdict: str) -> str | None:
    """Write an approver's verdict back to Cost Anomaly Detection as its feedback (YES, NO, PLANNED_ACTIVITY);
    the feedback sent, or None when the incident is not CAD's or the verdict has no CAD equivalent."""
    feedback = FEEDBACK.get(verdict)
    return None if feedback is None else cad_feedback.send(ce, incident, feedback)


def _day(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InputError(f"anomaly date {value!r} is not a date") from None
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).astimezone(UTC)
