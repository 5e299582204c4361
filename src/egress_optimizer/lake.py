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
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from egress_optimizer import __version__
from egress_optimizer.errors import InputError
from egress_optimizer.tables import ALL, Table

if TYPE_CHECKING:
    import duckdb
    import pyarrow.dataset as ds  # imported where used: it loads pandas, which a quiet run has no need of

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
    # Hours, days and weekdays are UTC's, whatever the machine's zone (the Spark jobs set the same).
    con.execute("SET TimeZone = 'UTC'")
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

    def files_of(self, table: Table | str, file_id: str) -> list[str]:
        """The files one id wrote, whatever partitions they are in."""
        return sorted(i.path for i in self._files(_name(table)) if i.base_name == f"{file_id}.parquet")

    def partition_of(self, table: Table | str, path: str) -> str:
        """``account=1/aws_region=x/dt=d`` for a file of ``table``."""
        return path[len(self.path(_name(table))) + 1 :].rsplit("/", 1)[0]

    def hours_in(self, path: str, column: str) -> list[str]:
        """The hours (ISO, UTC) a file's ``column`` spans, from its row-group statistics (read when missing)."""
        import pandas as pd

        with self.fs.open_input_file(path) as f:
            pf = pq.ParquetFile(f)
            index = pf.schema_arrow.get_field_index(column)
            lows, highs = [], []
            for i in range(pf.metadata.num_row_groups):
                stats = pf.metadata.row_group(i).column(index).statistics
                if stats is None or not stats.has_min_max:
                    values = pf.read(columns=[column]).column(0).drop_null()
                    lows, highs = [values.to_pandas().min()], [values.to_pandas().max()]
                    break
                lows.append(stats.min)
                highs.append(stats.max)
        if not lows:
            return []
        lo, hi = pd.Timestamp(min(lows)), pd.Timestamp(max(highs))
        lo, hi = (t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC") for t in (lo, hi))
        return [h.isoformat() for h in pd.date_range(lo.floor("h"), hi.floor("h"), freq="h")]

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

    def files(self, table: Table | str, days: Iterable[str] | None = None) -> list[str]:
        """A table's data files; with ``days``, only those of the date partitions of these days (listed
        partition by partition, so the cost follows the days asked for, not the lake's age)."""
        if days is None:
            return sorted(i.path for i in self._files(_name(table)))
        out: list[str] = []
        for folder in self._day_folders(_name(table), set(days)):
            sel = pafs.FileSelector(folder, recursive=True, allow_not_found=True)
            out += [
                i.path
                for i in self.fs.get_file_info(sel)
                if i.type == pafs.FileType.File and i.base_name.endswith(".parquet") and not i.base_name.startswith(".")
            ]
        return sorted(out)

    def days(self, table: Table | str) -> set[str]:
        """The days (``dt`` partition values, YYYY-MM-DD) a table holds data for."""
        return {f.rsplit("dt=", 1)[1] for f in self._day_folders(_name(table), None)} - {"unknown"}

    def _day_folders(self, table: str, days: set[str] | None) -> list[str]:
        """The ``dt=<day>`` folders of a table for these days (all when None), below any account / region
        folders."""
        folders, level = [], [self.path(table)]
        while level:
            nxt = []
            for folder in level:
                sel = pafs.FileSelector(folder, allow_not_found=True)
                for info in self.fs.get_file_info(sel):
                    if info.type != pafs.FileType.Directory or "=" not in info.base_name:
                        continue
                    key, _, value = info.base_name.partition("=")
                    if key == "dt":
                        if days is None or value in days:
                            folders.append(info.path)
                    else:
                        nxt.append(info.path)
            level = nxt
        return sorted(folders)

    def has(self, table: Table | str) -> bool:
        """Whether the table has any data file."""
        return bool(self._files(_name(table)))

    def dataset(
        self, table: Table | str, days: Iterable[str] | None = None, hours_of_day: Iterable[int] | None = None
    ) -> ds.Dataset:
        """The table as a dataset (only ``days``' partitions when given, and of an hourly table only the ``hNN``
        files of ``hours_of_day``); partition values are read as strings (account ids keep leading zeros)."""
        import pyarrow.dataset as ds

        name = _name(table)
        _check_name(name)
        files = self.files(name, days)
        if hours_of_day is not None:
            names = {f"h{h:02d}.parquet" for h in hours_of_day}
            files = [f for f in files if f.rsplit("/", 1)[-1] in names]
        if isinstance(table, Table):
            keys = list(table.partition_by)
        elif files:
            rel = files[0][len(self.path(name)) + 1 :]
            keys = [seg.split("=", 1)[0] for seg in rel.split("/")[:-1] if "=" in seg]
        else:
            keys = []
        partitioning = ds.partitioning(pa.schema([(k, pa.string()) for k in keys]), flavor="hive")
        # Derived tables read with the registry's schema: files an older version wrote lack the newer columns
        # (null), and the first file must not decide which columns every other file loses.
        schema = table.storage_schema if isinstance(table, Table) and (table.derived or not files) else None
        if schema is not None:
            schema = pa.schema([*schema, *(pa.field(k, pa.string()) for k in keys)])
        return ds.dataset(
            files,
            schema=schema,
            filesystem=self.fs,
            format="parquet",
            partitioning=partitioning,
            partition_base_dir=self.path(name),
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
        """A table's logical columns (``columns`` by their logical names); partition filters are welcome. A table
        with no data yet reads as empty."""
        if not self.has(table):
            empty = table.schema.empty_table()
            return empty if columns is None else empty.select(columns)
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
        self.clear(table)
        return self.write_table(table, data)

    def clear(self, table: Table) -> None:
        """Remove every file of a table (a rebuild starts from nothing)."""
        for path in self.files(table):
            self.fs.delete_file(path)

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

    def drop_rows(
        self, table: Table, days: Iterable[str], where: Callable[[pa.Table], pa.Array], file_id: str
    ) -> pa.Table:
        """Remove the rows for which ``where`` (rows with logical columns -> booleans) is true from the
        ``file_id`` files of ``days``; returns the rows removed. What a stage that redoes hours clears first."""
        import pyarrow.compute as pc

        removed = []

        def drop(rows: pa.Table) -> pa.Table | None:
            mask = pc.fill_null(where(rows), False)
            if not pc.any(mask).as_py():
                return None
            removed.append(rows.filter(mask))
            return rows.filter(pc.invert(mask))

        self.edit_rows(table, days, drop, file_id)
        return pa.concat_tables(removed) if removed else table.schema.empty_table()

    def edit_rows(
        self, table: Table, days: Iterable[str], edit: Callable[[pa.Table], pa.Table | None], file_id: str
    ) -> None:
        """Rewrite each ``file_id`` file of ``days`` with ``edit(rows)`` (logical columns); None leaves a file
        as it is, no rows remove it."""
        for path in self.files(table, days):
            if path.rsplit("/", 1)[1] != f"{file_id}.parquet":
                continue
            with self.fs.open_input_file(path) as f:
                rows = table.from_storage(pq.read_table(f).cast(table.storage_schema))
            edited = edit(rows)
            if edited is None:
                continue
            partition = dict(seg.split("=", 1) for seg in self.partition_of(table, path).split("/"))
            if edited.num_rows:
                self.write_part(table, table.to_storage(edited.cast(table.schema)), partition, file_id)
            else:
                self.fs.delete_file(path)

    def connect(
        self, tables: Iterable[Table] = ALL, window: tuple[datetime, datetime] | None = None, empty: bool = False
    ) -> duckdb.DuckDBPyConnection:
        """A DuckDB connection with a view per table that has data (through pyarrow, so s3:// lakes work).
        With ``window`` (start, end), a table's view holds only its rows whose time column falls in
        [start, end), read from those days' partitions only. With ``empty``, a table without data is an empty
        view of its stored columns (for SQL that must run on any lake: the dashboards' views)."""
        con = embedded_engine()
        for table in tables:
            if window is None:
                if self.has(table):
                    con.register(table.name, self.dataset(table))
                elif empty:
                    con.register(table.name, table.to_storage(table.schema.empty_table()))
                continue
            dataset = self.dataset(table, days_between(*window))
            if dataset.files:
                con.register(table.name, dataset.filter(_within(table.time_column, *window)))
        return con

    # ---- hours of derived tables --------------------------------------------------------------------------
    def write_hours(self, table: Table, rows: pa.Table, hours: Iterable[datetime], daily: bool = False) -> dict:
        """Replace ``hours`` of a derived table with ``rows`` (logical columns, rows of those hours only);
        returns the partitions written or emptied, with their hours (what the journal records).

        Big tables keep a file per partition and hour (``hNN``): replacing an hour rewrites only it. Small
        state tables (``daily``) keep a file per partition and day, merged: the day's other hours stay."""
        import pandas as pd

        hours = sorted({pd.Timestamp(h).tz_convert("UTC") for h in hours})
        if not hours:
            return {}
        by_day: dict[str, list] = {}
        for h in hours:
            by_day.setdefault(h.strftime("%Y-%m-%d"), []).append(h)
        changed: dict[str, set[str]] = {}
        names = {(h.strftime("%Y-%m-%d"), f"h{h.hour:02d}.parquet") for h in hours}
        for path in self.files(table, by_day):
            day, name = path.rsplit("/dt=", 1)[1].split("/", 1)[0], path.rsplit("/", 1)[1]
            if daily:
                touched = by_day[day]
            elif (day, name) in names:
                touched = [h for h in by_day[day] if f"h{h.hour:02d}.parquet" == name]
                self.fs.delete_file(path)
            else:
                continue
            changed.setdefault(self.partition_of(table, path), set()).update(h.isoformat() for h in touched)
        for partition, part in table.partitions(rows):
            rel = "/".join(f"{k}={v}" for k, v in partition.items())
            for hour in sorted(set(part.column(table.time_column).to_pylist())):
                changed.setdefault(rel, set()).add(pd.Timestamp(hour).tz_convert("UTC").isoformat())
        if daily:
            self._merge_days(table, rows, by_day, changed)
        else:
            from concurrent.futures import ThreadPoolExecutor

            def write(job: tuple) -> str:
                partition, hour, at = job
                return self.write_part(table, table.to_storage(at), partition, f"h{hour.hour:02d}")

            jobs = [
                (partition, hour, at)
                for partition, part in table.partitions(rows)
                for hour, at in _split_hours(part, table.time_column)
            ]
            # Parquet encoding and the writes release the GIL: a few files at a time, not one after another.
            with ThreadPoolExecutor(max_workers=4, thread_name_prefix="lake-hours") as pool:
                list(pool.map(write, jobs))
        return changed

    def _merge_days(self, table: Table, rows: pa.Table, by_day: dict, changed: dict) -> None:
        """Daily state files: each touched partition keeps its other hours and takes the new rows."""
        import pandas as pd
        import pyarrow.compute as pc

        replaced = pa.array(
            [pd.Timestamp(h).to_pydatetime() for hs in by_day.values() for h in hs], pa.timestamp("us", tz="UTC")
        )
        new = {tuple(p.items()): part for p, part in table.partitions(rows)}
        for rel in changed:
            partition = dict(seg.split("=", 1) for seg in rel.split("/"))
            path = self._part_path(table.name, partition, "day")
            parts = []
            if self.fs.get_file_info(path).type == pafs.FileType.File:
                with self.fs.open_input_file(path) as f:
                    old = table.from_storage(pq.read_table(f).cast(table.storage_schema))
                when = pc.cast(old.column(table.time_column), pa.timestamp("us", tz="UTC"))
                parts.append(old.filter(pc.invert(pc.is_in(when, replaced))).cast(table.schema))
            if tuple(partition.items()) in new:
                parts.append(new[tuple(partition.items())].select(table.columns).cast(table.schema))
            merged = pa.concat_tables(parts) if parts else table.schema.empty_table()
            if merged.num_rows:
                self.write_part(table, table.to_storage(merged), partition, "day")
            elif self.fs.get_file_info(path).type == pafs.FileType.File:
                self.fs.delete_file(path)

    def read_hours(
        self,
        table: Table,
        start: datetime,
        end: datetime,
        columns: list[str] | None = None,
        hours_of_day: Iterable[int] | None = None,
    ) -> pa.Table:
        """A derived table's rows (logical columns) whose time column falls in [start, end); with
        ``hours_of_day``, only those hours of each day (of an hourly table: only their ``hNN`` files are read)."""
        dataset = self.dataset(table, days_between(start, end), hours_of_day)
        if not dataset.files:
            return table.schema.empty_table() if columns is None else table.schema.empty_table().select(columns)
        stored = None if columns is None else table.stored_names(columns)
        got = dataset.to_table(columns=stored, filter=_within(table.time_column, start, end))
        return table.from_storage(got)


def days_between(start: datetime, end: datetime) -> list[str]:
    """The UTC days (YYYY-MM-DD) that hold some instant of [start, end)."""
    import pandas as pd

    lo = pd.Timestamp(start).tz_convert("UTC").floor("D")
    hi = (pd.Timestamp(end).tz_convert("UTC") - pd.Timedelta(microseconds=1)).floor("D")
    return [d.strftime("%Y-%m-%d") for d in pd.date_range(lo, hi, freq="D")]


def utc_scalar(t: datetime) -> pa.Scalar:
    """An instant as the Arrow scalar the lake's time columns compare with (microseconds, UTC)."""
    import pandas as pd

    return pa.scalar(pd.Timestamp(t).to_pydatetime(), pa.timestamp("us", tz="UTC"))


def _within(column: str, start: datetime, end: datetime) -> ds.Expression:
    import pyarrow.dataset as ds

    return (ds.field(column) >= utc_scalar(start)) & (ds.field(column) < utc_scalar(end))


def _split_hours(rows: pa.Table, column: str):
    """(hour, rows of that hour) for each hour of ``rows``."""
    import pandas as pd
    import pyarrow.compute as pc

    when = pc.floor_temporal(rows.column(column), unit="hour")
    for hour in sorted(set(when.to_pylist())):
        yield pd.Timestamp(hour).tz_convert("UTC"), rows.filter(pc.equal(when, pa.scalar(hour, when.type)))


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
