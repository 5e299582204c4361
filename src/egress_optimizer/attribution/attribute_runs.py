"""The attribute stage, incremental: it costs what changed, not what the lake holds.

It reads the journal (``egress_optimizer.changes``) of the log tables, attributes the hours whose logs
changed, a day at a time in time order, prices them against the tier meter carried in ``tier_meter``, and
replaces those hours of ``attributed`` (each hour is its own file per partition, so nothing else is
rewritten). Tiers accumulate through the month in billing order: when a late hour moves what a pool took,
the later hours of that month that used tiered pools are priced again (their rows are read back from
``attributed``; nothing is attributed twice) and nothing else. A rebuild (``rebuild``, a first run, or
attribution inputs that changed: inventory, prices, IP ranges, networks) drops ``attributed`` and the meter
and runs the same day-by-day path over every day of the logs, so it gives the same table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from egress_optimizer import changes
from egress_optimizer.attribution.engines import Engine, LocalEngine, as_table, hour_range
from egress_optimizer.attribution.inputs import AttributionInputs
from egress_optimizer.attribution.pricing_sql import METER_COLUMNS
from egress_optimizer.attribution.up_to_date import ATTRIBUTE, INPUTS_STATE, LOG_INPUTS, inputs_stale
from egress_optimizer.lake import Lake
from egress_optimizer.tables import ATTRIBUTED, TIER_METER

HOUR = pd.Timedelta(hours=1)
DAY = pd.Timedelta(days=1)


@dataclass
class AttributionRun:
    rebuild: bool = False
    attributed_hours: list[pd.Timestamp] = field(default_factory=list)
    repriced_hours: list[pd.Timestamp] = field(default_factory=list)
    rows: int = 0

    def to_json(self) -> dict:
        return {
            "rebuild": self.rebuild,
            "hours_attributed": len(self.attributed_hours),
            "hours_repriced": len(self.repriced_hours),
            "rows": self.rows,
        }


def attribute_lake(
    lake: Lake,
    inputs: AttributionInputs,
    rebuild: bool = False,
    progress: Callable[[str, float], None] | None = None,
    engine: Engine | None = None,
) -> AttributionRun:
    """Bring ``attributed`` up to date with the logs (see the module docstring); ``engine``: where the rows
    are worked on (this process by default, or Spark)."""
    pending = {t: changes.pending(lake, ATTRIBUTE, t) for t in LOG_INPUTS}
    fingerprint = inputs.fingerprint
    stale = inputs_stale(lake, fingerprint)
    run = AttributionRun(rebuild=rebuild or stale)
    if run.rebuild:
        for table in (ATTRIBUTED, TIER_METER):
            lake.clear(table)
        hours = _all_log_hours(lake)
    else:
        hours = set().union(*(p.all_hours for p in pending.values()))
    _process(lake, inputs, hours, run, progress, engine or LocalEngine())
    for table, p in pending.items():
        changes.acknowledge(lake, ATTRIBUTE, table, p)
    if stale:
        lake.write_json(INPUTS_STATE, {"fingerprint": fingerprint})
    return run


def _process(
    lake: Lake, inputs: AttributionInputs, hours: set, run: AttributionRun, progress: Callable | None, engine: Engine
) -> None:
    """Attribute ``hours`` in time order; re-price the later hours of a month whose tiers moved."""
    todo = {pd.Timestamp(h): "attribute" for h in hours}
    done = 0
    while todo:
        lo = min(todo)
        mode = todo[lo]
        batch = _contiguous(todo, lo, mode)
        for h in batch:
            del todo[h]
        hi = batch[-1] + HOUR
        moved = _batch(lake, inputs, lo, hi, mode == "attribute", run, engine)
        (run.attributed_hours if mode == "attribute" else run.repriced_hours).extend(batch)
        if moved:
            for h in _later_metered_hours(lake, hi):
                todo.setdefault(h, "reprice")
        done += 1
        if progress:
            progress(f"{lo:%Y-%m-%d %H}:00", done / (done + len({h.floor("D") for h in todo})))


def _contiguous(todo: dict, lo: pd.Timestamp, mode: str) -> list[pd.Timestamp]:
    """The hours from ``lo`` on in the same mode and day, without a gap."""
    out, h = [], lo
    while todo.get(h) == mode and h.floor("D") == lo.floor("D"):
        out.append(h)
        h += HOUR
    return out


def _batch(
    lake: Lake, inputs: AttributionInputs, lo: pd.Timestamp, hi: pd.Timestamp, fresh: bool, run, engine: Engine
) -> bool:
    """Attribute (or only re-price) [lo, hi); returns whether the tiers moved for the hours after it."""
    rows = engine.attribute(lake, inputs, lo, hi) if fresh else engine.read_attributed(lake, lo, hi)
    old_meter = lake.read_hours(TIER_METER, lo, hi).to_pandas()
    priced, meter = engine.price(rows, inputs.prices, _meter_before(lake, lo))
    hours = hour_range(lo, hi)
    written = engine.write_hours(lake, ATTRIBUTED, priced, hours)
    lake.write_hours(TIER_METER, as_table(meter, TIER_METER), hours, daily=True)
    changes.record(lake, ATTRIBUTED, written)
    run.rows += engine.count(priced)
    engine.release(rows, priced)
    return not _same_meter(old_meter, meter)


def _meter_before(lake: Lake, lo: pd.Timestamp) -> pd.DataFrame:
    """What each pool took earlier in ``lo``'s month (the meter a batch starting at ``lo`` carries on)."""
    month = lo.floor("D").replace(day=1)
    if month == lo:
        return pd.DataFrame(columns=METER_COLUMNS)
    m = lake.read_hours(TIER_METER, month, lo).to_pandas()
    if m.empty:
        return pd.DataFrame(columns=METER_COLUMNS)
    return m.groupby(["period", "pool"], as_index=False)["bytes"].sum().rename(columns={"bytes": "bytes_before"})


def _later_metered_hours(lake: Lake, hi: pd.Timestamp) -> list[pd.Timestamp]:
    """The hours after ``hi`` in its month whose rows took a tiered pool (they are what a moved meter
    re-prices)."""
    month_end = (hi - HOUR).floor("D").replace(day=1) + pd.offsets.MonthBegin(1)
    m = lake.read_hours(TIER_METER, hi, month_end, columns=["hour"]).to_pandas()
    return sorted({pd.Timestamp(h) for h in m["hour"]})


def _same_meter(old: pd.DataFrame, new: pd.DataFrame) -> bool:
    key = ["hour", "pool"]
    a = old[[*key, "bytes"]].sort_values(key).reset_index(drop=True) if len(old) else None
    b = new[[*key, "bytes"]].sort_values(key).reset_index(drop=True) if len(new) else None
    if a is None or b is None:
        return a is None and b is None
    return (
        len(a) == len(b)
        and (a["pool"] == b["pool"]).all()
        and (a["bytes"] == b["bytes"]).all()
        and (pd.to_datetime(a["hour"], utc=True) == pd.to_datetime(b["hour"], utc=True)).all()
    )


def _all_log_hours(lake: Lake) -> set[pd.Timestamp]:
    """Every hour of every day the log tables hold (a rebuild walks them all, in order)."""
    days: set[str] = set()
    for table in LOG_INPUTS:
        days |= lake.days(table)
    hours: set[pd.Timestamp] = set()
    for day in days:
        start = pd.Timestamp(day, tz="UTC")
        hours.update(pd.date_range(start, start + DAY - HOUR, freq="h"))
    return hours
