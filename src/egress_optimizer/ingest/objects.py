"""Finding and opening input objects, local or on S3, through pyarrow filesystems."""

from __future__ import annotations

import gzip
import io
import os
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa
import pyarrow.fs as pafs

from egress_optimizer.errors import InputError
from egress_optimizer.ingest.base import SourceObject, UnreadableObject
from egress_optimizer.ingest.salvage import chunks, readable_head
from egress_optimizer.lake import s3_filesystem

GZIP_MAGIC = b"\x1f\x8b"
PARQUET_MAGIC = b"PAR1"


class _CheckedGzip(io.RawIOBase):
    """A gzip stream that turns truncation and corruption into ``UnreadableObject``."""

    def __init__(self, raw: BinaryIO):
        self._gz = gzip.GzipFile(fileobj=raw, mode="rb")

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:  # type: ignore[no-untyped-def]
        try:
            data = self._gz.read(len(b))
        except (EOFError, OSError, zlib.error) as e:
            raise UnreadableObject(f"corrupt or truncated gzip: {e}") from None
        n = len(data)
        b[:n] = data
        return n


@dataclass
class FsBody:
    """An object's content on a pyarrow filesystem (LocalFileSystem or S3FileSystem)."""

    fs: pafs.FileSystem
    path: str

    def _raw_head(self, n: int) -> bytes:
        with self.fs.open_input_stream(self.path, compression=None) as f:
            return f.read(n)

    def is_gzip(self) -> bool:
        return self._raw_head(2) == GZIP_MAGIC

    def is_parquet(self) -> bool:
        return self._raw_head(4) == PARQUET_MAGIC

    def seekable(self) -> BinaryIO:
        return self.fs.open_input_file(self.path)  # type: ignore[return-value]

    def raw(self) -> BinaryIO:
        return self.fs.open_input_stream(self.path, compression=None)  # type: ignore[return-value]

    def stream(self) -> BinaryIO:
        raw = self.fs.open_input_stream(self.path, compression=None)
        if self.is_gzip():
            return io.BufferedReader(_CheckedGzip(raw), buffer_size=1 << 20)  # type: ignore[arg-type]
        return raw  # type: ignore[return-value]

    def native_stream(self) -> pa.NativeFile:
        """The decompressed content as a pyarrow stream (C++ gzip), for columnar parsers."""
        raw = self.fs.open_input_stream(self.path, compression=None)
        return pa.CompressedInputStream(raw, "gzip") if self.is_gzip() else raw

    def head(self, n: int = 65_536) -> bytes:
        """The readable start of the object (a cut gzip gives what it holds); ``UnreadableObject`` when even
        its start cannot be decompressed."""
        with self.raw() as raw:
            return readable_head(chunks(raw, 1 << 16), n)


@dataclass
class BytesBody:
    """An in-memory object (tests, fuzzing, small payloads)."""

    data: bytes

    def is_gzip(self) -> bool:
        return self.data[:2] == GZIP_MAGIC

    def is_parquet(self) -> bool:
        return self.data[:4] == PARQUET_MAGIC

    def seekable(self) -> BinaryIO:
        return io.BytesIO(self.data)

    def raw(self) -> BinaryIO:
        return io.BytesIO(self.data)

    def stream(self) -> BinaryIO:
        raw = io.BytesIO(self.data)
        if self.is_gzip():
            return io.BufferedReader(_CheckedGzip(raw))  # type: ignore[arg-type]
        return raw

    def native_stream(self) -> pa.NativeFile:
        raw = pa.BufferReader(self.data)
        return pa.CompressedInputStream(raw, "gzip") if self.is_gzip() else raw

    def head(self, n: int = 65_536) -> bytes:
        return readable_head(chunks(io.BytesIO(self.data), 1 << 16), n)


def _fs_for(uri: str) -> tuple[pafs.FileSystem, str]:
    if uri.startswith("s3://"):
        return s3_filesystem(), uri[len("s3://") :]
    if "://" in uri:
        raise InputError(f"{uri!r}: only local paths and s3:// URIs can be ingested")
    return pafs.LocalFileSystem(), os.path.abspath(uri)


def source_object(fs: pafs.FileSystem, path: str, uri: str, key: str) -> SourceObject:
    info = fs.get_file_info(path)
    version = str(info.mtime_ns or "")  # a rewritten object gets new outputs, not a mix of old and new
    return SourceObject(uri=uri, key=key, size=int(info.size or 0), version=version)


def discover(paths: list[str], key_base: str | None = None) -> Iterator[tuple[SourceObject, FsBody]]:
    """Every object under the given files or folders (local or s3://), in a stable order.

    The key of an object found under a folder is its path below that folder, so a folder that mirrors a
    bucket (as ``egress generate`` writes it) yields the same keys AWS would deliver. A file given on its own
    is keyed by its name, or by its path below ``key_base`` (files of a mirrored bucket, one delivery at a
    time)."""
    for uri in paths:
        fs, path = _fs_for(uri)
        info = fs.get_file_info(path)
        if info.type == pafs.FileType.NotFound:
            raise InputError(f"{uri!r} does not exist")
        if info.type == pafs.FileType.File:
            base = _fs_for(key_base)[1].rstrip("/") if key_base else path.rsplit("/", 1)[0]
            yield _entry(fs, path, uri if not key_base else None, base)
            continue
        try:
            infos = fs.get_file_info(pafs.FileSelector(path, recursive=True))
        except OSError as e:
            raise InputError(f"cannot list {uri!r}: {e}") from None
        for i in sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: i.path):
            if os.path.basename(i.path).startswith("."):
                continue  # hidden files (markers, editor droppings) are not input
            yield _entry(fs, i.path, None, path)


def _entry(fs: pafs.FileSystem, path: str, uri: str | None, base: str) -> tuple[SourceObject, FsBody]:
    key = path[len(base) :].lstrip("/") if path.startswith(base) else path
    if uri is None:
        uri = ("s3://" + path) if isinstance(fs, pafs.S3FileSystem) else path
    return source_object(fs, path, uri, key), FsBody(fs, path)


def open_object(uri: str) -> tuple[SourceObject, FsBody]:
    """One object by path or s3:// URI (tests and single-object callers)."""
    fs, path = _fs_for(uri)
    info = fs.get_file_info(path)
    if info.type != pafs.FileType.File:
        raise InputError(f"{uri!r} is not a file")
    return _entry(fs, path, uri, path.rsplit("/", 1)[0])
