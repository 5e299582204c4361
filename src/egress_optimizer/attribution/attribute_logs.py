"""Attribute logs: every billable byte of the flow, S3 access and CloudFront logs, with who paid for it.

The rules are in ``attribution.attribute`` (one function per log source); this runs them over the log tables a
DuckDB connection holds (a window of hours, see ``Lake.connect``). Pricing is ``attribution.pricing_sql``.
"""

from __future__ import annotations

import duckdb
import pandas as pd

from egress_optimizer.attribution.attribute import (
    CACHE_MISSES,
    COLUMNS,
    VIA,
    attribute_cloudfront,
    attribute_flows,
    attribute_s3,
)
from egress_optimizer.attribution.inputs import AttributionInputs
from egress_optimizer.tables import CLOUDFRONT, S3_ACCESS, VPC_FLOW


def attribute_logs(con: duckdb.DuckDBPyConnection, inputs: AttributionInputs) -> pd.DataFrame:
    """Every attributed row of the log tables ``con`` has (the ``attributed`` table's rows, without dollars)."""
    tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    inv = inputs.inventory
    parts = []
    if VPC_FLOW.name in tables:
        parts.append(attribute_flows(con, inv, inputs.ip_ranges, inputs.networks, inputs.peer_cache))
    if S3_ACCESS.name in tables:
        parts.append(attribute_s3(con, inv, inputs.ip_ranges, inputs.networks))
    if CLOUDFRONT.name in tables:
        parts.append(attribute_cloudfront(con, inv))
    found = [p for p in parts if not p.empty]
    rows = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=COLUMNS)
    rows[CACHE_MISSES] = rows[CACHE_MISSES].astype("float64") if CACHE_MISSES in rows else float("nan")
    rows[VIA] = rows[VIA].astype(object).where(rows[VIA].notna(), None) if VIA in rows else None
    return rows
