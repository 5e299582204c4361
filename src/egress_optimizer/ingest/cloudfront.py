"""CloudFront access log parser: legacy standard logs, standard logging v2 (W3C, JSON, Parquet), real-time fields.

Inputs, all recognised per object (Parquet) or per line (text):

* W3C text (legacy standard logs, v2 "plain"): optionally gzipped; ``#Version:`` / ``#Fields:`` directives,
  then tab-separated rows. Columns are mapped by the latest ``#Fields`` header, never by position, so 23-,
  24- and 33-field layouts, v2 field selections and the real-time field set (``timestamp``, ``cs-host``,
  ``c-country``, ...) all work. A row shorter than its header gets nulls for the missing trailing fields,
  unless it is too short to reach the date/time, ``x-edge-location`` and ``sc-bytes`` columns (quarantined).
  A row longer than its header is quarantined. Rows before any header (third-party exports) use the legacy
  33-field order truncated to the row's length.
* JSON lines (v2 JSON): one object per line keyed by field name.
* Parquet (v2 Parquet): one row per record.

Field names are matched after normalising spelling: ``cs(Host)``, ``cs-host``, ``cs_host`` and ``CS_HOST`` are
the same field; ``timestamp`` is epoch seconds (with milliseconds), ``timestamp(ms)`` epoch milliseconds.

Values: ``-`` (and empty) means null. The user agent is URL-decoded until stable (at most twice: CloudFront
logs it encoded, and legacy logs encode it twice, ``%2520``); URI stem, query and cookie are kept as logged.

Canonical schema (table ``cloudfront``); every column is nullable except ``timestamp``:

==========================  =====================  ========================================================
column                      type                   meaning (W3C field)
==========================  =====================  ========================================================
timestamp                   timestamp[ms, UTC]     request time (``date`` + ``time``, or ``timestamp``)
edge_location               string                 ``x-edge-location`` (``LAX1``, ``SEA19-C1``)
sc_bytes                    int64                  bytes served to the viewer, headers included (bytes)
c_ip                        string                 viewer IP
cs_method                   string                 HTTP method
cs_host                     string                 CloudFront domain name (``dxxxx.cloudfront.net``)
cs_uri_stem                 string                 path, as logged (URL-encoded)
sc_status                   int32                  HTTP status (0 when the viewer closed the connection)
cs_referer                  string                 Referer header
cs_user_agent               string                 User-Agent header, URL-decoded
cs_uri_query                string                 query string, as logged
cs_cookie                   string                 Cookie header, as logged
edge_result_type            string                 ``x-edge-result-type`` (``Hit``, ``Miss``, ``Error``)
edge_request_id             string                 ``x-edge-request-id``
host_header                 string                 ``x-host-header`` (alias or CloudFront domain)
cs_protocol                 string                 ``http`` / ``https`` / ``ws`` / ``wss``
cs_bytes                    int64                  bytes received from the viewer (bytes)
time_taken                  double                 request time at the edge (seconds)
forwarded_for               string                 ``x-forwarded-for``
ssl_protocol                string                 TLS protocol
ssl_cipher                  string                 TLS cipher
edge_response_result_type   string                 ``x-edge-response-result-type``
cs_protocol_version         string                 ``HTTP/1.1``, ``HTTP/2.0``, ...
fle_status                  string                 field-level encryption status
fle_encrypted_fields        string                 field-level encryption field count
c_port                      int32                  viewer port
time_to_first_byte          double                 seconds to first byte (as logged)
edge_detailed_result_type   string                 ``x-edge-detailed-result-type`` (``OriginDnsError``, ...)
sc_content_type             string                 Content-Type of the response
sc_content_len              int64                  Content-Length of the response (bytes)
sc_range_start              int64                  range request start (bytes)
sc_range_end                int64                  range request end (bytes)
c_country                   string                 viewer country (real-time / v2 logs)
distribution_id             string                 from a ``DistributionId`` field, else the object key
                                                   ``<prefix>/<DISTRIBUTION_ID>.YYYY-MM-DD-HH.<unique>.gz``
extra                       map<string, string>    other fields, by their logged name (null when none)
==========================  =====================  ========================================================

Decisions: RTMP distribution logs (``x-event``, ``x-sname`` ... in ``#Fields``) raise ``UnreadableObject``
("RTMP logs are not supported"): RTMP was retired in 2020 and its rows are streaming events, not requests.
An object none of whose first 20 non-blank lines is a ``#Version``/``#Fields`` directive, a JSON object or a
date-first row (binary garbage, another format, headerless real-time rows whose field order is unknowable)
raises ``UnreadableObject``;
once accepted, each bad line is quarantined on its own. Lines starting with ``#`` are directives, not records.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from functools import lru_cache
from urllib.parse import unquote

import pyarrow as pa
import pyarrow.parquet as pq

from egress_optimizer.ingest.base import (
    DEFAULT_BATCH_ROWS,
    RAW_LIMIT,
    ObjectBody,
    QuarantineSink,
    SourceObject,
    UnreadableObject,
)
from egress_optimizer.ingest.s3_access import RowBatcher, build_batch, is_blank, iter_lines, numbered, sniffed
from egress_optimizer.ingest.salvage import ReadableStream
from egress_optimizer.tables import CLOUDFRONT

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
MAX_EPOCH_MS = 253_402_300_800_000  # 10000-01-01: later "timestamps" are garbage
MAX_JSON_PLANS = 256  # distinct JSON key sets remembered per object

SCHEMA = CLOUDFRONT.schema

# Legacy standard log order (33 fields since 2019; older files stop after 23 or 24 of them).
LEGACY_FIELDS = (
    "date time x-edge-location sc-bytes c-ip cs-method cs(Host) cs-uri-stem sc-status cs(Referer) "
    "cs(User-Agent) cs-uri-query cs(Cookie) x-edge-result-type x-edge-request-id x-host-header cs-protocol "
    "cs-bytes time-taken x-forwarded-for ssl-protocol ssl-cipher x-edge-response-result-type "
    "cs-protocol-version fle-status fle-encrypted-fields c-port time-to-first-byte "
    "x-edge-detailed-result-type sc-content-type sc-content-len sc-range-start sc-range-end"
).split()

# Normalised field name -> record key (a schema column, or date/time/timestamp/timestamp_ms).
_CANON = {
    "date": "date",
    "time": "time",
    "timestamp": "timestamp",
    "timestamp-ms": "timestamp_ms",
    "x-edge-location": "edge_location",
    "sc-bytes": "sc_bytes",
    "c-ip": "c_ip",
    "cs-method": "cs_method",
    "cs-host": "cs_host",
    "cs-uri-stem": "cs_uri_stem",
    "sc-status": "sc_status",
    "cs-referer": "cs_referer",
    "cs-referrer": "cs_referer",
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
    "distributionid": "distribution_id",
    "distribution-id": "distribution_id",
}
_REQUIRED = {"date", "time", "timestamp", "timestamp_ms", "edge_location", "sc_bytes"}
_RTMP_FIELDS = {"x-event", "x-sname", "x-sname-query", "x-file-ext", "x-sid"}

_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_CLOCK = re.compile(r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?")
_DECIMAL = re.compile(r"([0-9]+)(?:\.([0-9]*))?|\.([0-9]+)")
_DATE_ROW = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\t")
_LEGACY_ROW = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\t[0-9]{2}:[0-9]{2}:[0-9]{2}\t[A-Za-z0-9-]+\t[0-9]+(?:\t|$)")
_CF_COLUMNS = {"x-edge-location", "x-edge-request-id", "x-edge-result-type"}
_CF_NAMES = re.compile(rb"x[-_]edge[-_](?:location|request[-_]id|result[-_]type)", re.IGNORECASE)
_DIST_KEY = re.compile(
    r"(?:^|[^A-Z0-9])([A-Z0-9]{6,20})\.[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}\.[0-9A-Za-z]+"
    r"(?:\.(?:gz|log|json|parquet|txt|zst|zstd))*$"
)
_LINES_OBJECT = SourceObject(uri="<lines>", key="", size=0)


class _Bad(ValueError):
    """A record value that cannot be converted; the message is the quarantine reason."""


@dataclass(frozen=True)
class _Plan:
    """How to read a row laid out by one field list."""

    keys: tuple[str | None, ...]  # record key per position; None = not canonical (goes to ``extra``)
    extra: tuple[tuple[int, str], ...]  # (position, logged name) of the non-canonical fields
    required: int  # a row needs at least this many fields to reach every required field

    @property
    def n(self) -> int:
        return len(self.keys)


def _norm(name: str) -> str:
    return name.strip().lower().replace("(", "-").replace(")", "").replace("_", "-")


def _plan(names: Sequence[str], check_rtmp: bool = True) -> _Plan:
    norm = [_norm(n) for n in names]
    if check_rtmp and _RTMP_FIELDS.intersection(norm):
        raise UnreadableObject("RTMP logs are not supported")
    keys = tuple(_CANON.get(n) for n in norm)
    extra = tuple((i, str(names[i])) for i, k in enumerate(keys) if k is None)
    required = max((i + 1 for i, k in enumerate(keys) if k in _REQUIRED), default=0)
    return _Plan(keys, extra, required)


_LEGACY_PLAN = _plan(LEGACY_FIELDS)


class CloudFrontParser:
    """Parses CloudFront access log objects into the ``cloudfront`` table (see the module docstring)."""

    source = "cloudfront"
    table = CLOUDFRONT
    schema = SCHEMA

    def parse(
        self,
        body: ObjectBody,
        obj: SourceObject,
        quarantine: QuarantineSink,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> Iterator[pa.RecordBatch]:
        if batch_rows < 1:
            raise ValueError("batch_rows must be at least 1")
        dist = distribution_from_key(obj.key)
        if body.is_parquet():
            yield from _parse_parquet(body, quarantine, batch_rows, dist)
            return
        with body.raw() as raw, ReadableStream(raw) as stream:
            lines = sniffed(iter_lines(stream), _looks_like_line, "a CloudFront access log")
            yield from _parse_text(lines, quarantine, batch_rows, dist)


def parse_lines(lines: Iterable[str | bytes], key: str = "") -> tuple[pa.Table, list[dict]]:
    """Parse in-memory lines (W3C directives, rows or JSON; no object-level sniffing): ``(rows, quarantined)``."""
    sink = QuarantineSink("cloudfront", _LINES_OBJECT)
    batches = list(_parse_text(numbered(lines), sink, DEFAULT_BATCH_ROWS, distribution_from_key(key)))
    return pa.Table.from_batches(batches, schema=SCHEMA), sink.rows


def looks_like(head: bytes, key: str) -> bool:
    """Whether an object is a CloudFront log: by its first lines when they are decisive, else by its key."""
    if not head.startswith(b"PAR1"):
        for raw in head.split(b"\n", 8)[:8]:
            line = raw.removeprefix(b"\xef\xbb\xbf").strip(b" \r\n")
            if not line:
                continue
            if line.startswith(b"#") and not line.startswith(b"#Fields:"):
                continue  # #Version etc.: other W3C logs (IIS) share them; the #Fields line decides
            if line.startswith(b"#Fields:") or line.startswith(b"{"):
                return _CF_NAMES.search(line) is not None
            return _LEGACY_ROW.match(line.decode("utf-8", "replace")) is not None
    return distribution_from_key(key) is not None


def looks_like_parquet(body: ObjectBody) -> bool:
    """Whether a Parquet object is a CloudFront (v2) log, from its column names (reads the footer only)."""
    try:
        with body.seekable() as f:
            names = pq.ParquetFile(f).schema_arrow.names
    except (pa.ArrowException, OSError, ValueError):
        return False
    return not _CF_COLUMNS.isdisjoint(_norm(n) for n in names)


def distribution_from_key(key: str) -> str | None:
    """The distribution id in a standard log object key (``.../E2QWRUHAPOMQZL.2019-12-04-21.a1b2c3d4.gz``)."""
    m = _DIST_KEY.search(key.rsplit("/", 1)[-1])
    return m.group(1) if m else None


def _looks_like_line(line: str) -> bool:
    """A W3C directive, a JSON object or a date-first row: enough to accept an object as CloudFront."""
    if line.startswith(("#Version:", "#Fields:")):
        return True
    if line.startswith("{"):
        try:
            return isinstance(json.loads(line), dict)
        except (ValueError, RecursionError):
            return False
    return _DATE_ROW.match(line) is not None


# ---------------------------------------------------------------------------------------------------------
# Text (W3C rows and JSON lines).


def _parse_text(
    lines: Iterable[tuple[int, str, str | None]], quarantine: QuarantineSink, batch_rows: int, dist: str | None
) -> Iterator[pa.RecordBatch]:
    plan = _LEGACY_PLAN  # until a #Fields directive says otherwise
    json_plans: dict[tuple[str, ...], _Plan] = {}
    batcher = RowBatcher(SCHEMA, quarantine, batch_rows)
    for n, line, error in lines:
        if error is None:
            line = line.rstrip("\r")
            if is_blank(line):
                continue
            if line[0] == "#":
                if line.startswith("#Fields:"):
                    plan = _plan(line[len("#Fields:") :].split())
                continue
        quarantine.read += 1
        if error is not None:
            quarantine.add(n, line, error)
            continue
        result = _json_record(line, json_plans, dist) if line[0] == "{" else _row_record(line, plan, dist)
        if isinstance(result, str):
            quarantine.add(n, line, result)
            continue
        if (batch := batcher.add(n, result)) is not None:
            yield batch
    if (batch := batcher.flush()) is not None:
        yield batch


def _row_record(line: str, plan: _Plan, dist: str | None) -> tuple | str:
    row = line.split("\t")
    if len(row) > plan.n:
        while len(row) > plan.n and row[-1] == "":
            row.pop()  # a trailing tab is harmless
        if len(row) > plan.n:
            return f"expected {plan.n} fields, got {len(row)}"
    if len(row) < plan.required:
        return f"expected at least {plan.required} fields, got {len(row)}"
    return _record(row, plan, dist)


def _json_record(line: str, plans: dict[tuple[str, ...], _Plan], dist: str | None) -> tuple | str:
    try:
        obj = json.loads(line)
    except (ValueError, RecursionError) as e:
        return f"invalid JSON: {str(e)[:100]}"
    if not isinstance(obj, dict):
        return "JSON record is not an object"
    names = tuple(obj)
    plan = plans.get(names)
    if plan is None:
        if len(plans) >= MAX_JSON_PLANS:
            plans.clear()
        plan = plans[names] = _plan(names, check_rtmp=False)
    return _record(list(obj.values()), plan, dist)


# ---------------------------------------------------------------------------------------------------------
# Parquet (standard logging v2).


def _parse_parquet(
    body: ObjectBody, quarantine: QuarantineSink, batch_rows: int, dist: str | None
) -> Iterator[pa.RecordBatch]:
    with body.seekable() as f:
        try:
            pf = pq.ParquetFile(f)
        except (pa.ArrowException, OSError, ValueError) as e:
            raise UnreadableObject(f"corrupt Parquet: {e}") from None
        names = pf.schema_arrow.names
        plan = _plan(names)
        batches = pf.iter_batches(batch_size=batch_rows)
        n = 0
        while True:
            try:
                data = next(batches)
            except StopIteration:
                break
            except (pa.ArrowException, OSError, ValueError) as e:
                raise UnreadableObject(f"corrupt Parquet: {e}") from None
            rows: list[tuple] = []
            numbers: list[int] = []
            for values in zip(*(c.to_pylist() for c in data.columns), strict=True):
                n += 1
                quarantine.read += 1
                result = _record(list(values), plan, dist)
                if isinstance(result, str):
                    raw = json.dumps(dict(zip(names, values, strict=True)), default=str)[:RAW_LIMIT]
                    quarantine.add(n, raw, result)
                    continue
                rows.append(result)
                numbers.append(n)
            batch = build_batch(rows, numbers, SCHEMA, quarantine) if rows else None
            if batch is not None:
                yield batch


# ---------------------------------------------------------------------------------------------------------
# One record, from values laid out by a plan.


def _record(values: list, plan: _Plan, dist: str | None) -> tuple | str:
    rec = dict(zip(plan.keys, values, strict=False))  # shorter rows: the missing trailing fields stay absent
    g = rec.get
    try:
        row = (
            _timestamp(rec),
            _s(g("edge_location")),
            _i(g("sc_bytes"), "sc-bytes", INT64_MAX),
            _s(g("c_ip")),
            _s(g("cs_method")),
            _s(g("cs_host")),
            _s(g("cs_uri_stem")),
            _i(g("sc_status"), "sc-status", INT32_MAX),
            _s(g("cs_referer")),
            _ua(_s(g("cs_user_agent"))),
            _s(g("cs_uri_query")),
            _s(g("cs_cookie")),
            _s(g("edge_result_type")),
            _s(g("edge_request_id")),
            _s(g("host_header")),
            _s(g("cs_protocol")),
            _i(g("cs_bytes"), "cs-bytes", INT64_MAX),
            _f(g("time_taken"), "time-taken"),
            _s(g("forwarded_for")),
            _s(g("ssl_protocol")),
            _s(g("ssl_cipher")),
            _s(g("edge_response_result_type")),
            _s(g("cs_protocol_version")),
            _s(g("fle_status")),
            _s(g("fle_encrypted_fields")),
            _i(g("c_port"), "c-port", INT32_MAX),
            _f(g("time_to_first_byte"), "time-to-first-byte"),
            _s(g("edge_detailed_result_type")),
            _s(g("sc_content_type")),
            _i(g("sc_content_len"), "sc-content-len", INT64_MAX),
            _i(g("sc_range_start"), "sc-range-start", INT64_MAX),
            _i(g("sc_range_end"), "sc-range-end", INT64_MAX),
            _s(g("c_country")),
            _s(g("distribution_id")) or dist,
            {name: _s(values[i]) for i, name in plan.extra if i < len(values)} or None,
        )
    except _Bad as e:
        return str(e)
    return row


def _null(v: object) -> bool:
    return v is None or v == "-" or v == ""


def _s(v: object) -> str | None:
    if isinstance(v, str):
        return None if v == "-" or v == "" else v
    if v is None:
        return None
    if isinstance(v, dict | list):
        return json.dumps(v, default=str)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return str(v)


def _ua(v: str | None) -> str | None:
    """Percent-decode until stable, at most twice (legacy logs double-encode: ``%2520``)."""
    for _ in range(2):
        if v is None or "%" not in v:
            break
        decoded = unquote(v)
        if decoded == v:
            break
        v = decoded
    return v


def _i(v: object, name: str, hi: int) -> int | None:
    if _null(v):
        return None
    if isinstance(v, str):
        if not (v.isascii() and v.isdigit()) or len(v) > 19:
            raise _Bad(f"invalid {name} {v[:40]!r}")
        n = int(v)
    elif isinstance(v, bool):
        raise _Bad(f"invalid {name} {v!r}")
    elif isinstance(v, int):
        n = v
    elif isinstance(v, float) and v.is_integer():
        n = int(v)
    else:
        raise _Bad(f"invalid {name} {str(v)[:40]!r}")
    if not 0 <= n <= hi:
        raise _Bad(f"invalid {name} {str(v)[:40]!r}")
    return n


def _f(v: object, name: str) -> float | None:
    if _null(v):
        return None
    if isinstance(v, str):
        if _DECIMAL.fullmatch(v) is None or len(v) > 40:
            raise _Bad(f"invalid {name} {v[:40]!r}")
        return float(v)
    if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and v >= 0:
        return float(v)
    raise _Bad(f"invalid {name} {str(v)[:40]!r}")


def _timestamp(rec: dict) -> int:
    d, t = rec.get("date"), rec.get("time")
    if not (_null(d) and _null(t)):
        return _day_ms(d) + _clock_ms(t)
    ts = rec.get("timestamp")
    if not _null(ts):
        return _epoch_ms(ts, "timestamp", 1000)
    ts = rec.get("timestamp_ms")
    if not _null(ts):
        return _epoch_ms(ts, "timestamp(ms)", 1)
    raise _Bad("missing date and time")


def _day_ms(d: object) -> int:
    if isinstance(d, str):
        ms = _date_str_ms(d)
        if ms is None:
            raise _Bad(f"invalid date {d[:40]!r}")
        return ms
    if isinstance(d, datetime):
        d = d.date()
    if isinstance(d, date):
        return (d.toordinal() - _EPOCH_ORDINAL) * 86_400_000
    raise _Bad("missing date" if _null(d) else f"invalid date {str(d)[:40]!r}")


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


@lru_cache(maxsize=1024)
def _date_str_ms(text: str) -> int | None:
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    try:
        d = date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None
    return (d.toordinal() - _EPOCH_ORDINAL) * 86_400_000


def _clock_ms(t: object) -> int:
    if isinstance(t, str):
        m = _CLOCK.fullmatch(t)
        if m is None or int(m[1]) > 23 or int(m[2]) > 59 or int(m[3]) > 59:
            raise _Bad(f"invalid time {t[:40]!r}")
        frac = int((m[4] or "0")[:3].ljust(3, "0"))
        return ((int(m[1]) * 60 + int(m[2])) * 60 + int(m[3])) * 1000 + frac
    if isinstance(t, time):
        return ((t.hour * 60 + t.minute) * 60 + t.second) * 1000 + t.microsecond // 1000
    raise _Bad("missing time" if _null(t) else f"invalid time {str(t)[:40]!r}")


def _epoch_ms(v: object, name: str, scale: int) -> int:
    """Epoch seconds (``scale`` 1000) or milliseconds (``scale`` 1) as integer milliseconds, exactly."""
    ms: int | None = None
    if isinstance(v, str):
        m = _DECIMAL.fullmatch(v)
        if m is not None and len(v) <= 30:
            whole, frac = (m[1] or "0"), (m[2] or m[3] or "")
            digits = len(str(scale)) - 1  # fraction digits that are still whole milliseconds
            ms = int(whole) * scale + (int(frac[:digits].ljust(digits, "0")) if digits else 0)
    elif isinstance(v, datetime):
        ms = round(v.timestamp() * 1000) if v.tzinfo else round((v - datetime(1970, 1, 1)).total_seconds() * 1000)
    elif isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v):
        ms = round(v * scale)
    if ms is None or not 0 <= ms < MAX_EPOCH_MS:
        raise _Bad(f"invalid {name} {str(v)[:40]!r}")
    return ms
