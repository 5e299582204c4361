"""Incidents from bring-your-own series (``egress score-series --events``), in the incident contract.

An incident is a run of rows whose evidence clears the detector's threshold (runs closer than ``GAP_STEPS``
are one), on one series. Its impact is the excess of the value over the expected value, in the value's own
units: dollars when the series is cost (a CUR roll-up), which is what the contract's dollar fields mean.
Key columns that the contract names (account, region, service, usage type, resource) fill those fields, so a
CUR roll-up by ``account,service,usage_type`` gives root causes as AWS Cost Anomaly Detection spells them.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from egress_optimizer.contracts.incident import EvidenceRef, Incident
from egress_optimizer.detection.events import Event, severity_for
from egress_optimizer.detection.incidents import to_incident
from egress_optimizer.detection.univariate import score_of

GAP_STEPS = 3  # flagged rows at most this many steps apart are one incident
_ALIASES = {
    "account": ("account", "account_id", "linked_account", "line_item_usage_account_id", "usage_account_id"),
    "region": ("region", "aws_region", "product_region"),
    "service": ("service", "product", "product_code", "line_item_product_code"),
    "usage_type": ("usage_type", "usagetype", "line_item_usage_type"),
    "resource": ("resource", "resource_id", "line_item_resource_id"),
}


def _field(keys: dict[str, str], name: str, default: str | None) -> str | None:
    for alias in _ALIASES[name]:
        for k, v in keys.items():
            if k.lower() == alias and v not in ("", "nan", "None"):
                return str(v)
    return default


def series_incidents(
    keys: dict[str, str], stamps: pd.DatetimeIndex, values: np.ndarray, expected: np.ndarray, evidence: np.ndarray
) -> list[Incident]:
    """The incidents of one series (``keys``: its key columns' values) from its rows on a regular grid."""
    flagged = np.flatnonzero(np.nan_to_num(evidence) >= 1.0)
    if len(flagged) == 0:
        return []
    step = stamps[1] - stamps[0] if len(stamps) > 1 else pd.Timedelta(hours=1)
    runs = np.split(flagged, np.flatnonzero(np.diff(flagged) > GAP_STEPS) + 1)
    label = "|".join(f"{k}={v}" for k, v in sorted(keys.items())) or "series"
    account = _field(keys, "account", "unknown")
    region = _field(keys, "region", "global")
    out = []
    for run in runs:
        lo, hi = int(run[0]), int(run[-1])
        span = slice(lo, hi + 1)
        actual = float(np.nansum(values[span]))
        exp = float(np.nansum(np.nan_to_num(expected[span])))
        excess = values[span] - np.nan_to_num(expected[span])
        hours = max((stamps[hi] + step - stamps[lo]) / pd.Timedelta(hours=1), 1e-9)
        impact = actual - exp
        start = stamps[lo]
        ident = hashlib.sha256(f"{label}|{start.isoformat()}".encode()).hexdigest()[:16]
        entity = {
            "entity": _field(keys, "resource", label),
            "destination": "series",
            "peer_region": "",
            "team": None,
            "product": _field(keys, "service", None),
            "usage_type": _field(keys, "usage_type", None),
            "bytes": 0,
            "anomalous_hours": len(run),
            "expected_usd": round(exp, 4),
            "actual_usd": round(actual, 4),
            "impact_usd": round(impact, 4),
        }
        per_day = impact / hours * 24.0
        event = Event(
            id=f"evt-{ident}",
            account=account,
            region=region,
            start=start.isoformat(),
            end=(stamps[hi] + step).isoformat(),
            hours=int(np.ceil(hours)),
            detected_at=(stamps[lo] + step).isoformat(),
            expected_usd=round(exp, 4),
            actual_usd=round(actual, 4),
            impact_usd=round(impact, 4),
            impact_usd_per_day=round(per_day, 4),
            impact_pct=round(100.0 * impact / exp, 2) if exp > 0 else None,
            severity=severity_for(per_day),
            max_score=float(score_of(np.nanmax(evidence[span]))),
            destinations=[],
            teams=[],
            entities=[entity],
            max_hourly_impact_usd=round(float(np.nanmax(excess)), 4),
        )
        ref = EvidenceRef(
            id="ev-" + hashlib.sha256(f"{event.id}|series".encode()).hexdigest()[:16],
            kind="anomalous_series",
            source="score-series",
            summary=f"{len(run)} anomalous row(s) of {label}: {actual:,.4g} against {exp:,.4g} expected",
            query={"series": label, "start": event.start, "end": event.end},
        )
        out.append(to_incident(event).model_copy(update={"evidence": [ref]}))
    return out
