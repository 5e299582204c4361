"""VPC Flow Logs parser: every real sample, our generator's output, malformed input and fuzzing."""

from __future__ import annotations

import gzip
import random
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress_optimizer.ingest.base import QuarantineSink, UnreadableObject
from egress_optimizer.ingest.objects import BytesBody, open_object
from egress_optimizer.ingest.vpc_flow import SCHEMA, VpcFlowParser, key_account_region, looks_like, parse_lines
from tests.estate_oracle import EstateReader


def _parse_file(path) -> tuple[pa.Table, QuarantineSink]:
    obj, body = open_object(str(path))
    q = QuarantineSink("vpc-flow", obj)
    batches = list(VpcFlowParser().parse(body, obj, q))
    t = pa.Table.from_batches(batches, schema=SCHEMA) if batches else SCHEMA.empty_table()
    return t, q


def _rows(path) -> list[dict]:
    t, q = _parse_file(path)
    assert q.count == 0, q.rows
    assert q.read == t.num_rows
    return t.to_pylist()


def _ts(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@pytest.fixture(scope="module")
def samples(shared):
    return shared / "log_samples" / "vpc_flow"


def test_every_sample_parses(samples):
    files = [p for p in samples.iterdir() if p.suffix in (".log", ".gz", ".parquet")]
    assert len(files) >= 14
    for p in files:
        _rows(p)


def test_v2_default_without_header(samples):
    rows = _rows(samples / "awsdocs_v2_default_accept_reject_nodata.log")
    assert len(rows) == 7
    r = rows[0]
    assert (r["version"], r["account_id"], r["interface_id"]) == (2, "123456789010", "eni-1235b8ca123456789")
    assert (r["srcaddr"], r["dstport"], r["protocol"], r["packets"], r["bytes"]) == ("172.31.16.139", 22, 6, 20, 4249)
    assert r["start"] == _ts(1418530010) and r["action"] == "ACCEPT"
    assert rows[1]["action"] == "REJECT"
    nodata, skip = rows[2], rows[3]
    assert nodata["log_status"] == "NODATA" and nodata["srcaddr"] is None and nodata["bytes"] is None
    assert skip["log_status"] == "SKIPDATA" and skip["interface_id"] == "eni-11111111aaaaaaaaa"
    assert rows[4]["protocol"] == 1 and rows[4]["srcport"] == 0  # ICMP
    assert rows[6]["srcaddr"] == "2001:db8:1234:a100:8d6e:3477:df66:f105"


def test_custom_order_bytes_before_packets(samples):
    rows = _rows(samples / "awsdocs_v3_custom_tcp_flags.log")
    r = rows[0]
    assert r["bytes"] == 568 and r["packets"] == 8  # header says bytes before packets
    assert r["tcp_flags"] == 2 and rows[1]["tcp_flags"] == 18
    assert r["vpc_id"] == "vpc-abcdefab012345678" and r["type"] == "IPv4" and r["version"] == 3


def test_nat_gateway_pkt_addresses_and_missing_version(samples):
    rows = _rows(samples / "awsdocs_v3_custom_nat_gateway_eni.log")
    assert rows[0]["srcaddr"] == "10.0.1.5" and rows[0]["pkt_dstaddr"] == "203.0.113.5"
    assert rows[3]["pkt_srcaddr"] == "203.0.113.5" and rows[3]["dstaddr"] == "10.0.1.5"
    assert rows[0]["instance_id"] is None
    assert {r["version"] for r in rows} == {3}  # highest field version used, since the format has no version


def test_v5_service_path_direction(samples):
    ingress, egress = _rows(samples / "awsdocs_v5_service_traffic_path_flow_direction.log")
    assert ingress["pkt_src_aws_service"] == "S3" and ingress["flow_direction"] == "ingress"
    assert ingress["traffic_path"] is None
    assert egress["pkt_dst_aws_service"] == "S3" and egress["traffic_path"] == 8 and egress["version"] == 5
    assert egress["region"] == "ap-southeast-2" and egress["az_id"] == "apse2-az3"


def test_alphabetical_header_and_sublocations(samples):
    r = _rows(samples / "flowlogs_reader_v3_alpha_field_order.log")[0]
    assert (r["srcaddr"], r["srcport"], r["dstport"], r["bytes"]) == ("172.18.160.68", 443, 47460, 6392)
    assert r["pkt_srcaddr"] == "192.168.0.1"
    rows = _rows(samples / "flowlogs_reader_v4_sublocation_wavelength_outpost.log")
    assert [r["sublocation_type"] for r in rows] == ["wavelength", "outpost"]
    assert rows[1]["sublocation_id"] == "outpostid04" and rows[0]["version"] == 4


def test_milliseconds_and_transit_gateway(samples):
    r = _rows(samples / "flowlogs_reader_v2_millisecond_timestamps.log")[0]
    assert r["start"] == _ts(1512564058) and r["log_status"] == "SKIPDATA"
    r = _rows(samples / "flowlogs_reader_v6_tgw_fields.log")[0]
    assert r["resource_type"] == "TransitGateway" and r["packets_lost_ttl_expired"] == 16
    assert r["version"] == 6
    rows = _rows(samples / "elastic_tgw_flow_logs_no_header.log")
    assert len(rows) == 5 and rows[0]["tgw_id"] == "tgw-0a12bc34de56f7890"
    assert rows[0]["dstaddr"] == "2a02:cf40::" and rows[2]["bytes"] == 6842 and rows[0]["flow_direction"] == "ingress"


def test_underscore_header_ecs_and_unknown_fields(samples):
    r = _rows(samples / "vrl_v7_ecs_fields_underscore_header.log")[0]
    assert r["ecs_cluster_name"] == "my-cluster" and r["ecs_task_id"] == "abcd1234" and r["version"] == 7
    assert r["ecs_second_container_id"] is None
    rows = _rows(samples / "vrl_v8_to_v11_fields_unverified.log")
    assert rows[0]["reject_reason"] == "BPA"
    extra = dict(rows[0]["extra"])
    assert (
        extra["resource-id"] == "nat-0c50d5961bcb2d47b" and extra["next-hop-interface-type"] == "network_load_balancer"
    )
    assert dict(rows[1]["extra"]) == {}


def test_gzip_delivery_and_parquet_from_other_tools(samples):
    rows = _rows(samples / "loki_lambda_promtail_s3_delivered_with_header.log.gz")
    assert len(rows) == 3 and rows[0]["bytes"] == 21869 and rows[0]["dstaddr"] == "3.239.232.29"
    rows = _rows(samples / "flowlogs_reader_flows_pandas_written.parquet")
    assert rows[0]["account_id"] == "123456789010" and rows[0]["srcport"] == 443 and rows[0]["bytes"] == 840
    assert rows[1]["srcport"] is None and rows[1]["log_status"] == "NODATA"  # 'None' strings are nulls


def test_key_layouts_give_account_and_region():
    assert key_account_region("b/AWSLogs/123456789012/vpcflowlogs/eu-west-1/2026/10/01/x.log.gz") == (
        "123456789012",
        "eu-west-1",
    )
    assert key_account_region(
        "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-west-2/"
        "year=2026/month=10/day=01/hour=00/x.log.parquet"
    ) == ("123456789012", "us-west-2")
    assert key_account_region("123456789012_vpcflowlogs_us-east-1_fl-1234abcd_20180620T1620Z_fe123456.log.gz") == (
        "123456789012",
        "us-east-1",
    )
    assert key_account_region("random/file.log") == (None, None)


def test_generated_estate_round_trip(estate_dir, shared):
    """Every record our generator wrote comes back, with the same byte totals DuckDB reads."""
    text = sorted(estate_dir.glob("*/AWSLogs/**/*.log.gz"))
    parquet = sorted(estate_dir.glob("*/AWSLogs/**/*.log.parquet"))
    total_rows = total_bytes = 0
    for p in text + parquet:
        t, q = _parse_file(p)
        assert q.count == 0
        total_rows += t.num_rows
        total_bytes += pa.compute.sum(t.column("bytes")).as_py() or 0
        if "aws-account-id=" not in str(p):
            assert t.column("account_id").null_count == 0
    lines = 0
    for p in text:
        with gzip.open(p, "rt") as fh:
            lines += sum(1 for _ in fh) - 1
    pq_rows = sum(pq.ParquetFile(p).metadata.num_rows for p in parquet)
    assert total_rows == lines + pq_rows
    # Byte totals as DuckDB (text) and pyarrow (Parquet) read them, independently of our parser.
    assert total_bytes == int(EstateReader(estate_dir, shared / "aws" / "ip-ranges.json").flows.bytes.sum())


def test_bad_records_are_quarantined_with_reasons():
    lines = [
        " ".join(HEADER),
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5555 6 10 840 1700000000 1700000060 ACCEPT OK",
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5555 6 10",  # too short
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5555 6 ten 840 1700000000 1700000060 ACCEPT OK",
        "2 123456789012 eni-1 10.0.0.1 10.0.0.2 99999999999 5555 6 1 840 1700000000 1700000060 ACCEPT OK",
        "",
        "2 123456789012 eni-1 - - - - - - - 1700000000 1700000060 - NODATA",
    ]
    table, quarantined = parse_lines(lines)
    assert table.num_rows == 2
    reasons = {q["record_number"]: q["reason"] for q in quarantined}
    assert reasons[3] == "expected 14 fields, got 9"
    assert "packets is not an integer" in reasons[4]
    assert "srcport is out of range" in reasons[5]
    assert all(len(q["raw"]) <= 2048 for q in quarantined)


def test_unreadable_objects():
    # Seeded: about 1 in 150 random draws has a line that parses, and a cut gzip then yields what it holds.
    data = gzip.compress(b"version account-id\n" + random.Random(0).randbytes(200_000))
    with pytest.raises(UnreadableObject):
        obj, body = _mem(data[: len(data) // 2])
        list(VpcFlowParser().parse(body, obj, QuarantineSink("vpc-flow", obj)))
    with pytest.raises(UnreadableObject):
        obj, body = _mem(b"\x00\x01\x02garbage" * 100)
        list(VpcFlowParser().parse(body, obj, QuarantineSink("vpc-flow", obj)))
    with pytest.raises(UnreadableObject):
        obj, body = _mem(b"hello world this is not a flow log\n")
        list(VpcFlowParser().parse(body, obj, QuarantineSink("vpc-flow", obj)))
    obj, body = _mem(b"")
    assert list(VpcFlowParser().parse(body, obj, QuarantineSink("vpc-flow", obj))) == []


def test_looks_like():
    assert looks_like(b"version account-id interface-id srcaddr dstaddr\n", "x.log")
    assert looks_like(b"2 1 eni-1 - - - - - - - 1 2 - NODATA\n", "x.log")
    assert not looks_like(b"#Version: 1.0\n#Fields: date time\n", "x.gz")
    assert looks_like(b"", "AWSLogs/1/vpcflowlogs/us-east-1/x.log.gz")


def _mem(data: bytes):
    from egress_optimizer.ingest.base import SourceObject

    return SourceObject(uri="memory://x", key="x", size=len(data)), BytesBody(data)


HEADER = (
    "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"
).split()
_token = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Zs", "Cc"), blacklist_characters="\n\r"),
    min_size=1,
    max_size=12,
)


@st.composite
def _records(draw) -> tuple[list[str], int]:
    """A block of lines: valid records, wrong field counts and wrong types, mixed."""
    n = draw(st.integers(min_value=500, max_value=2500))
    seed = draw(st.integers(min_value=0, max_value=2**31))
    import random

    rnd = random.Random(seed)
    lines, valid = [" ".join(HEADER)], 0
    for i in range(n):
        kind = rnd.random()
        fields = [
            "2",
            "123456789012",
            f"eni-{i:08x}",
            f"10.0.{i % 250}.1",
            "52.95.128.179",
            str(rnd.randint(0, 65535)),
            "443",
            "6",
            str(rnd.randint(1, 10**6)),
            str(rnd.randint(40, 10**9)),
            "1700000000",
            "1700000060",
            rnd.choice(["ACCEPT", "REJECT"]),
            "OK",
        ]
        if kind < 0.7:
            valid += 1
        elif kind < 0.8:
            fields = fields[: rnd.randint(1, 13)]
        elif kind < 0.9:
            fields[rnd.choice([5, 6, 7, 8, 9, 10, 11])] = draw(_token) if i % 50 == 0 else "x" + str(i)
        else:
            fields += ["extra"] * rnd.randint(1, 3)
        lines.append(" ".join(fields))
    return lines, valid


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(_records())
def test_fuzz_conservation(block):
    lines, _ = block
    table, quarantined = parse_lines(lines)
    assert table.num_rows + len(quarantined) == len(lines) - 1  # every record accounted for
    assert table.schema == SCHEMA


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=3000))
def test_fuzz_random_bytes_never_escape(data):
    obj, body = _mem(data)
    q = QuarantineSink("vpc-flow", obj)
    try:
        rows = sum(b.num_rows for b in VpcFlowParser().parse(body, obj, q))
    except UnreadableObject:
        return
    assert rows + q.count == q.read


def test_batches_are_bounded():
    lines = [" ".join(HEADER)] + [
        f"2 123456789012 eni-1 10.0.0.1 10.0.0.2 {i % 60000} 443 6 1 100 1700000000 1700000060 ACCEPT OK"
        for i in range(20_000)
    ]
    obj, body = _mem(gzip.compress("\n".join(lines).encode()))
    q = QuarantineSink("vpc-flow", obj)
    batches = list(VpcFlowParser().parse(body, obj, q, batch_rows=4096))
    assert max(b.num_rows for b in batches) <= 4096
    assert sum(b.num_rows for b in batches) == 20_000 == q.read
