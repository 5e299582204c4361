"""The contract every log parser follows, and the bookkeeping that guarantees nothing is lost.

A parser turns one source object's bytes into Arrow record batches in its table's canonical schema. It
never raises for bad records: each record is either parsed or quarantined with a reason, and the caller
checks that ``records_read == parsed + quarantined`` for every object. A whole object that cannot be read
at all (truncated gzip, wrong format) raises ``UnreadableObject``, which the caller records and moves on.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Protocol

import pyarrow as pa

from egress_optimizer.tables import QUARANTINE, Table

RAW_LIMIT = 2048  # quarantined raw text is truncated to 2 KB
DEFAULT_BATCH_ROWS = 65_536


class UnreadableObject(Exception):
    """The object as a whole cannot be parsed (corrupt compression, wrong format, empty)."""


@dataclass(frozen=True)
class SourceObject:
    """One input object: a local file or an S3 object, with the identity that names its outputs."""

    uri: str  # file path or s3://bucket/key
    key: str  # the S3-style key (path below the bucket, or the path below the ingested folder)
    size: int
    version: str = ""  # ETag / version id / mtime: changes when the content changes

    @property
    def object_id(self) -> str:
        """Names the object's outputs. It depends on the location only, so ingesting the same location again
        (re-delivered, rewritten or touched) replaces the previous outputs instead of adding to them."""
        return hashlib.sha256(self.uri.encode()).hexdigest()[:32]

    @property
    def name(self) -> str:
        return self.key.rsplit("/", 1)[-1]


@dataclass
class QuarantineSink:
    """Collects records that could not be parsed, with the reason, for the ``quarantine`` table."""

    source: str  # vpc-flow, s3-access, cloudfront, cur
    obj: SourceObject
    rows: list[dict] = field(default_factory=list)
    read: int = 0  # records read (parsed + quarantined); parsers increment it

    def add(self, record_number: int, raw: str | bytes, reason: str) -> None:
        if isinstance(raw, bytes):
            raw = raw.decode("utf-8", errors="replace")
        self.rows.append(
            {
                "source": self.source,
                "source_object": self.obj.uri,
                "record_number": int(record_number),
                "raw": raw[:RAW_LIMIT],
                "reason": reason,
            }
        )

    @property
    def count(self) -> int:
        return len(self.rows)


QUARANTINE_SCHEMA = QUARANTINE.schema


class ObjectBody(Protocol):
    """Access to one object's content, opened by the ingest framework (local file or S3)."""

    def stream(self) -> BinaryIO:
        """The content, gzip-decompressed when it is gzip, as a forward-only binary stream.

        Reading a truncated or corrupt gzip raises ``UnreadableObject`` (possibly after some records)."""
        ...

    def seekable(self) -> BinaryIO:
        """The raw (not decompressed) content as a seekable file, for Parquet."""
        ...

    def raw(self) -> BinaryIO:
        """The raw (not decompressed) content as a forward-only stream (see ``salvage`` for damaged gzip)."""
        ...

    def head(self, n: int = 65_536) -> bytes:
        """The first ``n`` decompressed bytes, for format detection."""
        ...

    def is_parquet(self) -> bool: ...


class Parser(Protocol):
    """One per source; stateless, so one instance can parse many objects."""

    source: str  # "vpc-flow" | "s3-access" | "cloudfront" | "cur"
    table: Table  # the lake table it writes (tables.LOG_TABLES)
    schema: pa.Schema  # canonical schema of the table (partition columns are derived from it)

    def parse(
        self, body: ObjectBody, obj: SourceObject, quarantine: QuarantineSink, batch_rows: int = DEFAULT_BATCH_ROWS
    ) -> Iterator[pa.RecordBatch]:
        """Yield batches in ``schema``; count every record in ``quarantine.read``; quarantine bad ones."""
        ...
