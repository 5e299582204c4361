"""Ingestion end to end: conservation, quarantine, unreadable objects, idempotent re-ingest, CLI contract."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest

from egress_optimizer import stages
from egress_optimizer.cli import run
from egress_optimizer.ingest.pipeline import SOURCES, ingest
from egress_optimizer.lake import Lake


def _lake_digest(root: Path) -> dict[str, str]:
    """Every file of the lake and its content, but the change journal: each delivery of an object is recorded
    there on purpose (so the stages downstream process it again), and must leave every table as it was."""
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "_changes" not in p.relative_to(root).parts
    }


@pytest.fixture(scope="module")
def flow_dir(estate_dir: Path, tmp_path_factory) -> Path:
    """The estate's VPC flow logs only (text and Parquet), as a folder that mirrors the log buckets."""
    out = tmp_path_factory.mktemp("flows")
    for p in estate_dir.glob("*/AWSLogs/**/*"):
        if p.is_file() and ("vpcflowlogs" in str(p)):
            dest = out / p.relative_to(estate_dir)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, dest)
    return out


def test_flow_logs_conservation_and_partitions(flow_dir, tmp_path):
    lake = Lake.open(str(tmp_path / "lake"))
    report = ingest([str(flow_dir)], lake)
    t = report.totals()
    assert t["objects"] > 100 and t["objects_failed"] == 0
    assert t["records_read"] == t["parsed"] + t["quarantined"] and t["quarantined"] == 0
    for r in report.objects:
        assert r.records_read == r.parsed + r.quarantined
    table = lake.read("vpc_flow", columns=["account", "aws_region", "dt", "bytes"])
    assert table.num_rows == t["parsed"]
    assert set(table.column("aws_region").to_pylist()) == {"us-east-1", "us-west-2", "eu-west-1"}
    assert all(len(a) == 12 for a in set(table.column("account").to_pylist()))


def test_reingest_three_times_leaves_an_identical_lake(flow_dir, tmp_path):
    day = tmp_path / "day"  # one day of the flow logs (the whole estate is re-ingested below)
    for p in flow_dir.rglob("*"):
        if p.is_file() and "/2026/10/02/" in p.as_posix():
            (day / p.relative_to(flow_dir)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(p, day / p.relative_to(flow_dir))
    root = tmp_path / "lake"
    lake = Lake.open(str(root))
    assert ingest([str(day)], lake).totals()["objects"] > 10
    first = _lake_digest(root)
    for _ in range(2):
        ingest([str(day)], lake)
    assert _lake_digest(root) == first


def test_bad_objects_are_recorded_and_do_not_stop_the_batch(tmp_path, shared):
    raw = tmp_path / "raw" / "AWSLogs" / "123456789012" / "vpcflowlogs" / "us-east-1" / "2026" / "10" / "01"
    raw.mkdir(parents=True)
    good = shared / "log_samples/vpc_flow/loki_lambda_promtail_s3_delivered_with_header.log.gz"
    shutil.copyfile(good, raw / "good.log.gz")
    (raw / "truncated.log.gz").write_bytes(gzip.compress(b"version account-id\n" + os.urandom(100_000))[:5000])
    (raw / "garbage.log.gz").write_bytes(b"\x00\xff" * 500)
    (raw / "empty.log.gz").write_bytes(b"")
    (raw / "mixed.log").write_text(
        "version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action "
        "log-status\n2 123456789012 eni-1 10.0.0.1 10.0.0.2 443 5555 6 10 840 1700000000 1700000060 ACCEPT OK\n"
        "2 123456789012 eni-1 oops\n"
    )
    lake = Lake.open(str(tmp_path / "lake"))
    report = ingest([str(tmp_path / "raw")], lake)
    by_name = {Path(r.uri).name: r for r in report.objects}
    assert by_name["good.log.gz"].parsed == 3 and not by_name["good.log.gz"].failed
    for bad in ("truncated.log.gz", "garbage.log.gz", "empty.log.gz"):
        assert by_name[bad].failed and by_name[bad].reason, bad
    assert by_name["mixed.log"].parsed == 1 and by_name["mixed.log"].quarantined == 1
    q = lake.read("quarantine").to_pylist()
    reasons = {Path(r["source_object"]).name: r["reason"] for r in q}
    assert "expected 14 fields" in reasons["mixed.log"]
    assert "gzip" in reasons["truncated.log.gz"] and reasons["empty.log.gz"] == "object unreadable: empty object"
    assert report.totals()["objects_failed"] == 3


def test_cli_ingest_json_and_query(flow_dir, tmp_path, capsys):
    lake = str(tmp_path / "lake")
    assert run(["ingest", str(flow_dir), "--lake", lake, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    for part in ("totals", *out["by_source"].values()):
        block = out["totals"] if part == "totals" else part
        assert set(block) >= {"objects", "objects_failed", "records_read", "parsed", "quarantined"}
    assert set(out["by_source"]) <= set(SOURCES)
    assert run(["query", "SELECT count(*) AS n FROM vpc_flow", "--lake", lake, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": out["totals"]["parsed"]}]
    assert (
        run(
            [
                "query",
                "SELECT aws_region, count(*) n FROM vpc_flow GROUP BY 1 ORDER BY 1",
                "--lake",
                lake,
                "--format",
                "csv",
            ]
        )
        == 0
    )
    assert capsys.readouterr().out.splitlines()[0] == "aws_region,n"


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ingest", "/no/such/path", "--lake", "{lake}"], "does not exist"),
        (["ingest", "{raw}", "--lake", "{lake}", "--source", "syslog"], "--source"),
        (["query", "SELECT * FROM nope", "--lake", "{lake}"], "query failed"),
        (["query", "SELECT 1", "--lake", "/no/such/lake"], "not an egress lake"),
        (["ingest", "gs://bucket/x", "--lake", "{lake}"], "only local paths and s3://"),
    ],
)
def test_cli_bad_input_one_line_exit_2(args, needle, tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    Lake.open(str(tmp_path / "lake"))
    args = [a.format(lake=tmp_path / "lake", raw=raw) for a in args]
    assert run(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and needle in err[0] and "Traceback" not in err[0]


def test_forcing_the_wrong_source_quarantines_or_fails_cleanly(tmp_path, shared, capsys):
    good = shared / "log_samples/s3_access/awsdocs_userguide_logformat_5_records.log"
    assert run(["ingest", str(good), "--lake", str(tmp_path / "lake"), "--source", "vpc-flow", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    t = out["totals"]
    assert t["parsed"] == 0 and (t["objects_failed"] == 1 or t["quarantined"] == t["records_read"])


def test_cli_bad_objects_are_reported_not_tracebacks(tmp_path, capsys):
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "empty.log").write_bytes(b"")
    (raw / "trunc.log.gz").write_bytes(gzip.compress(os.urandom(200_000))[:3000])
    (raw / "garbage.bin").write_bytes(os.urandom(4096))
    code = run(["ingest", str(raw), "--lake", str(tmp_path / "lake")])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in out + err
    assert run(["ingest", str(raw), "--lake", str(tmp_path / "lake"), "--source", "cloudfront", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["totals"]["objects_failed"] == 3
    assert all(f["reason"] for f in report["failed"])


def test_every_source_reingested_is_identical(estate_dir, ingested_lake, tmp_path):
    """The shared lake is the estate ingested once; ingesting every source again (the flow logs of two days,
    everything else whole) changes no byte."""
    root = tmp_path / "lake"
    shutil.copytree(ingested_lake, root)
    lake = Lake.open(str(root), create=False)
    first = _lake_digest(root)
    flows = [p for p in estate_dir.rglob("*.log.gz") if "vpcflowlogs" in p.parts]
    days = sorted({p.parent.relative_to(estate_dir).parts[-3:] for p in flows})[:2]
    files = [p for p in estate_dir.rglob("*") if p.is_file() and "vpcflowlogs" not in p.parts]
    files += [p for p in flows if p.parent.relative_to(estate_dir).parts[-3:] in days]
    report = stages.ingest(lake, [str(p) for p in files], key_base=str(estate_dir))
    assert set(report.by_source()) == set(SOURCES)
    assert report.totals()["quarantined"] == 0 and report.totals()["objects_failed"] == 0
    assert _lake_digest(root) == first


@pytest.fixture()
def moto_s3(monkeypatch):
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", endpoint)
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")
    for b in ("raw-logs", "lake"):
        s3.create_bucket(Bucket=b)
    yield s3
    server.stop()


def test_cli_ingests_from_s3_into_an_s3_lake(moto_s3, shared, capsys):
    key = (
        "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/10/01/"
        "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261001T0000Z_abcd1234.log.gz"
    )
    body = (shared / "log_samples/vpc_flow/loki_lambda_promtail_s3_delivered_with_header.log.gz").read_bytes()
    moto_s3.put_object(Bucket="raw-logs", Key=key, Body=body)
    moto_s3.put_object(
        Bucket="raw-logs",
        Key="cloudfront/E2T6L4WML8KX93.2026-10-01-07.faa4e6a8.gz",
        Body=gzip.compress(
            (shared / "log_samples/cloudfront/aws_log_parser_standard_w3c_33_fields_with_header.log").read_bytes()
        ),
    )
    assert run(["ingest", "s3://raw-logs/", "--lake", "s3://lake/egress", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["by_source"]["vpc-flow"]["parsed"] == 3 and report["by_source"]["cloudfront"]["parsed"] > 0
    keys = [o["Key"] for o in moto_s3.list_objects_v2(Bucket="lake")["Contents"]]
    assert any(k.startswith("egress/vpc_flow/account=123456789012/aws_region=us-east-1/dt=") for k in keys)
    assert run(["query", "SELECT count(*) AS n FROM vpc_flow", "--lake", "s3://lake/egress", "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == [{"n": 3}]
