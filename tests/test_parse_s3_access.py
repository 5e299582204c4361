"""S3 server access log parser: real samples, our generator's output, edge cases and property-based fuzzing."""

from __future__ import annotations

import gzip
import random
import time
import zlib
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress_optimizer.ingest.base import QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.ingest.objects import BytesBody, open_object
from egress_optimizer.ingest.s3_access import SCHEMA, S3AccessParser, looks_like, parse_lines

PARSER = S3AccessParser()
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def parse_bytes(data: bytes, batch_rows: int = 65_536) -> tuple[pa.Table, QuarantineSink, list[pa.RecordBatch]]:
    obj = SourceObject(uri="mem://s3-access", key="logs/2019-02-06-00-00-38-ABCDEF0123456789", size=len(data))
    sink = QuarantineSink("s3-access", obj)
    batches = list(PARSER.parse(BytesBody(data), obj, sink, batch_rows=batch_rows))
    return pa.Table.from_batches(batches, schema=SCHEMA), sink, batches


def parse_file(path: Path) -> tuple[pa.Table, QuarantineSink]:
    obj, body = open_object(str(path))
    sink = QuarantineSink("s3-access", obj)
    table = pa.Table.from_batches(list(PARSER.parse(body, obj, sink)), schema=SCHEMA)
    assert sink.read == table.num_rows + sink.count
    return table, sink


def ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()) * 1000


def rows_with_ms(table: pa.Table) -> list[dict]:
    """Rows as dicts with ``time`` as epoch milliseconds (exact comparisons)."""
    return table.set_column(2, "time", table["time"].cast(pa.int64())).to_pylist()


# ---------------------------------------------------------------------------------------------------------
# Real samples


@pytest.fixture(scope="module")
def samples(shared: Path) -> dict[str, list[dict]]:
    out = {}
    for path in sorted((shared / "log_samples" / "s3_access").glob("*.log")):
        table, sink = parse_file(path)
        assert sink.rows == [], f"{path.name}: {sink.rows}"
        out[path.name] = rows_with_ms(table)
    return out


def test_every_sample_parses_without_quarantine(shared: Path) -> None:
    paths = sorted((shared / "log_samples" / "s3_access").glob("*"))
    logs = [p for p in paths if p.suffix == ".log"]
    assert len(logs) >= 8
    assert all(p.suffix in (".log", ".txt") for p in paths)  # .txt files document key formats, not logs
    for path in logs:
        table, sink = parse_file(path)
        records = [ln for ln in path.read_text().splitlines() if ln.strip()]
        assert sink.count == 0, (path.name, sink.rows)
        assert table.num_rows == len(records) == sink.read
        assert table.schema == SCHEMA


def test_userguide_records(samples: dict[str, list[dict]]) -> None:
    rows = samples["awsdocs_userguide_logformat_5_records.log"]
    assert len(rows) == 5
    first = rows[0]
    assert first["bucket_owner"] == "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
    assert first["bucket"] == "awsexamplebucket1"
    assert first["time"] == ms(2019, 2, 6, 0, 0, 38)
    assert first["remote_ip"] == "192.0.2.3"
    assert first["operation"] == "REST.GET.VERSIONING"
    assert first["key"] is None
    assert first["request_uri"] == "GET /awsexamplebucket1?versioning HTTP/1.1"
    assert (first["http_status"], first["error_code"], first["bytes_sent"], first["object_size"]) == (
        200,
        None,
        113,
        None,
    )
    assert (first["total_time_ms"], first["turn_around_time_ms"]) == (7, None)
    assert first["referer"] is None and first["user_agent"] == "S3Console/0.4"
    assert first["host_id"].startswith("s9lzHYrFp76ZVxRcpX9+5cjAnEH2ROuNkd2BHfIa6Uk")
    assert (first["signature_version"], first["cipher_suite"], first["authentication_type"]) == (
        "SigV2",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "AuthHeader",
    )
    assert first["host_header"] == "awsexamplebucket1.s3.us-west-1.amazonaws.com"
    assert first["tls_version"] == "TLSV1.1"
    assert first["access_point_arn"] is first["acl_required"] is first["source_region"] is None
    assert first["extra_fields"] is None

    policy = rows[2]
    assert policy["http_status"] == 404
    assert policy["error_code"] == "NoSuchBucketPolicy"
    assert policy["bytes_sent"] == 297
    assert policy["object_size"] is None

    put = rows[4]
    assert put["time"] == ms(2019, 2, 6, 0, 1, 57)
    assert put["operation"] == "REST.PUT.OBJECT"
    assert put["key"] == "s3-dg.pdf"
    assert put["bytes_sent"] is None
    assert put["object_size"] == 4406583
    assert (put["total_time_ms"], put["turn_around_time_ms"]) == (41754, 28)
    assert put["signature_version"] == "SigV4"


def test_access_point_acl_required_and_source_region(samples: dict[str, list[dict]]) -> None:
    first, second = samples["awsdocs_current_ap_arn_aclrequired_source_region.log"]
    assert first["access_point_arn"] == "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP"
    assert first["acl_required"] == "Yes"
    assert first["source_region"] == "us-east-1"
    assert second["access_point_arn"] is None and second["acl_required"] is None
    assert second["source_region"] == "us-east-1"
    assert second["operation"] == "REST.GET.LOGGING_STATUS"


def test_china_partition(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["awsdocs_cn_partition_aws_cn_arn.log"]
    assert row["access_point_arn"] == "arn:aws-cn:s3:us-west-1:123456789012:accesspoint/example-AP"
    assert row["host_header"] == "amzn-s3-demo-bucket1.s3.us-west-1.amazonaws.com.cn"
    assert row["bucket"] == "amzn-s3-demo-bucket1"


def test_long_user_agent_and_iam_requester(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["logstash_patterns_long_ua_iam_requester.log"]
    assert row["requester"] == "arn:aws:iam::123456:user/test@elastic.co"
    assert row["user_agent"] == (
        "AWS-Support-TrustedAdvisor, aws-internal/3 aws-sdk-java/1.11.590 Linux/4.9.137-0.1.ac.218.74.329.metal1.x86_64"
    )
    assert (row["http_status"], row["error_code"], row["turn_around_time_ms"]) == (404, "NoSuchBucketPolicy", 12)


def test_old_18_field_records(samples: dict[str, list[dict]]) -> None:
    first, second = samples["logstash_patterns_old_18_field_truncated_owner.log"]
    assert first["bucket_owner"] == second["bucket_owner"] == "79a5"
    assert first["requester"] == "79a5"
    assert first["time"] == ms(2014, 2, 6, 0, 0, 38)
    assert first["version_id"] is None and first["host_id"] is None and first["tls_version"] is None
    assert second["time"] == ms(2014, 5, 12, 7, 54, 1)
    assert second["requester"] is None
    assert second["key"] == "foo/bar.html"
    assert second["http_status"] == 304
    assert second["bytes_sent"] is None
    assert second["object_size"] == 1718
    assert second["total_time_ms"] == 10
    assert second["turn_around_time_ms"] is None
    assert second["user_agent"] == "Mozilla/5.0"


def test_batch_delete_with_bare_dashes(samples: dict[str, list[dict]]) -> None:
    first, second = samples["elastic_integrations_batch_delete_unquoted_dash_uri.log"]
    assert first["operation"] == "BATCH.DELETE.OBJECT"
    assert first["requester"] == "arn:aws:iam::123456:user/test@elastic.co"
    assert first["request_uri"] is None and first["referer"] is None and first["user_agent"] is None
    assert (first["http_status"], first["bytes_sent"], first["object_size"]) == (204, None, 344017)
    assert second["key"] == "Screen+Shot+2019-09-09+at+9.08.44+AM.png"  # as logged, not decoded
    assert second["object_size"] == 57138
    assert second["host_header"] == "s3.ap-southeast-1.amazonaws.com"


def test_delivery_service_and_trailing_access_point(samples: dict[str, list[dict]]) -> None:
    rows = samples["elastic_integrations_trustedadvisor_vpcflow_delivery_ap.log"]
    assert len(rows) == 4
    assert rows[0]["requester"].startswith("arn:aws:sts::123456:assumed-role/AWSServiceRoleForTrustedAdvisor/")
    assert rows[0]["user_agent"].startswith("AWS-Support-TrustedAdvisor, aws-internal/3 aws-sdk-java/1.11.590 ")
    assert rows[0]["user_agent"].endswith("vendor/Oracle_Corporation")
    assert rows[1]["request_uri"] == "GET /test-s3-ks/?max-keys=0&encoding-type=url&aws-account=627959692251 HTTP/1.1"
    assert rows[1]["turn_around_time_ms"] == 1
    delivery = rows[2]
    assert delivery["remote_ip"] is None
    assert delivery["requester"] == "svc:delivery.logs.amazonaws.com"
    assert delivery["key"].startswith("AWSLogs/000000000000/vpcflowlogs/us-gov-east-1/2021/07/13/")
    assert (delivery["object_size"], delivery["total_time_ms"], delivery["turn_around_time_ms"]) == (773, 103, 13)
    assert delivery["user_agent"] is None  # quoted "-"
    assert delivery["host_header"] == "flow-log-test.s3.us-gov-west-1.amazonaws.com"
    assert delivery["access_point_arn"] is None and delivery["acl_required"] is None
    assert rows[3]["access_point_arn"] == "arn:aws:s3:us-west-1:123456789012:accesspoint/example-AP"
    assert rows[3]["acl_required"] == "Yes"
    assert rows[3]["source_region"] is None


def test_tls13_and_cli_user_agent(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["loki_lambda_promtail_tls13_cli_ua.log"]
    assert row["operation"] == "REST.HEAD.OBJECT"
    assert row["requester"] == "arn:aws:sts::11111111111:assumed-role/some_existing_aws_role"
    assert row["user_agent"].startswith("aws-cli/2.24.10 md/awscrt#0.23.8 ua/2.0 os/macos#24.3.0")
    assert row["user_agent"].endswith("md/command#s3.cp")
    assert (row["bytes_sent"], row["object_size"], row["total_time_ms"], row["turn_around_time_ms"]) == (
        None,
        453183,
        33,
        None,
    )
    assert (row["cipher_suite"], row["tls_version"]) == ("TLS_AES_128_GCM_SHA256", "TLSv1.3")
    assert row["access_point_arn"] is None and row["acl_required"] is None and row["source_region"] is None


def test_looks_like_samples_and_keys(shared: Path) -> None:
    folder = shared / "log_samples"
    for path in (folder / "s3_access").glob("*.log"):
        assert looks_like(path.read_bytes()[:4096], path.name)
    for path in (folder / "cloudfront").glob("*.log"):
        assert not looks_like(path.read_bytes()[:4096], "2019-02-06-00-00-38-ABCDEF0123456789")
    assert looks_like(b"", "logs/2019-02-06-00-00-38-5F39B6D6C6E0E1A2")  # SimplePrefix
    assert looks_like(b"", "logs/123456789012/us-east-1/my-bucket/2024/01/02/2024-01-02-03-04-05-ABCDEF0123456789")
    assert not looks_like(b"", "cf/E2QWRUHAPOMQZL.2019-12-04-21.a1b2c3d4.gz")
    assert not looks_like(b"\x00\x01garbage", "logs/2019-02-06-00-00-38-5F39B6D6C6E0E1A2")


# ---------------------------------------------------------------------------------------------------------
# Our generator's output


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    from egress_optimizer.estate.generate import generate

    out = tmp_path_factory.mktemp("estate-s3")
    result = generate(out, days=1, seed=3, scale="small")
    return out, result


def test_generated_logs_parse_without_quarantine(generated) -> None:
    out, result = generated
    files = sorted(p for p in out.glob("*/s3-access-logs/**/*") if p.is_file())
    assert files
    total = 0
    for path in files:
        key = str(path.relative_to(out).as_posix()).split("/", 1)[1]
        assert looks_like(path.read_bytes()[:4096], key)
        table, sink = parse_file(path)
        lines = [ln for ln in path.read_text().splitlines() if ln.strip()]
        assert sink.count == 0, (path, sink.rows[:3])
        assert table.num_rows == len(lines) == sink.read
        assert table["time"].null_count == 0
        assert table["bucket"].null_count == 0
        total += table.num_rows
    assert total == result.counts["s3_access"]["records"]


def test_generated_values_match_the_text(generated) -> None:
    out, _ = generated
    path = next(p for p in sorted(out.glob("*/s3-access-logs/**/*")) if p.is_file())
    table, _ = parse_file(path)
    for line, row in zip(path.read_text().splitlines(), table.to_pylist(), strict=True):
        assert row["bucket"] == line.split(" ")[1]
        assert f'"{row["user_agent"]}"' in line.replace('\\"', '"')
        assert row["host_header"] in line


# ---------------------------------------------------------------------------------------------------------
# Edge cases

GOOD = (
    "79a5 mybucket [06/Feb/2014:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE REST.GET.OBJECT a/b.txt "
    '"GET /a/b.txt HTTP/1.1" 200 - 1234 1234 7 5 "-" "curl/8.0" -'
)


def test_empty_and_blank_objects_yield_nothing() -> None:
    for data in (b"", b"\n", b"\n \n\t\r\n"):
        table, sink, batches = parse_bytes(data)
        assert batches == [] and table.num_rows == 0 and sink.read == 0 and sink.count == 0


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "2019-02-06-00-00-38-ABCDEF0123456789"
    path.write_bytes(b"")
    table, sink = parse_file(path)
    assert table.num_rows == 0 and sink.read == 0


def test_binary_garbage_is_unreadable() -> None:
    garbage = random.Random(7).randbytes(200_000)
    with pytest.raises(UnreadableObject, match="not an S3 server access log"):
        parse_bytes(garbage)


def test_other_format_is_unreadable(shared: Path) -> None:
    cf = (shared / "log_samples/cloudfront/aws_log_parser_standard_w3c_33_fields_with_header.log").read_bytes()
    with pytest.raises(UnreadableObject):
        parse_bytes(cf)


def test_truncated_gzip_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    data = gzip.compress(("\n".join([GOOD] * 5000) + "\n").encode())
    path = tmp_path / "2019-02-06-00-00-38-ABCDEF0123456789.gz"
    path.write_bytes(data[: len(data) // 2])
    survived = zlib.decompressobj(wbits=31).decompress(data[: len(data) // 2]).count(b"\n")  # zlib: the oracle
    obj, body = open_object(str(path))
    sink = QuarantineSink("s3-access", obj)
    rows = sum(b.num_rows for b in PARSER.parse(body, obj, sink))
    assert 0 < rows == survived < 5000 and rows + sink.count == sink.read
    assert sink.count == 1 and "gzip stream cut short" in sink.rows[0]["reason"]


def test_gzipped_log_parses(tmp_path: Path) -> None:
    path = tmp_path / "2019-02-06-00-00-38-ABCDEF0123456789.gz"
    path.write_bytes(gzip.compress(("\n".join([GOOD] * 3) + "\n").encode()))
    table, sink = parse_file(path)
    assert table.num_rows == 3 and sink.count == 0


def test_bad_records_are_quarantined_with_line_numbers_and_reasons() -> None:
    lines = [
        GOOD,
        "",
        "79a5 mybucket [06/Feb/2014:00:00:38 +0000] 192.0.2.3 79a5 3E57427F3EXAMPLE REST.GET.OBJECT",
        GOOD.replace("[06/Feb/2014", "[31/Feb/2014"),
        GOOD.replace(" 200 ", " OK "),
        GOOD.replace(" 1234 1234 ", " 12x 1234 "),
        GOOD.replace('"curl/8.0"', '"curl/8.0'),
        GOOD.replace(" mybucket ", "  mybucket "),
        GOOD.replace("[06/Feb/2014:00:00:38 +0000]", "06/Feb/2014:00:00:38"),
        GOOD.replace(" 1234 1234 ", " 99999999999999999999 1234 "),
        GOOD,
    ]
    table, sink, _ = parse_bytes("\n".join(lines).encode())
    assert table.num_rows == 2
    assert sink.read == 10 == table.num_rows + sink.count
    reasons = {q["record_number"]: q["reason"] for q in sink.rows}
    assert reasons == {
        3: "expected at least 18 fields, got 7",
        4: "invalid timestamp '[31/Feb/2014:00:00:38 +0000]'",
        5: "invalid http_status 'OK'",
        6: "invalid bytes_sent '12x'",
        7: "unbalanced double quote",
        8: "fields separated by more than one space",
        9: "invalid timestamp '06/Feb/2014:00:00:38'",
        10: "invalid bytes_sent '99999999999999999999'",
    }
    assert sink.rows[0]["raw"] == lines[2]
    assert all(q["source"] == "s3-access" and q["source_object"] == "mem://s3-access" for q in sink.rows)


def test_escaped_quotes_and_newer_trailing_fields() -> None:
    tail = ' hostid SigV4 ECDHE AuthHeader b.s3.amazonaws.com TLSv1.2 - Yes eu-west-1 future1 "future two" -'
    line = GOOD.replace('"curl/8.0"', '"say \\"hi\\", ok"') + tail
    table, rows = parse_lines([line])
    assert rows == []
    (row,) = table.to_pylist()
    assert row["user_agent"] == 'say "hi", ok'
    assert row["source_region"] == "eu-west-1" and row["acl_required"] == "Yes"
    assert row["extra_fields"] == ["future1", "future two", None]


def test_time_zone_offsets_are_applied() -> None:
    table, _ = parse_lines([GOOD.replace("+0000]", "+0130]"), GOOD.replace("+0000]", "-0800]")])
    times = table["time"].cast(pa.int64()).to_pylist()
    base = ms(2014, 2, 6, 0, 0, 38)
    assert times == [base - 90 * 60_000, base + 8 * 3_600_000]


def test_batches_are_bounded() -> None:
    table, sink, batches = parse_bytes(("\n".join([GOOD] * 7) + "\n").encode(), batch_rows=3)
    assert [b.num_rows for b in batches] == [3, 3, 1]
    assert all(b.schema == SCHEMA for b in batches)
    assert table.num_rows == 7 == sink.read


def test_overlong_line_is_quarantined_without_buffering() -> None:
    data = (GOOD + "\n").encode() + b"x" * (3 << 20) + b"\n" + (GOOD + "\n").encode()
    table, sink, _ = parse_bytes(data)
    assert table.num_rows == 2
    assert [(q["record_number"], q["reason"][:16]) for q in sink.rows] == [(2, "line longer than")]
    assert len(sink.rows[0]["raw"]) <= 2048


def test_crlf_bom_and_invalid_utf8() -> None:
    data = b"\xef\xbb\xbf" + (GOOD + "\r\n").encode() + GOOD.replace("curl/8.0", "caf\xff").encode("latin-1")
    table, sink, _ = parse_bytes(data)
    assert sink.count == 0
    assert table["bucket_owner"].to_pylist() == ["79a5", "79a5"]
    assert table["user_agent"].to_pylist() == ["curl/8.0", "caf\ufffd"]


def test_pathological_lines_parse_in_linear_time() -> None:
    # Unclosed brackets and quotes must not make the tokenizer rescan the rest of the line for every one.
    lines = ['[" ' * 300_000, '"a \\' * 200_000, '"[\\' * 300_000, "[ " * 400_000, '"' * 500_000]
    started = time.perf_counter()
    table, rows = parse_lines(lines)
    assert table.num_rows == 0 and len(rows) == len(lines)
    assert time.perf_counter() - started < 10  # about 0.5 s; quadratic behaviour takes minutes


def test_parse_lines_accepts_bytes_and_lone_surrogates() -> None:
    table, rows = parse_lines([GOOD.encode(), GOOD.replace("curl/8.0", "x\ud800y") + "\n", "\x00\x01"])
    assert table.num_rows == 2
    assert table["user_agent"].to_pylist()[1] == "x?y"
    assert [(q["record_number"], q["reason"]) for q in rows] == [(3, "expected at least 18 fields, got 1")]


# ---------------------------------------------------------------------------------------------------------
# Property-based: random valid records round-trip; mutated ones never escape and are conserved.

RECORDS_PER_EXAMPLE = 2000
EXAMPLES = 55  # 110,000 records
BARE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+/=:._-"
OPERATIONS = ["REST.GET.OBJECT", "REST.PUT.OBJECT", "REST.HEAD.OBJECT", "BATCH.DELETE.OBJECT", "REST.GET.BUCKET"]
# Quoted values: anything printable, including quotes, commas and spaces; no backslash (S3 escapes only quotes).
QUOTED_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\\\n\r"), max_size=40)


def _bare(rng: random.Random, lo: int = 1, hi: int = 24) -> str:
    s = "".join(rng.choices(BARE, k=rng.randint(lo, hi)))
    return "x" + s if s == "-" else s


class Pools:
    """Random bare tokens drawn once per example: generating 100k records must stay cheap."""

    def __init__(self, rng: random.Random):
        self.bare = [_bare(rng) for _ in range(64)]
        self.buckets = [_bare(rng, 3, 20) for _ in range(8)]
        self.ids = [_bare(rng, 16, 16) for _ in range(64)]
        self.owners = ["".join(rng.choices("0123456789abcdef", k=k)) for k in (4, 64, 64)]


def _quoted(value: str) -> str:
    return '"' + value.replace('"', '\\"') + '"'


def _opt(rng: random.Random, value: str) -> tuple[str, str | None]:
    """A bare field that is ``-`` (null) a fifth of the time."""
    value = "x-" if value == "-" else value
    return ("-", None) if rng.random() < 0.2 else (value, value)


def _valid_record(rng: random.Random, texts: list[str], pools: Pools) -> tuple[list[str], dict]:
    t = rng.randint(ms(1990, 1, 1) // 1000, ms(2040, 1, 1) // 1000)
    g = datetime.fromtimestamp(t, UTC)
    stamp = f"[{g.day:02d}/{MONTHS[g.month - 1]}/{g.year}:{g.hour:02d}:{g.minute:02d}:{g.second:02d} +0000]"
    key_text = rng.choice(texts)
    key_tok, key = _opt(rng, quote(key_text, safe="/") or "k")
    uri_choice = rng.random()
    if uri_choice < 0.1:
        uri_tok, uri = "-", None
    elif uri_choice < 0.2:
        uri_tok, uri = '"-"', None
    else:
        uri = f"{rng.choice(['GET', 'PUT', 'HEAD'])} /{quote(key_text)}?x={rng.choice(texts)} HTTP/1.1"
        uri_tok = _quoted(uri)
    nums = []
    for hi in (599, 2**63 - 1, 2**63 - 1, 10**7, 10**7):
        v = rng.choice([None, rng.randint(0, 999), rng.randint(0, hi)])
        nums.append(("-" if v is None else str(v), v))
    ref_text, ua_text = rng.choice(texts), rng.choice(texts)
    ref_tok, ref = rng.choice([("-", None), ('"-"', None), (_quoted(ref_text), None if ref_text == "-" else ref_text)])
    ua_tok, ua = _quoted(ua_text), (None if ua_text == "-" else ua_text)
    owner_tok, owner = _opt(rng, rng.choice(pools.owners))
    tokens = [
        owner_tok,
        rng.choice(pools.buckets),
        stamp,
        *_opt(rng, f"{rng.randint(1, 255)}.{rng.randint(0, 255)}.0.{rng.randint(0, 255)}")[:1],
        *_opt(rng, "arn:aws:iam::123456789012:user/" + rng.choice(pools.bare) + "@example.com")[:1],
        rng.choice(pools.ids),
        rng.choice(OPERATIONS),
        key_tok,
        uri_tok,
        nums[0][0],
        *_opt(rng, rng.choice(["NoSuchKey", "AccessDenied", "SlowDown"]))[:1],
        nums[1][0],
        nums[2][0],
        nums[3][0],
        nums[4][0],
        ref_tok,
        ua_tok,
        *_opt(rng, rng.choice(pools.bare))[:1],
    ]
    n_fields = rng.choice([18, 24, 25, 26, 27, 27, 28, 31])
    while len(tokens) < n_fields:
        kind = rng.randrange(3)
        tokens.append("-" if kind == 0 else rng.choice(pools.bare) if kind == 1 else _quoted(rng.choice(texts)))
    values = [_token_value(tok) for tok in tokens]
    values += [None] * (27 - len(values))
    expected = {
        "bucket_owner": owner,
        "bucket": tokens[1],
        "time": t * 1000,
        "remote_ip": values[3],
        "requester": values[4],
        "request_id": tokens[5],
        "operation": tokens[6],
        "key": key,
        "request_uri": uri,
        "http_status": nums[0][1],
        "error_code": values[10],
        "bytes_sent": nums[1][1],
        "object_size": nums[2][1],
        "total_time_ms": nums[3][1],
        "turn_around_time_ms": nums[4][1],
        "referer": ref,
        "user_agent": ua,
        "version_id": values[17],
        **dict(zip([f.name for f in SCHEMA][18:27], values[18:27], strict=True)),
        "extra_fields": values[27:] or None,
    }
    return tokens, expected


def _token_value(tok: str) -> str | None:
    if tok.startswith('"'):
        v = tok[1:-1].replace('\\"', '"')
        return None if v == "-" else v
    return None if tok == "-" else tok


def _replace(tokens: list[str], i: int, value: str) -> bytes:
    return " ".join([*tokens[:i], value, *tokens[i + 1 :]]).encode()


def _mutate(rng: random.Random, tokens: list[str], junk: list[bytes]) -> tuple[bytes, bool]:
    """A damaged line, and whether the parser must quarantine it."""
    line = " ".join(tokens)
    kind = rng.randrange(9)
    if kind == 0:  # too few fields
        return " ".join(tokens[: rng.randint(1, 17)]).encode(), True
    if kind == 1:  # wrong types
        i = rng.choice([9, 11, 12, 13, 14])
        bad = rng.choice(["abc", "-1", "2.5", "0x1F", "\uff12\uff10\uff10", "1_0", "9" * 20, "2147483648"])
        return _replace(tokens, i, "9" * 20 if i != 9 and bad == "2147483648" else bad), True
    if kind == 2:  # invalid time
        bad = rng.choice(
            ["[32/Feb/2019:00:00:38 +0000]", "[06/Foo/2019:00:00:38 +0000]", "[06/Feb/2019:24:00:00 +0000]"]
        )
        return _replace(tokens, 2, bad), True
    if kind == 3 and tokens[8].startswith('"'):  # missing closing quote on the request URI
        return _replace(tokens, 8, tokens[8][:-1]), True
    if kind == 4:  # two spaces between fields
        i = rng.randint(1, len(tokens) - 1)
        return (" ".join(tokens[:i]) + "  " + " ".join(tokens[i:])).encode(), True
    raw = line.encode()
    if kind == 5:  # truncated anywhere
        return raw[: rng.randint(1, len(raw))], False
    if kind == 6:  # random bytes inserted
        i = rng.randint(1, len(raw))
        return raw[:i] + rng.choice(junk).replace(b"\n", b"?") + raw[i:], False
    if kind == 7:  # a character deleted (may drop a quote or bracket)
        i = rng.randrange(len(raw))
        return raw[:i] + raw[i + 1 :], False
    return raw.replace(b'"', b"", 1), False  # first quote missing


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    texts=st.lists(QUOTED_TEXT, min_size=1, max_size=8),
    junk=st.lists(st.binary(min_size=1, max_size=16), min_size=1, max_size=4),
    rate=st.floats(0.0, 0.4),
    batch_rows=st.integers(64, 4096),  # tiny batches are tested above; here they would only cost time
)
def test_fuzz_round_trip_and_conservation(
    seed: int, texts: list[str], junk: list[bytes], rate: float, batch_rows: int
) -> None:
    rng = random.Random(seed)
    pools = Pools(rng)
    lines: list[bytes] = []
    expected: dict[int, dict] = {}
    must_fail: set[int] = set()
    for n in range(1, RECORDS_PER_EXAMPLE + 1):
        if n > 1 and rng.random() < 0.01:
            lines.append(rng.choice([b"", b"   ", b"\t"]))  # blank lines are not records
            continue
        tokens, record = _valid_record(rng, texts, pools)
        if n > 1 and rng.random() < rate:
            line, fails = _mutate(rng, tokens, junk)
            if fails:
                must_fail.add(n)
        else:
            line = " ".join(tokens).encode()
            expected[n] = record
        lines.append(line)
    table, sink, batches = parse_bytes(b"\n".join(lines) + b"\n", batch_rows=batch_rows)

    records = [n for n, ln in enumerate(lines, 1) if ln.decode("utf-8", "replace").strip(" \t\r\n")]
    assert sink.read == len(records) == table.num_rows + sink.count
    assert all(b.num_rows <= batch_rows for b in batches)
    quarantined = {q["record_number"]: q["reason"] for q in sink.rows}
    assert must_fail <= quarantined.keys()
    assert not (expected.keys() & quarantined.keys()), [quarantined[n] for n in expected.keys() & quarantined.keys()]
    parsed_numbers = [n for n in records if n not in quarantined]
    for n, row in zip(parsed_numbers, rows_with_ms(table), strict=True):
        if n in expected:
            assert row == expected[n], n


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.text(max_size=300) | st.binary(max_size=300), max_size=20))
def test_arbitrary_lines_never_raise(lines: list[str | bytes]) -> None:
    table, rows = parse_lines(lines)
    assert table.schema == SCHEMA
    assert table.num_rows + len(rows) <= len(lines)
