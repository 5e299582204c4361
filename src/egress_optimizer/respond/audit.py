"""The remediation audit trail: one row per plan, application, verification and rollback, in the lake's
``remediation_audit`` table, each written as its own file (a new id every time), so nothing is ever rewritten."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import pyarrow as pa

from egress_optimizer.lake import Lake
from egress_optimizer.respond.actions import Plan
from egress_optimizer.tables import PARTITION_DATE, REMEDIATION_AUDIT


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
    table = REMEDIATION_AUDIT.to_storage(pa.Table.from_pylist([row], schema=REMEDIATION_AUDIT.schema))
    lake.write_part(
        REMEDIATION_AUDIT, table, {PARTITION_DATE: now.date().isoformat()}, f"{now:%Y%m%dT%H%M%S}-{uuid.uuid4().hex}"
    )
