"""What changed in the lake, hour by hour: the journal every incremental stage reads.

A writer (ingestion, and each stage for the tables it derives) appends one entry per run: for one table, the
hours of data it wrote or removed, by partition. A consumer (a stage) asks for the entries it has not seen,
does its work, and only then acknowledges them, so a run that fails is redone by the next one, and a run with
nothing new does nothing. Entries live under ``_changes/<table>/<day written>/<time>-<id>.json``; a consumer
lists only the days since its last acknowledgement, so reading the journal costs what changed, not the lake's
age. A consumer remembers the entries of its last two days by name: an entry written while it was running,
with an earlier timestamp than one it saw, is still picked up.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING

from egress_optimizer.lake import Lake
from egress_optimizer.tables import Table

if TYPE_CHECKING:  # pandas is imported where it is used: the quiet-run check reads the journal without it
    import pandas as pd

CHANGES_DIR = "_changes"
STATE_DIR = "_state"


@dataclass
class Changes:
    """The unconsumed entries of one table for one consumer, and the hours they touch."""

    table: str
    entries: list[str] = field(default_factory=list)  # entry paths, relative to the lake root
    hours: dict[str, set[pd.Timestamp]] = field(default_factory=dict)  # partition -> hours (UTC)

    @property
    def all_hours(self) -> set[pd.Timestamp]:
        return set().union(*self.hours.values()) if self.hours else set()

    def __bool__(self) -> bool:
        return bool(self.entries)


def hour_key(value: object) -> str:
    """An hour as the journal spells it (ISO, UTC, minutes dropped)."""
    import pandas as pd

    ts = pd.Timestamp(value)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return ts.floor("h").isoformat()


def record(lake: Lake, table: Table, hours_by_partition: Mapping[str, Iterable[object]]) -> str | None:
    """Append an entry saying which hours of which partitions of ``table`` changed; returns its path."""
    doc = {p: sorted({hour_key(h) for h in hours}) for p, hours in hours_by_partition.items()}
    doc = {p: hours for p, hours in doc.items() if hours}
    if not doc:
        return None
    now = datetime.now(UTC)
    name = f"{CHANGES_DIR}/{table.name}/{now:%Y-%m-%d}/{now:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
    lake.write_json(name, {"table": table.name, "hours": doc})
    return name


def _state_path(consumer: str, table: Table) -> str:
    return f"{STATE_DIR}/{consumer}/{table.name}.json"


def _days(lake: Lake, table: Table) -> list[str]:
    import pyarrow.fs as pafs

    sel = pafs.FileSelector(lake.path(CHANGES_DIR, table.name), allow_not_found=True)
    return sorted(i.base_name for i in lake.fs.get_file_info(sel) if i.type == pafs.FileType.Directory)


def _unseen(lake: Lake, consumer: str, table: Table) -> list[tuple[str, str]]:
    """(path, text) of the entries of ``table`` that ``consumer`` has not acknowledged, oldest first."""
    state = lake.read_json(_state_path(consumer, table)) if lake.exists(_state_path(consumer, table)) else {}
    seen = set(state.get("seen", []))
    through = state.get("through_day")
    days = _days(lake, table)
    if through:
        start = (date.fromisoformat(through) - timedelta(days=1)).isoformat()
        days = [d for d in days if d >= start]
    out = []
    for day in days:
        for name, text in sorted(lake.documents(f"{CHANGES_DIR}/{table.name}/{day}").items()):
            path = f"{CHANGES_DIR}/{table.name}/{day}/{name}"
            if path not in seen:
                out.append((path, text))
    return out


def has_pending(lake: Lake, consumer: str, table: Table) -> bool:
    """Whether ``table`` has entries ``consumer`` has not acknowledged."""
    return bool(_unseen(lake, consumer, table))


def pending(lake: Lake, consumer: str, table: Table) -> Changes:
    """The entries of ``table`` that ``consumer`` has not acknowledged."""
    import pandas as pd

    out = Changes(table.name)
    for path, text in _unseen(lake, consumer, table):
        out.entries.append(path)
        for partition, hours in json.loads(text)["hours"].items():
            out.hours.setdefault(partition, set()).update(pd.Timestamp(h) for h in hours)
    return out


def acknowledge(lake: Lake, consumer: str, table: Table, done: Changes) -> None:
    """Mark ``changes`` as done by ``consumer`` (after its outputs are written). Nothing new: nothing written,
    unless the consumer has no state yet (its first run)."""
    path = _state_path(consumer, table)
    state = lake.read_json(path) if lake.exists(path) else {}
    if not done.entries and state:
        return
    seen = set(state.get("seen", [])) | set(done.entries)
    days = sorted({p.split("/")[2] for p in seen} | ({state["through_day"]} if state.get("through_day") else set()))
    through = days[-1] if days else None
    if through:
        keep = (date.fromisoformat(through) - timedelta(days=1)).isoformat()
        seen = {p for p in seen if p.split("/")[2] >= keep}
    lake.write_json(path, {"through_day": through, "seen": sorted(seen)})


def has_state(lake: Lake, consumer: str, table: Table) -> bool:
    return lake.exists(_state_path(consumer, table))


# ---- late deliveries ------------------------------------------------------------------------------------------
# AWS puts the time of delivery in each log object's key: VPC flow logs ``..._20261001T0100Z_<hash>.log.gz``,
# CloudFront ``<dist>.2026-10-01-01.<hash>.gz``, S3 server access logs ``2026-10-01-01-00-00-<16 chars>``.
_KEY_HOURS = (
    re.compile(r"_(\d{8})T(\d{2})\d{2}Z_"),
    re.compile(r"\.(\d{4}-\d{2}-\d{2})-(\d{2})\.[0-9a-zA-Z]+\.gz$"),
    re.compile(r"(?:^|/)(\d{4}-\d{2}-\d{2})-(\d{2})-\d{2}-\d{2}-[0-9A-Z]{16}$"),
)
LATE_DIR = "_deliveries/late"
# Flow logs are delivered within about 10 minutes of their aggregation window, S3 and CloudFront logs usually
# within an hour or two: an object whose newest record is more than 3 hours older than its delivery is late.
LATE_AFTER_HOURS = 3


def delivery_hour(key: str) -> pd.Timestamp | None:
    """The UTC hour a log object's key names as its delivery time, or None for keys that name none."""
    import pandas as pd

    for pattern in _KEY_HOURS:
        m = pattern.search(key)
        if m:
            day = m.group(1) if "-" in m.group(1) else f"{m.group(1)[:4]}-{m.group(1)[4:6]}-{m.group(1)[6:]}"
            return pd.Timestamp(f"{day} {m.group(2)}:00", tz="UTC")
    return None


def record_delivery(lake: Lake, object_id: str, table: Table, key: str, newest: pd.Timestamp | None) -> None:
    """Note an object delivered more than ``LATE_AFTER_HOURS`` after its newest record: the hours it fills were
    incomplete until it came. Re-ingesting the object rewrites (or, when it now holds newer records, drops) it."""
    import pandas as pd

    delivered = delivery_hour(key)
    if delivered is None or newest is None:
        return
    rel = f"{LATE_DIR}/{object_id}.json"
    newest_hour = pd.Timestamp(newest).floor("h")
    lag = (delivered - newest_hour) / pd.Timedelta(hours=1)
    if lag > LATE_AFTER_HOURS:
        doc = {"table": table.name, "key": key, "delivered": delivered.isoformat(), "lag_hours": lag}
        lake.write_json(rel, {**doc, "newest_hour": newest_hour.isoformat()})
    elif lake.exists(rel):
        lake.fs.delete_file(lake.path(rel))


def late_deliveries(lake: Lake) -> list[dict]:
    """Every late delivery noted so far, oldest first."""
    docs = [json.loads(text) for text in lake.documents(LATE_DIR).values()]
    return sorted(docs, key=lambda d: (d["newest_hour"], d["key"]))
