"""Glue Data Catalog registration (moto, in-process) and the Athena DDL, including the committed SQL files."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import boto3
import pyarrow as pa
import pytest
from moto import mock_aws

from egress_optimizer import glue_catalog as catalog
from egress_optimizer.glue_catalog import (
    ALL_TABLES,
    LAKE_PLACEHOLDER,
    QUARANTINE_PARTITIONS,
    SQL_DIR,
    add_partitions,
    athena_ddl,
    ensure_table,
    glue_columns,
    hive_type,
    lake_partitions,
    register_files,
    register_lake,
    render_sql,
    table_spec,
    write_athena_sql,
)
from egress_optimizer.ingest.base import QUARANTINE_SCHEMA
from egress_optimizer.ingest.pipeline import PARTITIONS, ingest
from egress_optimizer.lake import Lake
from egress_optimizer.tables import Table

FLOW_KEY = (
    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/10/01/"
    "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261001T0000Z_abcd1234.log.gz"
)
# DDL files that must be on disk: the log tables, the quarantine, and the tables the pipeline derives
COMMITTED = ("vpc_flow", "s3_access", "cloudfront", "cur", "quarantine")
COMMITTED += ("attributed", "egress_hourly", "cur_daily", "anomalies", "incidents", "tier_meter", "first_seen")
COMMITTED += ("remediation_audit", "explanations")
COMMITTED += ("savings", "coverage_gaps")


def _spec_or_skip(table: str) -> Table:
    return table_spec(table)  # every table is in the registry


# ---- types and DDL ------------------------------------------------------------------------------------------
def test_hive_types():
    cases = {
        pa.string(): "string",
        pa.large_string(): "string",
        pa.int8(): "tinyint",
        pa.int16(): "smallint",
        pa.int32(): "int",
        pa.int64(): "bigint",
        pa.uint32(): "bigint",
        pa.float32(): "float",
        pa.float64(): "double",
        pa.bool_(): "boolean",
        pa.timestamp("ms", tz="UTC"): "timestamp",
        pa.timestamp("us"): "timestamp",
        pa.date32(): "date",
        pa.decimal128(18, 6): "decimal(18,6)",
        pa.binary(): "binary",
        pa.map_(pa.string(), pa.string()): "map<string,string>",
        pa.list_(pa.string()): "array<string>",
        pa.large_list(pa.int64()): "array<bigint>",
        pa.struct([("a", pa.int32()), ("b", pa.list_(pa.string()))]): "struct<a:int,b:array<string>>",
        pa.dictionary(pa.int32(), pa.string()): "string",
        pa.map_(pa.string(), pa.struct([("x", pa.float64())])): "map<string,struct<x:double>>",
    }
    for arrow, hive in cases.items():
        assert hive_type(arrow) == hive, arrow
    with pytest.raises(TypeError):
        hive_type(pa.null())


def test_glue_columns_exclude_partition_columns():
    schema = pa.schema([("a", pa.int64()), ("dt", pa.string()), ("account", pa.string()), ("m", pa.float64())])
    assert glue_columns(schema) == [{"Name": "a", "Type": "bigint"}, {"Name": "m", "Type": "double"}]
    q = glue_columns(QUARANTINE_SCHEMA, QUARANTINE_PARTITIONS)
    assert [c["Name"] for c in q] == ["source_object", "record_number", "raw", "reason"]


def _split_top_level(text: str) -> list[str]:
    """Split on commas outside <...>, as a Hive column list needs."""
    parts, depth, cur = [], 0, []
    for ch in text:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


_DDL = re.compile(
    r"^CREATE EXTERNAL TABLE IF NOT EXISTS `(?P<table>\w+)` \(\n(?P<cols>.*?)\n\)\n"
    r"PARTITIONED BY \(\n(?P<parts>.*?)\n\)\n"
    r"ROW FORMAT SERDE '(?P<serde>[\w.]+)'\n"
    r"STORED AS INPUTFORMAT '(?P<input>[\w.]+)'\n  OUTPUTFORMAT '(?P<output>[\w.]+)'\n"
    r"LOCATION '(?P<location>[^']+)'\n"
    r"TBLPROPERTIES \(\n(?P<props>.*?)\n\)\n$",
    re.S,
)
_COLUMN = re.compile(r"^`(\w+)` ([a-z]+(?:\(\d+,\d+\))?(?:<.+>)?)$")


def parse_ddl(sql: str) -> dict:
    """Read a generated CREATE EXTERNAL TABLE back into its parts (fails loudly on any other shape)."""
    m = _DDL.match(sql)
    assert m, f"DDL does not have the expected shape:\n{sql}"

    def columns(block: str) -> list[dict]:
        out = []
        for item in _split_top_level(block):
            cm = _COLUMN.match(item)
            assert cm, f"not a column definition: {item!r}"
            out.append({"Name": cm.group(1), "Type": cm.group(2)})
        return out

    props = dict(re.findall(r"^  '([^']+)'='([^']*)',?$", m.group("props"), re.M))
    assert len(props) == len(m.group("props").splitlines()), "every property line must parse"
    return {
        "table": m.group("table"),
        "columns": columns(m.group("cols")),
        "partitions": columns(m.group("parts")),
        "serde": m.group("serde"),
        "input": m.group("input"),
        "output": m.group("output"),
        "location": m.group("location"),
        "props": props,
    }


@pytest.mark.parametrize("table", ALL_TABLES)
def test_athena_ddl_round_trips_columns_and_projection(table):
    spec = _spec_or_skip(table)
    schema, partition_keys = spec.storage_schema, spec.partition_by
    sql = athena_ddl(table, schema, "s3://lake-bucket/lake/" + table, projection=True)
    ddl = parse_ddl(sql)
    assert ddl["table"] == table
    assert ddl["columns"] == glue_columns(schema, partition_keys)
    assert [c["Name"] for c in ddl["columns"]] == [f.name for f in schema if f.name not in partition_keys]
    assert ddl["partitions"] == [{"Name": k, "Type": "string"} for k in partition_keys]
    assert ddl["serde"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
    assert ddl["input"].endswith("MapredParquetInputFormat") and ddl["output"].endswith("MapredParquetOutputFormat")
    assert ddl["location"] == f"s3://lake-bucket/lake/{table}/"
    props = ddl["props"]
    assert props["classification"] == "parquet"
    assert props["projection.enabled"] == "true"
    template = props["storage.location.template"]
    # The template is exactly the lake's Hive layout, so projected partitions find the files Lake wrote.
    assert template == f"s3://lake-bucket/lake/{table}/" + "".join(f"{k}=${{{k}}}/" for k in partition_keys)
    if table == "quarantine":
        assert props["projection.source.type"] == "enum"
        assert props["projection.source.values"].split(",") == ["vpc-flow", "s3-access", "cloudfront", "cur"]
    else:
        assert props["projection.dt.type"] == "date"
        assert props["projection.dt.format"] == "yyyy-MM-dd"
        start, end = props["projection.dt.range"].split(",")
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", start) and end == "NOW"
        if "account" in partition_keys:  # the state tables (tier meter, first seen) are partitioned by day only
            assert props["projection.account.type"] == "injected"
            assert props["projection.aws_region.type"] == "enum"
            regions = props["projection.aws_region.values"].split(",")
            assert {"us-east-1", "eu-west-1", "ap-southeast-2", "global", "unknown"} <= set(regions)
            assert len(regions) == len(set(regions))


def test_athena_ddl_without_projection():
    spec = table_spec("vpc_flow")
    ddl = parse_ddl(athena_ddl("vpc_flow", spec.storage_schema, "s3://b/lake/vpc_flow/", projection=False))
    assert ddl["location"] == "s3://b/lake/vpc_flow/"
    assert not any(k.startswith("projection.") or k.startswith("storage.") for k in ddl["props"])


@pytest.mark.parametrize("table", ALL_TABLES)
def test_committed_sql_matches_the_code(table, tmp_path):
    """The files under sql/athena/ are generated: they must never drift from the parsers' schemas."""
    _spec_or_skip(table)
    committed = SQL_DIR / f"{table}.sql"
    regenerate = f"python -m egress_optimizer.glue_catalog {table}"
    assert table in COMMITTED
    if not committed.exists():
        pytest.fail(f"{committed} is missing; run `{regenerate}`")
    (written,) = write_athena_sql(tmp_path, tables=[table])
    assert written.read_text() == committed.read_text(), f"{committed} is stale; run `{regenerate}`"
    assert LAKE_PLACEHOLDER in committed.read_text()
    rendered = render_sql(committed.read_text(), "s3://my-lake/prod/")
    assert "${LAKE_LOCATION}" not in rendered
    assert f"LOCATION 's3://my-lake/prod/{table}/'" in rendered
    assert "=${dt}/" in rendered or "=${source}/" in rendered  # Athena's own placeholders survive


def test_every_committed_table_sql_is_generated():
    """No stray DDL under sql/athena/ (e.g. a renamed table's old file): each one is checked above."""
    assert sorted(p.stem for p in SQL_DIR.glob("*.sql")) == sorted(ALL_TABLES)


# ---- Glue ---------------------------------------------------------------------------------------------------
@pytest.fixture()
def aws():
    """A boto3 session on moto: the catalog's calls go through awswrangler, which takes a session."""
    with mock_aws():
        yield boto3.Session(region_name="us-east-1")


@pytest.fixture()
def glue(aws):
    """A Glue client on the same moto backend, to look at what the catalog did."""
    return aws.client("glue")


@pytest.fixture()
def lake(tmp_path, shared) -> Lake:
    """A local lake with real VPC flow data in two partitions and one quarantined object."""
    raw = tmp_path / "raw"
    flow = raw / FLOW_KEY
    flow.parent.mkdir(parents=True)
    shutil.copy(shared / "log_samples/vpc_flow/loki_lambda_promtail_s3_delivered_with_header.log.gz", flow)
    v5 = flow.parent.parent / "02" / "v5.log"  # region and account come from the records (ap-southeast-2)
    v5.parent.mkdir()
    shutil.copy(shared / "log_samples/vpc_flow/awsdocs_v5_service_traffic_path_flow_direction.log", v5)
    bad = flow.parent / "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261001T0005Z_bad.log"
    bad.write_text("this is not\na flow log\n")
    lake = Lake.open(str(tmp_path / "lake"))
    report = ingest([str(raw)], lake)
    assert report.totals()["objects_failed"] == 1
    return lake


def _partitions(glue, table: str) -> list[list[str]]:
    pages = glue.get_paginator("get_partitions").paginate(DatabaseName="egress", TableName=table)
    return sorted(p["Values"] for page in pages for p in page["Partitions"])


def test_register_lake_creates_tables_and_partitions_idempotently(aws, glue, lake):
    reg = register_lake(aws, "egress", lake.root)
    available = list(ALL_TABLES)
    assert set(reg.tables) == set(available) and set(reg.tables.values()) == {"created"}
    expected_flow = [["123456789012", "ap-southeast-2", "2021-03-26"], ["123456789012", "us-east-1", "2022-11-30"]]
    assert _partitions(glue, "vpc_flow") == expected_flow
    assert _partitions(glue, "quarantine") == [["vpc-flow"]]
    assert reg.partitions["vpc_flow"] == 2 and reg.partitions["quarantine"] == 1
    assert lake_partitions(lake, "vpc_flow", PARTITIONS) == [
        dict(zip(PARTITIONS, v, strict=True)) for v in expected_flow
    ]

    for table in available:
        spec = table_spec(table)
        t = glue.get_table(DatabaseName="egress", Name=table)["Table"]
        sd = t["StorageDescriptor"]
        assert sd["Columns"] == glue_columns(spec.storage_schema, spec.partition_by)
        assert [k["Name"] for k in t["PartitionKeys"]] == list(spec.partition_by)
        assert sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        assert sd["InputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
        assert sd["OutputFormat"] == "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
        assert t["Parameters"]["classification"] == "parquet"
        assert t["TableType"] == "EXTERNAL_TABLE"
        assert sd["Location"] == lake.uri(table) + "/"

    part = glue.get_partition(
        DatabaseName="egress", TableName="vpc_flow", PartitionValues=["123456789012", "us-east-1", "2022-11-30"]
    )["Partition"]
    location = part["StorageDescriptor"]["Location"]
    assert location == lake.uri("vpc_flow", "account=123456789012", "aws_region=us-east-1", "dt=2022-11-30") + "/"
    assert Path(location).is_dir()  # the partition points where the files are

    # Again: nothing changes, nothing is duplicated, no error, no new table version.
    versions = len(glue.get_table_versions(DatabaseName="egress", TableName="vpc_flow")["TableVersions"])
    again = register_lake(aws, "egress", lake.root)
    assert set(again.tables.values()) == {"unchanged"}
    assert set(again.partitions.values()) == {0}
    assert _partitions(glue, "vpc_flow") == expected_flow
    assert _partitions(glue, "quarantine") == [["vpc-flow"]]
    assert len(glue.get_table_versions(DatabaseName="egress", TableName="vpc_flow")["TableVersions"]) == versions
    assert [d["Name"] for d in glue.get_databases()["DatabaseList"]] == ["egress"]


def test_ensure_table_updates_a_changed_schema_and_keeps_foreign_parameters(aws, glue):
    catalog.ensure_database(aws, "egress")
    schema = pa.schema([("a", pa.int64())])
    assert ensure_table(aws, "egress", "t", schema, "s3://b/lake/t", PARTITIONS) == "created"
    glue.update_table(
        DatabaseName="egress",
        TableInput={**catalog.table_input("t", schema, "s3://b/lake/t", PARTITIONS), "Parameters": {"x": "1"}},
    )
    wider = schema.append(pa.field("b", pa.list_(pa.string())))
    assert ensure_table(aws, "egress", "t", wider, "s3://b/lake/t", PARTITIONS) == "updated"
    t = glue.get_table(DatabaseName="egress", Name="t")["Table"]
    assert t["StorageDescriptor"]["Columns"][-1] == {"Name": "b", "Type": "array<string>"}
    assert t["Parameters"]["x"] == "1" and t["Parameters"]["classification"] == "parquet"
    assert ensure_table(aws, "egress", "t", wider, "s3://b/lake/t", PARTITIONS) == "unchanged"


def test_add_partitions_batches_by_100_and_tolerates_existing(aws, glue):
    catalog.ensure_database(aws, "egress")
    ensure_table(aws, "egress", "vpc_flow", table_spec("vpc_flow").storage_schema, "s3://b/lake/vpc_flow", PARTITIONS)
    calls: list[int] = []
    aws.events.register(
        "provide-client-params.glue.BatchCreatePartition",
        lambda params, **_: calls.append(len(params["PartitionInputList"])),
    )
    days = [f"2026-{m:02d}-{d:02d}" for m in range(1, 11) for d in range(1, 26)]
    parts = [{"account": "111122223333", "aws_region": "us-east-1", "dt": day} for day in days]
    assert len(parts) == 250
    assert add_partitions(aws, "egress", "vpc_flow", "s3://b/lake/vpc_flow", parts[:30]) == 30
    calls.clear()
    # Overlapping with what exists, and with duplicates in the input: only the new ones count.
    assert add_partitions(aws, "egress", "vpc_flow", "s3://b/lake/vpc_flow", parts + parts[:5]) == 220
    assert calls == [100, 100, 50]
    assert len(_partitions(glue, "vpc_flow")) == 250
    assert add_partitions(aws, "egress", "vpc_flow", None, parts) == 0
    assert add_partitions(aws, "egress", "vpc_flow", None, []) == 0
    values = ["111122223333", "us-east-1", "2026-01-01"]
    part = glue.get_partition(DatabaseName="egress", TableName="vpc_flow", PartitionValues=values)["Partition"]
    loc = part["StorageDescriptor"]["Location"]
    assert loc == "s3://b/lake/vpc_flow/account=111122223333/aws_region=us-east-1/dt=2026-01-01/"
    with pytest.raises(ValueError, match="exactly the keys"):
        add_partitions(aws, "egress", "vpc_flow", None, [{"account": "1", "dt": "2026-01-01"}])


def test_register_files_creates_a_missing_table_first(aws, glue, lake):
    files = lake.files("vpc_flow") + lake.files("quarantine")
    reg = register_files(aws, "egress", lake, files)
    assert reg.tables == {"vpc_flow": "created", "quarantine": "created"}
    assert reg.partitions == {"vpc_flow": 2, "quarantine": 1}
    assert register_files(aws, "egress", lake, files).partitions == {"vpc_flow": 0, "quarantine": 0}
    assert _partitions(glue, "quarantine") == [["vpc-flow"]]
