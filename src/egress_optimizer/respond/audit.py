"""The response's record in the lake: one row per plan, application, verification and rollback in the
``remediation_audit`` table, and one per explanation in ``explanations``; each row is written as its own file
(a new id every time), so nothing is ever rewritten."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pyarrow as pa

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake
from egress_optimizer.respond.actions import Plan
from egress_optimizer.respond.evidence import Evidence, brief, cited
from egress_optimizer.respond.rootcause import Explanation
from egress_optimizer.tables import EXPLANATIONS, PARTITION_DATE, REMEDIATION_AUDIT, Table


def record(lake: Lake, incident_id: str, event: str, plan: Plan, actor: str = "", before: dict | None = None,
           after: dict | None = None, detail: str = "") -> None:  # fmt: skip
    """Append one audit row."""
    now = datetime.now(UTC)
    row = {
        "at": now,
        "account": plan.account,
        "region": plan.region,
        "incident_id": incident_id,
        "event": event,
        "action_id": plan.action_id,
        "resource": plan.resource,
        "plan_hash": plan.hash,
        "actor": actor,
        "before": json.dumps(before if before is not None else plan.current, sort_keys=True, default=str),
        "after": json.dumps(after if after is not None else plan.proposed, sort_keys=True, default=str),
        "detail": detail,
    }
    _append(lake, REMEDIATION_AUDIT, row)


def record_explanation(lake: Lake, incident: Incident, explanation: Explanation, evidence: list[Evidence]) -> None:
    """Append the incident's explanation with the evidence it cites (dashboards show each incident's latest)."""
    row = {
        "at": datetime.now(UTC),
        "account": incident.accounts[0],
        "region": incident.region,
        "incident_id": incident.id,
        "category": explanation.category.value,
        "confidence": explanation.confidence,
        "source": explanation.source,
        "summary": explanation.summary,
        "action_ids": ",".join(explanation.action_ids),
        "evidence_ids": ",".join(explanation.evidence_ids),
        "evidence": json.dumps([brief(e) for e in cited(evidence, explanation.evidence_ids)]),
    }
    _append(lake, EXPLANATIONS, row)


def _append(lake: Lake, table: Table, row: dict) -> None:
    at = row["at"]
    data = table.to_storage(pa.Table.from_pylist([row], schema=table.schema))
    lake.write_part(table, data, {PARTITION_DATE: at.date().isoformat()}, f"{at:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}")
