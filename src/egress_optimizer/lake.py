"""The data lake: partitioned Parquet tables under one root that is a local folder or an ``s3://`` URI.

Both kinds of root go through the same code (pyarrow filesystems), so what is tested on a laptop is what
runs in AWS. Writes are idempotent by construction: a file's name is derived from the identity of the
input it came from, so writing the same input again replaces the file instead of adding a second copy.

Tables are the registry's (``egress_optimizer.tables``): ``write_table`` partitions a derived table's rows
as the registry says, ``read_table`` gives its logical columns back, ``upsert`` merges rows into their
partitions by a key, and ``connect`` opens a DuckDB connection with a view per table.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from egress_optimizer import __version__
from egress_optimizer.errors import InputError
from egress_optimizer.tables import ALL, Table

if TYPE_CHECKING:
    import duckdb

DEFAULT_LAKE = "./egress-lake"
MARKER = "_egress_lake.json"
INVENTORY_DIR = "_inventory"  # the newest inventory snapshot ingestion found beside the logs
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_FILE_ID = re.compile(r"^[A-Za-z0-9._=-]{1,200}$")


def s3_filesystem(bucket_region: str | None = None) -> pafs.S3FileSystem:
    """S3 with the standard credential chain; AWS_ENDPOINT_URL(_S3) points it at moto or a private endpoint."""
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    kwargs: dict[str, Any] = {"region": bucket_region or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}
    if endpoint:
        scheme, _, host = endpoint.partition("://")
        kwargs.update(endpoint_override=host or endpoint, scheme=scheme if host else "https")
    return pafs.S3FileSystem(**kwargs)


def embedded_engine() -> duckdb.DuckDBPyConnection:
    """A DuckDB connection set up as every local query here runs (no progress bar on stdout, which may carry
    --json); ``Lake.connect`` adds the lake's tables to one."""
    import duckdb

    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    return con


@dataclass(frozen=True)
class Lake:
    root: str  # as given: a local path or s3://bucket/prefix
    fs: pafs.FileSystem
    base: str  # path of the root inside ``fs``

    @classmethod
    def open(cls, root: str = DEFAULT_LAKE, create: bool = True) -> Lake:
        if root.startswith("s3://"):
            base = root[len("s3://") :].rstrip("/")
            if not base or base.startswith("/"):
                raise InputError(f"lake URI {root!r} has no bucket")
            fs: pafs.FileSystem = s3_filesystem()
        elif "://" in root:
            raise InputError(f"lake root {root!r}: only local paths and s3:// URIs are supported")
        else:
            fs = pafs.LocalFileSystem()
            base = os.path.abspath(root)
            if os.path.exists(base) and not os.path.isdir(base):
                raise InputError(f"lake root {root!r} exists and is not a directory")
        lake = cls(root, fs, base)
        if create:
            lake._ensure_marker()
        elif not lake.exists(MARKER):
            raise InputError(f"{root!r} is not an egress lake (no {MARKER}); create it with `egress demo` or ingest")
        return lake

    # ---- paths -------------------------------------------------------------------------------------------
    def path(self, *parts: str) -> str:
        return "/".join([self.base, *parts])

    def uri(self, *parts: str) -> str:
        """A location DuckDB and other readers understand (local path or s3:// URI)."""
        if isinstance(self.fs, pafs.LocalFileSystem):
            return self.path(*parts)
        return "s3://" + self.path(*parts)

    def exists(self, rel: str) -> bool:
        return self.fs.get_file_info(self.path(rel)).type != pafs.FileType.NotFound

    def _ensure_marker(self) -> None:
        self.fs.create_dir(self.base, recursive=True)
        if not self.exists(MARKER):
            self.write_json(MARKER, {"format": "egress-lake", "version": 1, "created_by": __version__})

    # ---- small JSON documents (markers, manifests, model metadata) ---------------------------------------
    def write_json(self, rel: str, obj: Any) -> None:
        self._write_atomic(self.path(rel), (json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n").encode())

    def write_bytes(self, rel: str, data: bytes) -> None:
        self._write_atomic(self.path(rel), data)

    def documents(self, folder: str, suffix: str = ".json") -> dict[str, str]:
        """The text of every file under ``folder`` whose name ends with ``suffix``, by path below ``folder``."""
        base = self.path(folder)
        out = {}
        for info in self.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True)):
            if info.type == pafs.FileType.File and info.path.endswith(suffix):
                with self.fs.open_input_stream(info.path) as f:
                    out[info.path[len(base) + 1 :]] = f.read().decode()
        return out

    def read_json(self, rel: str) -> Any:
        with self.fs.open_input_stream(self.path(rel)) as f:
            return json.loads(f.read())

    def _write_atomic(self, path: str, data: bytes) -> None:
        parent = path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if isinstance(self.fs, pafs.LocalFileSystem):
            tmp = f"{path}.tmp-{uuid.uuid4().hex}"
            with self.fs.open_output_stream(tmp) as f:
                f.write(data)
            self.fs.move(tmp, path)  # rename is atomic on one filesystem: readers never see half a file
        else:
            with self.fs.open_output_stream(path) as f:  # an S3 PUT is atomic
                f.write(data)

    # ---- files of a table ----------------------------------------------------------------------------------
    def tables(self) -> list[str]:
        """The names of the table folders in the lake (registered or not)."""
        infos = self.fs.get_file_info(pafs.FileSelector(self.base, allow_not_found=True))
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory and _NAME.match(i.base_name))

    def write_part(self, table: Table | str, data: pa.Table, partition: Mapping[str, str], file_id: str) -> str:
        """Write one Parquet file at ``table/k=v/.../<file_id>.parquet``, replacing any file of the same id."""
        path = self._part_path(_name(table), partition, file_id)
        sink = pa.BufferOutputStream()
        pq.write_table(data, sink, compression="zstd", compression_level=1)
        self._write_atomic(path, sink.getvalue().to_pybytes())
        return path

    def part_writer(
        self, table: Table | str, partition: Mapping[str, str], file_id: str, schema: pa.Schema
    ) -> PartWriter:
        """A streaming writer for ``table/k=v/.../<file_id>.parquet``: batches go to a hidden temporary file,
        which ``commit`` moves into place (readers ignore names starting with '.')."""
        final = self._part_path(_name(table), partition, file_id)
        folder = final.rsplit("/", 1)[0]
        tmp = f"{folder}/.{file_id}.parquet.tmp-{uuid.uuid4().hex[:12]}"
        self.fs.create_dir(folder, recursive=True)
        return PartWriter(self, final, tmp, schema)

    def _part_path(self, table: str, partition: Mapping[str, str], file_id: str) -> str:
        _check_name(table)
        if not _FILE_ID.match(file_id):
            raise ValueError(f"file id {file_id!r} has characters that are not safe in a file name")
        parts = [f"{k}={_partition_value(v)}" for k, v in partition.items()]
        return self.path(table, *parts, f"{file_id}.parquet")

    def delete_files(self, table: Table | str, file_id: str) -> int:
        """Remove every file of one id, whatever partitions it landed in (for re-ingest with new partitions)."""
        removed = 0
        for info in self._files(_name(table)):
            if info.base_name == f"{file_id}.parquet":
                self.fs.delete_file(info.path)
                removed += 1
        return removed

    def _files(self, table: str) -> Iterable[pafs.FileInfo]:
        sel = pafs.FileSelector(self.path(table), recursive=True, allow_not_found=True)
        return [
            i for i in self.fs.get_file_info(sel) if i.type == pafs.FileType.File and i.base_name.endswith(".parquet")
        ]

    def files(self, table: Table | str) -> list[str]:
        return sorted(i.path for i in self._files(_name(table)))

    def has(self, table: Table | str) -> bool:
        """Whether the table has any data file."""
        return bool(self._files(_name(table)))

    def dataset(self, table: Table | str) -> ds.Dataset:
        """The table as a dataset; partition values are read as strings (account ids keep leading zeros)."""
        name = _name(table)
        _check_name(name)
        files = self.files(name)
        if isinstance(table, Table):
            keys = list(table.partition_by)
        elif files:
            rel = files[0][len(self.path(name)) + 1 :]
            keys = [seg.split("=", 1)[0] for seg in rel.split("/")[:-1] if "=" in seg]
        else:
            keys = []
        partitioning = ds.partitioning(pa.schema([(k, pa.string()) for k in keys]), flavor="hive")
        return ds.dataset(
            files, filesystem=self.fs, format="parquet", partitioning=partitioning, partition_base_dir=self.path(name)
        )

    def read(
        self, table: Table | str, columns: list[str] | None = None, filter: ds.Expression | None = None
    ) -> pa.Table:
        """A table's files as stored (the columns of the files and the partition columns)."""
        if not self.exists(_name(table)):
            raise InputError(f"lake {self.root!r} has no table {_name(table)!r}")
        return self.dataset(table).to_table(columns=columns, filter=filter)

    # ---- tables of the registry ---------------------------------------------------------------------------
    def read_table(
        self, table: Table, columns: list[str] | None = None, filter: ds.Expression | None = None
    ) -> pa.Table:
        """A table's logical columns (``columns`` by their logical names); partition filters are welcome."""
        stored = None if columns is None else table.stored_names(columns)
        return table.from_storage(self.read(table, stored, filter))

    def write_table(self, table: Table, data: pa.Table, file_id: str = "part-0") -> list[str]:
        """Write a derived table's rows, one file ``file_id`` per partition they fall in; returns the paths."""
        return [
            self.write_part(table, table.to_storage(rows), partition, file_id)
            for partition, rows in table.partitions(data)
        ]

    def replace_table(self, table: Table, data: pa.Table) -> list[str]:
        """Rebuild a derived table whole: its old files go, the rows are written."""
        for path in self.files(table):
            self.fs.delete_file(path)
        return self.write_table(table, data)

    def upsert(self, table: Table, data: pa.Table, key: list[str], file_id: str) -> list[str]:
        """Merge rows into their partitions' ``file_id`` files: a row replaces the row with the same ``key``,
        everything else in the file stays, so repeated runs over the same hours never duplicate rows."""
        written = []
        for partition, rows in table.partitions(data):
            path = self._part_path(table.name, partition, file_id)
            merged = table.to_storage(rows)
            if self.fs.get_file_info(path).type == pafs.FileType.File:
                with self.fs.open_input_file(path) as f:
                    old = pq.read_table(f).cast(table.storage_schema)
                merged = _merge_by_key(old, merged, table.stored_names(key))
            written.append(self.write_part(table, merged, partition, file_id))
        return written

    def connect(self, tables: Iterable[Table] = ALL) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with a view per table that has data (through pyarrow, so s3:// lakes work)."""
        con = embedded_engine()
        for table in tables:
            if self.has(table):
                con.register(table.name, self.dataset(table))
        return con


def _merge_by_key(old: pa.Table, new: pa.Table, key: list[str]) -> pa.Table:
    """``old`` without the rows whose key ``new`` has, then ``new``; sorted by the key."""
    import pandas as pd

    merged = pd.concat([old.to_pandas(), new.to_pandas()], ignore_index=True)
    merged = merged.drop_duplicates(key, keep="last").sort_values(key).reset_index(drop=True)
    return pa.Table.from_pandas(merged, schema=new.schema, preserve_index=False)


def _name(table: Table | str) -> str:
    return table.name if isinstance(table, Table) else table


class PartWriter:
    """Writes one Parquet file in row groups as batches arrive, so memory stays bounded."""

    def __init__(self, lake: Lake, final: str, tmp: str, schema: pa.Schema):
        self.lake, self.final, self.tmp = lake, final, tmp
        self._sink = lake.fs.open_output_stream(tmp)
        # Dictionary encoding pays off for low-cardinality columns only; on addresses, ports and byte counts
        # it costs time and saves nothing. Schemas may list those in their metadata.
        dense = set((schema.metadata or {}).get(b"egress.high_cardinality", b"").decode().split(","))
        dictionary = [f.name for f in schema if f.name not in dense] if dense != {""} else True
        self._writer = pq.ParquetWriter(
            self._sink, schema, compression="zstd", compression_level=1, use_dictionary=dictionary
        )
        self.rows = 0

    def write(self, batch: pa.RecordBatch | pa.Table) -> None:
        if isinstance(batch, pa.RecordBatch):
            self._writer.write_batch(batch)
        else:
            self._writer.write_table(batch)
        self.rows += batch.num_rows

    def close(self) -> None:
        self._writer.close()
        self._sink.close()

    def commit(self) -> str:
        self.lake.fs.move(self.tmp, self.final)
        return self.final

    def abort(self) -> None:
        try:
            self.close()
        finally:
            if self.lake.fs.get_file_info(self.tmp).type != pafs.FileType.NotFound:
                self.lake.fs.delete_file(self.tmp)


def _check_name(table: str) -> None:
    if not _NAME.match(table):
        raise ValueError(f"invalid table name {table!r}")


def _partition_value(v: object) -> str:
    s = str(v)
    if not s or "/" in s or s in (".", ".."):
        raise ValueError(f"invalid partition value {v!r}")
    return s
