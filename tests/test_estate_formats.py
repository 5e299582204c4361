"""Generated files have the formats, spellings and key layouts of the real samples in shared/."""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from egress_optimizer.cloudfront_edges import geography
from egress_optimizer.formats.vpc_flow import FIELD_VERSION, PARQUET_INT32, PARQUET_INT64, format_version
from egress_optimizer.regions import PREFIX_TO_REGION
from tests.estate_oracle import s3_fields

FLOW_TEXT_KEY = re.compile(
    r"^AWSLogs/(?P<acct>\d{12})/vpcflowlogs/(?P<region>[a-z0-9-]+)/\d{4}/\d{2}/\d{2}/(\d{2}/)?"
    r"(?P=acct)_vpcflowlogs_(?P=region)_fl-[0-9a-f]{17}_\d{8}T\d{4}Z_[0-9a-f]{8}\.log\.gz$"
)
FLOW_HIVE_KEY = re.compile(
    r"^AWSLogs/aws-account-id=(?P<acct>\d{12})/aws-service=vpcflowlogs/aws-region=(?P<region>[a-z0-9-]+)/"
    r"year=\d{4}/month=\d{2}/day=\d{2}/(hour=\d{2}/)?(?P=acct)_vpcflowlogs_(?P=region)_fl-[0-9a-f]{17}_"
    r"\d{8}T\d{4}Z_[0-9a-f]{8}\.log\.(gz|parquet)$"
)
S3_SIMPLE_KEY = re.compile(r"^s3-access-logs/[a-z0-9.-]+/\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")
S3_PARTITIONED_KEY = re.compile(
    r"^s3-access-logs/\d{12}/[a-z0-9-]+/[a-z0-9.-]+/\d{4}/\d{2}/\d{2}/"
    r"\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$"
)
CF_KEY = re.compile(r"^cloudfront/(E[0-9A-Z]{13})/\1\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9a-f]{8}\.gz$")
CUR2_DATA_KEY = re.compile(r"^cur2/[a-z0-9-]+/data/BILLING_PERIOD=\d{4}-\d{2}/[a-z0-9-]+-\d{5}\.snappy\.parquet$")
USAGE_TYPE = re.compile(
    r"^(?:(?P<p>[A-Z]{2,4}\d?)-)?(?:(?P<p2>[A-Z]{2,4}\d?)-AWS-(?:Out|In)-Bytes|DataTransfer-(?:Out|In|Regional)-Bytes"
    r"|NatGateway-(?:Bytes|Hours)|VpcEndpoint-(?:Bytes|Hours)|CloudFront-Out-Bytes|Requests-Tier[12](?:-HTTPS)?"
    r"|BoxUsage:[a-z0-9]+\.[a-z0-9]+|LoadBalancerUsage|LCUUsage)$"
)


def _keys(root: Path, pattern: str) -> list[tuple[str, str]]:
    """(bucket, key) of files matching a glob below the estate root."""
    return [(p.relative_to(root).parts[0], "/".join(p.relative_to(root).parts[1:])) for p in sorted(root.glob(pattern))]


def _sample_headers(shared: Path) -> set[str]:
    tokens: set[str] = set()
    for f in (shared / "log_samples" / "vpc_flow").glob("*.log"):
        first = f.read_text().splitlines()[0].split()
        if not first[0].isdigit():
            tokens |= set(first)
    return tokens


def test_vpc_flow_text_files(estate_dir, shared):
    files = sorted(estate_dir.glob("*/AWSLogs/**/*.log.gz"))
    assert files
    real_tokens = _sample_headers(shared)
    loki = _gz_lines(shared / "log_samples/vpc_flow/loki_lambda_promtail_s3_delivered_with_header.log.gz")[0].split()
    headers, seen = set(), {"reject": 0, "nodata": 0, "ipv6": 0, "nat_translated": 0, "s3_service": 0}
    for f in files:
        key = "/".join(f.relative_to(estate_dir).parts[1:])
        assert FLOW_TEXT_KEY.match(key) or FLOW_HIVE_KEY.match(key), key
        with gzip.open(f, "rt") as fh:
            header = fh.readline().split()
            rows = [line.split(" ") for line in fh.read().splitlines()]
        headers.add(tuple(header))
        assert set(header) <= set(FIELD_VERSION), header
        # Spelled exactly as AWS spells them in delivered files (hyphens), as the real samples are.
        assert set(header) <= real_tokens | set(loki), set(header) - real_tokens
        idx = {name: i for i, name in enumerate(header)}
        for r in rows:
            assert len(r) == len(header)
            assert r[idx["version"]] == str(format_version(header))
            seen["reject"] += r[idx["action"]] == "REJECT"
            if r[idx["log-status"]] == "NODATA":
                seen["nodata"] += 1
                assert r[idx["srcaddr"]] == "-" and r[idx["bytes"]] == "-"
            seen["ipv6"] += ":" in r[idx["srcaddr"]]
            if "pkt-srcaddr" in idx:
                seen["nat_translated"] += r[idx["srcaddr"]] != r[idx["pkt-srcaddr"]]
            if "pkt-dst-aws-service" in idx:
                seen["s3_service"] += r[idx["pkt-dst-aws-service"]] == "S3"
                assert r[idx["flow-direction"]] in ("ingress", "egress", "-")
                assert r[idx["traffic-path"]] in ("1", "4", "5", "7", "8", "-")
    assert tuple(loki) in headers  # the default (v2) format on some VPCs
    assert {format_version(list(h)) for h in headers} >= {2, 3, 4, 5}
    assert all(v > 0 for v in seen.values()), seen


def test_vpc_flow_parquet_with_hive_partitions(estate_dir):
    files = sorted(estate_dir.glob("*/AWSLogs/aws-account-id=*/**/*.log.parquet"))
    assert files
    for f in files[:20]:
        key = "/".join(f.relative_to(estate_dir).parts[1:])
        assert FLOW_HIVE_KEY.match(key), key
        meta = pq.ParquetFile(f)
        assert meta.metadata.row_group(0).column(0).compression == "GZIP"
        schema = meta.schema_arrow
        for name in schema.names:
            field = name.replace("_", "-")
            assert field in FIELD_VERSION
            want = "int32" if field in PARQUET_INT32 else "int64" if field in PARQUET_INT64 else "string"
            assert str(schema.field(name).type) == want, (name, schema.field(name).type)


def test_s3_access_logs_match_real_field_layout(estate_dir, shared):
    for sample in (shared / "log_samples" / "s3_access").glob("*.log"):
        for line in sample.read_text().splitlines():
            assert 18 <= len(s3_fields(line)) <= 27, (sample.name, line)
    simple = partitioned = 0
    for bucket, key in _keys(estate_dir, "*/s3-access-logs/**/*"):
        path = estate_dir / bucket / key
        if path.is_dir():
            continue
        simple += bool(S3_SIMPLE_KEY.match(key))
        partitioned += bool(S3_PARTITIONED_KEY.match(key))
        assert S3_SIMPLE_KEY.match(key) or S3_PARTITIONED_KEY.match(key), key
        for line in path.read_text().splitlines():
            f = s3_fields(line)
            assert len(f) in (26, 27), line  # 26 today; 27 with the newer trailing source-region field
            assert re.fullmatch(r"[0-9a-f]{64}", f[0])
            assert re.fullmatch(r"\[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\]", f[2])
            assert f[8].startswith('"') and f[8].endswith(' HTTP/1.1"')
            assert f[11] == "-" or f[11].isdigit()
    assert simple and partitioned


def test_cloudfront_standard_logs(estate_dir, shared):
    sample = (shared / "log_samples/cloudfront/aws_log_parser_standard_w3c_33_fields_with_header.log").read_text()
    sample_fields = sample.splitlines()[1]
    keys = _keys(estate_dir, "*/cloudfront/**/*.gz")
    assert keys
    for bucket, key in keys:
        assert CF_KEY.match(key), key
        with gzip.open(estate_dir / bucket / key, "rt") as fh:
            lines = fh.read().splitlines()
        assert lines[0] == "#Version: 1.0"
        assert lines[1] == sample_fields
        for line in lines[2:]:
            row = line.split("\t")
            assert len(row) == 33
            assert geography(row[2]) is not None
            assert " " not in row[10]  # user agents are URL-encoded


def test_cur2_export_layout_columns_and_manifest(estate_dir, shared):
    allowed = set((shared / "log_samples/cur/cid_cur2_data_export_default_columns.txt").read_text().split())
    data = _keys(estate_dir, "cur-exports-*/cur2/*/data/**/*.parquet")
    assert data and all(CUR2_DATA_KEY.match(k) for _, k in data)
    manifests = sorted(estate_dir.glob("cur-exports-*/cur2/*/metadata/BILLING_PERIOD=*/*-Manifest.json"))
    assert manifests
    listed = set()
    for m in manifests:
        doc = json.loads(m.read_text())
        assert {"executionId", "exportArn", "columns", "dataFiles"} <= set(doc)
        listed |= set(doc["dataFiles"])
        assert {c["type"] for c in doc["columns"]} <= {"string", "double", "timestamp", "map"}
    assert listed == {f"s3://{b}/{k}" for b, k in data}
    schema = pq.read_schema(estate_dir / data[0][0] / data[0][1])
    assert set(schema.names) <= allowed
    for col in ("product", "resource_tags", "cost_category", "discount"):
        assert str(schema.field(col).type).startswith("map<")
    t = pq.read_table(estate_dir / data[0][0] / data[0][1], columns=["line_item_usage_type", "resource_tags"])
    for ut in set(t.column("line_item_usage_type").to_pylist()):
        m = USAGE_TYPE.match(ut)
        assert m, ut
        for p in (m.group("p"), m.group("p2")):
            assert p is None or p in PREFIX_TO_REGION or p in {"US", "EU", "JP", "AP", "AU", "IN", "SA", "CA"}, ut
    tag_keys = {k for row in t.column("resource_tags").to_pylist()[:5000] for k, _ in row}
    assert tag_keys >= {"user_team", "user_owner", "user_app"}


def _gz_lines(path: Path) -> list[str]:
    with gzip.open(path, "rt") as fh:
        return fh.read().splitlines()


def test_usage_type_pattern_accepts_real_cur_spellings(shared):
    """The pattern above is checked against usage types from real CURs, so it encodes AWS's spelling."""
    import csv

    cur = shared / "log_samples/cur"
    with (cur / "ccf_athena_distinct_usage_types_sample.csv").open() as f:
        real = [r["line_item_usage_type"] for r in csv.DictReader(f)]
    real += [
        r["lineItem/UsageType"]
        for r in csv.DictReader(_gz_lines(cur / "focus_converters_legacy_cur_anonymized_export.csv.gz"))
    ]
    pattern = r"DataTransfer-(Out|In|Regional)-Bytes$|-AWS-(Out|In)-Bytes$|NatGateway-(Bytes|Hours)$"
    relevant = {u for u in real if u and re.search(pattern, u)}
    assert len(relevant) > 50
    # Regional NAT gateways are a separate, newer product the estate does not model.
    assert {u for u in relevant if not USAGE_TYPE.match(u)} <= {u for u in relevant if "RegionalNatGateway" in u}


def test_legacy_cur_for_one_account(estate_dir, shared):
    real_cols = _gz_lines(shared / "log_samples/cur/focus_converters_legacy_cur_anonymized_export.csv.gz")[0].split(",")
    files = sorted(estate_dir.glob("cur-legacy-*/billing/*/*/*.csv.gz"))
    assert len(files) >= 1
    import csv

    with gzip.open(files[0], "rt") as fh:
        reader = csv.DictReader(fh)
        cols = reader.fieldnames
        rows = list(reader)
    assert set(c for c in cols if not c.startswith("resourceTags/")) <= set(real_cols) | {
        "lineItem/ResourceId",
        "product/transferType",
    }
    accounts = {r["lineItem/UsageAccountId"] for r in rows}
    assert len(accounts) == 1 and files[0].parts[-5] == f"cur-legacy-{accounts.pop()}"
    manifest = json.loads(next(files[0].parent.glob("*-Manifest.json")).read_text())
    assert {
        "assemblyId",
        "account",
        "columns",
        "charset",
        "compression",
        "contentType",
        "reportId",
        "reportName",
        "billingPeriod",
        "bucket",
        "reportKeys",
    } <= set(manifest)


def test_inventory_shapes(estate_dir):
    inv = estate_dir / "inventory"
    enis = [
        n
        for f in inv.glob("*/*/ec2/describe_network_interfaces.json")
        for n in json.loads(f.read_text())["NetworkInterfaces"]
    ]
    types = {n["InterfaceType"] for n in enis}
    assert {"interface", "nat_gateway", "vpc_endpoint"} <= types
    assert any(n.get("RequesterId") == "amazon-elb" for n in enis)
    assert any(n["Description"].startswith("arn:aws:ecs:") for n in enis)
    subnets = [s for f in inv.glob("*/*/ec2/describe_subnets.json") for s in json.loads(f.read_text())["Subnets"]]
    by_vpc: dict[str, set[str]] = {}
    for s in subnets:
        by_vpc.setdefault(s["VpcId"], set()).add(s["AvailabilityZoneId"])
    assert len(by_vpc) >= 3 and all(len(a) >= 2 for a in by_vpc.values())
    accounts = {f.parts[-4] for f in inv.glob("*/*/ec2/describe_vpcs.json")}
    regions = {f.parts[-3] for f in inv.glob("*/*/ec2/describe_vpcs.json")}
    assert len(accounts) >= 3 and len(regions) >= 3
    nat = [g for f in inv.glob("*/*/ec2/describe_nat_gateways.json") for g in json.loads(f.read_text())["NatGateways"]]
    assert nat and all(g["NatGatewayAddresses"][0]["PublicIp"] for g in nat)
    eps = [
        e for f in inv.glob("*/*/ec2/describe_vpc_endpoints.json") for e in json.loads(f.read_text())["VpcEndpoints"]
    ]
    assert {"Gateway", "Interface"} <= {e["VpcEndpointType"] for e in eps}
    buckets = json.loads((inv / "s3/buckets.json").read_text())["Buckets"]
    assert any("GetBucketReplication" in b for b in buckets)
    assert any("GetBucketPolicy" in b for b in buckets)
    dists = json.loads((inv / "cloudfront/distributions.json").read_text())["DistributionList"]["Items"]
    origins = {("S3OriginConfig" in o) for d in dists for o in d["DistributionConfig"]["Origins"]["Items"]}
    assert origins == {True, False}  # S3 and custom (ALB) origins
    assert all(n["TagSet"] for n in enis if n["InterfaceType"] == "interface")


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_gives_byte_identical_output(tmp_path):
    from egress_optimizer.estate.generate import generate

    generate(tmp_path / "a", days=2, seed=5, scale="small")
    generate(tmp_path / "b", days=2, seed=5, scale="small")
    generate(tmp_path / "c", days=2, seed=6, scale="small")
    a, b, c = (_tree_digest(tmp_path / x) for x in "abc")
    assert a == b
    assert a != c


@pytest.mark.parametrize("scale", ["medium", "large"])
def test_other_scales_build(scale):
    from egress_optimizer.estate.topology import build_estate

    small, big = build_estate(1, "small"), build_estate(1, scale)
    assert len(big.enis) > len(small.enis)
