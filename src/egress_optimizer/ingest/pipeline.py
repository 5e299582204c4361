"""Ingest objects into the lake: detect the source, parse, partition, write, quarantine, account.

Guarantees, per object:
- every record is either parsed or quarantined with a reason: ``records_read == parsed + quarantined``;
- an object that cannot be read at all is recorded with its reason and does not stop the batch;
- outputs are named after the object's identity, and a re-ingest first removes the object's previous
  outputs, so ingesting the same objects any number of times leaves an identical lake.

Every table is partitioned by ``account`` / ``aws_region`` / ``dt`` (UTC date), which suits time-range
queries by account and region; the quarantine table is partitioned by ``source``.
"""

from __future__ import annotations

import importlib
import re
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from egress_optimizer import changes
from egress_optimizer.changes import hour_key
from egress_optimizer.errors import InputError
from egress_optimizer.ingest.base import Parser, QuarantineSink, SourceObject, UnreadableObject
from egress_optimizer.ingest.objects import FsBody, discover
from egress_optimizer.lake import INVENTORY_DIR, Lake
from egress_optimizer.tables import (
    BY_ACCOUNT_REGION_DAY,
    CLOUDFRONT,
    CUR,
    GLOBAL,
    PARTITION_ACCOUNT,
    PARTITION_DATE,
    PARTITION_REGION,
    PARTITION_SOURCE,
    QUARANTINE,
    S3_ACCESS,
    UNKNOWN,
    VPC_FLOW,
    Table,
)

SOURCES = ("vpc-flow", "s3-access", "cloudfront", "cur")
# Each source's parser module is named after the table it writes.
TABLES: dict[str, Table] = {"vpc-flow": VPC_FLOW, "s3-access": S3_ACCESS, "cloudfront": CLOUDFRONT, "cur": CUR}
PARTITIONS = BY_ACCOUNT_REGION_DAY

_S3_LOG_KEY = re.compile(r"(?:^|/)\d{4}-\d{2}-\d{2}-\d{2}-\d{2}-\d{2}-[0-9A-F]{16}$")
_S3_PARTITIONED = re.compile(r"(?:^|/)(\d{12})/([a-z]{2}(?:-[a-z]+)+-\d)/[^/]+/\d{4}/\d{2}/\d{2}/[^/]+$")
_CF_KEY = re.compile(r"(?:^|/)(E[0-9A-Z]{6,20})\.\d{4}-\d{2}-\d{2}-\d{2}\.[0-9a-zA-Z]+\.gz$")
_S3_HOST_REGION = re.compile(r"\.s3[.-]([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com")


@dataclass
class ObjectResult:
    uri: str
    source: str | None
    records_read: int = 0
    parsed: int = 0
    quarantined: int = 0
    bytes: int = 0
    failed: bool = False
    skipped: bool = False
    reason: str = ""
    files: list[str] = field(default_factory=list)
    # Hours of data written or removed, by partition (``account=../aws_region=../dt=..``): for the journal.
    changed_hours: dict[str, set[str]] = field(default_factory=dict)
    newest_hour: str | None = None  # of the records read (ISO, UTC): with the key's delivery time, the lag


@dataclass
class IngestReport:
    objects: list[ObjectResult] = field(default_factory=list)

    @staticmethod
    def _sum(rs: Iterable[ObjectResult]) -> dict[str, int]:
        rs = list(rs)
        return {
            "objects": len(rs),
            "objects_failed": sum(r.failed for r in rs),
            "records_read": sum(r.records_read for r in rs),
            "parsed": sum(r.parsed for r in rs),
            "quarantined": sum(r.quarantined for r in rs),
            "bytes": sum(r.bytes for r in rs),
        }

    def totals(self) -> dict[str, int]:
        return self._sum(r for r in self.objects if not r.skipped)

    def by_source(self) -> dict[str, dict[str, int]]:
        return {
            s: self._sum(r for r in self.objects if r.source == s and not r.skipped)
            for s in SOURCES
            if any(r.source == s and not r.skipped for r in self.objects)
        }

    def to_json(self) -> dict:
        return {
            "totals": self.totals(),
            "by_source": self.by_source(),
            "skipped": [{"uri": r.uri, "reason": r.reason} for r in self.objects if r.skipped],
            "failed": [{"uri": r.uri, "source": r.source, "reason": r.reason} for r in self.objects if r.failed],
            "objects": [_public(r) for r in self.objects if not r.skipped],
        }


def _public(r: ObjectResult) -> dict:
    return {k: v for k, v in asdict(r).items() if k != "changed_hours"}


def parser_for(source: str) -> Parser:
    """The parser instance for a source name."""
    module = _module(source)
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "source", None) == source and hasattr(value, "parse"):
            return value()
    raise LookupError(f"no parser registered for {source}")  # pragma: no cover - a packaging bug


def _module(source: str):
    return importlib.import_module(f"egress_optimizer.ingest.{TABLES[source].name}")


def detect_source(obj: SourceObject, body: FsBody) -> tuple[str | None, str]:
    """(source, why) from the key layout first, then the content; (None, reason) for non-log objects."""
    key = obj.key
    if _INVENTORY.search(key):
        return None, "inventory snapshot (copied into the lake for attribution)"
    if key.endswith("-Manifest.json"):
        return None, "CUR manifest (its data files are ingested instead)"
    if "vpcflowlogs" in key:
        return "vpc-flow", "key layout"
    if _CF_KEY.search(key):
        return "cloudfront", "key layout"
    if _S3_LOG_KEY.search(key):
        return "s3-access", "key layout"
    if "BILLING_PERIOD=" in key or "billing_period=" in key:
        return "cur", "key layout"
    head = body.head(65_536)
    if body.is_parquet():
        for source in ("cur", "vpc-flow", "cloudfront"):
            check = getattr(_module(source), "looks_like_parquet", None)
            if check is not None and check(body):
                return source, "parquet schema"
        return None, "Parquet file that is not a recognised log or CUR"
    for source in ("vpc-flow", "cloudfront", "cur", "s3-access"):
        try:
            if _module(source).looks_like(head, key):
                return source, "content"
        except Exception:  # a detector must never stop the batch
            continue
    return None, "not a recognised log, billing or CUR file"


def _partition_columns(source: str, table: pa.Table, obj: SourceObject) -> dict[str, pa.Array]:
    n = table.num_rows

    def const(v: str) -> pa.Array:
        return pa.array([v] * n, pa.string())

    def date_of(col: str) -> pa.Array:
        # date32 -> string is far cheaper than strftime, and gives the same YYYY-MM-DD.
        return pc.fill_null(pc.cast(pc.cast(table.column(col), pa.date32()), pa.string()), UNKNOWN)

    def col_or(col: str, default: str) -> pa.Array:
        if col not in table.column_names:
            return const(default)
        return pc.fill_null(pc.cast(table.column(col), pa.string()), default)

    if source == "vpc-flow":
        return {
            PARTITION_ACCOUNT: col_or("account_id", UNKNOWN),
            PARTITION_REGION: col_or("region", UNKNOWN),
            PARTITION_DATE: date_of(VPC_FLOW.time_column),
        }
    if source == "s3-access":
        m = _S3_PARTITIONED.search(obj.key)
        account, region = (m.group(1), m.group(2)) if m else (UNKNOWN, None)
        if region is None:
            hosts = table.column("host_header").to_pylist() if "host_header" in table.column_names else []
            found = next((r.group(1) for h in hosts if h and (r := _S3_HOST_REGION.search(h))), None)
            region = found or UNKNOWN
        return {
            PARTITION_ACCOUNT: const(account),
            PARTITION_REGION: const(region),
            PARTITION_DATE: date_of(S3_ACCESS.time_column),
        }
    if source == "cloudfront":
        m = re.search(r"AWSLogs/(\d{12})/", obj.key)
        return {
            PARTITION_ACCOUNT: const(m.group(1) if m else UNKNOWN),
            PARTITION_REGION: const(GLOBAL),
            PARTITION_DATE: date_of(CLOUDFRONT.time_column),
        }
    return {
        PARTITION_ACCOUNT: col_or("usage_account_id", UNKNOWN),
        PARTITION_REGION: col_or("region_code", GLOBAL),
        PARTITION_DATE: date_of(CUR.time_column),
    }


_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")


def _safe_partition(value: str) -> str:
    """Partition values become path segments: anything odd in them becomes '_'."""
    return _UNSAFE.sub("_", value) or UNKNOWN


def _groups(parts: dict[str, pa.Array]) -> list[tuple[tuple[str, ...], pa.Array | None]]:
    """(partition values, row mask) per distinct partition in a batch; mask None when there is only one."""
    uniques = {k: pc.unique(v) for k, v in parts.items()}
    if all(len(u) == 1 for u in uniques.values()):
        return [(tuple(_safe_partition(u[0].as_py()) for u in uniques.values()), None)]
    keys = pc.binary_join_element_wise(*parts.values(), "\x1f")
    return [
        (tuple(_safe_partition(v) for v in key.split("\x1f")), pc.equal(keys, key))
        for key in pc.unique(keys).to_pylist()
    ]


def ingest_object(lake: Lake, obj: SourceObject, body: FsBody, source: str) -> ObjectResult:
    """Parse one object into its table; never raises for bad data."""
    parser = parser_for(source)
    table = parser.table
    result = ObjectResult(uri=obj.uri, source=source, bytes=obj.size)
    q = QuarantineSink(source, obj)
    writers: dict[tuple[str, ...], object] = {}
    # Parquet encoding runs on a second thread while the parser decompresses and parses the next block
    # (both release the GIL); at most a few batches wait, so memory stays bounded.
    pending: deque[Future] = deque()
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="lake-writer") as pool:
        try:
            for batch in parser.parse(body, obj, q):
                if batch.num_rows == 0:
                    continue
                t = pa.Table.from_batches([batch])
                for values, sel in _groups(_partition_columns(source, t, obj)):
                    w = writers.get(values)
                    if w is None:
                        w = writers[values] = lake.part_writer(
                            table, dict(zip(PARTITIONS, values, strict=True)), obj.object_id, parser.schema
                        )
                    part = t if sel is None else t.filter(sel)
                    pending.append(pool.submit(w.write, part))
                    result.parsed += part.num_rows
                    _note_hours(result, values, part.column(table.time_column))
                while len(pending) > 3:
                    pending.popleft().result()
        except UnreadableObject as e:
            # Keep what was read before the object broke (conservation holds) and record the failure.
            result.failed, result.reason = True, str(e)
        except Exception:
            for f in pending:
                f.cancel()
            pool.shutdown(wait=True)
            for w in writers.values():
                w.abort()
            raise
        for f in pending:
            f.result()
    for w in writers.values():
        w.close()
    result.records_read, result.quarantined = q.read, q.count
    _replace_outputs(lake, table, obj, list(writers.values()), q, result)
    changes.record_delivery(lake, obj.object_id, table, obj.key, result.newest_hour)
    return result


def _note_hours(result: ObjectResult, partition: tuple[str, ...], times: pa.ChunkedArray) -> None:
    rel = "/".join(f"{k}={v}" for k, v in zip(PARTITIONS, partition, strict=True))
    hours = pc.unique(pc.floor_temporal(times, unit="hour")).drop_null()
    keys = {hour_key(h) for h in hours.to_pylist()}
    result.changed_hours.setdefault(rel, set()).update(keys)
    if keys:
        result.newest_hour = max(keys | ({result.newest_hour} if result.newest_hour else set()))


def _replace_outputs(
    lake: Lake, table: Table | None, obj: SourceObject, writers: list, q: QuarantineSink, result: ObjectResult
) -> None:
    """Swap this object's previous outputs for the new ones (same names, so re-ingest never duplicates)."""
    if table is not None:
        for old in lake.files_of(table, obj.object_id):  # what the object held before changes too
            hours = lake.hours_in(old, table.time_column)
            result.changed_hours.setdefault(lake.partition_of(table, old), set()).update(hours)
        lake.delete_files(table, obj.object_id)
    lake.delete_files(QUARANTINE, obj.object_id)
    result.files = [w.commit() for w in writers]
    rows = list(q.rows)
    if result.failed:
        rows.append(
            {
                "source": q.source,
                "source_object": obj.uri,
                "record_number": 0,
                "raw": "",
                "reason": f"object unreadable: {result.reason}",
            }
        )
    if rows:
        qt = pa.Table.from_pylist(rows, schema=QUARANTINE.schema)
        result.files.append(lake.write_part(QUARANTINE, qt, {PARTITION_SOURCE: q.source}, obj.object_id))


def ingest(
    paths: list[str],
    lake: Lake,
    source: str = "auto",
    progress: Callable[[ObjectResult, int, int], None] | None = None,
) -> IngestReport:
    """Ingest files and folders (local or s3://). ``source`` forces a parser; ``auto`` detects per object."""
    if source != "auto" and source not in SOURCES:
        raise InputError(f"unknown source {source!r}; choose auto or one of {', '.join(SOURCES)}")
    return ingest_objects(list(discover(paths)), lake, source, progress)


def ingest_objects(
    found: list[tuple[SourceObject, FsBody]],
    lake: Lake,
    source: str = "auto",
    progress: Callable[[ObjectResult, int, int], None] | None = None,
) -> IngestReport:
    total = sum(o.size for o, _ in found)
    report = IngestReport()
    done = 0
    _copy_inventory(found, lake)
    for obj, body in found:
        result = _one(lake, obj, body, source)
        report.objects.append(result)
        done += obj.size
        if progress:
            progress(result, done, total)
    record_changes(lake, report.objects)
    return report


def record_changes(lake: Lake, results: Iterable[ObjectResult]) -> None:
    """Journal the hours the objects changed, one entry per table (the incremental stages read it)."""
    by_table: dict[str, dict[str, set[str]]] = {}
    for r in results:
        if r.source is None or not r.changed_hours:
            continue
        merged = by_table.setdefault(r.source, {})
        for partition, hours in r.changed_hours.items():
            merged.setdefault(partition, set()).update(hours)
    for source, hours in by_table.items():
        changes.record(lake, TABLES[source], hours)


_INVENTORY = re.compile(r"(?:^|/)inventory/(.+\.json)$")


def _copy_inventory(found: list[tuple[SourceObject, FsBody]], lake: Lake) -> None:
    """Inventory snapshots travel with the logs: keep the newest copy in the lake for attribution."""
    docs = [(m.group(1), body) for obj, body in found if (m := _INVENTORY.search(obj.key))]
    if not any(rel == "organization.json" for rel, _ in docs):
        return
    for rel, body in docs:
        with body.stream() as s:
            lake.write_bytes(f"{INVENTORY_DIR}/{rel}", s.read())


def _one(lake: Lake, obj: SourceObject, body: FsBody, source: str) -> ObjectResult:
    if source == "auto":
        try:
            detected, why = detect_source(obj, body)
        except UnreadableObject as e:
            # Unreadable before its type could be told: recorded as a failed object of unknown source.
            result = ObjectResult(uri=obj.uri, source=None, bytes=obj.size, failed=True, reason=str(e))
            _replace_outputs(lake, None, obj, [], QuarantineSink(UNKNOWN, obj), result)
            return result
        if detected is None:
            return ObjectResult(uri=obj.uri, source=None, bytes=obj.size, skipped=True, reason=why)
        source = detected
    if obj.size == 0:
        result = ObjectResult(uri=obj.uri, source=source, failed=True, reason="empty object")
        _replace_outputs(lake, TABLES[source], obj, [], QuarantineSink(source, obj), result)
        return result
    return ingest_object(lake, obj, body, source)
