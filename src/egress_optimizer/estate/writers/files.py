"""Deterministic file writing: gzip without timestamps or names, so the same seed gives the same bytes."""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path


def write_gzip(path: Path, data: bytes, level: int = 6) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=level) as gz,
    ):
        gz.write(data)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def stable_hex(*parts: object, n: int = 8) -> str:
    """A short id derived from its inputs (AWS's opaque file-name hashes and unique ids)."""
    return hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:n]
