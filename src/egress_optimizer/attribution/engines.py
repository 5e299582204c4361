"""Where the incremental stages do their heavy lifting: in this process (DuckDB), or on Spark (Glue).

The stages (``attribute_runs``, ``feature_runs``) decide what to do, in which order, and carry the state;
an engine does the per-batch work on rows: attribute a window of hours, price rows against a carried meter,
build an hour range's features, and write hours of a table. Both engines run the same definitions: the
attribution rules of ``attribution.attribute`` (on Spark, one hour per task), and the SQL of
``pricing_sql`` and ``features``.
"""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from egress_optimizer.attribution.attribute_logs import attribute_logs
from egress_optimizer.attribution.features import build_features
from egress_optimizer.attribution.inputs import AttributionInputs
from egress_optimizer.attribution.pricing_sql import price_rows
from egress_optimizer.attribution.up_to_date import LOG_INPUTS
from egress_optimizer.lake import Lake, utc_scalar
from egress_optimizer.pricing import PriceCatalog
from egress_optimizer.tables import ATTRIBUTED, EGRESS_HOURLY, FIRST_SEEN, Table

LOOK_BACK = pd.Timedelta(days=28)  # the longest trailing median (same hour of the week, four weeks)
HISTORY_COLUMNS = ["hour", "account", "region", "entity", "destination", "peer_region", "bytes"]


class Engine(Protocol):
    def attribute(self, lake: Lake, inputs: AttributionInputs, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        """Attributed rows (without dollars) of the logs' hours in [start, end)."""

    def read_attributed(self, lake: Lake, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        """The ``attributed`` rows of [start, end), without dollars (to price them again)."""

    def price(self, rows: Any, catalog: PriceCatalog, meter_before: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
        """Rows with dollars, and what each tier pool took per hour (a small pandas frame)."""

    def write_hours(self, lake: Lake, table: Table, rows: Any, hours: list[pd.Timestamp]) -> dict:
        """Replace ``hours`` of ``table`` with ``rows``; the partitions and hours written or emptied."""

    def count(self, rows: Any) -> int: ...

    def release(self, *rows: Any) -> None:
        """The batch is done with these rows (an engine that cached them lets them go)."""

    def start_features(self, lake: Lake, start: pd.Timestamp, hours_of_day: set[int] | None = None) -> dict:
        """What the feature batches from ``start`` on carry from one to the next; ``hours_of_day``: the only
        hours of the day the batches hold (the medians look back at the same hour of earlier days)."""

    def features(self, lake: Lake, start: pd.Timestamp, end: pd.Timestamp, carry: dict) -> tuple[int, dict, pa.Table]:
        """Build and write ``egress_hourly`` for [start, end): rows written, partitions written, and the
        pairs these hours met first (``first_seen`` rows)."""


class LocalEngine:
    """DuckDB and pyarrow in this process; a batch's rows are held in memory (a day at most)."""

    def attribute(self, lake: Lake, inputs: AttributionInputs, start: pd.Timestamp, end: pd.Timestamp):
        return attribute_logs(lake.connect(LOG_INPUTS, window=(start, end)), inputs)

    def read_attributed(self, lake: Lake, start: pd.Timestamp, end: pd.Timestamp):
        return lake.read_hours(ATTRIBUTED, start, end).to_pandas().drop(columns=["usd"])

    def price(self, rows, catalog: PriceCatalog, meter_before: pd.DataFrame):
        return price_rows(rows, catalog, meter_before)

    def write_hours(self, lake: Lake, table: Table, rows, hours: list[pd.Timestamp]) -> dict:
        return lake.write_hours(table, as_table(rows, table), hours)

    def count(self, rows) -> int:
        return len(rows)

    def release(self, *rows) -> None:
        pass  # plain frames: freed with their last reference

    def start_features(self, lake: Lake, start: pd.Timestamp, hours_of_day: set[int] | None = None) -> dict:
        # What an hour looks back at, read once and carried from day to day.
        history = lake.read_hours(EGRESS_HOURLY, start - LOOK_BACK, start, HISTORY_COLUMNS, hours_of_day)
        return {
            "first": lake.read_table(FIRST_SEEN, filter=ds.field(FIRST_SEEN.time_column) < utc_scalar(start)),
            "history": history,
        }

    def features(self, lake: Lake, start: pd.Timestamp, end: pd.Timestamp, carry: dict):
        rows = lake.read_hours(ATTRIBUTED, start, end).to_pandas()
        features, first = build_features(rows, carry["first"], carry["history"])
        features = features.select(EGRESS_HOURLY.columns).cast(EGRESS_HOURLY.schema)
        first = first.select(FIRST_SEEN.columns).cast(FIRST_SEEN.schema)
        written = lake.write_hours(EGRESS_HOURLY, features, hour_range(start, end))
        carry["first"] = pa.concat_tables([carry["first"], first])
        history = carry["history"]
        kept = history.filter(pc.greater_equal(history.column("hour"), utc_scalar(end - LOOK_BACK)))
        carry["history"] = pa.concat_tables([kept, features.select(HISTORY_COLUMNS)])
        return features.num_rows, written, first


def as_table(rows: pd.DataFrame, table: Table) -> pa.Table:
    """A pandas frame as the table's Arrow rows (an empty one as an empty table of its schema)."""
    if rows.empty:
        return table.schema.empty_table()
    return pa.Table.from_pandas(rows[table.columns], schema=table.schema, preserve_index=False)


def hour_range(start: pd.Timestamp, end: pd.Timestamp) -> list[pd.Timestamp]:
    return list(pd.date_range(start, end - pd.Timedelta(hours=1), freq="h"))
