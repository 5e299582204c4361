"""Damaged objects give up only what is damaged. Every real VPC flow log sample, with one of its records damaged
the ways storage and transfer damage text (a flipped byte, a NUL, a cut or reversed line, a field dropped or
added) or its gzip stream cut short, yields every other record and quarantines the damaged one with its line
number and reason; so does every S3 access and CloudFront sample cut short. An object is refused whole only when
no line of it is a record; nothing prints a traceback.

The oracle is the undamaged sample: its own record count, and the line the test damaged."""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import pytest

from egress_optimizer.ingest.base import QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.ingest.cloudfront import CloudFrontParser
from egress_optimizer.ingest.objects import BytesBody
from egress_optimizer.ingest.s3_access import S3AccessParser
from egress_optimizer.ingest.vpc_flow import VpcFlowParser
from egress_optimizer.lake import Lake
from egress_optimizer.stages import ingest

SAMPLES = sorted(
    p for p in (Path(__file__).resolve().parents[2] / "shared/data/log_samples/vpc_flow").glob("*.log*") if p.is_file()
)


def _text(path: Path) -> bytes:
    data = path.read_bytes()
    return gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data


def _parse(data: bytes) -> tuple[int, QuarantineSink]:
    obj = SourceObject(uri="memory://sample.log", key="sample.log", size=len(data))
    q = QuarantineSink("vpc-flow", obj)
    return sum(b.num_rows for b in VpcFlowParser().parse(BytesBody(data), obj, q)), q


def _flip(line: bytes, value: int) -> bytes:
    mid = len(line) // 2
    return line[:mid] + bytes([value]) + line[mid + 1 :]


DAMAGE = {
    "invalid UTF-8 byte": lambda line: _flip(line, 0xFF),
    "NUL byte": lambda line: _flip(line, 0x00),
    "line cut in half": lambda line: line[: len(line) // 2],
    "line reversed": lambda line: line[::-1],
    "field dropped": lambda line: line.rsplit(b" ", 1)[0],
    "field added": lambda line: line + b" 42",
}


def _records(data: bytes) -> list[int]:
    """Indexes of the lines that are records (not the header) in an undamaged sample."""
    lines = data.split(b"\n")
    first = 1 if not lines[0].split(b" ")[0].lstrip(b"-").isdigit() else 0
    return [i for i in range(first, len(lines)) if lines[i].strip()]


@pytest.mark.parametrize("damage", list(DAMAGE))
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_one_damaged_record_costs_that_record_only(sample, damage, capfd):
    data = _text(sample)
    expected, _ = _parse(data)
    records = _records(data)
    assert expected == len(records) > 0  # the oracle: every record of the sample parses
    target = records[len(records) // 2]
    lines = data.split(b"\n")
    if damage == "line reversed" and not any(v.isdigit() for v in lines[target].split(b" ")):
        pytest.skip("a reversed line of text-only fields (addresses, ids) reads as a record: nothing to tell")
    lines[target] = DAMAGE[damage](lines[target])
    damaged = b"\n".join(lines)
    try:
        parsed, q = _parse(damaged)
    except UnreadableObject as refused:
        assert len(records) == 1, f"refused although {len(records) - 1} records are intact: {refused}"
    else:
        assert parsed + q.count == q.read  # conservation
        assert parsed == expected - 1 and q.count == 1
        assert q.rows[0]["record_number"] == target + 1 and q.rows[0]["reason"]
    err = capfd.readouterr().err
    assert "Traceback" not in err and "Exception ignored" not in err


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_a_gzip_cut_short_keeps_the_records_before_the_cut(sample):
    data = _text(sample)
    lines, records = data.split(b"\n"), _records(data)
    header = lines[: records[0]]
    repeat = 200_000 // len(data) + 1  # several deflate blocks, so the cut leaves whole records before it
    whole = gzip.compress(b"\n".join(header + [lines[i] for i in records] * repeat) + b"\n")
    cut = whole[: len(whole) * 3 // 4]
    # the oracle: how much text zlib itself inflates from the cut stream, in complete lines
    survived = zlib.decompressobj(wbits=31).decompress(cut)
    complete = survived.count(b"\n") - len(header)
    parsed, q = _parse(cut)
    assert parsed + q.count == q.read
    assert 0 < parsed == complete < len(records) * repeat
    assert q.count == 1 and "cut short" in q.rows[0]["reason"]


def test_a_damaged_object_lands_its_good_records_and_its_reasons_in_the_lake(tmp_path, capfd):
    sample = next(p for p in SAMPLES if p.name.startswith("awsdocs_v3_custom_tcp_flags"))
    data = _text(sample)
    lines = data.split(b"\n")
    lines[3] = _flip(lines[3], 0xFF)
    folder = tmp_path / "raw" / "AWSLogs" / "123456789012" / "vpcflowlogs" / "us-east-1" / "2026" / "10" / "01"
    folder.mkdir(parents=True)
    (folder / "damaged.log.gz").write_bytes(gzip.compress(b"\n".join(lines)))
    lake = Lake.open(str(tmp_path / "lake"))
    report = ingest(lake, [str(tmp_path / "raw")])
    (obj,) = report.objects
    assert not obj.failed and obj.parsed == len(_records(data)) - 1 and obj.quarantined == 1
    (row,) = lake.read("quarantine").to_pylist()
    assert row["record_number"] == 4 and row["reason"].startswith("invalid UTF-8")
    assert "Traceback" not in capfd.readouterr().err


LINE_SAMPLES = sorted(
    p
    for source in ("s3_access", "cloudfront")
    for p in (Path(__file__).resolve().parents[2] / "shared/data/log_samples" / source).glob("*.log")
)


@pytest.mark.parametrize("sample", LINE_SAMPLES, ids=lambda p: p.name)
def test_s3_and_cloudfront_logs_cut_short_keep_the_records_before_the_cut(sample):
    parser = S3AccessParser() if "s3_access" in sample.parts else CloudFrontParser()
    lines = [line for line in sample.read_bytes().split(b"\n") if line.strip()]
    directives = [line for line in lines if line.startswith(b"#")]
    records = [line for line in lines if not line.startswith(b"#")]
    body = b"\n".join(directives + records * (200_000 // len(b"\n".join(records)) + 1)) + b"\n"
    whole = gzip.compress(body)
    cut = whole[: len(whole) * 3 // 4]
    survived = zlib.decompressobj(wbits=31).decompress(cut)
    complete = sum(1 for line in survived.split(b"\n")[:-1] if line and not line.startswith(b"#"))
    obj = SourceObject(uri=f"memory://{sample.name}", key=sample.name, size=len(cut))
    q = QuarantineSink(parser.source, obj)
    parsed = sum(b.num_rows for b in parser.parse(BytesBody(cut), obj, q))
    assert parsed + q.count == q.read
    assert 0 < parsed == complete and q.count == 1 and "cut short" in q.rows[0]["reason"]
