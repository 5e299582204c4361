"""The lake's tables in one registry: name, schema, partition columns and time column of each.

Every reader and writer of the lake goes through a :class:`Table` from here (``Lake.write_table``,
``Lake.read_table``, ``Lake.connect``, the Glue catalog, the Spark jobs); no other module spells a table
name or a partition column. Log tables are written object by object by ingestion, which derives their
partitions from the records and the object key; derived tables are written by stages from whole frames,
and their partitions come from their own columns (:meth:`Table.partitions`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from egress_optimizer.tables.derived import (
    ANOMALIES_SCHEMA,
    ATTRIBUTED_SCHEMA,
    COVERAGE_GAPS_SCHEMA,
    CUR_DAILY_SCHEMA,
    EGRESS_HOURLY_SCHEMA,
    EXPLANATIONS_SCHEMA,
    FIRST_SEEN_SCHEMA,
    INCIDENTS_SCHEMA,
    REMEDIATION_AUDIT_SCHEMA,
    SAVINGS_SCHEMA,
    TIER_METER_SCHEMA,
)
from egress_optimizer.tables.logs import (
    CLOUDFRONT_SCHEMA,
    CUR_SCHEMA,
    QUARANTINE_SCHEMA,
    S3_ACCESS_SCHEMA,
    VPC_FLOW_SCHEMA,
)

if TYPE_CHECKING:
    import pyarrow.dataset as ds  # imported where used: it loads pandas, which a quiet run has no need of

PARTITION_ACCOUNT = "account"
PARTITION_REGION = "aws_region"
PARTITION_DATE = "dt"  # the UTC date of the table's time column, YYYY-MM-DD
PARTITION_SOURCE = "source"  # quarantine: the log source a record came from
LOG_SOURCES = ("vpc-flow", "s3-access", "cloudfront", "cur")  # the values of PARTITION_SOURCE
BY_ACCOUNT_REGION_DAY = (PARTITION_ACCOUNT, PARTITION_REGION, PARTITION_DATE)
UNKNOWN = "unknown"  # a partition value that could not be determined
GLOBAL = "global"  # data that belongs to no region (CloudFront, global CUR lines)
# In the files the account is a data column named ``account_id`` (``account`` is the partition column). The
# log parsers name it so themselves; derived tables carry ``account`` and the registry renames it on the way.
STORED_ACCOUNT = "account_id"


@dataclass(frozen=True)
class Table:
    name: str
    schema: pa.Schema  # logical columns: what writers give and readers get back
    partition_by: tuple[str, ...]
    time_column: str | None  # the column whose UTC date is the ``dt`` partition
    description: str
    derived: bool = False  # written by a stage from whole frames (else by ingestion, object by object)

    @property
    def renames(self) -> dict[str, str]:
        """Logical column -> column name in the files."""
        return {PARTITION_ACCOUNT: STORED_ACCOUNT} if self.derived and PARTITION_ACCOUNT in self.schema.names else {}

    @property
    def storage_schema(self) -> pa.Schema:
        """The columns of the Parquet files (partition columns are in the paths, not the files)."""
        renames = self.renames
        fields = [f.with_name(renames.get(f.name, f.name)) for f in self.schema]
        return pa.schema(fields, metadata=self.schema.metadata)

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)

    def to_storage(self, data: pa.Table) -> pa.Table:
        """Logical columns in schema order and types, renamed as the files store them."""
        missing = [c for c in self.schema.names if c not in data.column_names]
        if missing:
            raise ValueError(f"{self.name}: rows lack the columns {missing}")
        data = data.select(self.schema.names).cast(self.schema)
        return data.rename_columns(self.storage_schema.names)

    def from_storage(self, data: pa.Table) -> pa.Table:
        """Rows as read from the files (partition columns included) -> the logical columns. Log tables keep
        their partition columns (SQL over them filters on those); derived tables carry the same values in
        their own columns."""
        if not self.derived:
            return data
        back = {stored: logical for logical, stored in self.renames.items()}
        data = data.drop_columns([c for c in self.partition_by if c in data.column_names])
        return data.rename_columns([back.get(c, c) for c in data.column_names])

    def stored_names(self, columns: list[str]) -> list[str]:
        """Logical column names -> the names in the files."""
        return [self.renames.get(c, c) for c in columns]

    @property
    def partition_sources(self) -> dict[str, tuple[str, str | None]]:
        """Derived tables: partition key -> (the logical column it comes from, the value when that is null).
        The date partition is the UTC date of ``time_column`` (never null)."""
        if not self.derived or self.time_column is None:
            raise ValueError(f"{self.name} is not partitioned by its own columns")
        sources = {
            PARTITION_ACCOUNT: ("account", UNKNOWN),
            PARTITION_REGION: ("region", GLOBAL),
            PARTITION_DATE: (self.time_column, None),
        }
        return {key: sources[key] for key in self.partition_by}

    def partition_values(self, data: pa.Table) -> dict[str, pa.Array]:
        """Per row of a derived table (logical columns): its partition values."""
        out = {}
        for key, (column, default) in self.partition_sources.items():
            values = data.column(column)
            if key == PARTITION_DATE:
                out[key] = pc.cast(pc.cast(values, pa.date32()), pa.string())
            else:
                out[key] = pc.fill_null(pc.cast(values, pa.string()), default)
        return out

    def partitions(self, data: pa.Table) -> Iterator[tuple[dict[str, str], pa.Table]]:
        """(partition, its rows in input order) for each partition the rows of a derived table fall in."""
        if data.num_rows == 0:
            return
        values = self.partition_values(data)
        key = pc.binary_join_element_wise(*values.values(), "\x1f").combine_chunks().dictionary_encode()
        codes = np.asarray(key.indices)
        order = np.argsort(codes, kind="stable")
        bounds = np.flatnonzero(np.diff(codes[order])) + 1
        for rows in np.split(order, bounds):
            parts = key.dictionary[int(codes[rows[0]])].as_py().split("\x1f")
            yield dict(zip(values, parts, strict=True)), data.take(pa.array(rows))

    def days_from(self, day: str) -> ds.Expression:
        """A filter on the date partition: the days from ``day`` (YYYY-MM-DD) on."""
        if PARTITION_DATE not in self.partition_by:
            raise ValueError(f"{self.name} is not partitioned by date")
        import pyarrow.dataset as ds

        return ds.field(PARTITION_DATE) >= day


def _log(name: str, schema: pa.Schema, time_column: str, description: str) -> Table:
    return Table(name, schema, BY_ACCOUNT_REGION_DAY, time_column, description)


def _derived(name: str, schema: pa.Schema, time_column: str, description: str) -> Table:
    return Table(name, schema, BY_ACCOUNT_REGION_DAY, time_column, description, derived=True)


VPC_FLOW = _log("vpc_flow", VPC_FLOW_SCHEMA, "start", "VPC Flow Logs records")
S3_ACCESS = _log("s3_access", S3_ACCESS_SCHEMA, "time", "S3 server access log records")
CLOUDFRONT = _log("cloudfront", CLOUDFRONT_SCHEMA, "timestamp", "CloudFront standard log records")
CUR = _log("cur", CUR_SCHEMA, "usage_start", "Cost and Usage Report line items (legacy and 2.0)")
QUARANTINE = Table(
    "quarantine", QUARANTINE_SCHEMA, (PARTITION_SOURCE,), None, "records ingestion could not parse, with the reason"
)
ATTRIBUTED = _derived("attributed", ATTRIBUTED_SCHEMA, "hour", "every billable byte, priced, with who paid for it")
EGRESS_HOURLY = _derived("egress_hourly", EGRESS_HOURLY_SCHEMA, "hour", "hourly features per series")
CUR_DAILY = _derived("cur_daily", CUR_DAILY_SCHEMA, "day", "billed data transfer per usage type and day")
ANOMALIES = _derived("anomalies", ANOMALIES_SCHEMA, "hour", "anomalous series-hours and their signals")
INCIDENTS = _derived("incidents", INCIDENTS_SCHEMA, "start", "incidents in the incident contract")
TIER_METER = Table(
    "tier_meter", TIER_METER_SCHEMA, (PARTITION_DATE,), "hour", "bytes each tier pool took per hour", derived=True
)
FIRST_SEEN = Table(
    "first_seen", FIRST_SEEN_SCHEMA, (PARTITION_DATE,), "first_hour", "first hour an entity met a peer", derived=True
)

REMEDIATION_AUDIT = Table(
    "remediation_audit",
    REMEDIATION_AUDIT_SCHEMA,
    (PARTITION_DATE,),
    "at",
    "every remediation plan, application, verification and rollback (append-only)",
    derived=True,
)

EXPLANATIONS = Table(
    "explanations",
    EXPLANATIONS_SCHEMA,
    (PARTITION_DATE,),
    "at",
    "each incident's root cause as the response workflow explained it (append-only)",
    derived=True,
)

SAVINGS = Table(
    "savings",
    SAVINGS_SCHEMA,
    (PARTITION_DATE,),
    "generated_at",
    "each saving the planners found, one batch per run (append-only)",
    derived=True,
)

COVERAGE_GAPS = Table(
    "coverage_gaps",
    COVERAGE_GAPS_SCHEMA,
    (PARTITION_DATE,),
    "generated_at",
    "each unlogged VPC, bucket and distribution and the dollars its log would explain, per run (append-only)",
    derived=True,
)

LOG_TABLES = (VPC_FLOW, S3_ACCESS, CLOUDFRONT, CUR)
STATE_TABLES = (TIER_METER, FIRST_SEEN)
ALL = (
    *LOG_TABLES,
    QUARANTINE,
    ATTRIBUTED,
    EGRESS_HOURLY,
    CUR_DAILY,
    ANOMALIES,
    INCIDENTS,
    EXPLANATIONS,
    REMEDIATION_AUDIT,
    SAVINGS,
    COVERAGE_GAPS,
    *STATE_TABLES,
)
BY_NAME = {t.name: t for t in ALL}


def get(name: str) -> Table:
    """The table of that name (for names that arrive as input: a command-line argument, a Glue event)."""
    try:
        return BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown lake table {name!r}; expected one of {', '.join(BY_NAME)}") from None
