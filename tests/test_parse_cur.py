"""CUR parser: the real samples, our generator's CUR 2.0 and legacy exports, manifests, malformed input, fuzzing."""

from __future__ import annotations

import csv
import glob
import gzip
import io
import json
import math
import random
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress_optimizer.ingest import cur as cur_module
from egress_optimizer.ingest.base import QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.ingest.cur import (
    CUR_SCHEMA,
    CurParser,
    is_manifest,
    looks_like,
    looks_like_parquet,
    looks_like_parquet_schema,
    parse_manifest,
    snake_name,
    tag_key,
)
from egress_optimizer.ingest.objects import _CheckedGzip, open_object


# ---- helpers ----------------------------------------------------------------------------------------------
class MemBody:
    """An ObjectBody over bytes in memory (gzip is decompressed, truncation raises UnreadableObject)."""

    def __init__(self, data: bytes):
        self.data = data

    def stream(self):
        raw = io.BytesIO(self.data)
        if self.data[:2] == b"\x1f\x8b":
            return io.BufferedReader(_CheckedGzip(raw))
        return raw

    def seekable(self):
        return io.BytesIO(self.data)

    def head(self, n: int = 65_536) -> bytes:
        with self.stream() as s:
            try:
                return s.read(n)
            except UnreadableObject:
                return b""

    def is_parquet(self) -> bool:
        return self.data[:4] == b"PAR1"


def _table(batches: list[pa.RecordBatch]) -> pa.Table:
    for b in batches:
        assert b.schema == CUR_SCHEMA
    return pa.Table.from_batches(batches, schema=CUR_SCHEMA)


def parse_bytes(
    data: bytes, key: str = "report.csv", engine: str = "auto", batch_rows: int = 65_536, block: int | None = None
) -> tuple[pa.Table, QuarantineSink]:
    obj = SourceObject(uri=f"memory://{key}", key=key, size=len(data))
    q = QuarantineSink("cur", obj)
    parser = CurParser()
    parser.csv_engine = engine
    default_block = cur_module._ARROW_BLOCK
    cur_module._ARROW_BLOCK = block or default_block
    try:
        t = _table(list(parser.parse(MemBody(data), obj, q, batch_rows=batch_rows)))
    finally:
        cur_module._ARROW_BLOCK = default_block
    assert q.read == t.num_rows + q.count  # conservation, always
    return t, q


def parse_path(path: Path | str, engine: str = "auto") -> tuple[pa.Table, QuarantineSink]:
    obj, body = open_object(str(path))
    q = QuarantineSink("cur", obj)
    parser = CurParser()
    parser.csv_engine = engine
    t = _table(list(parser.parse(body, obj, q)))
    assert q.read == t.num_rows + q.count
    return t, q


def clean_rows(path: Path | str) -> list[dict]:
    t, q = parse_path(path)
    assert q.count == 0, q.rows[:5]
    return t.to_pylist()


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode()


def _utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


@pytest.fixture(scope="module")
def samples(shared: Path) -> Path:
    return shared / "log_samples" / "cur"


# ---- real samples -----------------------------------------------------------------------------------------
def test_every_sample_parses_without_quarantine_on_both_engines(samples):
    files = sorted(p for p in samples.iterdir() if p.name.endswith((".csv", ".csv.gz")))
    assert len(files) >= 3
    for p in files:
        fast, q1 = parse_path(p)
        exact, q2 = parse_path(p, engine="python")
        assert q1.count == 0 and q2.count == 0, (p.name, q1.rows[:3], q2.rows[:3])
        assert fast.num_rows > 0
        assert fast.equals(exact), p.name


def test_focus_converters_legacy_export(samples):
    path = samples / "focus_converters_legacy_cur_anonymized_export.csv.gz"
    rows = clean_rows(path)
    assert len(rows) == 1281
    assert {r["cur_version"] for r in rows} == {"legacy"}
    assert {r["billing_period"] for r in rows} == {"2023-11"}
    assert {r["payer_account_id"] for r in rows} == {"123412340534"}

    r = next(x for x in rows if x["line_item_id"] == "cjxa4463xpabcdabcdabcdabcdabcdabcdabcdabci2diiqamka")
    assert r["usage_type"] == "USE1-EUC1-AWS-Out-Bytes" and r["operation"] == "HeadBucket"
    assert r["usage_amount"] == pytest.approx(9.052e-7, rel=1e-12)
    assert r["unblended_rate"] == 0.02
    assert r["unblended_cost"] == pytest.approx(1.81e-8, rel=1e-12)
    assert (r["from_region_code"], r["to_region_code"]) == ("us-east-1", "eu-central-1")
    assert (r["from_location"], r["to_location"]) == ("US East (N. Virginia)", "EU (Frankfurt)")
    assert r["product_code"] == "AmazonS3" and r["servicecode"] == "AWSDataTransfer"
    assert r["transfer_type"] == "InterRegion Outbound" and r["product_family"] == "Data Transfer"
    assert r["usage_start"] == _utc(2023, 11, 4, 23) and r["usage_end"] == _utc(2023, 11, 5)
    assert r["time_interval"] == "2023-11-04T00:00:00Z/2023-11-05T00:00:00Z"
    assert r["pricing_unit"] == "GB" and r["currency"] == "USD" and r["region_code"] == "us-east-1"
    assert r["resource_id"] is None  # the export has no lineItem/ResourceId column
    extra = dict(r["extra"])
    assert extra["bill_invoicing_entity"] == "Amazon Web Services Canada, Inc."  # quoted comma survives
    assert extra["product_product_name"] == "Amazon Simple Storage Service"
    assert extra["product_usagetype"] == "USE1-EUC1-AWS-Out-Bytes"

    usage_types = [x["usage_type"] for x in rows if x["usage_type"] == "USE1-EUC1-AWS-Out-Bytes"]
    assert len(usage_types) == 10
    taxes = [x for x in rows if x["line_item_type"] == "Tax"]
    assert len(taxes) == 12
    assert all(x["usage_type"] is None and x["product_code"] for x in taxes)
    assert all(x["description"] == f"Tax for product code {x['product_code']}" for x in taxes)
    assert sum(x["product_family"] == "Data Transfer" for x in rows) == 446
    assert {x["usage_type"] for x in rows} >= {"USE1-CAN1-AWS-Out-Bytes", "USW2-DataTransfer-Out-Bytes"}

    # Totals equal an independent sum over the raw file.
    with gzip.open(path, "rt", newline="") as f:
        raw = list(csv.DictReader(f))
    for col, canon in (("lineItem/UnblendedCost", "unblended_cost"), ("lineItem/UsageAmount", "usage_amount")):
        expected = math.fsum(float(x[col]) for x in raw if x[col])
        assert math.fsum(x[canon] or 0.0 for x in rows) == pytest.approx(expected, rel=1e-12)


def test_koku_athena_snake_case(samples):
    rows = clean_rows(samples / "koku_legacy_cur_athena_snake_case_with_partitions.csv")
    assert len(rows) == 2
    r = rows[0]
    assert r["cur_version"] == "legacy" and r["billing_period"] == "2022-07"
    assert r["usage_start"] == _utc(2022, 7, 1, 0) and r["usage_end"] == _utc(2022, 7, 1, 1)
    assert rows[1]["usage_start"] == _utc(2022, 7, 1, 1)
    assert (r["product_code"], r["usage_type"], r["operation"]) == ("mra", "SoftwareUsage:t2.nano", "Hourly")
    assert r["resource_id"] == "arn:aws:ec2:us-east-1:589173575009:instance/i-055386473d0b3fc65"
    assert r["region_code"] == "us-east-1" and r["availability_zone"] == "us-east-1a"
    assert r["usage_amount"] == 1.0 and r["unblended_cost"] == 0.0 and r["pricing_unit"] == "Hrs"
    assert dict(r["resource_tags"]) == {"aws:createdBy": "IAMUser:fake:and"}
    extra = dict(r["extra"])
    assert extra["line_item_legal_entity"] == "Red Hat, Inc."
    assert extra["product_product_name"] == "Red Hat® Enterprise Linux®"
    assert extra["bill_invoicing_entity"] == "Amazon Web Services, Inc."
    assert "year" not in extra and "month" not in extra  # partition columns are not report data
    assert all(v != "" for v in extra.values())


def test_ccf_distinct_usage_types(samples):
    rows = clean_rows(samples / "ccf_athena_distinct_usage_types_sample.csv")
    assert len(rows) == 67
    by_type = {r["usage_type"]: r for r in rows}
    r = by_type["APS1-PHL1-AWS-In-Bytes"]
    assert (r["product_code"], r["region_code"], r["pricing_unit"]) == ("AmazonVPC", "ap-southeast-1", "GB")
    assert by_type["USE1-EUW2-AWS-Out-Bytes"]["operation"] == "HeadBucket"
    assert all(x["usage_amount"] is None and x["billing_period"] is None for x in rows)  # no such columns


def test_detection_on_samples(shared, samples):
    for p in samples.iterdir():
        if p.name.endswith((".csv", ".csv.gz")):
            _, body = open_object(str(p))
            assert looks_like(body.head(), p.name), p.name
        elif p.suffix == ".txt":
            assert not looks_like(p.read_bytes(), p.name), p.name
    for other in ("vpc_flow", "s3_access", "cloudfront"):
        for p in (shared / "log_samples" / other).iterdir():
            _, body = open_object(str(p))
            assert not looks_like(body.head(), p.name), p.name
            if body.is_parquet():
                assert not looks_like_parquet(body)


# ---- generated estate -------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def estate(tmp_path_factory) -> Path:
    from egress_optimizer.estate.generate import generate

    out = tmp_path_factory.mktemp("cur-estate")
    generate(out, days=1, seed=3, scale="small")
    return out


def _local(estate: Path, uri: str) -> Path:
    assert uri.startswith("s3://")
    return estate / uri[len("s3://") :]


@pytest.fixture(scope="module")
def cur2(estate) -> tuple[dict, list[Path]]:
    manifests = glob.glob(str(estate / "cur-exports-*/cur2/*/metadata/BILLING_PERIOD=*/*-Manifest.json"))
    assert len(manifests) == 1
    m = parse_manifest(Path(manifests[0]).read_bytes())
    return m, [_local(estate, f) for f in m["data_files"]]


@pytest.fixture(scope="module")
def cur2_table(cur2) -> pa.Table:
    _, files = cur2
    tables = []
    for f in files:
        t, q = parse_path(f)
        assert q.count == 0, q.rows[:3]
        tables.append(t)
    return pa.concat_tables(tables)


@pytest.fixture(scope="module")
def legacy_csv(estate) -> Path:
    files = glob.glob(str(estate / "cur-legacy-*/**/*.csv.gz"), recursive=True)
    assert len(files) == 1
    return Path(files[0])


def test_cur2_manifest_and_parquet(cur2, cur2_table):
    m, files = cur2
    assert m["kind"] == "cur2" and m["billing_period"] == "2026-10"
    assert m["columns"]["resource_tags"] == "map" and m["columns"]["line_item_usage_type"] == "string"
    assert files and all(f.exists() for f in files)
    raw = pa.concat_tables([pq.read_table(f) for f in files])
    t = cur2_table
    assert t.num_rows == raw.num_rows > 1000
    assert set(t.column("cur_version").to_pylist()) == {"cur2"}
    assert set(t.column("billing_period").to_pylist()) == {"2026-10"}
    for canon, col in (
        ("unblended_cost", "line_item_unblended_cost"),
        ("usage_amount", "line_item_usage_amount"),
        ("public_on_demand_cost", "pricing_public_on_demand_cost"),
    ):
        assert pc.sum(t.column(canon)).as_py() == pytest.approx(pc.sum(raw.column(col)).as_py(), rel=1e-12)
    # The rate is a string in CUR 2.0; it becomes a number (a credit has none).
    usage = t.filter(pc.equal(t.column("line_item_type"), "Usage"))
    assert usage.column("unblended_rate").null_count == 0 and usage.num_rows < t.num_rows
    rows = t.to_pylist()
    tagged = [r for r in rows if r["resource_tags"]]
    assert tagged and all("team" in dict(r["resource_tags"]) for r in tagged)
    assert not any(k.startswith("user_") for r in tagged for k, _ in r["resource_tags"])
    assert all(dict(r["cost_category"]).get("cost_center", "").startswith("CC-") for r in rows)
    # Product attributes that live in the CUR 2.0 product map.
    transfers = [r for r in rows if (r["usage_type"] or "").endswith("AWS-Out-Bytes")]
    assert transfers and all(r["transfer_type"] == "InterRegion Outbound" for r in transfers)
    assert all(r["from_region_code"] and r["to_region_code"] for r in transfers)
    first = rows[0]
    extra = dict(first["extra"])
    assert extra["product_product_name"] and extra["bill_payer_account_name"] == "org-management"
    assert "product_transfer_type" not in extra  # consumed by the transfer_type column
    assert first["usage_start"].tzinfo is not None and first["usage_end"] > first["usage_start"]


def test_cur2_timestamps_are_utc_whatever_their_unit(cur2, cur2_table):
    _, files = cur2
    raw = pq.read_table(files[0]).slice(0, 1000)
    for tz, unit in ((None, "us"), ("UTC", "ns"), ("America/New_York", "s")):
        cols = {}
        for name in raw.column_names:
            c = raw.column(name)
            cols[name] = c.cast(pa.timestamp(unit, tz=tz)) if pa.types.is_timestamp(c.type) else c
        buf = io.BytesIO()
        pq.write_table(pa.table(cols), buf)
        t, q = parse_bytes(buf.getvalue(), key="x.parquet")
        assert q.count == 0
        assert t.column("usage_start").equals(cur2_table.column("usage_start").slice(0, t.num_rows))


def test_legacy_manifest_and_csv(estate, legacy_csv):
    manifests = glob.glob(str(estate / "cur-legacy-*/**/*-Manifest.json"), recursive=True)
    m = parse_manifest(Path(manifests[0]).read_bytes())
    assert m["kind"] == "legacy" and m["billing_period"] == "2026-10"
    assert m["columns"]["lineItem/UsageType"] == "OptionalString"
    assert [estate / m["bucket"] / k for k in m["data_files"]] == [legacy_csv]

    t, q = parse_path(legacy_csv)
    assert q.count == 0
    with gzip.open(legacy_csv, "rt", newline="") as f:
        raw = list(csv.DictReader(f))
    assert t.num_rows == len(raw)
    expected = math.fsum(float(r["lineItem/UnblendedCost"]) for r in raw)
    assert pc.sum(t.column("unblended_cost")).as_py() == pytest.approx(expected, rel=1e-12)
    assert set(t.column("cur_version").to_pylist()) == {"legacy"}
    usage = t.filter(pc.equal(t.column("line_item_type"), "Usage"))  # discounts and credits name no resource
    assert all("team" in dict(tags) for tags in usage.column("resource_tags").to_pylist())


def test_legacy_rows_equal_cur2_rows_for_the_account(legacy_csv, cur2_table):
    legacy, _ = parse_path(legacy_csv)
    account = legacy.column("usage_account_id")[0].as_py()
    mine = cur2_table.filter(pc.equal(cur2_table.column("usage_account_id"), account))
    a = {r["line_item_id"]: r for r in legacy.to_pylist()}
    b = {r["line_item_id"]: r for r in mine.to_pylist()}
    assert len(a) == legacy.num_rows and set(a) == set(b)
    same = [
        "payer_account_id",
        "usage_start",
        "usage_end",
        "time_interval",
        "line_item_type",
        "product_code",
        "usage_type",
        "operation",
        "resource_id",
        "availability_zone",
        "currency",
        "description",
        "product_family",
        "servicecode",
        "region_code",
        "from_location",
        "from_region_code",
        "to_location",
        "to_region_code",
        "transfer_type",
        "pricing_unit",
        "billing_period",
    ]
    for lid, x in a.items():
        y = b[lid]
        for col in same:
            assert x[col] == y[col], (lid, col, x[col], y[col])
        for col in ("usage_amount", "unblended_rate", "unblended_cost", "blended_cost", "public_on_demand_cost"):
            if y[col] is None:  # a credit's rate is blank in both
                assert x[col] is None, (lid, col)
                continue
            assert x[col] == pytest.approx(y[col], rel=1e-9, abs=1e-15), (lid, col)  # CSV keeps 10 digits
        assert dict(x["resource_tags"]) == dict(y["resource_tags"])


def test_cur2_as_csv_with_json_maps(cur2, cur2_table):
    """CUR 2.0 delivered as CSV: the map columns are JSON objects."""
    _, files = cur2
    raw = pq.read_table(files[0]).slice(0, 1500)
    names = raw.column_names
    rows = []
    for r in raw.to_pylist():
        out = []
        for name in names:
            v = r[name]
            if isinstance(v, list):
                out.append(json.dumps(dict(v)) if v else "")
            elif isinstance(v, datetime):
                out.append(v.strftime("%Y-%m-%dT%H:%M:%S.000Z"))
            elif v is None:
                out.append("")
            else:
                out.append(repr(v) if isinstance(v, float) else str(v))
        rows.append(out)
    rows[0][names.index("resource_tags")] = "not json {"
    data = gzip.compress(csv_bytes(names, rows))
    t, q = parse_bytes(data, key="cur2/x/data/BILLING_PERIOD=2026-10/x-00001.csv.gz")
    assert q.count == 0
    assert set(t.column("cur_version").to_pylist()) == {"cur2"}
    for col in ("line_item_id", "usage_start", "usage_type", "unblended_cost", "transfer_type", "cost_category"):
        assert t.column(col).equals(cur2_table.column(col).slice(0, t.num_rows)), col
    assert t.column("resource_tags").slice(1).equals(cur2_table.column("resource_tags").slice(1, t.num_rows - 1))
    assert dict(t.column("extra")[0].as_py())["resource_tags"] == "not json {"  # kept, not lost


def test_truncated_parquet_is_unreadable(cur2):
    data = cur2[1][0].read_bytes()
    for cut in (len(data) // 2, len(data) - 8, 100):
        with pytest.raises(UnreadableObject):
            parse_bytes(data[:cut], key="x.parquet")
    # A row group broken in the middle: the footer is intact, the data is not.
    buf = io.BytesIO()
    pq.write_table(pq.read_table(cur2[1][0]), buf, row_group_size=1000, compression="snappy")
    broken = bytearray(buf.getvalue())
    broken[5000:9000] = bytes(4000)
    obj = SourceObject(uri="memory://b.parquet", key="b.parquet", size=len(broken))
    q = QuarantineSink("cur", obj)
    emitted = 0
    with pytest.raises(UnreadableObject):
        for b in CurParser().parse(MemBody(bytes(broken)), obj, q):
            emitted += b.num_rows
    assert q.read == emitted + q.count


def test_detection_and_manifests_of_generated_files(estate, cur2):
    _, files = cur2
    _, body = open_object(str(files[0]))
    assert looks_like_parquet(body) and looks_like_parquet_schema(pq.read_schema(files[0]).names)
    assert looks_like(body.head(), "cur2/org/data/BILLING_PERIOD=2026-10/org-00001.snappy.parquet")
    for path in glob.glob(str(estate / "cur-*/**/*-Manifest.json"), recursive=True):
        data = Path(path).read_bytes()
        assert is_manifest(Path(path).name, data) and is_manifest("renamed.json", data)
        assert not looks_like(data, Path(path).name)
        with pytest.raises(UnreadableObject, match="manifest"):
            parse_bytes(data, key=Path(path).name)
    flow_logs = [p for p in glob.glob(str(estate / "**/*.parquet"), recursive=True) if "cur-exports" not in p]
    assert flow_logs  # the estate writes VPC flow logs in Parquet too: they are not a CUR
    for p in flow_logs[:3]:
        assert not looks_like_parquet(open_object(p)[1])


def test_pipeline_finds_this_parser(estate, samples, cur2, legacy_csv):
    from egress_optimizer.ingest import pipeline

    assert isinstance(pipeline.parser_for("cur"), CurParser)
    for path in (samples / "koku_legacy_cur_athena_snake_case_with_partitions.csv", legacy_csv, cur2[1][0]):
        obj, body = open_object(str(path))
        source, _ = pipeline.detect_source(obj, body)
        assert source == "cur", path


# ---- manifests --------------------------------------------------------------------------------------------
def test_parse_manifest_shapes():
    cur2 = {
        "executionId": "e",
        "exportArn": "arn:aws:bcm-data-exports:us-east-1:1:export/x",
        "billingPeriod": {"start": "2024-06-01T00:00:00.000Z", "end": "2024-07-01T00:00:00.000Z"},
        "columns": [{"name": "line_item_usage_type", "type": "string"}],
        "dataFiles": ["s3://b/p/x/data/BILLING_PERIOD=2024-06/x-00001.snappy.parquet"],
    }
    m = parse_manifest(json.dumps(cur2).encode())
    assert (m["kind"], m["billing_period"], m["columns"]) == ("cur2", "2024-06", {"line_item_usage_type": "string"})
    del cur2["billingPeriod"]
    assert parse_manifest(json.dumps(cur2).encode())["billing_period"] == "2024-06"  # from the partition
    legacy = {
        "assemblyId": "a",
        "account": "123456789012",
        "columns": [{"category": "lineItem", "name": "UsageType", "type": "OptionalString"}],
        "billingPeriod": {"start": "20231101T000000.000Z", "end": "20231201T000000.000Z"},
        "bucket": "b",
        "reportKeys": ["r/x/20231101-20231201/a/x-1.csv.gz"],
    }
    m = parse_manifest(json.dumps(legacy).encode())
    assert (m["kind"], m["billing_period"]) == ("legacy", "2023-11")
    assert m["data_files"] == legacy["reportKeys"] and m["columns"] == {"lineItem/UsageType": "OptionalString"}
    for bad in (b"", b"[1]", b"{not json", b'{"a": 1}', b"\xff\xfe"):
        with pytest.raises(UnreadableObject):
            parse_manifest(bad)


# ---- whole objects that cannot be read --------------------------------------------------------------------
def test_truncated_gzip_is_unreadable(samples):
    data = (samples / "focus_converters_legacy_cur_anonymized_export.csv.gz").read_bytes()
    for cut in (len(data) // 2, 200, 20):
        for engine in ("auto", "python"):
            obj = SourceObject(uri="memory://t.csv.gz", key="t.csv.gz", size=cut)
            q = QuarantineSink("cur", obj)
            parser = CurParser()
            parser.csv_engine = engine
            emitted = 0
            with pytest.raises(UnreadableObject):
                for b in parser.parse(MemBody(data[:cut]), obj, q):
                    emitted += b.num_rows
            assert q.read == emitted + q.count  # what was read before the break still balances


@pytest.mark.parametrize("seed", range(6))
def test_random_binary_is_unreadable(seed):
    data = random.Random(seed).randbytes(5000)
    for blob, key in (
        (data, "x.csv"),
        (gzip.compress(data), "x.csv.gz"),
        (b"PAR1" + data, "x.parquet"),
        (b"PK\x03\x04" + data, "x.csv.zip"),
    ):
        with pytest.raises(UnreadableObject):
            parse_bytes(blob, key=key)


def test_unusable_csv_objects():
    with pytest.raises(UnreadableObject, match="no recognisable CUR columns"):
        parse_bytes(b"a,b,c\n1,2,3\n")
    with pytest.raises(UnreadableObject, match="no recognisable CUR columns"):
        parse_bytes(b"time,srcaddr,dstaddr,bytes\n2023-11-01,1.1.1.1,2.2.2.2,5\n")
    with pytest.raises(UnreadableObject, match="empty"):
        parse_bytes(b"")
    with pytest.raises(UnreadableObject, match="empty"):
        parse_bytes(b"\n\n")
    with pytest.raises(UnreadableObject, match="empty"):
        parse_bytes(gzip.compress(b""))
    t, q = parse_bytes(b"lineItem/UsageType,lineItem/UnblendedCost\n")  # a report with no line items
    assert t.num_rows == 0 and q.read == 0
    with pytest.raises(UnreadableObject):
        parse_bytes(b"PAR1 not really parquet PAR1")
    buf = io.BytesIO()
    pq.write_table(pa.table({"srcaddr": ["1.1.1.1"], "bytes": [5]}), buf)
    with pytest.raises(UnreadableObject, match="no recognisable CUR columns"):
        parse_bytes(buf.getvalue(), key="x.parquet")


# ---- value handling ---------------------------------------------------------------------------------------
HEADER = [
    "identity/LineItemId",
    "lineItem/UsageType",
    "lineItem/ProductCode",
    "lineItem/UsageAmount",
    "lineItem/UnblendedCost",
    "lineItem/UsageStartDate",
    "lineItem/LineItemDescription",
    "resourceTags/user:team",
    "resourceTags/aws:createdBy",
    "costCategory/Business Unit",
]


def test_numbers_dates_and_quarantine_reasons():
    rows = [
        [
            "a",
            "USE1-DataTransfer-Out-Bytes",
            "AmazonEC2",
            "1.0E-7",
            "9.984E-7",
            "2023-11-01T00:00:00Z",
            "x",
            "",
            "",
            "",
        ],
        ["b", "X", "", " 2 ", "", "2023-11-01 05:00:00.000", '®, "q"\nline2', "web", "me", "BU1"],
        ["c", "X", "AmazonS3", "abc", "1", "2023-11-01T00:00:00Z", "", "", "", ""],
        ["d", "X", "AmazonS3", "1", "1,5", "2023-11-01T00:00:00Z", "", "", "", ""],
        ["e", "X", "AmazonS3", "1", "1", "2023-02-30T00:00:00Z", "", "", "", ""],
        ["f", "", "", "1", "1", "2023-11-01T00:00:00Z", "", "", "", ""],
        ["g", "X", "AmazonS3", "nan", "1", "2023-11-01T00:00:00Z", "", "", "", ""],
        ["h", "X", "AmazonS3", "1", "1", "yesterday", "", "", "", ""],
        ["i", "X", "AmazonS3", "1", "1", "2023-11-01", "", "", "", ""],
        ["j", "X", "AmazonS3", "1", "1", "2023-11-01T01:00:00.123456+01:00", "", "", "", ""],
    ]
    data = csv_bytes(HEADER, rows) + b"k,too,few\n"
    for engine in ("auto", "python"):
        t, q = parse_bytes(data, engine=engine)
        got = {r["line_item_id"]: r for r in t.to_pylist()}
        assert sorted(got) == ["a", "b", "i", "j"]
        assert got["a"]["usage_amount"] == 1e-7 and got["a"]["unblended_cost"] == 9.984e-7
        assert got["a"]["resource_tags"] == [] and got["a"]["description"] == "x"
        assert got["b"]["usage_amount"] == 2.0 and got["b"]["unblended_cost"] is None
        assert got["b"]["product_code"] is None and got["b"]["usage_start"] == _utc(2023, 11, 1, 5)
        assert got["b"]["description"] == '®, "q"\nline2'
        assert dict(got["b"]["resource_tags"]) == {"team": "web", "aws:createdBy": "me"}
        assert dict(got["b"]["cost_category"]) == {"Business Unit": "BU1"}
        assert got["i"]["usage_start"] == _utc(2023, 11, 1)
        assert got["j"]["usage_start"] == datetime(2023, 11, 1, 0, 0, 0, 123000, tzinfo=UTC)
        reasons = {r["record_number"]: r for r in q.rows}
        assert sorted(reasons) == [3, 4, 5, 6, 7, 8, 11]
        assert "lineItem/UsageAmount" in reasons[3]["reason"] and "'abc'" in reasons[3]["reason"]
        assert "lineItem/UnblendedCost" in reasons[4]["reason"]
        assert "date" in reasons[5]["reason"] and "no usage type" in reasons[6]["reason"]
        assert "lineItem/UsageAmount" in reasons[7]["reason"] and "date" in reasons[8]["reason"]
        assert "expected 10 fields, found 3" in reasons[11]["reason"] and reasons[11]["raw"] == "k,too,few"
        if engine == "python":
            assert reasons[3]["raw"].startswith("c,X,AmazonS3,abc,")  # the record as written
        else:
            assert "abc" in reasons[3]["raw"]


def test_repeated_header_blank_lines_crlf_and_bom():
    rows = [["a", "X", "P", "1", "1", "2023-11-01T00:00:00Z", "", "", "", ""]]
    body = csv_bytes(HEADER, rows).replace(b"\n", b"\r\n")
    data = b"\xef\xbb\xbf" + body + b"\r\n" + body.split(b"\r\n", 1)[0] + b"\r\n\r\n" + body.split(b"\r\n", 1)[1]
    for engine in ("auto", "python"):
        t, q = parse_bytes(data, engine=engine)
        assert t.num_rows == 2 and q.count == 1 and q.rows[0]["reason"] == "repeated header line"
        assert q.rows[0]["record_number"] == 2


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_zip_delivery_delimiters_and_trailing_commas(samples):
    path = samples / "focus_converters_legacy_cur_anonymized_export.csv.gz"
    text = gzip.decompress(path.read_bytes())
    whole, _ = parse_path(path)
    # Legacy CUR can be delivered as .csv.zip.
    zipped = _zip({"report-1.csv": text})
    assert looks_like(zipped[:65_536], "r/20231101-20231201/report-1.csv.zip")
    t, q = parse_bytes(zipped, key="report-1.csv.zip")
    assert q.count == 0 and t.equals(whole)
    with pytest.raises(UnreadableObject, match="holds 2 files"):
        parse_bytes(_zip({"a.csv": text, "b.csv": text}), key="x.zip")
    with pytest.raises(UnreadableObject):
        parse_bytes(zipped[: len(zipped) // 2], key="x.zip")
    # Re-exports with another delimiter, or a comma after the last value.
    with gzip.open(path, "rt", newline="") as f:
        table = list(csv.reader(f))
    for delimiter in ("\t", ";", "|"):
        buf = io.StringIO()
        csv.writer(buf, delimiter=delimiter, lineterminator="\n").writerows(table)
        data = buf.getvalue().encode()
        assert looks_like(data[:65_536], "x.tsv")
        for engine in ("auto", "python"):
            t, q = parse_bytes(data, engine=engine)
            assert q.count == 0 and t.equals(whole), delimiter
    data = "\n".join([",".join(HEADER), "a,X,P,1,1,2023-11-01T00:00:00Z,,,,,,", "b,X,P,1,1,2023-11-01T00:00:00Z,,,,,x"])
    t, q = parse_bytes(data.encode())
    assert t.column("line_item_id").to_pylist() == ["a"] and q.rows[0]["record_number"] == 2


def test_small_batches_and_column_order(samples):
    path = samples / "focus_converters_legacy_cur_anonymized_export.csv.gz"
    whole, _ = parse_path(path)
    with gzip.open(path, "rt", newline="") as f:
        table = list(csv.reader(f))
    order = list(range(len(table[0])))
    random.Random(1).shuffle(order)
    shuffled = csv_bytes([table[0][i] for i in order], [[r[i] for i in order] for r in table[1:]])
    for engine in ("auto", "python"):
        obj = SourceObject(uri="memory://s.csv", key="s.csv", size=len(shuffled))
        q = QuarantineSink("cur", obj)
        parser = CurParser()
        parser.csv_engine = engine
        batches = list(parser.parse(MemBody(shuffled), obj, q, batch_rows=100))
        assert all(b.num_rows <= 100 for b in batches) and len(batches) >= 13
        t = _table(batches)
        for col in CUR_SCHEMA.names:
            if col != "extra":
                assert t.column(col).equals(whole.column(col)), col
        assert [dict(x) for x in t.column("extra").to_pylist()] == [dict(x) for x in whole.column("extra").to_pylist()]


def test_legacy_parquet_snake_case_and_typed_values(samples):
    """Legacy CUR in Parquet (as the Athena integration writes it), with partitions and typed columns."""
    with open(samples / "koku_legacy_cur_athena_snake_case_with_partitions.csv", newline="") as f:
        table = list(csv.reader(f))
    header, rows = table[0], table[1:]
    cols = {h: [r[i] or None for r in rows] for i, h in enumerate(header)}
    cols["year"], cols["month"] = [2022, 2022], [7, 7]
    cols["bill_payer_account_id"] = [12345678901, 12345678901]  # an integer: leading zero lost
    cols["line_item_usage_amount"] = [1.5, float("nan")]  # NaN is not a usage amount
    cols["line_item_unblended_cost"] = pa.array([1, 2], pa.decimal128(10, 4))
    cols["line_item_usage_start_date"] = pa.array([datetime(2022, 7, 1), None], pa.timestamp("us"))
    buf = io.BytesIO()
    pq.write_table(pa.table(cols), buf)
    t, q = parse_bytes(buf.getvalue(), key="cur/x/year=2022/month=7/x-1.snappy.parquet")
    assert t.num_rows == 1 and q.count == 1
    r = t.to_pylist()[0]
    assert r["payer_account_id"] == "012345678901" and r["usage_amount"] == 1.5 and r["unblended_cost"] == 1.0
    assert r["usage_start"] == _utc(2022, 7, 1) and r["cur_version"] == "legacy"
    assert dict(r["resource_tags"]) == {"aws:createdBy": "IAMUser:fake:and"}
    assert "year" not in dict(r["extra"]) and dict(r["extra"])["line_item_legal_entity"] == "Red Hat, Inc."
    bad = q.rows[0]
    assert bad["record_number"] == 2 and "line_item_usage_amount" in bad["reason"]
    assert bad["raw"].startswith('{"identity_line_item_id": "notreal", ')  # JSON of the values present


def test_cur2_map_keys_and_extra_collisions():
    tags = pa.array(
        [[("user_team", "web"), ("aws_created_by", "me"), ("user_Cost Center", "")], None],
        pa.map_(pa.string(), pa.string()),
    )
    product = pa.array(
        [[("transfer_type", "IntraRegion"), ("region", "eu-west-1"), ("bundled_x", "1")], []],
        pa.map_(pa.string(), pa.string()),
    )
    discount = pa.array([[("bundled_discount", -0.5)], None], pa.map_(pa.string(), pa.float64()))
    t = pa.table(
        {
            "line_item_usage_type": ["EU-DataTransfer-Regional-Bytes", "X"],
            "resource_tags": tags,
            "product": product,
            "discount": discount,
            "discount_bundled_discount": [-0.5, None],
            "line_item_unblended_cost": [1.0, 2.0],
        }
    )
    buf = io.BytesIO()
    pq.write_table(t, buf)
    out, q = parse_bytes(buf.getvalue(), key="x.parquet")
    assert q.count == 0
    a, b = out.to_pylist()
    assert dict(a["resource_tags"]) == {"team": "web", "aws:createdBy": "me"} and b["resource_tags"] == []
    assert a["transfer_type"] == "IntraRegion" and a["region_code"] == "eu-west-1"
    extra = dict(a["extra"])
    assert extra["discount_bundled_discount"] == "-0.5" and extra["discount.bundled_discount"] == "-0.5"
    assert extra["product_region"] == "eu-west-1" and extra["product_bundled_x"] == "1"
    assert a["cur_version"] == "cur2" and b["billing_period"] is None


def test_names_and_tag_keys():
    assert snake_name("lineItem/UsageAccountId") == "line_item_usage_account_id"
    assert snake_name("savingsPlan/SavingsPlanARN") == "savings_plan_savings_plan_a_r_n"
    assert snake_name("product/fromRegionCode") == "product_from_region_code"
    assert snake_name("\ufeffidentity/LineItemId ") == "identity_line_item_id"
    assert snake_name("Line_Item_Usage_Type") == "line_item_usage_type"
    assert tag_key("user:team") == tag_key("user_team") == "team"
    assert tag_key("aws:createdBy") == tag_key("aws_created_by") == "aws:createdBy"
    assert tag_key("aws_cloudformation_stack_name") == "aws:cloudformation:stack-name"
    assert tag_key("aws_something_new") == "aws:something_new"
    assert tag_key("user:") == "user:"


# ---- property-based ---------------------------------------------------------------------------------------
POOL = {
    "identity_line_item_id": "identity/LineItemId",
    "identity_time_interval": "identity/TimeInterval",
    "bill_payer_account_id": "bill/PayerAccountId",
    "bill_billing_period_start_date": "bill/BillingPeriodStartDate",
    "line_item_usage_account_id": "lineItem/UsageAccountId",
    "line_item_line_item_type": "lineItem/LineItemType",
    "line_item_usage_start_date": "lineItem/UsageStartDate",
    "line_item_usage_end_date": "lineItem/UsageEndDate",
    "line_item_product_code": "lineItem/ProductCode",
    "line_item_usage_type": "lineItem/UsageType",
    "line_item_operation": "lineItem/Operation",
    "line_item_resource_id": "lineItem/ResourceId",
    "line_item_usage_amount": "lineItem/UsageAmount",
    "line_item_unblended_rate": "lineItem/UnblendedRate",
    "line_item_unblended_cost": "lineItem/UnblendedCost",
    "line_item_blended_cost": "lineItem/BlendedCost",
    "line_item_line_item_description": "lineItem/LineItemDescription",
    "line_item_legal_entity": "lineItem/LegalEntity",
    "product_from_region_code": "product/fromRegionCode",
    "product_to_region_code": "product/toRegionCode",
    "pricing_public_on_demand_cost": "pricing/publicOnDemandCost",
    "pricing_unit": "pricing/unit",
}
ALWAYS = [
    "identity_line_item_id",
    "line_item_usage_type",
    "line_item_product_code",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "line_item_usage_start_date",
    "line_item_line_item_description",
]
NUMERIC = {
    "line_item_usage_amount",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_blended_cost",
    "pricing_public_on_demand_cost",
}
DATES = {"line_item_usage_start_date", "line_item_usage_end_date", "bill_billing_period_start_date"}
BAD_NUMBERS = ["abc", "1,5", "1e", "--1", "nan", "inf", "0x10", "1.2.3", "١٢", "€5", "1e99999", "1 2"]
BAD_DATES = [
    "2023-13-01T00:00:00Z",
    "2023-02-30T00:00:00Z",
    "yesterday",
    "2023/11/01",
    "1699999999",
    "2023-11-01T25:00Z",
]
TRICKY = ['a "quoted", value', "line\nbreak", "cr\rreturn", "crlf\r\nend", "®™ünï", ",", '"', "\t", " padded "]
texts = st.one_of(st.sampled_from(TRICKY), st.text(st.characters(blacklist_categories=("Cs",)), max_size=24))


def _number(rng: random.Random) -> str:
    x = rng.random() * 10 ** rng.randint(-9, 4)
    return rng.choice([repr(x), f"{x:.3E}", f"{x:g}", str(int(x)), "", "0", "1.0E-7"])


def _date(rng: random.Random) -> str:
    d, h = rng.randint(1, 30), rng.randint(0, 23)
    return rng.choice([f"2023-11-{d:02d}T{h:02d}:00:00Z", f"2023-11-{d:02d} {h:02d}:00:00.000", f"2023-11-{d:02d}"])


def make_report(seed: int, n: int, style: str, words: list[str]) -> tuple[bytes, set[str], set[int]]:
    """A well-formed CSV with known-bad records: (data, ids expected out, record numbers expected quarantined)."""
    rng = random.Random(seed)
    cols = ALWAYS + [c for c in POOL if c not in ALWAYS and rng.random() < 0.5]
    rng.shuffle(cols)
    tags = rng.sample(["team", "env", "cost_center"], rng.randint(0, 3))
    names = [POOL[c] if style == "slash" else c for c in cols]
    names += [f"resourceTags/user:{t}" if style == "slash" else f"resource_tags_user_{t}" for t in tags]
    good: set[str] = set()
    bad: set[int] = set()
    out = io.StringIO()
    # csv quotes only what contains the line terminator's characters: a bare "\r" needs "\r\n" or QUOTE_ALL.
    terminator = rng.choice(["\n", "\r\n"])
    quoting = csv.QUOTE_ALL if terminator == "\n" or rng.random() < 0.3 else csv.QUOTE_MINIMAL
    w = csv.writer(out, lineterminator=terminator, quoting=quoting)
    w.writerow(names)
    # Value pools drawn once per report keep generation cheap next to parsing.
    pools = {c: ["", *words] for c in cols}
    for c in NUMERIC & set(cols):
        pools[c] = [_number(rng) for _ in range(64)]
    for c in DATES & set(cols):
        pools[c] = [_date(rng) for _ in range(64)]
    pools["line_item_usage_type"] = ["USE1-EUW2-AWS-Out-Bytes", "DataTransfer-Regional-Bytes", ""]
    pools["line_item_product_code"] = ["AmazonEC2", "AmazonS3"]
    pools["line_item_line_item_description"] = words
    tag_values = [*words, "web", ""]
    ragged = rng.random() < 0.5  # half the reports have records with a wrong field count
    kinds = rng.choices(["ok", "number", "date", "missing", "width"], [80, 5, 5, 5, 5 if ragged else 0], k=n)
    for record, kind in enumerate(kinds, 1):
        values = [rng.choice(pools[c]) for c in cols] + [rng.choice(tag_values) for _ in tags]
        values[cols.index("identity_line_item_id")] = f"id{record}"
        if kind == "number":
            values[cols.index(rng.choice(sorted(NUMERIC & set(cols))))] = rng.choice(BAD_NUMBERS)
        elif kind == "date":
            values[cols.index(rng.choice(sorted(DATES & set(cols))))] = rng.choice(BAD_DATES)
        elif kind == "missing":
            values[cols.index("line_item_usage_type")] = values[cols.index("line_item_product_code")] = ""
        elif kind == "width":
            values = [*values, "extra"] if rng.random() < 0.5 else values[:-1]
        (good.add(f"id{record}") if kind == "ok" else bad.add(record))
        w.writerow(values)
    return out.getvalue().encode(), good, bad


def test_fuzz_well_formed_reports_with_known_bad_records():
    total = 0

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(
        seed=st.integers(0, 2**32 - 1),
        n=st.integers(2500, 3200),
        style=st.sampled_from(["slash", "snake"]),
        words=st.lists(texts, min_size=1, max_size=8),
        gz=st.booleans(),
        block=st.sampled_from([4096, 65_536, cur_module._ARROW_BLOCK]),
    )
    def check(seed: int, n: int, style: str, words: list[str], gz: bool, block: int) -> None:
        nonlocal total
        data, good, bad = make_report(seed, n, style, words)
        if gz:
            data = gzip.compress(data, compresslevel=1)
        fast, q = parse_bytes(data, block=block)  # small blocks: the fast reader hands over mid-file
        assert set(fast.column("line_item_id").to_pylist()) == good
        assert {r["record_number"] for r in q.rows} == bad
        assert all(r["reason"] for r in q.rows)
        # Text survives exactly (empty means absent).
        expected = {w or None for w in words}
        assert set(fast.column("description").to_pylist()) <= expected
        exact, q2 = parse_bytes(data, engine="python")
        assert exact.equals(fast) and sorted(r["record_number"] for r in q2.rows) == sorted(bad)
        total += n

    check()
    assert total >= 100_000


def test_fuzz_mutated_bytes_never_escape():
    total = 0
    base, _, _ = make_report(7, 300, "slash", ["plain", 'with "quotes", and commas', "multi\nline", "cr\r\nlf"])
    header_end = base.index(b"\n") + 1

    mutation = st.tuples(
        st.sampled_from(
            ["insert", "delete", "quote", "dup_header", "blank", "invalid_utf8", "truncate", "nul", "cr", "crlf"]
        ),
        st.floats(0, 1),
        st.binary(max_size=12),
    )

    @settings(max_examples=70, deadline=None, suppress_health_check=list(HealthCheck))
    @given(mutations=st.lists(mutation, max_size=6), gz=st.booleans(), batch_rows=st.sampled_from([50, 65_536]))
    def check(mutations: list[tuple[str, float, bytes]], gz: bool, batch_rows: int) -> None:
        nonlocal total
        data = bytearray(base)
        for kind, where, payload in mutations:
            at = header_end + int(where * (len(data) - header_end))
            if kind == "insert":
                data[at:at] = payload
            elif kind == "delete":
                del data[at : at + len(payload) + 1]
            elif kind == "quote":
                data[at:at] = b'"'
            elif kind == "dup_header":
                data[at:at] = b"\n" + base[:header_end]
            elif kind == "blank":
                data[at:at] = b"\n\n"
            elif kind == "invalid_utf8":
                data[at:at] = b"\xff\xfe\xc3"
            elif kind == "truncate":
                del data[at:]
            elif kind == "nul":
                data[at:at] = b"\x00"
            elif kind == "cr":
                data[at:at] = b"\r"
            elif kind == "crlf":
                data[at:at] = b"\r\n"
        blob = gzip.compress(bytes(data), compresslevel=1) if gz else bytes(data)
        results = []
        for engine in ("auto", "python"):
            t, q = parse_bytes(blob, engine=engine, batch_rows=batch_rows, block=4096)  # no exception, conservation
            assert all(r["record_number"] >= 1 and r["reason"] for r in q.rows)
            neither = pc.and_(pc.is_null(t.column("usage_type")), pc.is_null(t.column("product_code")))
            assert t.filter(neither).num_rows == 0
            results.append((t, q))
        (fast, q1), (exact, q2) = results
        # Both readers agree, record for record, whatever the damage.
        assert q1.read == q2.read and fast.equals(exact)
        assert sorted(r["record_number"] for r in q1.rows) == sorted(r["record_number"] for r in q2.rows)
        total += q1.read

    check()
    assert total >= 10_000


def test_fuzz_random_bytes_after_a_cur_header():
    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(body=st.binary(max_size=2000), header=st.permutations(HEADER))
    def check(body: bytes, header: list[str]) -> None:
        data = (",".join(f'"{h}"' if " " in h else h for h in header) + "\n").encode() + body
        for engine in ("auto", "python"):
            parse_bytes(data, engine=engine)

    check()
