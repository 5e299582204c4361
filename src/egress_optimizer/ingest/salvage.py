"""Reading a damaged text object line by line, so it gives up only what is damaged.

The columnar readers stop at the first line they cannot decode (invalid UTF-8, a NUL, a gzip stream cut short
or corrupt); the records around it are still good. ``damaged_lines`` decompresses what it can, splits it into
lines and says of each whether it is readable text, and of the object's tail whether it was cut off.
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Iterator
from dataclasses import dataclass

from egress_optimizer.ingest.base import UnreadableObject

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Line:
    number: int  # 1-based, counting every line of the object (a header too)
    text: str  # decoded; undecodable bytes replaced, for the quarantine
    problem: str | None  # why the line cannot be a record as it stands, or None


def damaged_lines(raw: Iterator[bytes]) -> Iterator[Line]:
    """The lines of an object given as raw (possibly gzip) chunks, each with the problem that spoils it."""
    pending, number, cut = b"", 0, None
    for data, problem in _decompressed(raw):
        if problem:
            cut = problem
            break
        pending += data
        *complete, pending = pending.split(b"\n")
        for line in complete:
            number += 1
            yield _line(number, line)
    if cut:  # the last line stops where the damage starts: it is not the record it was, and what follows is lost
        yield Line(number + 1, _line(number + 1, pending).text, f"object damaged here ({cut}); the rest is lost")
    elif pending:
        yield _line(number + 1, pending)


def _line(number: int, data: bytes) -> Line:
    data = data.rstrip(b"\r")
    if b"\x00" in data:
        return Line(number, data.replace(b"\x00", b"\\0").decode("utf-8", "replace"), "NUL byte in the line")
    try:
        return Line(number, data.decode("utf-8"), None)
    except UnicodeDecodeError as e:
        return Line(number, data.decode("utf-8", "replace"), f"invalid UTF-8 at byte {e.start}")


def _decompressed(raw: Iterator[bytes]) -> Iterator[tuple[bytes, str | None]]:
    """Decompressed chunks (gzip, several members too, or plain text); a final (b"", problem) when the stream is
    corrupt or ends inside a member."""
    first = next(raw, b"")
    if not first.startswith(GZIP_MAGIC):
        yield first, None
        for chunk in raw:
            yield chunk, None
        return
    inflater, in_member = zlib.decompressobj(wbits=31), False
    for chunk in itertools.chain([first], raw):
        data = chunk
        while data:
            in_member = True
            try:
                yield inflater.decompress(data), None
            except zlib.error as e:
                yield b"", f"corrupt gzip: {e}"
                return
            if not inflater.eof:
                break
            # a member ended: what follows may be another member (concatenated gzip)
            data, inflater, in_member = inflater.unused_data, zlib.decompressobj(wbits=31), False
            if data and not data.startswith(GZIP_MAGIC):
                yield b"", "bytes after the end of the gzip stream"
                return
    if in_member:
        yield inflater.flush(), None
        yield b"", "gzip stream cut short"


def readable_head(raw: Iterator[bytes], n: int) -> bytes:
    """The first ``n`` bytes that decompress (all of a damaged object's readable start); ``UnreadableObject``
    when not one byte does."""
    out = b""
    for data, problem in _decompressed(raw):
        if problem:
            if not out:
                raise UnreadableObject(problem)
            break
        out += data
        if len(out) >= n:
            break
    return out[:n]


class ReadableStream:
    """A forward-only stream of an object's readable text (gzip inflated as far as it goes); after the end,
    ``problem`` says why it stopped early (a cut or corrupt gzip), else None."""

    def __init__(self, raw, size: int = _CHUNK):
        self._parts = _decompressed(chunks(raw, size))
        self.problem: str | None = None

    def read(self, n: int = -1) -> bytes:
        for data, problem in self._parts:
            if problem:
                self.problem = problem
                return b""
            if data:
                return data
        return b""

    def __enter__(self) -> ReadableStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self._parts.close()


def chunks(stream, size: int = _CHUNK) -> Iterator[bytes]:
    """A binary file's content in chunks."""
    while chunk := stream.read(size):
        yield chunk
