"""The features stage and the CUR roll-up, incremental.

Features: the journal of ``attributed`` says which hours changed; ``egress_hourly`` is rebuilt from the
earliest of them to the newest hour, a day at a time in time order (an hour's features look back: new peers
come from the compact ``first_seen`` table carried between runs, the trailing same-hour medians from the four
weeks of ``egress_hourly`` before it, never from raw input; so a late hour changes the hours after it, and
nothing before). In the usual hourly run that is one hour.

CUR roll-up: the journal of ``cur`` says which accounts and days changed; ``cur_daily`` is rebuilt for those
accounts and billing months (a CUR is re-delivered a month at a time, and which version of it counts, CUR 2.0
or legacy, is decided per account and month).

A rebuild drops the outputs and walks the whole lake through the same path, so it gives the same tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow.compute as pc

from egress_optimizer import changes
from egress_optimizer.attribution.engines import Engine, LocalEngine, hour_range
from egress_optimizer.attribution.features import CUR_DAILY_SQL
from egress_optimizer.attribution.up_to_date import CUR_ROLL_UP, FEATURES
from egress_optimizer.lake import Lake
from egress_optimizer.tables import ATTRIBUTED, CUR, CUR_DAILY, EGRESS_HOURLY, FIRST_SEEN

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


@dataclass
class FeatureRun:
    rebuild: bool = False
    hours: list[pd.Timestamp] = field(default_factory=list)
    rows: int = 0

    def to_json(self) -> dict:
        return {"rebuild": self.rebuild, "hours": len(self.hours), "rows": self.rows}


def build_hourly_features(
    lake: Lake,
    rebuild: bool = False,
    progress: Callable[[str, float], None] | None = None,
    engine: Engine | None = None,
) -> FeatureRun:
    """Bring ``egress_hourly`` up to date with ``attributed`` (see the module docstring); ``engine``: where the
    rows are worked on (this process by default, or Spark)."""
    engine = engine or LocalEngine()
    pending = changes.pending(lake, FEATURES, ATTRIBUTED)
    run = FeatureRun(rebuild=rebuild or not changes.has_state(lake, FEATURES, ATTRIBUTED))
    days = sorted(lake.days(ATTRIBUTED))
    if run.rebuild:
        for table in (EGRESS_HOURLY, FIRST_SEEN):
            lake.clear(table)
        start = pd.Timestamp(days[0], tz="UTC") if days else None
    else:
        start = min(pending.all_hours) if pending.all_hours else None
    end = _newest_hour(lake, days[-1]) + HOUR if days else None
    if start is not None and end is not None and start < end:
        # Under a day of hours (the hourly run), the medians need only the same hours of earlier days.
        hours_of_day = {h.hour for h in hour_range(start, end)} if end - start < DAY else None
        carry = engine.start_features(lake, start, hours_of_day)
        lo, total = start, max(1, (end - start) // DAY + 1)
        while lo < end:
            hi = min(lo.floor("D") + DAY, end)
            rows, written, first = engine.features(lake, lo, hi, carry)
            lake.write_hours(FIRST_SEEN, first, hour_range(lo, hi), daily=True)
            changes.record(lake, EGRESS_HOURLY, written)
            run.rows += rows
            run.hours.extend(hour_range(lo, hi))
            if progress:
                progress(f"{lo:%Y-%m-%d}", min(1.0, (hi - start) / DAY / total))
            lo = hi
    changes.acknowledge(lake, FEATURES, ATTRIBUTED, pending)
    return run


def _newest_hour(lake: Lake, day: str) -> pd.Timestamp:
    start = pd.Timestamp(day, tz="UTC")
    hours = lake.read_hours(ATTRIBUTED, start, start + DAY, columns=["hour"]).column("hour")
    return pd.Timestamp(pc.max(hours).as_py()).tz_convert("UTC")


def roll_up_cur(lake: Lake, rebuild: bool = False) -> int:
    """Bring ``cur_daily`` up to date with ``cur``; returns the rows written."""
    pending = changes.pending(lake, CUR_ROLL_UP, CUR)
    fresh = rebuild or not changes.has_state(lake, CUR_ROLL_UP, CUR)
    if fresh:
        lake.clear(CUR_DAILY)
        partitions = {lake.partition_of(CUR, f) for f in lake.files(CUR)}
    else:
        partitions = set(pending.hours)
    scope: dict[pd.Timestamp, set[str]] = {}
    for rel in partitions:
        part = dict(seg.split("=", 1) for seg in rel.split("/"))
        if part.get("dt", "unknown") != "unknown":
            scope.setdefault(pd.Timestamp(part["dt"], tz="UTC").replace(day=1), set()).add(part["account"])
    written = sum(_roll_up_month(lake, month, accounts) for month, accounts in sorted(scope.items()))
    changes.acknowledge(lake, CUR_ROLL_UP, CUR, pending)
    return written


def _roll_up_month(lake: Lake, month: pd.Timestamp, accounts: set[str]) -> int:
    """Replace ``cur_daily`` of these accounts for the billing month starting at ``month``."""
    end = month + pd.offsets.MonthBegin(1)
    con = lake.connect([CUR], window=(month, end))
    if CUR.name not in {r[0] for r in con.execute("SHOW TABLES").fetchall()}:
        return 0
    listed = ", ".join(f"'{a}'" for a in sorted(accounts) if a.isalnum())
    rows = con.sql(f"SELECT * FROM ({CUR_DAILY_SQL}) WHERE account IN ({listed}) ORDER BY ALL").to_arrow_table()
    days = {d.strftime("%Y-%m-%d") for d in pd.date_range(month, end - DAY, freq="D")}
    for path in lake.files(CUR_DAILY, days):
        if lake.partition_of(CUR_DAILY, path).split("/", 1)[0].split("=", 1)[1] in accounts:
            lake.fs.delete_file(path)
    lake.write_table(CUR_DAILY, rows)
    return rows.num_rows
