"""What the planners and the reconciliation found, kept in the lake for the dashboard (QuickSight reads it
through Athena): the ``savings`` table, one row per recommendation, and the ``coverage_gaps`` table, one row per
unlogged VPC, bucket or distribution with the dollars its log would explain.

Both are append-only: each call writes its rows as one new file stamped with one ``generated_at``, and the views
(``v_planner_savings``, ``v_coverage_gaps``) show the latest run, lake-wide (a run covers every account). A run
that found nothing writes one row of kind ``none``, so the views show that nothing is left rather than the
last run that found something. Nothing is rewritten, so a run's numbers stay what they were when it ran.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from egress_optimizer.lake import Lake
from egress_optimizer.planners.from_lake import Recommendation
from egress_optimizer.tables import COVERAGE_GAPS, SAVINGS, Table

NOTHING = "none"  # the kind of the one row a run that found nothing writes
# How each kind of recommendation was priced, in words a reader of the dashboard follows (the planner's own
# name for it stays in ``Recommendation.planner``).
METHODS = {
    "replication-tree": "Planned the replication fan-out as a relay tree (Cloudcast), re-priced at list prices, "
    "against sending to every region directly",
    "replica-unread": "Priced the planned replication with and without the replica region nobody read",
    "gateway-endpoint": "NAT gateway processing per GB against a gateway endpoint, which is free",
    "cloudfront": "Internet egress at the month's marginal tier against serving the same bytes through CloudFront",
    "az-affinity": "Inter-AZ transfer, billed at both ends, against keeping both sides in one AZ",
    "nat-per-az": "Inter-AZ transfer to a shared NAT gateway against a NAT gateway per AZ (its hours and its public "
    "IPv4 address)",
}


def method(rec: Recommendation) -> str:
    """How ``rec``'s saving was priced, in words (the planner's name for a kind this module does not know)."""
    return METHODS.get(rec.kind, rec.planner)


def write_savings(lake: Lake, recommendations: Iterable[Recommendation], at: datetime | None = None) -> int:
    """Append one run's recommendations to ``savings``; returns the rows written (none: nothing is written)."""
    at = at or datetime.now(UTC)
    rows = [
        {
            "generated_at": at,
            "account": r.account,
            "region": r.region,
            "kind": r.kind,
            "title": r.title,
            "method": method(r),
            "current_monthly_usd": float(r.current_monthly_usd),
            "proposed_monthly_usd": float(r.proposed_monthly_usd),
            "monthly_savings_usd": float(r.monthly_savings_usd),
            "confidence": r.confidence,
        }
        for r in recommendations
    ]
    return _append(lake, SAVINGS, rows, at)


def write_coverage_gaps(lake: Lake, enable_logging: Iterable[Mapping[str, Any]], at: datetime | None = None) -> int:
    """Append one run's coverage gaps (a reconciliation's ``coverage["enable_logging"]``) to ``coverage_gaps``;
    returns the rows written."""
    at = at or datetime.now(UTC)
    rows = [
        {
            "generated_at": at,
            "account": g.get("account"),
            "region": g.get("region"),
            "kind": g["kind"],
            "resource": g["resource"],
            "enable": g["enable"],
            "explains_usd": float(g.get("explains_usd") or 0.0),
            "explains_usd_per_month": float(g.get("explains_usd_per_month") or 0.0),
        }
        for g in enable_logging
    ]
    return _append(lake, COVERAGE_GAPS, rows, at)


def _append(lake: Lake, table: Table, rows: list[dict], at: datetime) -> int:
    if at.tzinfo is None:
        raise ValueError("generated_at must be timezone-aware (UTC)")
    if not rows:  # the run itself: it found nothing (the views skip this row)
        rows = [{"generated_at": at, "kind": NOTHING}]
    file_id = f"{at.astimezone(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex}"  # a new file every run: append-only
    lake.write_table(table, pa.Table.from_pylist(rows, schema=table.schema), file_id)
    return sum(1 for r in rows if r["kind"] != NOTHING)
