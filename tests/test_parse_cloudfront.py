"""CloudFront access log parser: real samples, our generator's output, v2 formats, edge cases and fuzzing."""

from __future__ import annotations

import gzip
import io
import json
import random
import zlib
from datetime import UTC, date, datetime
from functools import cache
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from egress_optimizer.ingest.base import QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.ingest.cloudfront import (
    LEGACY_FIELDS,
    SCHEMA,
    CloudFrontParser,
    distribution_from_key,
    looks_like,
    looks_like_parquet,
    parse_lines,
)
from egress_optimizer.ingest.objects import BytesBody, open_object

PARSER = CloudFrontParser()
HEADER_LINES = ["#Version: 1.0", "#Fields: " + " ".join(LEGACY_FIELDS)]
HEADER33 = "\n".join(HEADER_LINES) + "\n"
DIST_KEY = "cloudfront/E2QWRUHAPOMQZL.2019-12-04-21.a1b2c3d4.gz"


def parse_bytes(
    data: bytes, key: str = "cf/log.gz", batch_rows: int = 65_536
) -> tuple[pa.Table, QuarantineSink, list[pa.RecordBatch]]:
    obj = SourceObject(uri="mem://cloudfront", key=key, size=len(data))
    sink = QuarantineSink("cloudfront", obj)
    batches = list(PARSER.parse(BytesBody(data), obj, sink, batch_rows=batch_rows))
    return pa.Table.from_batches(batches, schema=SCHEMA), sink, batches


def parse_file(path: Path) -> tuple[pa.Table, QuarantineSink]:
    obj, body = open_object(str(path))
    sink = QuarantineSink("cloudfront", obj)
    table = pa.Table.from_batches(list(PARSER.parse(body, obj, sink)), schema=SCHEMA)
    assert sink.read == table.num_rows + sink.count
    return table, sink


def rows_with_ms(table: pa.Table) -> list[dict]:
    return table.set_column(0, "timestamp", table["timestamp"].cast(pa.int64())).to_pylist()


def ms(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> int:
    return int(datetime(y, mo, d, h, mi, s, tzinfo=UTC).timestamp()) * 1000


def record_lines(data: bytes) -> list[str]:
    text = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    return [ln for ln in text.decode().splitlines() if ln.strip() and not ln.startswith("#")]


# ---------------------------------------------------------------------------------------------------------
# Real samples


@pytest.fixture(scope="module")
def samples(shared: Path) -> dict[str, list[dict]]:
    out = {}
    for path in sorted((shared / "log_samples" / "cloudfront").iterdir()):
        if path.name.startswith("README"):
            continue
        table, sink = parse_file(path)
        assert sink.rows == [], f"{path.name}: {sink.rows}"
        out[path.name] = rows_with_ms(table)
    return out


def test_every_sample_parses_without_quarantine(shared: Path) -> None:
    paths = [p for p in sorted((shared / "log_samples" / "cloudfront").iterdir()) if not p.name.startswith("README")]
    assert len(paths) >= 6
    for path in paths:
        table, sink = parse_file(path)
        assert sink.count == 0, (path.name, sink.rows)
        assert table.num_rows == len(record_lines(path.read_bytes())) == sink.read > 0
        assert table.schema == SCHEMA
        assert table["timestamp"].null_count == 0


def test_standard_33_fields_with_header(samples: dict[str, list[dict]]) -> None:
    rows = samples["aws_log_parser_standard_w3c_33_fields_with_header.log"]
    assert len(rows) == 6
    first = rows[0]
    assert first["timestamp"] == ms(2019, 12, 4, 21, 2, 31)
    assert (first["edge_location"], first["sc_bytes"], first["c_ip"]) == ("LAX1", 392, "128.92.136.19")
    assert (first["cs_method"], first["cs_host"], first["cs_uri_stem"]) == (
        "GET",
        "d111111abcdef8.cloudfront.net",
        "/index.html",
    )
    assert first["sc_status"] == 200 and first["cs_referer"] is None
    assert first["cs_user_agent"] == (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/78.0.3904.108 Safari/537.36"
    )
    assert (first["cs_protocol"], first["cs_bytes"], first["time_taken"]) == ("https", 23, 0.001)
    assert (first["ssl_protocol"], first["ssl_cipher"]) == ("TLSv1.2", "ECDHE-RSA-AES128-GCM-SHA256")
    assert (first["c_port"], first["time_to_first_byte"], first["sc_content_type"]) == (11040, 0.001, "text/html")
    assert (first["sc_content_len"], first["sc_range_start"], first["sc_range_end"]) == (78, None, None)
    assert first["fle_status"] is None and first["c_country"] is None
    assert first["distribution_id"] is None  # the sample's file name is not a CloudFront key
    assert first["extra"] is None

    error = rows[3]
    assert error["timestamp"] == ms(2019, 12, 13, 22, 36, 27)
    assert (error["edge_location"], error["sc_bytes"], error["sc_status"]) == ("SEA19-C1", 900, 502)
    assert error["cs_referer"] == "http://www.example.com/"
    assert (error["edge_result_type"], error["edge_detailed_result_type"]) == ("Error", "OriginDnsError")
    assert (error["host_header"], error["cs_protocol"], error["cs_bytes"]) == ("www.example.com", "http", 675)
    assert (error["time_taken"], error["time_to_first_byte"], error["sc_content_len"]) == (0.102, 0.102, 507)
    assert error["ssl_protocol"] is None
    assert rows[5]["cs_user_agent"] == "curl/7.55.1"
    assert [r["sc_status"] for r in rows].count(502) == 3


def test_headerless_24_fields_with_encoded_cookie(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["aws_log_parser_cookie_urlencoded_no_header.log"]
    assert row["timestamp"] == ms(2014, 5, 23, 1, 13, 11)
    assert (row["edge_location"], row["sc_bytes"]) == ("FRA2", 182)
    assert row["cs_cookie"] == "this%20zip=98101"  # kept as logged
    assert row["cs_user_agent"] == "Mozilla/4.0 (compatible; MSIE 5.0b1; Mac_PowerPC)"
    assert row["cs_referer"] == "www.displaymyfiles.com"
    assert (row["edge_response_result_type"], row["cs_protocol_version"]) == ("RefreshHit", "HTTP/1.1")
    assert row["cs_bytes"] is None and row["time_taken"] == 0.001
    assert row["c_port"] is None and row["sc_content_type"] is None  # beyond the 24 logged fields


def test_legacy_24_fields_double_encoded_user_agent(samples: dict[str, list[dict]]) -> None:
    first, second = samples["node_cf_parser_web_legacy_24_fields_double_encoded_ua.log"]
    ua = (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 10_2_1 like Mac OS X) AppleWebKit/602.4.6 (KHTML, like Gecko) "
        "Version/10.0 Mobile/14D27 Safari/602.1"
    )
    assert first["cs_user_agent"] == second["cs_user_agent"] == ua
    assert first["cs_bytes"] is None and first["cs_cookie"] == "zip=98101" and first["cs_uri_query"] is None
    assert (second["edge_location"], second["sc_bytes"], second["sc_status"]) == ("LAX1", 2390282, 304)
    assert second["cs_uri_query"] == "a=b&c=d"
    assert second["cs_uri_stem"] == "/soundtrack/happy.mp3"
    assert second["timestamp"] == ms(2014, 5, 23, 1, 13, 12)


def test_headerless_23_fields(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["logstash_patterns_23_field_no_header.log"]
    assert (row["edge_location"], row["sc_bytes"], row["sc_status"]) == ("IAD53", 224281, 200)
    assert row["cs_user_agent"] == (
        "Mozilla/5.0 (Windows NT 6.1; WOW64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/51.0.2704.79 Safari/537.36"
    )
    assert row["edge_response_result_type"] == "RefreshHit"
    assert row["cs_protocol_version"] is None
    assert row["timestamp"] == ms(2016, 6, 10, 18, 41, 39)


def test_v2_json_lines(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["loki_lambda_promtail_v2_json_records.json.gz"]
    assert row["timestamp"] == ms(2023, 4, 26, 7, 25, 11)
    assert (row["edge_location"], row["sc_bytes"], row["c_ip"]) == ("ABC11-C1", 122254, "13.231.15.129")
    assert row["cs_host"] == "d3u2vxofoa42t1.cloudfront.net"
    assert row["cs_uri_stem"] == "/prefix/script.js"
    assert row["cs_referer"] == "https://myapp.staging.domain.com/"
    assert row["cs_user_agent"].startswith("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36")
    assert row["forwarded_for"] == "10.3.200.121, 2010.56.14.213"
    assert (row["cs_bytes"], row["time_taken"], row["time_to_first_byte"]) == (1051, 0.199, 182.0)
    assert (row["c_port"], row["sc_content_len"], row["sc_content_type"]) == (41649, 121630, "application/javascript")
    assert row["cs_protocol_version"] == "HTTP/1.0"
    assert row["cs_uri_query"] is None and row["cs_cookie"] is None and row["extra"] is None


def test_realtime_field_set(samples: dict[str, list[dict]]) -> None:
    (row,) = samples["node_cf_parser_realtime_kinesis_fields.log"]
    assert row["timestamp"] == 1607374321541
    assert (row["edge_location"], row["sc_bytes"], row["c_ip"]) == ("EWR52-C4", 485, "127.0.0.1")
    assert row["cs_host"] == "test.cloudfront.net"
    assert row["cs_user_agent"] == "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:83.0) Gecko/20100101 Firefox/83.0"
    assert row["cs_referer"] == "http://localhost:5000/page-2"
    assert row["cs_uri_query"].startswith("stm=1607374321563&e=pp&url=http%253A%252F%252Flocalhost")
    assert (row["c_country"], row["time_to_first_byte"], row["c_port"]) == ("US", 0.042, 49323)
    extra = dict(row["extra"])
    assert extra["c-ip-version"] == "IPv4"
    assert extra["cache-behavior-path-pattern"] == "*"
    assert extra["cs-headers-count"] == "8"
    assert extra["cs-accept-encoding"] == "gzip,%20deflate"
    assert list(extra) == [
        "c-ip-version",
        "cs-accept-encoding",
        "cs-accept",
        "cache-behavior-path-pattern",
        "cs-headers",
        "cs-header-names",
        "cs-headers-count",
    ]


def test_looks_like(shared: Path) -> None:
    folder = shared / "log_samples"
    for path in (folder / "cloudfront").iterdir():
        if path.name.startswith("README"):
            continue
        data = path.read_bytes()
        head = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
        assert looks_like(head[:4096], path.name), path.name
    for path in (folder / "s3_access").glob("*.log"):
        assert not looks_like(path.read_bytes()[:4096], DIST_KEY)
    assert looks_like(b"", DIST_KEY)
    assert looks_like(b"PAR1\x00\x00", "logs/EMLARXS9EXAMPLE.2024-01-02-03.abcd1234.parquet")
    assert not looks_like(b"", "logs/2019-02-06-00-00-38-ABCDEF0123456789")
    assert not looks_like(b"#Version: 1.0\n#Fields: date time s-ip cs-method cs-uri-stem\n", DIST_KEY)  # IIS


def test_distribution_from_key() -> None:
    assert distribution_from_key(DIST_KEY) == "E2QWRUHAPOMQZL"
    assert distribution_from_key("E2QWRUHAPOMQZL.2019-12-04-21.a1b2c3d4.gz") == "E2QWRUHAPOMQZL"
    assert distribution_from_key("logs/myprefix-EMLARXS9EXAMPLE.2019-11-14-20.RT4KCN4SGK9.gz") == "EMLARXS9EXAMPLE"
    assert distribution_from_key("v2/EMLARXS9EXAMPLE.2024-01-02-03.abcd1234.parquet") == "EMLARXS9EXAMPLE"
    assert distribution_from_key("cf/log.gz") is None
    assert distribution_from_key("2019-02-06-00-00-38-ABCDEF0123456789") is None


# ---------------------------------------------------------------------------------------------------------
# Our generator's output


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory):
    from egress_optimizer.estate.generate import generate

    out = tmp_path_factory.mktemp("estate-cf")
    result = generate(out, days=1, seed=3, scale="small")
    return out, result


def test_generated_logs_parse_without_quarantine(generated) -> None:
    out, result = generated
    files = sorted(out.glob("*/cloudfront/**/*.gz"))
    assert files
    total = 0
    for path in files:
        key = path.relative_to(out).as_posix().split("/", 1)[1]
        data = path.read_bytes()
        assert looks_like(gzip.decompress(data)[:4096], key)
        table, sink = parse_file(path)
        lines = record_lines(data)
        assert sink.count == 0, (path, sink.rows[:3])
        assert table.num_rows == len(lines) == sink.read
        assert set(table["distribution_id"].to_pylist()) == {path.parent.name}
        assert table["sc_bytes"].null_count == 0 and table["edge_location"].null_count == 0
        first = lines[0].split("\t")
        row = table.slice(0, 1).to_pylist()[0]
        assert row["sc_bytes"] == int(first[3]) and row["c_port"] == int(first[26])
        assert row["timestamp"] == datetime.fromisoformat(f"{first[0]}T{first[1]}+00:00")
        total += table.num_rows
    assert total == result.counts["cloudfront"]["records"]


def test_truncated_generated_gzip_keeps_the_rows_before_the_cut(generated, tmp_path: Path) -> None:
    out, _ = generated
    src = max(out.glob("*/cloudfront/**/*.gz"), key=lambda p: p.stat().st_size)
    path = tmp_path / src.name
    data = src.read_bytes()
    path.write_bytes(data[: len(data) * 2 // 3])
    survived = zlib.decompressobj(wbits=31).decompress(data[: len(data) * 2 // 3])  # zlib: the oracle
    complete = sum(1 for line in survived.split(b"\n")[:-1] if line and not line.startswith(b"#"))
    obj, body = open_object(str(path))
    sink = QuarantineSink("cloudfront", obj)
    rows = sum(b.num_rows for b in PARSER.parse(body, obj, sink))
    assert rows == complete and rows + sink.count == sink.read
    assert sink.count == 1 and "gzip stream cut short" in sink.rows[0]["reason"]


# ---------------------------------------------------------------------------------------------------------
# Standard logging v2: Parquet with W3C or snake_case column names


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def test_parquet_snake_case_typed_columns() -> None:
    n = 10
    table = pa.table(
        {
            "date": pa.array([date(2024, 1, 2)] * n, pa.date32()),
            "time": [f"03:04:{i:02d}" for i in range(n)],
            "x_edge_location": ["FRA56-P1"] * n,
            "sc_bytes": pa.array(range(1000, 1000 + n), pa.int64()),
            "cs_host": ["d1.cloudfront.net"] * n,
            "cs_user_agent": ["Mozilla/5.0%20(X11)"] * n,
            "sc_status": pa.array([200] * (n - 1) + [None], pa.int32()),
            "time_taken": [0.5] * n,
            "DistributionId": ["EDFDVBD632BHDS5"] * n,
            "c_country": ["DE"] * n,
            "origin_lbl": ["o1"] * n,
        }
    )
    result, sink, batches = parse_bytes(_parquet(table), key=DIST_KEY, batch_rows=4)
    assert [b.num_rows for b in batches] == [4, 4, 2]
    assert sink.read == n and sink.count == 0
    rows = rows_with_ms(result)
    assert rows[3]["timestamp"] == ms(2024, 1, 2, 3, 4, 3)
    assert (rows[0]["edge_location"], rows[0]["sc_bytes"], rows[0]["cs_host"]) == (
        "FRA56-P1",
        1000,
        "d1.cloudfront.net",
    )
    assert rows[0]["cs_user_agent"] == "Mozilla/5.0 (X11)"
    assert rows[-1]["sc_status"] is None and rows[0]["time_taken"] == 0.5
    assert rows[0]["distribution_id"] == "EDFDVBD632BHDS5"  # the field wins over the key
    assert rows[0]["c_country"] == "DE" and rows[0]["extra"] == [("origin_lbl", "o1")]


def test_parquet_w3c_names_epoch_timestamp_and_bad_rows() -> None:
    table = pa.table(
        {
            "timestamp": ["1700000000.123", "1700000001", "soon"],
            "x-edge-location": ["IAD89-C1"] * 3,
            "sc-bytes": ["5", "6", "7"],
            "cs(Host)": ["d2.cloudfront.net"] * 3,
            "sc-status": ["200", "2OO", "200"],
        }
    )
    result, sink, _ = parse_bytes(_parquet(table), key=DIST_KEY)
    assert sink.read == 3 and result.num_rows == 1
    row = rows_with_ms(result)[0]
    assert row["timestamp"] == 1700000000123 and row["cs_host"] == "d2.cloudfront.net"
    assert row["distribution_id"] == "E2QWRUHAPOMQZL"
    assert [(q["record_number"], q["reason"]) for q in sink.rows] == [
        (2, "invalid sc-status '2OO'"),
        (3, "invalid timestamp 'soon'"),
    ]


def test_looks_like_parquet() -> None:
    cf = pa.table({"timestamp": ["1700000000.123"], "x_edge_location": ["IAD89-C1"], "sc_bytes": [5]})
    assert looks_like_parquet(BytesBody(_parquet(cf)))
    other = pa.table({"srcaddr": ["10.0.0.1"], "bytes": [5]})
    assert not looks_like_parquet(BytesBody(_parquet(other)))
    assert not looks_like_parquet(BytesBody(b"PAR1 not really PAR1"))


def test_corrupt_parquet_is_unreadable() -> None:
    with pytest.raises(UnreadableObject, match="Parquet"):
        parse_bytes(b"PAR1" + random.Random(3).randbytes(4000) + b"PAR1")


# ---------------------------------------------------------------------------------------------------------
# Edge cases

ROW33 = (
    "2019-12-04\t21:02:31\tLAX1\t392\t128.92.136.19\tGET\td1.cloudfront.net\t/index.html\t200\t-\tcurl/8.0\t-\t-\t"
    "Hit\tREQID==\td1.cloudfront.net\thttps\t23\t0.001\t-\tTLSv1.2\tECDHE-RSA-AES128-GCM-SHA256\tHit\tHTTP/2.0\t-\t-\t"
    "11040\t0.001\tHit\ttext/html\t78\t-\t-"
)


def test_empty_and_blank_objects_yield_nothing(tmp_path: Path) -> None:
    for data in (b"", b"\n\n", b"#Version: 1.0\n", gzip.compress(b"")):
        path = tmp_path / "E2QWRUHAPOMQZL.2019-12-04-21.a1b2c3d4.gz"
        path.write_bytes(data)
        table, sink = parse_file(path)
        assert table.num_rows == 0 and sink.read == 0 and sink.count == 0


def test_binary_garbage_is_unreadable() -> None:
    for seed in range(5):
        with pytest.raises(UnreadableObject, match="not a CloudFront access log"):
            parse_bytes(random.Random(seed).randbytes(100_000))


def test_other_formats_are_unreadable(shared: Path) -> None:
    s3 = (shared / "log_samples/s3_access/awsdocs_userguide_logformat_5_records.log").read_bytes()
    with pytest.raises(UnreadableObject):
        parse_bytes(s3)
    realtime_rows = record_lines(
        (shared / "log_samples/cloudfront/node_cf_parser_realtime_kinesis_fields.log").read_bytes()
    )
    with pytest.raises(UnreadableObject):  # real-time rows without their #Fields line cannot be mapped
        parse_bytes("\n".join(realtime_rows).encode())


def test_rtmp_logs_are_not_supported() -> None:
    data = (
        b"#Version: 1.0\n#Fields: date time x-edge-location c-ip x-event sc-bytes x-cf-status x-cf-client-id "
        b"cs-uri-stem cs-uri-query c-referrer x-page-url c-user-agent x-sname x-sname-query x-file-ext x-sid\n"
        b"2010-03-12\t23:51:20\tSEA4\t192.0.2.147\tconnect\t2014\tOK\tbfd8a98bee0840d9b871b7f6ade9908f\t"
        b"rtmp://shqshne4jdp4b6.cloudfront.net/cfx/st\tkey=value\thttp://player.longtailvideo.com/player.swf\t"
        b"http://www.longtailvideo.com/support/jw-player-setup-wizard?example=204\tLNX%2010,0,32,18\t-\t-\t-\t-\n"
    )
    with pytest.raises(UnreadableObject, match="RTMP logs are not supported"):
        parse_bytes(data)


def test_rows_mapped_by_header_and_quarantined_with_reasons() -> None:
    short_header = "#Fields: sc-bytes time date x-edge-location cs(User-Agent) x-my-field\n"
    lines = [
        *HEADER_LINES,
        ROW33,
        ROW33 + "\t",  # a trailing tab is tolerated
        "\t".join(ROW33.split("\t")[:20]),  # shorter than the header: nulls for the rest
        "\t".join(ROW33.split("\t")[:3]),  # too short to reach sc-bytes
        ROW33 + "\textra",  # longer than the header
        ROW33.replace("\t392\t", "\t39x\t"),
        ROW33.replace("2019-12-04", "2019-02-30"),
        ROW33.replace("21:02:31", "24:00:00"),
        ROW33.replace("\t11040\t", "\t-1\t"),
        ROW33.replace("\t0.001\t-\t", "\tslow\t-\t"),
        "",
        "#Version: 1.0",
        short_header.rstrip("\n"),
        "77\t01:02:03\t2020-01-01\tHKG62-C2\tMy%2520Agent\tv",
        "77\t01:02:03\t2020-01-01",  # too short: x-edge-location is column 4
        '{"date": "2020-01-01", "time": "00:00:01", "x-edge-location": "A1", "sc-bytes": 5, "c-port": 443}',
        '{"date": "2020-01-01", "time": "00:00:01", "x-edge-location": "A1", "sc-bytes": "5"',
        '["not", "an", "object"]',
        '{"x-edge-location": "A1", "sc-bytes": "5"}',
        '{"date": "2020-01-01", "time": "00:00:01", "sc-bytes": -5}',
    ]
    table, sink, _ = parse_bytes("\n".join(lines).encode(), key=DIST_KEY)
    rows = rows_with_ms(table)
    assert sink.read == 17 == table.num_rows + sink.count
    assert [r["sc_bytes"] for r in rows] == [392, 392, 392, 77, 5]
    assert rows[2]["sc_content_len"] is None and rows[2]["time_taken"] == 0.001 and rows[2]["ssl_protocol"] is None
    assert rows[3]["timestamp"] == ms(2020, 1, 1, 1, 2, 3)
    assert rows[3]["cs_user_agent"] == "My Agent" and rows[3]["extra"] == [("x-my-field", "v")]
    assert rows[3]["distribution_id"] == "E2QWRUHAPOMQZL"
    assert rows[4]["c_port"] == 443
    reasons = {q["record_number"]: q["reason"] for q in sink.rows}
    assert reasons == {
        6: "expected at least 4 fields, got 3",
        7: "expected 33 fields, got 34",
        8: "invalid sc-bytes '39x'",
        9: "invalid date '2019-02-30'",
        10: "invalid time '24:00:00'",
        11: "invalid c-port '-1'",
        12: "invalid time-taken 'slow'",
        17: "expected at least 4 fields, got 3",
        19: reasons[19],
        20: "expected at least 4 fields, got 1",
        21: "missing date and time",
        22: "invalid sc-bytes '-5'",
    }
    assert reasons[19].startswith("invalid JSON")
    assert sink.rows[0]["raw"] == lines[5]


def test_user_agent_is_decoded_at_most_twice() -> None:
    for logged, expected in [
        ("Mozilla/5.0%2520(X11)", "Mozilla/5.0 (X11)"),
        ("A%252520B", "A%20B"),
        ("100%", "100%"),
        ("%E2%9C%93%20ok", "\u2713 ok"),
        ("bad%ZZ", "bad%ZZ"),
    ]:
        table, rows = parse_lines([ROW33.replace("\tcurl/8.0\t", f"\t{logged}\t")])
        assert rows == [] and table["cs_user_agent"].to_pylist() == [expected]


def test_batches_are_bounded_and_headers_between_rows() -> None:
    data = (HEADER33 + "\n".join([ROW33] * 5) + "\n" + HEADER33 + "\n".join([ROW33] * 2) + "\n").encode()
    _, sink, batches = parse_bytes(data, batch_rows=3)
    assert [b.num_rows for b in batches] == [3, 3, 1]
    assert sink.read == 7 and sink.count == 0


def test_overlong_line_and_invalid_utf8() -> None:
    data = (
        (HEADER33 + ROW33 + "\n").encode()
        + b"y" * (2 << 20)
        + b"\n"
        + ROW33.replace("curl", "c\xffrl").encode("latin-1")
    )
    table, sink, _ = parse_bytes(data)
    assert table.num_rows == 2 and sink.read == 3
    assert [(q["record_number"], q["reason"][:16]) for q in sink.rows] == [(4, "line longer than")]
    assert table["cs_user_agent"].to_pylist() == ["curl/8.0", "c\ufffdrl/8.0"]


def test_parse_lines_with_key_and_surrogates() -> None:
    table, rows = parse_lines(
        [*HEADER_LINES, ROW33.replace("curl/8.0", "x\udcff").encode("utf-8", "surrogatepass")], DIST_KEY
    )
    assert rows == [] and table["distribution_id"].to_pylist() == ["E2QWRUHAPOMQZL"]
    table, rows = parse_lines([ROW33.replace("curl/8.0", "x\udcff")])
    assert table["cs_user_agent"].to_pylist() == ["x?"]


# ---------------------------------------------------------------------------------------------------------
# Property-based: random valid records in every layout round-trip; mutated ones never escape, are conserved.

RECORDS_PER_EXAMPLE = 2000
EXAMPLES = 55  # 110,000 records
REALTIME_FIELDS = (
    "timestamp c-ip time-to-first-byte sc-status sc-bytes cs-method cs-protocol cs-host cs-uri-stem cs-bytes "
    "x-edge-location x-edge-request-id x-host-header time-taken cs-protocol-version c-ip-version cs-user-agent "
    "cs-referer cs-cookie cs-uri-query x-edge-response-result-type x-forwarded-for ssl-protocol ssl-cipher "
    "x-edge-result-type fle-encrypted-fields fle-status sc-content-type sc-content-len sc-range-start sc-range-end "
    "c-port x-edge-detailed-result-type c-country cs-accept-encoding cs-accept cache-behavior-path-pattern"
).split()
# Hyphenated field name -> column, written out independently of the parser's own table.
COLUMN = {
    "x-edge-location": "edge_location",
    "sc-bytes": "sc_bytes",
    "c-ip": "c_ip",
    "cs-method": "cs_method",
    "cs-host": "cs_host",
    "cs-uri-stem": "cs_uri_stem",
    "sc-status": "sc_status",
    "cs-referer": "cs_referer",
    "cs-user-agent": "cs_user_agent",
    "cs-uri-query": "cs_uri_query",
    "cs-cookie": "cs_cookie",
    "x-edge-result-type": "edge_result_type",
    "x-edge-request-id": "edge_request_id",
    "x-host-header": "host_header",
    "cs-protocol": "cs_protocol",
    "cs-bytes": "cs_bytes",
    "time-taken": "time_taken",
    "x-forwarded-for": "forwarded_for",
    "ssl-protocol": "ssl_protocol",
    "ssl-cipher": "ssl_cipher",
    "x-edge-response-result-type": "edge_response_result_type",
    "cs-protocol-version": "cs_protocol_version",
    "fle-status": "fle_status",
    "fle-encrypted-fields": "fle_encrypted_fields",
    "c-port": "c_port",
    "time-to-first-byte": "time_to_first_byte",
    "x-edge-detailed-result-type": "edge_detailed_result_type",
    "sc-content-type": "sc_content_type",
    "sc-content-len": "sc_content_len",
    "sc-range-start": "sc_range_start",
    "sc-range-end": "sc_range_end",
    "c-country": "c_country",
    "distribution-id": "distribution_id",
}
W3C_SPELLING = {
    "cs-host": "cs(Host)",
    "cs-referer": "cs(Referer)",
    "cs-user-agent": "cs(User-Agent)",
    "cs-cookie": "cs(Cookie)",
    "timestamp-ms": "timestamp(ms)",
    "distribution-id": "DistributionId",
}
STYLES = {
    "w3c": lambda h: W3C_SPELLING.get(h, h),
    "hyphen": lambda h: h,
    "underscore": lambda h: h.replace("-", "_"),
    "upper": lambda h: h.replace("-", "_").upper(),
}
EXTRA_NAMES = ["x-custom-field", "cs(X-Trace-Id)", "sc-served-by"]
TIME_NAMES = {"date", "time", "timestamp", "timestamp-ms"}
TOKEN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/=&.-_:,%"
# User-agent text: anything but '%' (so decoding is exact), line breaks and lone surrogates.
UA_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="%\n\r"), max_size=40)
COLUMNS = SCHEMA.names
INT_FIELDS = {"sc-bytes", "sc-status", "cs-bytes", "c-port", "sc-content-len", "sc-range-start", "sc-range-end"}


@cache
def _hyphen(name: str) -> str:
    return name.lower().replace("(", "-").replace(")", "").replace("_", "-")


class Pools:
    def __init__(self, rng: random.Random, texts: list[str]):
        self.tokens = ["/" + "".join(rng.choices(TOKEN, k=rng.randint(0, 30))) for _ in range(32)]
        self.ids = ["".join(rng.choices(TOKEN[:62], k=40)) + "==" for _ in range(32)]
        self.uas = []
        for text in texts:
            once = quote(text, safe="/;:,()")
            self.uas.append((once, None if text in ("", "-") else text))
            self.uas.append((quote(once, safe="/;:,()"), None if text in ("", "-") else text))


def _str_field(rng: random.Random, options: list[str], null_rate: float = 0.2) -> tuple[str, str | None]:
    if rng.random() < null_rate:
        return "-", None
    v = rng.choice(options)
    return v, v


def _values(rng: random.Random, pools: Pools) -> dict[str, tuple[str, object]]:
    """Logged text and expected value of every field, by hyphenated name."""
    t = rng.randint(0, 2**34)
    g = datetime.fromtimestamp(t, UTC)
    v: dict[str, tuple[str, object]] = {
        "date": (f"{g.year:04d}-{g.month:02d}-{g.day:02d}", None),
        "time": (f"{g.hour:02d}:{g.minute:02d}:{g.second:02d}", None),
        "x-edge-location": (e := rng.choice(["LAX1", "SEA19-C1", "FRA2", "IAD53-P2"]), e),
        "cs-user-agent": rng.choice(pools.uas),
        "cs-host": _str_field(rng, ["d111111abcdef8.cloudfront.net", "d2.cloudfront.net"], 0.05),
        "cs-uri-stem": _str_field(rng, pools.tokens, 0.05),
        "cs-referer": _str_field(rng, ["http://www.example.com/", "https://a.b/c?d=e%2520f"], 0.5),
        "cs-uri-query": _str_field(rng, pools.tokens, 0.5),
        "cs-cookie": _str_field(rng, ["a=b%20c", "session=xyz;%20other=1"], 0.7),
        "c-ip": _str_field(rng, ["192.0.2.10", "2001:db8::1", "128.92.136.19"], 0.02),
        "cs-method": _str_field(rng, ["GET", "POST", "HEAD", "OPTIONS"], 0.02),
        "x-edge-result-type": _str_field(rng, ["Hit", "Miss", "Error", "RefreshHit"]),
        "x-edge-request-id": _str_field(rng, pools.ids, 0.02),
        "x-host-header": _str_field(rng, ["www.example.com", "d2.cloudfront.net"]),
        "cs-protocol": _str_field(rng, ["http", "https", "wss"]),
        "x-forwarded-for": _str_field(rng, ["10.3.200.121, 2010.56.14.213", "192.0.2.1"], 0.7),
        "ssl-protocol": _str_field(rng, ["TLSv1.2", "TLSv1.3"]),
        "ssl-cipher": _str_field(rng, ["ECDHE-RSA-AES128-GCM-SHA256", "TLS_AES_128_GCM_SHA256"]),
        "x-edge-response-result-type": _str_field(rng, ["Hit", "Miss", "Error"]),
        "cs-protocol-version": _str_field(rng, ["HTTP/1.1", "HTTP/2.0", "HTTP/3.0"]),
        "fle-status": _str_field(rng, ["Processed", "ForwardedByContentType"], 0.8),
        "fle-encrypted-fields": _str_field(rng, ["1", "2"], 0.8),
        "x-edge-detailed-result-type": _str_field(rng, ["Hit", "OriginDnsError", "ClientCommError"]),
        "sc-content-type": _str_field(rng, ["text/html", "application/json;charset=UTF-8"]),
        "c-country": _str_field(rng, ["US", "DE", "JP"]),
        "time-taken": (x := f"{rng.random() * rng.choice([1, 100, 10000]):.3f}", float(x)),
        "time-to-first-byte": (
            x := rng.choice(["-", f"{rng.random() * 10:.3f}", str(rng.randint(0, 999))]),
            None if x == "-" else float(x),
        ),
    }
    for name, hi, null_rate in [
        ("sc-bytes", 2**63 - 1, 0.0),
        ("sc-status", 599, 0.02),
        ("cs-bytes", 2**40, 0.2),
        ("c-port", 65535, 0.2),
        ("sc-content-len", 2**40, 0.3),
        ("sc-range-start", 2**40, 0.8),
        ("sc-range-end", 2**40, 0.8),
    ]:
        if rng.random() < null_rate:
            v[name] = ("-", None)
        else:
            n = rng.choice([0, rng.randint(0, 999), rng.randint(0, hi)])
            v[name] = (f"{n:03d}" if name == "sc-status" else str(n), n)
    v["_t"] = ("", t * 1000)
    return v


def _expected(values: dict, present: list[str], extras: list[tuple[str, str]], dist: str | None) -> dict:
    row: dict[str, object] = dict.fromkeys(COLUMNS)
    for h in present:
        if h in COLUMN:
            row[COLUMN[h]] = values[h][1]
    row["timestamp"] = values["_t"][1]
    row["distribution_id"] = row["distribution_id"] or dist
    row["extra"] = [(name, None if text == "-" else text) for name, text in extras] or None
    return row


def _build(rng: random.Random, layout: str, style: str, pools: Pools, key_dist: str | None):
    """A generator of ``(line, expected_or_None, kind)``; also returns the header lines."""
    names: list[str]  # hyphenated field names of the layout, in order
    if layout in ("w3c", "json"):
        names = list(dict.fromkeys(_hyphen(n) for n in LEGACY_FIELDS))
        if rng.random() < 0.5:
            rng.shuffle(names)
        if rng.random() < 0.3:  # v2: epoch timestamp instead of date and time, and the distribution id
            names = [n for n in names if n not in ("date", "time")] + [rng.choice(["timestamp", "timestamp-ms"])]
            names.append("distribution-id")
        if layout == "w3c" and rng.random() < 0.5:
            names.insert(rng.randrange(len(names) + 1), "c-country")
    elif layout == "realtime":
        names = list(REALTIME_FIELDS)
    else:  # headerless legacy
        names = [_hyphen(n) for n in LEGACY_FIELDS]
    extras = [n for n in EXTRA_NAMES if rng.random() < 0.4] if layout != "headerless" else []
    spelled = {h: STYLES[style](h) if layout != "headerless" else h for h in names}
    positions = sorted(rng.sample(range(len(names) + len(extras)), len(extras)))
    # (logged name, hyphenated name, or "" for fields that belong in ``extra``)
    fields = [(spelled[h], h if h in COLUMN or h in TIME_NAMES else "") for h in names]
    for pos, extra in zip(positions, extras, strict=True):
        fields.insert(pos, (extra, ""))
    header = [] if layout in ("headerless", "json") else ["#Version: 1.0", "#Fields: " + " ".join(n for n, _ in fields)]
    required = max(
        i + 1
        for i, (_, h) in enumerate(fields)
        if h in ("date", "time", "timestamp", "timestamp-ms", "x-edge-location", "sc-bytes")
    )
    dist_pool = ["EDFDVBD632BHDS5", "E2QWRUHAPOMQZL"]

    def record() -> tuple[list[tuple[str, str]], dict]:
        values = _values(rng, pools)
        t_ms = values["_t"][1]
        if "timestamp" in names:  # epoch seconds, with or without milliseconds
            if rng.random() < 0.5:
                t_ms += rng.randrange(1000)
                values["timestamp"] = (f"{t_ms // 1000}.{t_ms % 1000:03d}", None)
            else:
                values["timestamp"] = (str(t_ms // 1000), None)
        if "timestamp-ms" in names:
            t_ms += rng.randrange(1000)
            values["timestamp-ms"] = (str(t_ms), None)
        values["_t"] = ("", t_ms)
        values["distribution-id"] = _str_field(rng, dist_pool, 0.3)
        logged = [(name, values[h][0] if h else rng.choice(["-", *pools.tokens])) for name, h in fields]
        return logged, values

    def make() -> tuple[str, dict | None, str, list[tuple[str, str]]]:
        logged, values = record()
        n = len(logged)
        if layout == "headerless" and rng.random() < 0.5:
            n = rng.choice([4, 13, 23, 24, rng.randint(4, 33)])
        elif layout in ("w3c", "realtime") and rng.random() < 0.1:
            n = rng.randint(required, len(logged))  # shorter than the header: nulls for the missing fields
        kept = logged[:n]
        present = [h for (_, h) in fields[:n] if h]
        extras_kept = [(name, text) for (name, h), (_, text) in zip(fields[:n], kept, strict=True) if not h]
        expected = _expected(values, present, extras_kept, key_dist)
        if layout == "json":
            obj: dict[str, object] = {}
            for name, text in kept:
                h = _hyphen(name) if name not in EXTRA_NAMES else ""
                obj[name] = int(text) if h in INT_FIELDS and text != "-" and rng.random() < 0.3 else text
            return json.dumps(obj), expected, "json", kept
        return "\t".join(text for _, text in kept), expected, "row", kept

    return header, make, required


def _mutate(
    rng: random.Random,
    line: str,
    kind: str,
    kept: list[tuple[str, str]],
    required: int,
    n_header: int,
    junk: list[bytes],
) -> tuple[bytes, bool]:
    """A damaged line, and whether the parser must quarantine it."""
    choice = rng.randrange(8)
    texts = [t for _, t in kept]
    names = [_hyphen(n) for n, _ in kept]
    if kind == "json":
        if choice < 3:
            return line[: rng.randint(1, len(line) - 1)].encode(), True  # cut JSON never parses
        if choice == 3:
            obj = json.loads(line)
            name = next(n for n in obj if _hyphen(n) in ("sc-bytes",))
            obj[name] = rng.choice(["12x", "-5", "1.5", "\uff19", -3, 1.5, True])
            return json.dumps(obj).encode(), True
    else:
        if choice == 0 and required > 1:
            return "\t".join(texts[: rng.randint(1, required - 1)]).encode(), True
        if choice == 1 and len(texts) == n_header:
            return (line + "\t" + rng.choice(["x", "-", "0"])).encode(), True
        if choice == 2:
            i = names.index("sc-bytes")
            texts[i] = rng.choice(["12x", "-5", "1.5", "\uff19", "0x10", "9" * 20])
            return "\t".join(texts).encode(), True
        if choice == 3:
            if "date" in names:
                i = names.index("date")
                texts[i] = rng.choice(["2019-13-01", "2019-02-30", "20190101", "2019-1-1"])
            elif "time" in names:
                texts[names.index("time")] = rng.choice(["24:00:00", "12:60:00", "1:2:3"])
            else:
                i = names.index("timestamp") if "timestamp" in names else names.index("timestamp-ms")
                texts[i] = rng.choice(["abc", "-1", "1e9", "99999999999999999999"])
            return "\t".join(texts).encode(), True
    raw = line.encode()
    if choice == 4:
        return raw[: rng.randint(1, len(raw))], False
    if choice == 5:
        i = rng.randint(1, len(raw))
        return raw[:i] + rng.choice(junk).replace(b"\n", b"?") + raw[i:], False
    if choice == 6:
        i = rng.randrange(1, len(raw))
        return raw[:i] + raw[i + 1 :], False
    return raw.replace(b"\t", b"", 1), False


def _is_record(ln: bytes) -> bool:
    """What the parser counts as a record: a line with something but whitespace on it, not a directive."""
    text = ln.decode("utf-8", "replace").rstrip("\r")
    return bool(text.strip(" \t\r\n")) and not text.startswith("#")


@settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    layout=st.sampled_from(["w3c", "headerless", "json", "realtime"]),
    style=st.sampled_from(sorted(STYLES)),
    texts=st.lists(UA_TEXT, min_size=1, max_size=8),
    junk=st.lists(st.binary(min_size=1, max_size=16), min_size=1, max_size=4),
    rate=st.floats(0.0, 0.4),
    batch_rows=st.integers(64, 4096),  # tiny batches are tested above; here they would only cost time
    with_dist_key=st.booleans(),
)
def test_fuzz_round_trip_and_conservation(
    seed: int,
    layout: str,
    style: str,
    texts: list[str],
    junk: list[bytes],
    rate: float,
    batch_rows: int,
    with_dist_key: bool,
) -> None:
    rng = random.Random(seed)
    pools = Pools(rng, texts)
    key_dist = "EMLARXS9EXAMPLE" if with_dist_key else None
    key = "logs/EMLARXS9EXAMPLE.2024-01-02-03.abcd1234.gz" if with_dist_key else "logs/cf.gz"
    header, make, required = _build(rng, layout, style, pools, key_dist)
    n_header = len(header[1].split()) - 1 if header else len(LEGACY_FIELDS)
    lines: list[bytes] = [h.encode() for h in header]
    expected: dict[int, dict] = {}
    must_fail: set[int] = set()
    for i in range(RECORDS_PER_EXAMPLE):
        r = rng.random()
        if i and r < 0.01:
            lines.append(rng.choice([b"", b"  ", b"\r", b"#Version: 1.0", b"#Software: x"]))
            continue
        if i and r < 0.015 and header:
            lines.append(header[1].encode())  # a repeated header changes nothing
            continue
        line, record, kind, kept = make()
        if i and rng.random() < rate:
            data, fails = _mutate(rng, line, kind, kept, required, n_header, junk)
            lines.append(data)
            if fails and _is_record(data):  # a cut to nothing but blank fields is a blank line, not a record
                must_fail.add(len(lines))
        else:
            lines.append(line.encode())
            expected[len(lines)] = record
    table, sink, batches = parse_bytes(b"\n".join(lines) + b"\n", key=key, batch_rows=batch_rows)

    records = [n for n, ln in enumerate(lines, 1) if _is_record(ln)]
    assert sink.read == len(records) == table.num_rows + sink.count
    assert all(b.num_rows <= batch_rows for b in batches)
    quarantined = {q["record_number"]: q["reason"] for q in sink.rows}
    assert must_fail <= quarantined.keys(), [lines[n - 1] for n in must_fail - quarantined.keys()][:3]
    wrongly = expected.keys() & quarantined.keys()
    assert not wrongly, [(lines[n - 1], quarantined[n]) for n in sorted(wrongly)][:3]
    parsed_numbers = [n for n in records if n not in quarantined]
    for n, row in zip(parsed_numbers, rows_with_ms(table), strict=True):
        if n in expected:
            assert row == expected[n], (lines[n - 1], n)


@settings(max_examples=200, deadline=None, database=None)
@given(st.lists(st.text(max_size=300) | st.binary(max_size=300), max_size=20))
def test_arbitrary_lines_never_raise(lines: list[str | bytes]) -> None:
    table, rows = parse_lines([*HEADER_LINES, *lines])
    assert table.schema == SCHEMA
    assert table.num_rows + len(rows) <= len(lines)
