"""The lake's tables in the AWS Glue Data Catalog, and Athena DDL for them.

Two ways to make the lake queryable from Athena, pick one per database (same table names):

- Glue registration (``register_lake``, and ``register_files`` as the ingest Lambda writes new data): tables
  with real partitions, which any Glue-aware engine (Athena, Spark, Redshift Spectrum) reads;
- Athena partition projection (``athena_ddl(..., projection=True)``, committed under ``sql/athena/``):
  partitions are computed from the query's predicates, so no partition ever needs registering. ``account``
  is *injected*: every query must filter it with ``=`` or ``IN``. ``dt`` is a date range starting at
  ``DT_START`` (rows whose date could not be determined, ``dt=unknown``, are only reachable through Glue
  partitions), and ``aws_region`` is an enum of ``ATHENA_REGIONS``: regenerate the SQL when AWS adds one.

Tables, schemas and partition keys come from the table registry (``egress_optimizer.tables``), so the
catalog follows the code; ``tests/test_catalog.py`` fails when the committed SQL drifts from it. Regenerate
it with ``python -m egress_optimizer.glue_catalog``. The Terraform lake module (``infra/modules/lake``) creates
the same tables from ``tables.json``, which ``terraform_tables`` renders from the registry (``python -m
egress_optimizer.glue_catalog --terraform``; ``tests/test_infra_lake.py`` fails when it drifts).

Glue calls go through awswrangler's catalog API: a table is created, or widened when the code adds columns,
never dropped and recreated, so its registered partitions survive a schema change (a column whose type changed
is refused: Athena could not read the older files).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pyarrow as pa

from egress_optimizer.errors import EgressError
from egress_optimizer.lake import Lake
from egress_optimizer.regions import REGIONS
from egress_optimizer.tables import (
    ALL,
    BY_ACCOUNT_REGION_DAY,
    LOG_SOURCES,
    PARTITION_ACCOUNT,
    PARTITION_DATE,
    PARTITION_REGION,
    PARTITION_SOURCE,
    QUARANTINE,
)
from egress_optimizer.tables import get as table_spec

SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
INPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
OUTPUT_FORMAT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
TABLE_PARAMETERS = {"classification": "parquet", "EXTERNAL": "TRUE", "parquet.compression": "ZSTD"}
PARTITION_PARAMETERS = {"classification": "parquet"}

ALL_TABLES = tuple(t.name for t in ALL)
QUARANTINE_PARTITIONS = QUARANTINE.partition_by
LAKE_PLACEHOLDER = "${LAKE_LOCATION}"  # replaced by the lake's s3:// URI when the SQL is run (render_sql)
SQL_DIR = Path(__file__).parent / "sql" / "athena"
# Where the Terraform lake module reads its tables from, relative to the repository's root.
TERRAFORM_TABLES = Path("infra") / "modules" / "lake" / "tables.json"
TERRAFORM_COMMAND = "python -m egress_optimizer.glue_catalog --terraform"
DT_START = "2015-01-01"  # VPC Flow Logs and the CUR both date from 2015; nothing older is expected
GLUE_BATCH = 100  # BatchGetPartition and BatchCreatePartition take at most 100 partitions per call

# Every commercial and GovCloud region known when this was written, plus the values the ingest pipeline
# uses for data that is not regional (CloudFront, global CUR lines) or whose region it could not tell.
_AWS_REGIONS = {
    "af-south-1", "ap-east-1", "ap-east-2", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
    "ap-south-1", "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ap-southeast-6", "ap-southeast-7", "ca-central-1", "ca-west-1", "cn-north-1",
    "cn-northwest-1", "eu-central-1", "eu-central-2", "eu-north-1", "eu-south-1", "eu-south-2", "eu-west-1",
    "eu-west-2", "eu-west-3", "il-central-1", "me-central-1", "me-south-1", "mx-central-1", "sa-east-1",
    "us-east-1", "us-east-2", "us-gov-east-1", "us-gov-west-1", "us-west-1", "us-west-2",
}  # fmt: skip
ATHENA_REGIONS = (*sorted(_AWS_REGIONS | set(REGIONS)), "global", "unknown")


class CatalogError(EgressError):
    """Glue refused a catalog change for a reason other than 'it already exists'."""


# ---- types -------------------------------------------------------------------------------------------------
def hive_type(t: pa.DataType) -> str:
    """The Hive/Glue type string Athena uses to read a Parquet column of Arrow type ``t``."""
    if pa.types.is_dictionary(t):
        return hive_type(t.value_type)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t):
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    ints = {pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.int64(): "bigint"}
    ints |= {pa.uint8(): "smallint", pa.uint16(): "int", pa.uint32(): "bigint"}  # widened: Hive has no unsigned
    if t in ints:
        return ints[t]
    if pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_map(t):
        return f"map<{hive_type(t.key_type)},{hive_type(t.item_type)}>"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{hive_type(t.value_type)}>"
    if pa.types.is_struct(t):
        return "struct<" + ",".join(f"{f.name}:{hive_type(f.type)}" for f in t) + ">"
    raise TypeError(f"Arrow type {t} has no Hive/Glue equivalent Athena can read from Parquet")


def glue_columns(schema: pa.Schema, partition_keys: Sequence[str] = BY_ACCOUNT_REGION_DAY) -> list[dict]:
    """Glue ``Columns`` (``{"Name", "Type"}``) for a table's data columns. Partition columns are excluded:
    Hive forbids a column that is both, and the quarantine files carry ``source`` although it is also that
    table's partition key (pass ``QUARANTINE_PARTITIONS`` for it)."""
    return [{"Name": f.name, "Type": hive_type(f.type)} for f in schema if f.name not in partition_keys]


# ---- Glue ---------------------------------------------------------------------------------------------------
def _client(session: boto3.Session | None) -> Any:
    return (session or boto3.Session()).client("glue")


def ensure_database(session: boto3.Session | None, name: str, description: str = "egress-optimizer data lake") -> bool:
    """Create the Glue database unless it exists; True when it was created. An existing database is left
    as it is (its description may be someone else's)."""
    import awswrangler as wr

    try:
        wr.catalog.create_database(name, description=description, exist_ok=False, boto3_session=session)
    except wr.exceptions.AlreadyExists:
        return False
    return True


def _location(location: str) -> str:
    return location.rstrip("/") + "/"


def table_input(table: str, schema: pa.Schema, location: str, partition_keys: Sequence[str]) -> dict:
    """The Glue ``TableInput`` the lake wants for a Parquet table (what ``ensure_table`` compares with)."""
    return {
        "Name": table,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": dict(TABLE_PARAMETERS),
        "PartitionKeys": [{"Name": k, "Type": "string"} for k in partition_keys],
        "StorageDescriptor": {
            "Columns": glue_columns(schema, partition_keys),
            "Location": _location(location),
            "InputFormat": INPUT_FORMAT,
            "OutputFormat": OUTPUT_FORMAT,
            "SerdeInfo": {"SerializationLibrary": SERDE, "Parameters": {"serialization.format": "1"}},
        },
    }


def _columns(cols: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    return [(c["Name"], c["Type"]) for c in cols]


def _same_table(existing: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    sd, want = existing.get("StorageDescriptor", {}), wanted["StorageDescriptor"]
    params = existing.get("Parameters", {})
    return (
        _columns(sd.get("Columns", [])) == _columns(want["Columns"])
        and _columns(existing.get("PartitionKeys", [])) == _columns(wanted["PartitionKeys"])
        and sd.get("Location") == want["Location"]
        and sd.get("InputFormat") == want["InputFormat"]
        and sd.get("OutputFormat") == want["OutputFormat"]
        and sd.get("SerdeInfo", {}).get("SerializationLibrary") == SERDE
        and all(params.get(k) == v for k, v in wanted["Parameters"].items())
    )


def ensure_table(
    session: boto3.Session | None,
    database: str,
    table: str,
    schema: pa.Schema,
    location: str,
    partition_keys: Sequence[str],
) -> str:
    """Create the table, or widen it when the code added columns; returns created, updated or unchanged.

    An unchanged table is not written, so re-running adds no Glue table versions; an update keeps the
    parameters others added (projection settings, statistics) and the registered partitions."""
    import awswrangler as wr

    wanted = table_input(table, schema, location, partition_keys)
    existing = _get_table(session, database, table)
    if existing and _same_table(existing, wanted):
        return "unchanged"
    try:
        wr.catalog.create_parquet_table(
            database=database,
            table=table,
            path=wanted["StorageDescriptor"]["Location"],
            columns_types={c["Name"]: c["Type"] for c in wanted["StorageDescriptor"]["Columns"]},
            partitions_types={k["Name"]: k["Type"] for k in wanted["PartitionKeys"]},
            compression="zstd",
            parameters=wanted["Parameters"],
            mode="append",  # widen in place; "overwrite" would drop every registered partition
            boto3_session=session,
        )
    except wr.exceptions.InvalidArgumentValue as e:  # a column changed type
        raise CatalogError(f"Glue table {database}.{table}: {e}") from None
    return "updated" if existing else "created"


def _get_table(session: boto3.Session | None, database: str, table: str) -> dict | None:
    glue = _client(session)
    try:
        return glue.get_table(DatabaseName=database, Name=table)["Table"]
    except glue.exceptions.EntityNotFoundException:
        return None


def partition_location(location: str, keys: Sequence[str], values: Sequence[str]) -> str:
    return _location(location) + "".join(f"{k}={v}/" for k, v in zip(keys, values, strict=True))


def _existing_partitions(glue: Any, database: str, table: str, values: list[tuple[str, ...]]) -> set[tuple[str, ...]]:
    found: set[tuple[str, ...]] = set()
    for i in range(0, len(values), GLUE_BATCH):
        chunk = [{"Values": list(v)} for v in values[i : i + GLUE_BATCH]]
        resp = glue.batch_get_partition(DatabaseName=database, TableName=table, PartitionsToGet=chunk)
        found |= {tuple(p["Values"]) for p in resp.get("Partitions", [])}
    return found


def add_partitions(
    session: boto3.Session | None,
    database: str,
    table: str,
    location: str | None,
    partitions: Sequence[Mapping[str, str]],
) -> int:
    """Register partitions (``{"account": ..., "aws_region": ..., "dt": ...}``) of a table; returns how many
    were new. Existing partitions are left alone, so calling this again with the same input is a no-op.

    The partition keys and storage format come from the table (it must exist); ``location`` is the table's
    root (default: the table's own location)."""
    import awswrangler as wr

    if not partitions:
        return 0
    glue = _client(session)
    info = glue.get_table(DatabaseName=database, Name=table)["Table"]
    keys = [k["Name"] for k in info.get("PartitionKeys", [])]
    sd = info["StorageDescriptor"]
    root = location or sd["Location"]
    unique: dict[tuple[str, ...], None] = {}
    for p in partitions:
        if set(p) != set(keys):
            raise ValueError(f"partition {dict(p)} of {table} does not have exactly the keys {keys}")
        unique.setdefault(tuple(p[k] for k in keys))
    values = list(unique)
    new = len(set(values) - _existing_partitions(glue, database, table, values))
    columns = {c["Name"]: c["Type"] for c in sd.get("Columns", [])}
    for i in range(0, len(values), GLUE_BATCH):  # full batches, in input order (awswrangler would even them out)
        try:
            wr.catalog.add_parquet_partitions(
                database=database,
                table=table,
                partitions_values={partition_location(root, keys, v): list(v) for v in values[i : i + GLUE_BATCH]},
                compression="zstd",
                columns_types=columns,
                partitions_parameters=dict(PARTITION_PARAMETERS),
                boto3_session=session,
            )
        except wr.exceptions.ServiceApiError as e:
            raise CatalogError(f"Glue refused partitions of {database}.{table}: {e}") from None
    return new


# ---- the lake -----------------------------------------------------------------------------------------------
def _partition_of(rel: str) -> dict[str, str]:
    """``account=1/aws_region=x/dt=d/f.parquet`` -> {"account": "1", "aws_region": "x", "dt": "d"}."""
    return dict(seg.split("=", 1) for seg in rel.split("/")[:-1] if "=" in seg)


def lake_partitions(lake: Lake, table: str, keys: Sequence[str]) -> list[dict[str, str]]:
    """The distinct partitions a table has files in, in path order (files outside the layout are ignored)."""
    prefix = lake.path(table) + "/"
    found: dict[tuple[str, ...], dict[str, str]] = {}
    for path in lake.files(table):
        part = _partition_of(path[len(prefix) :])
        if list(part) == list(keys):
            found.setdefault(tuple(part.values()), part)
    return list(found.values())


def partitions_of_files(lake: Lake, files: Iterable[str]) -> dict[str, list[dict[str, str]]]:
    """Group written file paths (as ``Lake.write_part`` returns them) by table, as partition dicts."""
    prefix = lake.path() + "/"
    out: dict[str, dict[tuple[str, ...], dict[str, str]]] = {}
    for path in files:
        if not path.startswith(prefix):
            continue
        table, _, rel = path[len(prefix) :].partition("/")
        part = _partition_of(rel)
        if part:
            out.setdefault(table, {}).setdefault(tuple(part.items()), part)  # type: ignore[arg-type]
    return {t: list(parts.values()) for t, parts in out.items()}


@dataclass
class Registration:
    """What ``register_lake`` / ``register_files`` did."""

    tables: dict[str, str] = field(default_factory=dict)  # table -> created / updated / unchanged
    partitions: dict[str, int] = field(default_factory=dict)  # table -> partitions newly created


def register_lake(session: boto3.Session | None, database: str, lake_uri: str) -> Registration:
    """Create (or bring up to date) the database, every lake table and every partition found in the lake.

    Idempotent: a second run changes nothing and reports ``unchanged`` tables and 0 new partitions."""
    lake = Lake.open(lake_uri, create=False)
    ensure_database(session, database)
    reg = Registration()
    for spec in ALL:
        location = lake.uri(spec.name)
        reg.tables[spec.name] = ensure_table(
            session, database, spec.name, spec.storage_schema, location, spec.partition_by
        )
        parts = lake_partitions(lake, spec.name, spec.partition_by)
        reg.partitions[spec.name] = add_partitions(session, database, spec.name, location, parts)
    return reg


def register_files(session: boto3.Session | None, database: str, lake: Lake, files: Iterable[str]) -> Registration:
    """Register the partitions that newly written files landed in (the ingest Lambda's path).

    A table missing from the catalog (first data of its kind) is created first, with its database."""
    reg = Registration()
    glue = _client(session)
    for table, parts in partitions_of_files(lake, files).items():
        location = lake.uri(table)
        try:
            reg.partitions[table] = add_partitions(session, database, table, location, parts)
        except glue.exceptions.EntityNotFoundException:
            spec = table_spec(table)
            ensure_database(session, database)
            reg.tables[table] = ensure_table(session, database, table, spec.storage_schema, location, spec.partition_by)
            reg.partitions[table] = add_partitions(session, database, table, location, parts)
    return reg


# ---- Athena DDL ---------------------------------------------------------------------------------------------
def _projection(table: str, partition_keys: Sequence[str], location: str) -> dict[str, str]:
    props = {"projection.enabled": "true"}
    for key in partition_keys:
        if key == PARTITION_DATE:
            props |= {
                "projection.dt.type": "date",
                "projection.dt.range": f"{DT_START},NOW",
                "projection.dt.format": "yyyy-MM-dd",
                "projection.dt.interval": "1",
                "projection.dt.interval.unit": "DAYS",
            }
        elif key == PARTITION_ACCOUNT:
            props["projection.account.type"] = "injected"  # unbounded set: queries must name the account(s)
        elif key == PARTITION_REGION:
            props |= {"projection.aws_region.type": "enum", "projection.aws_region.values": ",".join(ATHENA_REGIONS)}
        elif key == PARTITION_SOURCE:
            props |= {"projection.source.type": "enum", "projection.source.values": ",".join(LOG_SOURCES)}
        else:
            raise ValueError(f"no projection rule for partition key {key!r} of {table}")
    props["storage.location.template"] = _location(location) + "".join(f"{k}=${{{k}}}/" for k in partition_keys)
    return props


def athena_ddl(
    table: str,
    schema: pa.Schema,
    location: str,
    projection: bool = False,
    partition_keys: Sequence[str] | None = None,
) -> str:
    """``CREATE EXTERNAL TABLE`` for a lake table in Athena (one statement, no trailing semicolon).

    ``schema`` is the files' schema; ``partition_keys`` defaults to the table's in the registry. With
    ``projection`` the table needs no registered partitions (see the module docstring for the rules)."""
    keys = tuple(partition_keys or table_spec(table).partition_by)
    columns = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in glue_columns(schema, keys))
    partitioned = ",\n".join(f"  `{k}` string" for k in keys)
    props = {"classification": "parquet", "parquet.compression": "ZSTD"}
    if projection:
        props |= _projection(table, keys, location)
    properties = ",\n".join(f"  '{k}'='{v}'" for k, v in props.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{table}` (\n{columns}\n)\n"
        f"PARTITIONED BY (\n{partitioned}\n)\n"
        f"ROW FORMAT SERDE '{SERDE}'\n"
        f"STORED AS INPUTFORMAT '{INPUT_FORMAT}'\n"
        f"  OUTPUTFORMAT '{OUTPUT_FORMAT}'\n"
        f"LOCATION '{_location(location)}'\n"
        f"TBLPROPERTIES (\n{properties}\n)\n"
    )


def render_sql(sql: str, lake_uri: str) -> str:
    """A committed DDL file made runnable: ``${LAKE_LOCATION}`` becomes the lake's URI (Athena's own
    ``${account}``-style projection placeholders are left alone)."""
    return sql.replace(LAKE_PLACEHOLDER, lake_uri.rstrip("/"))


def write_athena_sql(out_dir: str | Path = SQL_DIR, tables: Iterable[str] | None = None) -> list[Path]:
    """Write ``<table>.sql`` (projection DDL, lake location as ``${LAKE_LOCATION}``) for every registered
    table, or the given ones; returns the files written."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for spec in ALL if tables is None else [table_spec(t) for t in tables]:
        path = out / f"{spec.name}.sql"
        location = f"{LAKE_PLACEHOLDER}/{spec.name}"
        path.write_text(athena_ddl(spec.name, spec.storage_schema, location, True, spec.partition_by), encoding="utf-8")
        written.append(path)
    return written


# ---- Terraform ----------------------------------------------------------------------------------------------
def terraform_tables() -> dict[str, Any]:
    """Every registry table as the Terraform lake module creates it (``aws_glue_catalog_table``, one per key).

    Each table is ``table_input`` with the lake's location left out: ``location_suffix`` is appended to the lake
    URI, so the tables Terraform creates are the ones ``ensure_table`` wants (it finds them unchanged and only
    registers partitions). ``projection`` holds the partition projection properties the committed Athena DDL has,
    its storage template starting with ``${LAKE_LOCATION}``, for a database that projects instead."""
    tables: dict[str, Any] = {}
    for spec in ALL:
        location = f"{LAKE_PLACEHOLDER}/{spec.name}"
        wanted = table_input(spec.name, spec.storage_schema, location, spec.partition_by)
        sd = wanted["StorageDescriptor"]
        tables[spec.name] = {
            "description": spec.description,
            "table_type": wanted["TableType"],
            "parameters": wanted["Parameters"],
            "location_suffix": sd["Location"].removeprefix(f"{LAKE_PLACEHOLDER}/"),
            "columns": [{"name": c["Name"], "type": c["Type"]} for c in sd["Columns"]],
            "partition_keys": [{"name": k["Name"], "type": k["Type"]} for k in wanted["PartitionKeys"]],
            "input_format": sd["InputFormat"],
            "output_format": sd["OutputFormat"],
            "serde": {
                "serialization_library": sd["SerdeInfo"]["SerializationLibrary"],
                "parameters": sd["SerdeInfo"]["Parameters"],
            },
            "projection": _projection(spec.name, spec.partition_by, location),
        }
    return {
        "generated_by": f"{TERRAFORM_COMMAND} (from egress_optimizer.tables); do not edit",
        "lake_location_placeholder": LAKE_PLACEHOLDER,
        "tables": tables,
    }


def render_terraform_tables() -> str:
    """``terraform_tables`` as the committed file holds it (stable key order, so a diff shows what changed)."""
    return json.dumps(terraform_tables(), indent=2, sort_keys=True) + "\n"


def _checkout_terraform_tables() -> Path:
    """The module's tables.json in the checkout this library runs from (an editable install), else below the
    current directory (run at the repository's root)."""
    checkout = Path(__file__).resolve().parents[2] / TERRAFORM_TABLES
    return checkout if checkout.parent.is_dir() else TERRAFORM_TABLES


def write_terraform_tables(path: str | Path | None = None) -> Path:
    """Write the Terraform lake module's ``tables.json`` (default: the checkout's); returns its path."""
    out = Path(path) if path is not None else _checkout_terraform_tables()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_terraform_tables(), encoding="utf-8")
    return out


def main(argv: Sequence[str]) -> None:
    """``[table ...]``: the Athena DDL under sql/athena/ (every table when none is named);
    ``--terraform [path]``: the lake module's tables.json (default: infra/modules/lake/tables.json)."""
    if argv and argv[0] == "--terraform":
        if len(argv) > 2:
            raise SystemExit(f"usage: {TERRAFORM_COMMAND} [path]")
        print(write_terraform_tables(argv[1] if len(argv) == 2 else None))
        return
    for written_path in write_athena_sql(tables=list(argv) or None):
        print(written_path)


if __name__ == "__main__":  # python -m egress_optimizer.glue_catalog [table ...] | --terraform [path]
    main(sys.argv[1:])
