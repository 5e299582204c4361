"""VPC Flow Logs parser: text (any version 2-8, any field order, with or without header) and Parquet.

Canonical schema of the ``vpc_flow`` table (``tables.VPC_FLOW``; one row per flow log record; null where AWS
writes ``-``):

- every field of the AWS catalogue (``formats.vpc_flow.FIELD_VERSION``) as a column named with
  underscores (``pkt-srcaddr`` -> ``pkt_srcaddr``): strings, except
  ``version, srcport, dstport, protocol, tcp_flags, traffic_path`` (int32),
  ``packets, bytes, packets_lost_*`` (int64, bytes are bytes), and ``start, end`` (timestamp[ms, UTC];
  files in seconds and in milliseconds are both accepted);
- ``version`` is the record's ``version`` field, or, when the format does not log it, the highest
  version among the fields the format uses (it is not a schema id);
- ``account_id`` and ``region`` come from the record when logged, else from the S3 key
  (``AWSLogs/<acct>/vpcflowlogs/<region>/...``, Hive ``aws-account-id=``/``aws-region=``, or the file name);
- ``extra`` (map<string,string>): fields outside the catalogue (newer or unverified), so nothing is lost.

Text files are mapped by their header line, never by position, and both spellings (``pkt-srcaddr``,
``pkt_srcaddr``) are accepted. A file without a header is read in the default v2 format (14 fields) or
the Transit Gateway default format (36 fields). Parsing is columnar (pyarrow's CSV reader); a record
with the wrong number of fields or a value that is not a number where one is required is quarantined
with its line number, everything else is kept.
"""

from __future__ import annotations

import re
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from egress_optimizer.formats.vpc_flow import DEFAULT_FORMAT, FIELD_VERSION, TGW_DEFAULT_FORMAT, format_version
from egress_optimizer.ingest.base import DEFAULT_BATCH_ROWS, ObjectBody, QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.ingest.salvage import chunks, damaged_lines
from egress_optimizer.tables import VPC_FLOW
from egress_optimizer.tables.logs import VPC_FLOW_TIMES, vpc_flow_type

NULLS = ["-", "", "None", "null", "NULL"]


_KEY_PLAIN = re.compile(r"AWSLogs/(?:o-[a-z0-9]+/)?(\d{12})/vpcflowlogs/([a-z0-9-]+)/")
_KEY_HIVE = re.compile(r"aws-account-id=(\d{12})/aws-service=vpcflowlogs/aws-region=([a-z0-9-]+)/")
_KEY_NAME = re.compile(r"(?:^|/)(\d{12})_vpcflowlogs_([a-z0-9-]+)_fl-")


CATALOGUE = list(FIELD_VERSION)
SCHEMA = VPC_FLOW.schema


def normalise_field(name: str) -> str:
    """``pkt_srcaddr``, ``pkt-srcaddr``, ``${pkt-srcaddr}`` -> ``pkt-srcaddr``."""
    return name.strip().strip("${}").lower().replace("_", "-")


def key_account_region(key: str) -> tuple[str | None, str | None]:
    for pattern in (_KEY_HIVE, _KEY_PLAIN, _KEY_NAME):
        m = pattern.search(key)
        if m:
            return m.group(1), m.group(2)
    return None, None


def looks_like(head: bytes, key: str) -> bool:
    """A flow log by its key (``vpcflowlogs``) or its first line (a header of flow log fields, or a
    headerless default-format record)."""
    if "vpcflowlogs" in key:
        return True
    first = head.split(b"\n", 1)[0].decode("utf-8", "replace").split()
    if not first:
        return False
    names = {normalise_field(x) for x in first}
    if len(names & set(FIELD_VERSION)) >= 3:
        return bool(names & {"srcaddr", "interface-id", "log-status", "tgw-id"})
    return (
        len(first) in (len(DEFAULT_FORMAT), len(TGW_DEFAULT_FORMAT))
        and first[0].isdigit()
        and first[-1] in ("OK", "NODATA", "SKIPDATA", "-")
    )


class VpcFlowParser:
    source = "vpc-flow"
    table = VPC_FLOW
    schema = SCHEMA

    def parse(
        self, body: ObjectBody, obj: SourceObject, quarantine: QuarantineSink, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        if body.is_parquet():
            yield from self._parse_parquet(body, obj, quarantine, batch_rows)
        else:
            yield from self._parse_text(body, obj, quarantine, batch_rows)

    # ---- text -----------------------------------------------------------------------------------------------
    def _parse_text(
        self, body: ObjectBody, obj: SourceObject, q: QuarantineSink, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        head = body.head(65_536)
        if not head.strip():
            return  # an empty object has no records
        first_line = head.split(b"\n", 1)[0].decode("utf-8", "replace").split()
        has_header = bool(first_line) and not first_line[0].lstrip("-").isdigit()
        if has_header:
            fields = [normalise_field(x) for x in first_line]
            if len(set(fields) & set(FIELD_VERSION)) < 2:
                raise UnreadableObject(f"first line is not a flow log header: {' '.join(first_line)[:200]!r}")
        else:
            fields = _default_format(head)
        if len(set(fields)) != len(fields):
            raise UnreadableObject("header line names a field twice")
        acct, region = key_account_region(obj.key)
        layout = _Layout(fields, has_header, acct, region)
        if b"\x00" in head:  # the columnar reader would take a NUL for text: read line by line
            yield from self._salvage_checked(body, layout, q, batch_rows, int(has_header), 0)
            return
        rows = 0
        try:
            try:
                for batch in self._read_text(body, layout, q, batch_rows, fast=True, skip=0):
                    rows += batch.num_rows
                    yield batch
            except _SlowPath as slow:
                # A malformed record somewhere: re-read from the start record by record-exact, skipping what the
                # fast pass already emitted (those rows were all valid, so they come first in both passes).
                for batch in self._read_text(body, layout, q, batch_rows, fast=False, skip=slow.emitted):
                    rows += batch.num_rows
                    yield batch
        except _Salvage as damaged:
            # Bytes the columnar reader cannot decode (invalid UTF-8, a cut or corrupt gzip): the lines after
            # those already read, one by one, so only the damaged ones are lost.
            yield from self._salvage_checked(body, layout, q, batch_rows, damaged.lines_done, rows)

    def _read_text(
        self, body: ObjectBody, layout: _Layout, q: QuarantineSink, batch_rows: int, fast: bool, skip: int
    ) -> Iterator[pa.RecordBatch]:
        """Fast pass: typed, multi-threaded parsing; the first malformed record aborts it (``_SlowPath``).
        Exact pass: strings, single-threaded (exact line numbers), every malformed record quarantined.
        Undecodable bytes abort either (``_Salvage``, with the lines read so far)."""
        fields, has_header, acct, region = layout
        names = [f"c{i}" for i in range(len(fields))]
        bad_lines: list[tuple[int, str, str]] = []
        undecodable: list[int] = []

        def on_invalid(row: pacsv.InvalidRow) -> str:
            try:
                text = row.text or ""
            except UnicodeDecodeError:  # raising here would print a traceback and go on: note it instead
                undecodable.append(row.number or -1)
                return "skip"
            reason = f"expected {row.expected_columns} fields, got {row.actual_columns}"
            bad_lines.append((row.number or -1, text, reason))
            return "skip"

        types = {
            n: (vpc_flow_type(f) if fast and f in FIELD_VERSION else pa.string())
            for n, f in zip(names, fields, strict=True)
        }
        types = {n: (pa.int64() if t == pa.timestamp("ms", tz="UTC") else t) for n, t in types.items()}
        reader_opts = pacsv.ReadOptions(
            column_names=names, skip_rows=1 if has_header else 0, use_threads=fast, block_size=1 << 22
        )
        parse_opts = pacsv.ParseOptions(
            delimiter=" ", quote_char=False, invalid_row_handler=on_invalid, ignore_empty_lines=True
        )
        convert = pacsv.ConvertOptions(
            column_types=types, null_values=NULLS, strings_can_be_null=True, quoted_strings_can_be_null=False
        )
        line = 1 if has_header else 0  # lines consumed before the next batch's first row
        emitted = 0
        with _undecodable_rows(undecodable):
            try:
                reader = pacsv.open_csv(
                    _native(body), read_options=reader_opts, parse_options=parse_opts, convert_options=convert
                )
                while True:
                    try:
                        batch = reader.read_next_batch()
                    except StopIteration:
                        break
                    if undecodable:
                        raise _Salvage(line)
                    if fast and bad_lines:
                        raise _SlowPath(emitted)
                    if skip:
                        cut = min(skip, batch.num_rows)
                        batch, skip = batch.slice(cut), skip - cut
                        line += cut
                        if batch.num_rows == 0:
                            continue
                    if fast and (_has_nul(batch) or _missing_times(batch, fields)):  # damaged: record by record
                        raise _SlowPath(emitted)
                    if fast:
                        q.read += batch.num_rows
                        yield from _assemble(
                            {f: batch.column(i) for i, f in enumerate(fields)},
                            fields,
                            None,
                            batch.num_rows,
                            acct,
                            region,
                            batch_rows,
                        )
                    else:
                        yield from self._emit(batch, fields, acct, region, q, bad_lines, line, batch_rows)
                    emitted += batch.num_rows
                    line += batch.num_rows + len(bad_lines)
                    bad_lines.clear()
            except (UnreadableObject, _SlowPath, _Salvage):
                raise
            except pa.ArrowInvalid as e:
                if fast and "conversion error" in str(e) and "UTF8" not in str(e):  # a wrong type: record by record
                    raise _SlowPath(emitted) from None
                raise _Salvage(line) from None
            except (OSError, EOFError):
                raise _Salvage(line) from None
        if undecodable:
            raise _Salvage(line)
        if fast and bad_lines:
            raise _SlowPath(emitted)
        for number, text, reason in bad_lines:
            q.read += 1
            q.add(number, text, reason)

    def _emit(
        self,
        batch: pa.RecordBatch,
        fields: list[str],
        acct: str | None,
        region: str | None,
        q: QuarantineSink,
        bad_lines: list,
        line_before: int,
        batch_rows: int,
    ) -> Iterator[pa.RecordBatch]:
        """Exact pass: validate string columns record by record, quarantine the bad ones, type the rest."""
        for number, text, reason in bad_lines:
            q.read += 1
            q.add(number, text, reason)
        q.read += batch.num_rows
        cols = {f: batch.column(i) for i, f in enumerate(fields)}
        ok = np.ones(batch.num_rows, dtype=bool)
        typed: dict[str, pa.Array] = {}
        reasons = np.full(batch.num_rows, None, dtype=object)
        for f, arr in cols.items():
            if f not in FIELD_VERSION or vpc_flow_type(f) == pa.string():
                nul = pc.fill_null(pc.match_substring(arr, "\x00"), False).to_numpy(zero_copy_only=False)
                reasons[nul & ok] = f"NUL byte in {f}"
                ok &= ~nul
                typed[f] = arr
                continue
            want = vpc_flow_type(f)
            try:
                n64 = pc.cast(arr, pa.int64())  # the common case: every value is a number or null
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                valid = pc.or_kleene(pc.is_null(arr), pc.match_substring_regex(arr, r"^-?\d{1,18}$"))
                valid_np = valid.to_numpy(zero_copy_only=False)
                reasons[~valid_np & ok] = f"{f} is not an integer"
                ok &= valid_np
                n64 = pc.cast(pc.if_else(valid, arr, pa.nulls(len(arr), pa.string())), pa.int64())
            if want == pa.int32():
                out_of_range = pc.fill_null(pc.or_(pc.less(n64, -(2**31)), pc.greater(n64, 2**31 - 1)), False)
                if pc.any(out_of_range).as_py():
                    bad_np = out_of_range.to_numpy(zero_copy_only=False) & ok
                    reasons[bad_np] = f"{f} is out of range"
                    ok &= ~bad_np
                    n64 = pc.if_else(out_of_range, pa.nulls(len(n64), pa.int64()), n64)
                typed[f] = pc.cast(n64, pa.int32())
            else:
                typed[f] = n64
        for f in VPC_FLOW_TIMES & set(fields):
            # Every record, NODATA and SKIPDATA too, carries its capture window: without it the line is damaged.
            missing = pc.is_null(typed[f]).to_numpy(zero_copy_only=False)
            reasons[missing & ok] = f"no {f} time"
            ok &= ~missing
        if not ok.all():
            idx = np.flatnonzero(~ok)
            texts = [
                " ".join("-" if v is None else v for v in row)
                for row in zip(*(cols[f].take(pa.array(idx)).to_pylist() for f in fields), strict=True)
            ]
            skipped = sorted(n for n, _, _ in bad_lines if n > 0)  # lines the CSV reader dropped in this batch
            for i, text in zip(idx, texts, strict=True):
                number = line_before + int(i) + 1
                for b in skipped:
                    number += b <= number
                q.add(number, text, str(reasons[i]))
        keep = None if ok.all() else pa.array(ok)
        n = int(ok.sum())
        yield from _assemble(typed, fields, keep, n, acct, region, batch_rows)

    # ---- damaged text, line by line -------------------------------------------------------------------------
    def _salvage_checked(
        self, body: ObjectBody, layout: _Layout, q: QuarantineSink, batch_rows: int, lines_done: int, rows: int
    ) -> Iterator[pa.RecordBatch]:
        """The good lines of a damaged object; refused whole when no line of it is a record (``rows``: the
        records read before the damage)."""
        scratch = QuarantineSink(q.source, q.obj)
        batches = list(self._salvage(body, layout, scratch, batch_rows, lines_done))
        if not rows and not any(b.num_rows for b in batches):
            problems = [r["reason"] for r in scratch.rows]
            worst = next((p for p in problems if p.startswith("object damaged")), problems[0] if problems else "")
            raise UnreadableObject(f"no line of it is a flow log record ({worst})")
        q.read += scratch.read
        q.rows.extend(scratch.rows)
        yield from batches

    def _salvage(
        self, body: ObjectBody, layout: _Layout, q: QuarantineSink, batch_rows: int, lines_done: int
    ) -> Iterator[pa.RecordBatch]:
        """The lines after the first ``lines_done`` non-blank ones: readable lines with the right number of
        fields are parsed as the exact pass does; the others are quarantined with what is wrong with them."""
        width, seen, run = len(layout.fields), 0, []
        with body.raw() as raw:
            for line in damaged_lines(chunks(raw)):
                if line.problem is None and not line.text.strip():
                    continue
                seen += 1
                if seen <= lines_done and line.problem is None:  # read before (a damaged line never was)
                    continue
                values = line.text.split(" ")
                problem = line.problem or (
                    f"expected {width} fields, got {len(values)}" if len(values) != width else None
                )
                if problem is None:
                    run.append((line.number, values))
                if run and (problem is not None or len(run) >= batch_rows):
                    yield from self._emit_run(run, layout, q, batch_rows)
                    run = []
                if problem is not None:
                    q.read += 1
                    q.add(line.number, line.text, problem)
        if run:
            yield from self._emit_run(run, layout, q, batch_rows)

    def _emit_run(self, run: list, layout: _Layout, q: QuarantineSink, batch_rows: int) -> Iterator[pa.RecordBatch]:
        """Consecutive good lines (number, values) as the exact pass's string batch."""
        columns = [
            pa.array([None if v[i] in NULLS else v[i] for _, v in run], pa.string()) for i in range(len(layout.fields))
        ]
        batch = pa.RecordBatch.from_arrays(columns, names=[f"c{i}" for i in range(len(columns))])
        yield from self._emit(batch, layout.fields, layout.acct, layout.region, q, [], run[0][0] - 1, batch_rows)

    # ---- parquet --------------------------------------------------------------------------------------------
    def _parse_parquet(
        self, body: ObjectBody, obj: SourceObject, q: QuarantineSink, batch_rows: int
    ) -> Iterator[pa.RecordBatch]:
        try:
            pf = pq.ParquetFile(body.seekable())
        except (pa.ArrowInvalid, OSError) as e:
            raise UnreadableObject(f"not a readable Parquet file: {e}") from None
        names = pf.schema_arrow.names
        fields = [normalise_field(n) for n in names]
        if len(set(fields) & set(FIELD_VERSION)) < 3:
            raise UnreadableObject("Parquet file has no flow log columns")
        acct, region = key_account_region(obj.key)
        line = 0
        try:
            for batch in pf.iter_batches(batch_size=batch_rows):
                # Other tools write ints as strings ('None' for null) or account ids as int64: go through text.
                as_text = pa.RecordBatch.from_arrays(
                    [_to_text(c) for c in batch.columns], names=[f"c{i}" for i in range(len(names))]
                )
                yield from self._emit(as_text, fields, acct, region, q, [], line, batch_rows)
                line += batch.num_rows
        except (pa.ArrowInvalid, OSError) as e:
            raise UnreadableObject(f"cannot read Parquet flow log: {e}") from None


def _to_text(arr: pa.Array) -> pa.Array:
    if pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type):
        s = pc.cast(arr, pa.string())
    elif pa.types.is_floating(arr.type):
        # pandas writes nullable ints as floats: 443.0 -> "443"
        whole = pc.equal(arr, pc.floor(arr))
        s = pc.if_else(whole, pc.cast(pc.cast(arr, pa.int64(), safe=False), pa.string()), pc.cast(arr, pa.string()))
    else:
        s = pc.cast(arr, pa.string())
    return pc.if_else(pc.is_in(s, pa.array(NULLS)), pa.nulls(len(s), pa.string()), s)


def _default_format(head: bytes) -> list[str]:
    """The default format (VPC or transit gateway) of a file without a header, by the width most of its first
    lines have: one damaged first line does not decide for the whole file."""
    widths = Counter(len(line.split()) for line in head.split(b"\n")[:-1][:50] if line.strip())
    if not widths:  # a single line without its newline
        widths = Counter([len(head.split())])
    for width, _ in widths.most_common():
        for fmt in (DEFAULT_FORMAT, TGW_DEFAULT_FORMAT):
            if width == len(fmt):
                return list(fmt)
    width = widths.most_common(1)[0][0]
    raise UnreadableObject(f"no header line and {width} fields: not a default-format flow log")


@contextmanager
def _undecodable_rows(found: list) -> Iterator[None]:
    """pyarrow decodes a malformed row's text before calling the invalid-row handler, and an invalid UTF-8 row
    makes that decoding fail outside any handler (printed as an ignored exception): note those instead."""
    previous = sys.unraisablehook

    def hook(unraisable) -> None:
        if isinstance(unraisable.exc_value, UnicodeDecodeError):
            found.append(unraisable.exc_value)
        else:
            previous(unraisable)

    sys.unraisablehook = hook
    try:
        yield
    finally:
        sys.unraisablehook = previous


def _missing_times(batch: pa.RecordBatch, fields: list[str]) -> bool:
    return any(batch.column(i).null_count for i, f in enumerate(fields) if f in VPC_FLOW_TIMES)


def _has_nul(batch: pa.RecordBatch) -> bool:
    """Whether a text column holds a NUL (a scan of the columns' character buffers, not value by value)."""
    for col in batch.columns:
        data = col.buffers()[2] if pa.types.is_string(col.type) else None
        if data is not None and data.size and not np.frombuffer(data, dtype=np.uint8).all():
            return True
    return False


class _Layout(NamedTuple):
    """How an object's text lines read: its fields, whether a header comes first, and whose they are."""

    fields: list[str]
    has_header: bool
    acct: str | None
    region: str | None


class _Salvage(Exception):
    """The columnar reader met bytes it cannot decode after ``lines_done`` non-blank lines (a header too)."""

    def __init__(self, lines_done: int):
        super().__init__(lines_done)
        self.lines_done = lines_done


class _SlowPath(Exception):
    """The fast pass met a malformed record; ``emitted`` rows were already yielded."""

    def __init__(self, emitted: int):
        super().__init__(emitted)
        self.emitted = emitted


def _times(n64: pa.Array) -> pa.Array:
    # Seconds before 2286 are < 1e10; anything larger is milliseconds.
    ms = pc.if_else(pc.greater(n64, 10_000_000_000), n64, pc.multiply(n64, 1000))
    return pc.cast(ms, pa.timestamp("ms", tz="UTC"))


def _assemble(
    typed: dict[str, pa.Array],
    fields: list[str],
    keep: pa.Array | None,
    n: int,
    acct: str | None,
    region: str | None,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Typed columns of one batch (keyed by hyphenated field) -> batches in the canonical schema."""
    out = {}
    for field in SCHEMA:
        name = field.name
        src = name.replace("_", "-")
        if src in typed:
            arr = typed[src] if keep is None else pc.filter(typed[src], keep)
            if src in VPC_FLOW_TIMES:
                arr = _times(arr)
            elif arr.type != field.type:
                arr = pc.cast(arr, field.type)
            # NODATA/SKIPDATA records leave most fields '-': the key still says whose and where.
            fill = {"account_id": acct, "region": region}.get(name)
            out[name] = pc.fill_null(arr, fill) if fill else arr
        elif name == "version":
            out[name] = pa.array(np.full(n, format_version(fields), dtype=np.int32))
        elif name == "account_id" and acct:
            out[name] = pa.array([acct] * n, pa.string())
        elif name == "region" and region:
            out[name] = pa.array([region] * n, pa.string())
        elif name == "extra":
            out[name] = _extra(typed, fields, keep, n)
        else:
            out[name] = pa.nulls(n, field.type)
    yield from pa.table(out, schema=SCHEMA).to_batches(max_chunksize=batch_rows)


def _extra(cols: dict[str, pa.Array], fields: list[str], keep: pa.Array | None, n: int) -> pa.Array:
    unknown = [f for f in fields if f not in FIELD_VERSION]
    if not unknown:
        return pa.nulls(n, pa.map_(pa.string(), pa.string()))
    values = [cols[f] if keep is None else pc.filter(cols[f], keep) for f in unknown]
    rows = [
        [(k, v) for k, v in zip(unknown, vals, strict=True) if v is not None]
        for vals in zip(*(v.to_pylist() for v in values), strict=True)
    ]
    return pa.array(rows, pa.map_(pa.string(), pa.string()))


def _native(body: ObjectBody) -> pa.NativeFile:
    """A pyarrow input stream: C++ gzip decompression keeps the hot path out of Python."""
    native = getattr(body, "native_stream", None)
    if native is not None:
        return native()
    return pa.PythonFile(body.stream(), mode="r")


def parse_lines(lines: list[str], key: str = "") -> tuple[pa.Table, list[dict]]:
    """Parse text lines (header first, or default format) without a file; for tests and fuzzing."""
    from egress_optimizer.ingest.objects import BytesBody

    data = ("\n".join(lines) + "\n").encode()
    obj = SourceObject(uri=f"memory://{key or 'lines'}", key=key, size=len(data))
    q = QuarantineSink("vpc-flow", obj)
    batches = list(VpcFlowParser().parse(BytesBody(data), obj, q))
    table = pa.Table.from_batches(batches, schema=SCHEMA) if batches else SCHEMA.empty_table()
    return table, q.rows
