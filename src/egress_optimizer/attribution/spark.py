"""The incremental stages on Spark (the Glue jobs): the same definitions, spread over executors.

``SparkEngine`` is an ``attribution.engines.Engine``: the stages decide which hours to (re)build and carry the
state; here the hours of a batch are attributed in parallel, one hour per task, by the library's own rules
(``attribute_logs``, which runs DuckDB inside the task over that hour's Parquet), priced with
``pricing_sql.PRICE_SQL`` and featurised with ``features.FEATURES_SQL`` in Spark SQL, and written hour by
hour into the lake's layout by the executors (``Lake.write_hours``), so a table written here is the table the
embedded engine writes, file for file, and either engine can take the next hour.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from egress_optimizer.attribution.attribute_logs import attribute_logs
from egress_optimizer.attribution.engines import LOOK_BACK, hour_range
from egress_optimizer.attribution.features import FEATURES_SQL, NEW_FIRST_SEEN_SQL
from egress_optimizer.attribution.inputs import AttributionInputs
from egress_optimizer.attribution.pricing_sql import METER_SQL, PRICE_SQL, price_keys_of, price_tables
from egress_optimizer.attribution.up_to_date import LOG_INPUTS
from egress_optimizer.lake import Lake, days_between
from egress_optimizer.pricing import PriceCatalog
from egress_optimizer.tables import ATTRIBUTED, EGRESS_HOURLY, FIRST_SEEN, TIER_METER, Table

HOUR = pd.Timedelta(hours=1)
WRITTEN = pa.schema([("partition", pa.string()), ("hour", pa.string())])  # what a write task reports


def spark_type(t: pa.DataType) -> str:
    """The Spark SQL type of an Arrow column type (the types the lake's tables use)."""
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_floating(t):
        return "double"
    if pa.types.is_integer(t):
        return "int" if t.bit_width <= 32 else "bigint"
    if pa.types.is_boolean(t):
        return "boolean"
    return "string"


def ddl(schema: pa.Schema, drop: tuple[str, ...] = ()) -> str:
    """A Spark DDL schema string for an Arrow schema."""
    return ", ".join(f"`{f.name}` {spark_type(f.type)}" for f in schema if f.name not in drop)


class SparkEngine:
    """Spark SQL for pricing and features, executors for attribution and writing."""

    def __init__(self, spark: Any):
        self.spark = spark
        self._cached: list[Any] = []  # what a batch persisted, until it is released
        spark.conf.set("spark.sql.session.timeZone", "UTC")  # hours, days and weekdays are UTC's
        # partition values stay strings (account ids keep their leading zeros)
        spark.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")

    # ---- rows of the lake -----------------------------------------------------------------------------------
    def read(self, lake: Lake, table: Table, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        """A derived table's rows (logical columns) whose time column falls in [start, end)."""
        from pyspark.sql import functions as F

        files = lake.files(table, days_between(start, end))
        if not files:
            return self.spark.createDataFrame([], ddl(table.schema))
        # Files an older version wrote lack the newer columns: the schema is every file's, the missing null.
        reader = self.spark.read.option("basePath", lake.uri(table.name)).option("mergeSchema", "true")
        df = reader.parquet(*[_uri(lake, f) for f in files])
        df = df.drop(*[c for c in table.partition_by if c in df.columns])
        for logical, stored in table.renames.items():
            df = df.withColumnRenamed(stored, logical)
        for f in table.schema:
            if f.name not in df.columns:
                df = df.withColumn(f.name, F.lit(None).cast(spark_type(f.type)))
        time = F.col(table.time_column)
        return df.where((time >= F.lit(start.to_pydatetime())) & (time < F.lit(end.to_pydatetime()))).select(
            *table.columns
        )

    def attribute(self, lake: Lake, inputs: AttributionInputs, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        """The hours of [start, end) attributed by the library's rules, in as many tasks as the cluster has
        cores (each task a run of whole hours: an hour is never split)."""
        hours = hour_range(start, end)
        tasks = max(1, min(len(hours), self.spark.sparkContext.defaultParallelism))
        runs = [(hours[i * len(hours) // tasks].isoformat(), _end(hours, (i + 1) * len(hours) // tasks))
                for i in range(tasks)]  # fmt: skip
        root = lake.root
        shared = self.spark.sparkContext.broadcast(inputs)  # sent to each executor once, not with every task
        unpriced = pa.schema([f for f in ATTRIBUTED.schema if f.name != "usd"])

        def attribute_runs(batches):
            from egress_optimizer.lake import Lake  # on the executor

            executor_lake = Lake.open(root, create=False)
            for batch in batches:
                for lo, hi in zip(batch.column("lo").to_pylist(), batch.column("hi").to_pylist(), strict=True):
                    window = (pd.Timestamp(lo), pd.Timestamp(hi))
                    rows = attribute_logs(executor_lake.connect(LOG_INPUTS, window=window), shared.value)
                    if len(rows):
                        yield from pa.Table.from_pandas(
                            rows[unpriced.names], schema=unpriced, preserve_index=False
                        ).to_batches()

        grid = self.spark.sparkContext.parallelize(runs, tasks).toDF("lo string, hi string")  # a run per task
        # Arrow in and out of the tasks: no pandas conversion on Spark's side (its pandas support lags).
        return grid.mapInArrow(attribute_runs, schema=ddl(unpriced))

    def read_attributed(self, lake: Lake, start: pd.Timestamp, end: pd.Timestamp) -> Any:
        return self.read(lake, ATTRIBUTED, start, end).drop("usd")

    # ---- SQL ----------------------------------------------------------------------------------------------
    def price(self, rows: Any, catalog: PriceCatalog, meter_before: pd.DataFrame) -> tuple[Any, pd.DataFrame]:
        from pyspark.sql import functions as F

        rows = rows.persist()  # attributed once: the keys, the prices and the meter all read it
        keys = collect(rows.select("product", "usage_type", "region", "peer_region").distinct()).to_pandas()
        keyed, ladders = price_tables(price_keys_of(keys), catalog)
        rows.withColumn("_rid", F.monotonically_increasing_id()).createOrReplaceTempView("unpriced")
        self._view("price_keys", keyed, "product string, usage_type string, region string, peer_region string, "
                   "rate double, free_pool string, free_bytes bigint, ladder string")  # fmt: skip
        self._view("ladders", ladders, "ladder string, lo_bytes bigint, hi_bytes bigint, rate double")
        self._view("meter_before", meter_before, "period int, pool string, bytes_before bigint")
        priced = self.spark.sql(PRICE_SQL).persist()
        self._cached += [rows, priced]
        priced.createOrReplaceTempView("priced")
        meter = collect(self.spark.sql(METER_SQL), TIER_METER.schema).to_pandas()
        return priced.select(*ATTRIBUTED.columns), meter

    def _view(self, name: str, frame: pd.DataFrame, schema: str) -> None:
        rows = [tuple(_python(v) for v in r) for r in frame.itertuples(index=False)]
        self.spark.createDataFrame(rows, schema).createOrReplaceTempView(name)

    def start_features(self, lake: Lake, start: pd.Timestamp, hours_of_day: set[int] | None = None) -> dict:
        return {}  # each batch reads what it looks back at from the lake (the stages wrote it)

    def features(self, lake: Lake, start: pd.Timestamp, end: pd.Timestamp, carry: dict):
        from pyspark.sql import functions as F

        self.read(lake, ATTRIBUTED, start, end).createOrReplaceTempView(ATTRIBUTED.name)
        first = self.read(lake, FIRST_SEEN, pd.Timestamp("1970-01-01", tz="UTC"), start)
        first.createOrReplaceTempView("first_seen_before")
        self.read(lake, EGRESS_HOURLY, start - LOOK_BACK, start).createOrReplaceTempView("history")
        features = self.spark.sql(FEATURES_SQL).select(*EGRESS_HOURLY.columns)
        features = features.select(*[F.col(f.name).cast(spark_type(f.type)) for f in EGRESS_HOURLY.schema])
        features = features.persist()
        written = self.write_hours(lake, EGRESS_HOURLY, features, hour_range(start, end))
        new_first = collect(self.spark.sql(NEW_FIRST_SEEN_SQL), FIRST_SEEN.schema)
        rows = self.count(features)
        features.unpersist()
        return rows, written, new_first

    # ---- writing ------------------------------------------------------------------------------------------
    def write_hours(self, lake: Lake, table: Table, rows: Any, hours: list[pd.Timestamp]) -> dict:
        """Each hour's rows written by an executor into the lake's layout (``Lake.write_hours``)."""
        from pyspark.sql import functions as F

        root = lake.root

        def write(batches):
            from egress_optimizer.lake import Lake  # on the executor

            got = pa.Table.from_batches(list(batches))
            if not got.num_rows:
                return
            executor_lake = Lake.open(root, create=False)
            stamps = got.column("_hour")
            for stamp in pc.unique(stamps).to_pylist():
                part = got.filter(pc.equal(stamps, stamp)).select(table.columns).cast(table.schema)
                written = executor_lake.write_hours(table, part, [pd.Timestamp(stamp)])
                done = [(p, h) for p, hs in written.items() for h in sorted(hs)]
                yield pa.RecordBatch.from_pydict(
                    {"partition": [p for p, _ in done], "hour": [h for _, h in done]}, schema=WRITTEN
                )

        stamped = rows.withColumn("_hour", F.date_trunc("hour", F.col(table.time_column)))
        done = stamped.repartition("_hour").mapInArrow(write, schema=ddl(WRITTEN)).collect()
        changed: dict[str, set[str]] = {}
        for r in done:
            changed.setdefault(r["partition"], set()).add(r["hour"])
        seen = {pd.Timestamp(r["hour"]) for r in done}
        for hour in hours:  # hours with no rows any more: their old files go
            if hour not in seen:
                for p, hs in lake.write_hours(table, table.schema.empty_table(), [hour]).items():
                    changed.setdefault(p, set()).update(hs)
        return changed

    def count(self, rows: Any) -> int:
        return rows.count()

    def release(self, *rows: Any) -> None:
        for df in self._cached:
            df.unpersist()
        self._cached = []


def collect(df: Any, schema: pa.Schema | None = None) -> pa.Table:
    """A small Spark result on the driver as Arrow rows. Timestamps travel as microseconds since the epoch:
    ``collect()`` would turn them into naive datetimes in the driver's local zone."""
    from pyspark.sql import functions as F

    fields = schema or pa.schema([(n, pa.string()) for n in df.columns])
    times = [f.name for f in fields if pa.types.is_timestamp(f.type)]
    rows = df.select(*[F.unix_micros(F.col(c)).alias(c) if c in times else F.col(c) for c in fields.names]).collect()
    columns = {}
    for f in fields:
        values = [r[f.name] for r in rows]
        columns[f.name] = pa.array(values, pa.int64()).cast(f.type) if f.name in times else pa.array(values, f.type)
    return pa.table(columns, schema=fields)


def _end(hours: list[pd.Timestamp], index: int) -> str:
    """Where a task's run of hours ends: the next task's first hour, or an hour past the last."""
    return (hours[index] if index < len(hours) else hours[-1] + HOUR).isoformat()


def _python(value: Any) -> Any:
    """A pandas cell as the plain Python value Spark accepts (None for missing, int for numpy ints)."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def _uri(lake: Lake, path: str) -> str:
    """A lake file as Spark names it (s3:// on AWS; Glue reads s3:// natively)."""
    return path if lake.uri().startswith("/") else "s3://" + path
