"""S3 server access log parser.

Input: the text objects S3 delivers to the logging target bucket, one record per line. Fields are separated by
single spaces; a field is bare (``REST.GET.OBJECT``), bracketed (the time, ``[06/Feb/2019:00:00:38 +0000]``)
or double-quoted (request URI, referrer, user agent; the value may contain spaces and commas, and a quote
inside it is written ``\\"``). ``-`` and ``"-"`` both mean "no value". Records have 18 fields (old logs end
after the version id) up to 27 today; fields AWS appends in future are kept in ``extra_fields``.

Object keys (``looks_like`` recognises both; see AWS ``TargetObjectKeyFormat``):

* SimplePrefix:      ``[prefix]YYYY-MM-DD-hh-mm-ss-UniqueString``
* PartitionedPrefix: ``[prefix]SourceAccountId/SourceRegion/SourceBucket/YYYY/MM/DD/YYYY-MM-DD-hh-mm-ss-UniqueString``

Canonical schema (table ``s3_access``); every column is nullable (null where the log has ``-`` or the record
is too old to have the field) except ``time``:

=======================  ======================  ==========================================================
column                   type                    meaning
=======================  ======================  ==========================================================
bucket_owner             string                  canonical user id of the source bucket owner
bucket                   string                  bucket the request was made to
time                     timestamp[ms, UTC]      time the request was received (never null)
remote_ip                string                  requester IP address
requester                string                  canonical id, IAM ARN, ``svc:...`` or null (anonymous)
request_id               string                  S3 request id
operation                string                  ``REST.GET.OBJECT``, ``BATCH.DELETE.OBJECT``, ...
key                      string                  object key as logged (URL-encoded, not decoded)
request_uri              string                  Request-URI part of the HTTP request line, quotes removed
http_status              int32                   HTTP status code
error_code               string                  S3 error code (``NoSuchKey``, ...)
bytes_sent               int64                   response bytes sent, excluding HTTP headers (bytes)
object_size              int64                   total size of the object (bytes)
total_time_ms            int64                   time the request was in flight, server side (ms)
turn_around_time_ms      int64                   time S3 spent processing the request (ms)
referer                  string                  HTTP Referer header
user_agent               string                  HTTP User-Agent header, ``\\"`` unescaped to ``"``
version_id               string                  object version id
host_id                  string                  ``x-amz-id-2``
signature_version        string                  ``SigV2`` / ``SigV4``
cipher_suite             string                  TLS cipher suite (null for HTTP)
authentication_type      string                  ``AuthHeader`` / ``QueryString``
host_header              string                  endpoint used to connect to S3
tls_version              string                  ``TLSv1.2`` ... (null for HTTP)
access_point_arn         string                  ARN of the access point used
acl_required             string                  ``Yes`` when an ACL was required for authorization
source_region            string                  region the request came from (when AWS knows it)
extra_fields             list<string>            fields after ``source_region`` (null when there are none)
=======================  ======================  ==========================================================

Decisions: a record with fewer than 18 fields, an unbalanced quote/bracket, an invalid time or a non-numeric
numeric field is quarantined, never emitted. An object none of whose first 20 non-blank lines looks like an
access log record (binary garbage, another log format) raises ``UnreadableObject``; once an object is
accepted, each bad line is quarantined on its own. Undecodable UTF-8 bytes become U+FFFD (the record is kept:
its byte counts still matter for egress).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from functools import lru_cache
from typing import BinaryIO

import pyarrow as pa

from egress_optimizer.ingest.base import (
    DEFAULT_BATCH_ROWS,
    RAW_LIMIT,
    ObjectBody,
    QuarantineSink,
    SourceObject,
    UnreadableObject,
)
from egress_optimizer.ingest.salvage import ReadableStream
from egress_optimizer.tables import S3_ACCESS

MIN_FIELDS = 18
KNOWN_FIELDS = 27
MAX_LINE_BYTES = 1 << 20  # a longer "line" is not a log record (binary data); quarantined without buffering it
SNIFF_LINES = 20  # lines inspected to accept or reject an object as a whole
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

SCHEMA = S3_ACCESS.schema

# One field: a quoted string with \-escapes, a bracketed value, or a bare token (which may not start with a
# quote, so an unterminated quote leaves characters unmatched and the join check below catches it). Brackets
# only hold the time, so their length is capped: an unclosed '[' must not make every later '[' rescan the line.
_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|\[[^\]]{0,64}\]|[^ "][^ ]*')
_TIME = re.compile(r"([0-9]{2})/([A-Za-z]{3})/([0-9]{4}):([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})")
_MONTHS = {m: i for i, m in enumerate(("jan feb mar apr may jun jul aug sep oct nov dec").split(), 1)}
_RECORD_START = re.compile(
    r"\S+ \S+ \[[0-9]{2}/[A-Za-z]{3}/[0-9]{4}:[0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}\] ", re.ASCII
)
_KEY_NAME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9]{2}-[0-9A-Za-z]+$", re.ASCII)
_BOM = b"\xef\xbb\xbf"
_LINES_OBJECT = SourceObject(uri="<lines>", key="", size=0)


class S3AccessParser:
    """Parses S3 server access log objects into the ``s3_access`` table (see the module docstring)."""

    source = "s3-access"
    table = S3_ACCESS
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
        with body.raw() as raw, ReadableStream(raw) as stream:
            lines = sniffed(iter_lines(stream), _looks_like_record, "an S3 server access log")
            yield from _parse_records(lines, quarantine, batch_rows)


def parse_lines(lines: Iterable[str | bytes]) -> tuple[pa.Table, list[dict]]:
    """Parse in-memory lines (one record per item, no object-level sniffing): ``(rows, quarantined)``."""
    sink = QuarantineSink("s3-access", _LINES_OBJECT)
    batches = list(_parse_records(numbered(lines), sink, DEFAULT_BATCH_ROWS))
    return pa.Table.from_batches(batches, schema=SCHEMA), sink.rows


def looks_like(head: bytes, key: str) -> bool:
    """Whether an object is an S3 access log: by its first line when there is one, else by its key's name."""
    for raw in head.split(b"\n", 8)[:8]:
        line = raw.removeprefix(_BOM).decode("utf-8", "replace").strip()
        if line:
            return _looks_like_record(line)
    return bool(_KEY_NAME.search(key.rsplit("/", 1)[-1]))


def _looks_like_record(line: str) -> bool:
    return _RECORD_START.match(line) is not None


# ---------------------------------------------------------------------------------------------------------
# Helpers shared with the CloudFront parser: line splitting, sniffing, batch building.


def iter_lines(stream: BinaryIO, chunk_size: int = 1 << 20) -> Iterator[tuple[int, str, str | None]]:
    """``(line_number, text, error)`` for every line of a binary stream, read in chunks.

    Lines are split on ``\\n`` only and decoded as UTF-8 (bad bytes become U+FFFD). A line longer than
    ``MAX_LINE_BYTES`` is not buffered: it is reported once with its first bytes and an error, and the rest of
    it is skipped, so memory stays bounded whatever the object holds."""
    buf = b""
    lineno = 0
    skipping = False  # inside an over-long line that was already reported
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            break
        buf = buf + chunk if buf else chunk
        parts = buf.split(b"\n")
        buf = parts.pop()
        for part in parts:
            lineno += 1
            if skipping:
                skipping = False
                continue
            yield lineno, _decode(part, lineno), None
        if len(buf) > MAX_LINE_BYTES and not skipping:
            skipping = True
            yield lineno + 1, buf[:RAW_LIMIT].decode("utf-8", "replace"), f"line longer than {MAX_LINE_BYTES} bytes"
            buf = b""
        elif skipping:
            buf = b""
    problem = getattr(stream, "problem", None)  # a damaged object (see ``salvage.ReadableStream``)
    if problem:  # the last line stops where the damage starts: it is not the record it was
        yield lineno + 1, _decode(buf, lineno + 1), f"object damaged here ({problem}); the rest is lost"
    elif buf and not skipping:
        yield lineno + 1, _decode(buf, lineno + 1), None


def _decode(line: bytes, lineno: int) -> str:
    # Editors and Windows tools put a byte-order mark in front of the first line.
    return line.decode("utf-8", "replace").removeprefix("\ufeff") if lineno == 1 else line.decode("utf-8", "replace")


def numbered(lines: Iterable[str | bytes]) -> Iterator[tuple[int, str, str | None]]:
    """In-memory lines as ``iter_lines`` yields them: decoded, without the line break, lone surrogates replaced."""
    for n, line in enumerate(lines, 1):
        if isinstance(line, bytes):
            text = line.decode("utf-8", "replace")
        else:
            text = line
            try:
                text.encode("utf-8")
            except UnicodeEncodeError:  # lone surrogates cannot go into Arrow strings
                text = text.encode("utf-8", "replace").decode("utf-8")
        yield n, text.removesuffix("\n"), None


def is_blank(line: str) -> bool:
    """Blank lines are not records (only ASCII whitespace counts, so odd control characters are records)."""
    return not line.strip(" \t\r\n")


def sniffed(
    lines: Iterator[tuple[int, str, str | None]], looks_ok: Callable[[str], bool], what: str
) -> Iterator[tuple[int, str, str | None]]:
    """The same lines, after checking that at least one of the first non-blank ones ``looks_ok``.

    Raises ``UnreadableObject`` before any record is counted when none does (binary data, another format)."""
    head = []
    for item in lines:
        if item[2] is None and is_blank(item[1]):
            head.append(item)
            continue
        head.append(item)
        if item[2] is None and looks_ok(item[1].strip(" \t\r\n")):
            return itertools.chain(head, lines)
        if sum(1 for _, t, e in head if e is not None or not is_blank(t)) >= SNIFF_LINES:
            break
    if any(e is not None or not is_blank(t) for _, t, e in head):
        first = next(t for _, t, e in head if e is not None or not is_blank(t))
        raise UnreadableObject(f"not {what}: no record among the first lines (first: {first[:80]!r})")
    return iter(head)


def build_batch(
    rows: list[tuple], numbers: list[int], schema: pa.Schema, quarantine: QuarantineSink
) -> pa.RecordBatch | None:
    """Rows (tuples in schema order) as one batch. Parsers validate every value, so conversion should not
    fail; if it does anyway, the offending rows are quarantined rather than failing the object."""
    try:
        return _batch(rows, schema)
    except (pa.ArrowException, ValueError, TypeError, OverflowError):
        good = []
        for row, n in zip(rows, numbers, strict=True):
            try:
                _batch([row], schema)
            except (pa.ArrowException, ValueError, TypeError, OverflowError) as e:
                raw = " ".join("-" if v is None else str(v) for v in row).encode("utf-8", "replace").decode()
                quarantine.add(n, raw, f"cannot convert record: {str(e)[:200]}")
            else:
                good.append(row)
        return _batch(good, schema) if good else None


class RowBatcher:
    """Collects parsed rows with their record numbers and hands out a batch every ``batch_rows`` rows."""

    def __init__(self, schema: pa.Schema, quarantine: QuarantineSink, batch_rows: int):
        self.schema, self.quarantine, self.batch_rows = schema, quarantine, batch_rows
        self.rows: list[tuple] = []
        self.numbers: list[int] = []

    def add(self, number: int, row: tuple) -> pa.RecordBatch | None:
        self.rows.append(row)
        self.numbers.append(number)
        return self.flush() if len(self.rows) >= self.batch_rows else None

    def flush(self) -> pa.RecordBatch | None:
        if not self.rows:
            return None
        batch = build_batch(self.rows, self.numbers, self.schema, self.quarantine)
        self.rows, self.numbers = [], []
        return batch


def _batch(rows: list[tuple], schema: pa.Schema) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(schema)
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, schema, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


# ---------------------------------------------------------------------------------------------------------
# Record parsing.


def _parse_records(
    lines: Iterable[tuple[int, str, str | None]], quarantine: QuarantineSink, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    batcher = RowBatcher(SCHEMA, quarantine, batch_rows)
    for n, line, error in lines:
        if error is None:
            line = line.strip(" \t\r\n")
            if not line:
                continue
        quarantine.read += 1
        if error is not None:
            quarantine.add(n, line, error)
            continue
        parsed = parse_record(line)
        if isinstance(parsed, str):
            quarantine.add(n, line, parsed)
            continue
        if (batch := batcher.add(n, parsed)) is not None:
            yield batch
    if (batch := batcher.flush()) is not None:
        yield batch


def parse_record(line: str) -> tuple | str:
    """One record as a tuple in ``SCHEMA`` order, or the reason it cannot be parsed."""
    tokens = _TOKEN.findall(line)
    if " ".join(tokens) != line:
        return _split_error(line)
    n = len(tokens)
    if n < MIN_FIELDS:
        return f"expected at least {MIN_FIELDS} fields, got {n}"
    values: list[str | None] = []
    for t in tokens:
        if t[0] == '"':
            v = t[1:-1]
            if '\\"' in v:
                v = v.replace('\\"', '"')
            values.append(None if v == "-" else v)
        else:
            values.append(None if t == "-" else t)
    stamp = tokens[2]
    ms = _time_ms(stamp[1:-1]) if stamp[0] == "[" and stamp[-1] == "]" and len(stamp) > 2 else None
    if ms is None:
        return f"invalid timestamp {stamp[:60]!r}"
    try:
        status = _int(values[9], "http_status", INT32_MAX)
        sent = _int(values[11], "bytes_sent", INT64_MAX)
        size = _int(values[12], "object_size", INT64_MAX)
        total = _int(values[13], "total_time", INT64_MAX)
        turn = _int(values[14], "turn_around_time", INT64_MAX)
    except ValueError as e:
        return str(e)
    if n < KNOWN_FIELDS:
        values.extend([None] * (KNOWN_FIELDS - n))
    extra = values[KNOWN_FIELDS:] or None
    return (
        values[0],
        values[1],
        ms,
        values[3],
        values[4],
        values[5],
        values[6],
        values[7],
        values[8],
        status,
        values[10],
        sent,
        size,
        total,
        turn,
        *values[15:KNOWN_FIELDS],
        extra,
    )


def _split_error(line: str) -> str:
    unmatched = _TOKEN.sub("", line).replace(" ", "")
    if '"' in unmatched:
        return "unbalanced double quote"
    if "  " in line:
        return "fields separated by more than one space"
    return "fields not separated by single spaces (unbalanced quote or bracket)"


def _int(v: str | None, name: str, hi: int) -> int | None:
    if v is None:
        return None
    if not (v.isascii() and v.isdigit()) or len(v) > 19 or int(v) > hi:
        raise ValueError(f"invalid {name} {v[:40]!r}")
    return int(v)


def _time_ms(text: str) -> int | None:
    """``06/Feb/2019:00:00:38 +0000`` as epoch milliseconds, or None when it is not a valid time."""
    m = _TIME.fullmatch(text)
    if m is None:
        return None
    day, mon, year, hh, mm, ss, sign, oh, om = m.groups()
    h, mi, sec = int(hh), int(mm), int(ss)
    if h > 23 or mi > 59 or sec > 59:
        return None
    base = _day_ms(day, mon, year, sign, oh, om)
    return None if base is None else base + ((h * 60 + mi) * 60 + sec) * 1000


@lru_cache(maxsize=4096)
def _day_ms(day: str, mon: str, year: str, sign: str, oh: str, om: str) -> int | None:
    """Epoch milliseconds of midnight of a logged day in its logged UTC offset (cached: a log spans few days)."""
    month = _MONTHS.get(mon.lower())
    if month is None or int(oh) > 23 or int(om) > 59:
        return None
    try:
        t = datetime(int(year), month, int(day), tzinfo=UTC)
    except ValueError:
        return None
    offset = (int(oh) * 60 + int(om)) * 60_000
    return int(t.timestamp()) * 1000 - (offset if sign == "+" else -offset)
