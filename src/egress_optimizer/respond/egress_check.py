"""Did the fix work? The egress an incident's actions targeted, before and after they were applied.

Configuration being in place (``Action.verify``) says the change held; only the traffic says it was the right
change. From the lake's ``attributed`` table, for the incident's resources and destinations: the cost per hour
during the incident, what the detector expected per hour, and the cost per hour since the change. The excess
is judged gone when at least half of it is (the rest is noise at hourly scale); the check needs a few hours of
data after the change, and says so when the lake does not hold them yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.lake import Lake
from egress_optimizer.tables import ATTRIBUTED

MIN_HOURS_AFTER = 3
REMOVED_SHARE = 0.5  # of the excess over the expected cost


@dataclass(frozen=True)
class EgressCheck:
    status: str  # fell | did_not_fall | not_yet_visible | not_visible
    detail: str
    during_usd_per_hour: float | None = None
    expected_usd_per_hour: float | None = None
    after_usd_per_hour: float | None = None


def check(lake: Lake | None, incident: Incident, applied_at: datetime, now: datetime) -> EgressCheck:
    """The incident's targeted egress since ``applied_at`` against its cost during the incident."""
    if lake is None or not lake.has(ATTRIBUTED):
        return EgressCheck("not_visible", "no lake of attributed traffic to compare with")
    paths = {(e.id, e.destination_class) for e in incident.entities}
    hours = max((incident.window.end - incident.window.start).total_seconds() / 3600, 1.0)
    during = sum(e.dollars for e in incident.entities) / hours
    expected = sum(e.expected_dollars for e in incident.entities) / hours
    start = pd.Timestamp(applied_at).ceil("h")
    rows = _hourly_usd(lake, start, pd.Timestamp(now).floor("h"), paths, incident.accounts)
    if len(rows) < MIN_HOURS_AFTER:
        return EgressCheck(
            "not_yet_visible", f"the lake holds {len(rows)} full hour(s) since the change; {MIN_HOURS_AFTER} needed",
            during, expected,
        )  # fmt: skip
    after = float(rows.mean())
    excess = during - expected
    fell = excess > 0 and after - expected <= (1 - REMOVED_SHARE) * excess
    status = "fell" if fell else "did_not_fall"
    detail = (
        f"${after:,.2f}/h over {len(rows)} h since the change, against ${during:,.2f}/h during the incident "
        f"(${expected:,.2f}/h expected)"
    )
    return EgressCheck(status, detail, during, expected, after)


def _hourly_usd(
    lake: Lake, start: pd.Timestamp, end: pd.Timestamp, paths: set[tuple[str, str]], accounts: list[str]
) -> pd.Series:
    """Cost per full hour in [start, end) on the given (resource, destination) paths; hours without a row
    count as zero only once a later hour shows the lake has moved past them."""
    if end <= start:
        return pd.Series(dtype=float)
    cols = ["hour", "account", "resource_id", "destination", "usd"]
    rows = lake.read_hours(ATTRIBUTED, start.to_pydatetime(), end.to_pydatetime(), columns=cols).to_pandas()
    if rows.empty:
        return pd.Series(dtype=float)
    seen_until = pd.Timestamp(rows["hour"].max())
    on_path = pd.Series(list(zip(rows["resource_id"], rows["destination"], strict=True)), index=rows.index).isin(paths)
    keep = rows["account"].isin(accounts) & on_path
    per_hour = rows[keep].groupby("hour")["usd"].sum()
    span = pd.date_range(start, seen_until, freq="h", tz=per_hour.index.tz if len(per_hour) else seen_until.tz)
    return per_hour.reindex(span, fill_value=0.0)
