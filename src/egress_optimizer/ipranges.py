"""Which AWS service and region an IP address belongs to, from AWS's published ``ip-ranges.json``.

The package ships a snapshot (``data/aws/ip-ranges.json.gz``) as the offline default; ``refresh`` downloads
the current file from AWS. Look-ups pick the most specific prefix that contains the address, and among
equally specific ones a named service (``S3``, ``CLOUDFRONT``) over the catch-all ``AMAZON``, because that
is what tells an S3 download from an EC2 peer. Vectorised look-ups serve millions of flow records.
"""

from __future__ import annotations

import bisect
import gzip
import ipaddress
import json
import os
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

AWS_URL = "https://ip-ranges.amazonaws.com/ip-ranges.json"


@dataclass(frozen=True)
class Owner:
    service: str  # most specific service, e.g. S3, CLOUDFRONT, EC2, AMAZON
    region: str  # e.g. us-east-1, or GLOBAL


class _Table:
    """Elementary, non-overlapping intervals, each labelled with its most specific covering prefix."""

    def __init__(self, prefixes: list[tuple[int, int, int, Owner]]):
        # Sweep over boundaries; at each elementary interval pick the longest covering prefix.
        points = sorted({p[0] for p in prefixes} | {p[1] + 1 for p in prefixes})
        self.starts = np.array(points, dtype=object)
        owners: list[Owner | None] = []
        by_start = sorted(prefixes, key=lambda p: (p[0], -p[2]))
        active: list[tuple[int, int, int, Owner]] = []
        j = 0
        for lo in points:
            while j < len(by_start) and by_start[j][0] <= lo:
                active.append(by_start[j])
                j += 1
            active = [p for p in active if p[1] >= lo]
            best = None
            for p in active:
                if best is None or (p[2], p[3].service != "AMAZON") > (best[2], best[3].service != "AMAZON"):
                    best = p
            owners.append(best[3] if best else None)
        self.owners = owners
        self._starts_list = [int(x) for x in self.starts]

    def find(self, value: int) -> Owner | None:
        i = bisect.bisect_right(self._starts_list, value) - 1
        return self.owners[i] if i >= 0 else None


class IpRanges:
    def __init__(self, doc: dict):
        self.sync_token = str(doc.get("syncToken", ""))
        self.create_date = str(doc.get("createDate", ""))
        v4, v6 = [], []
        self._by_service: dict[str, list[tuple[int, int, int]]] = {}  # service -> (version, first, last)
        self._members: dict[str, tuple[np.ndarray, np.ndarray, list[tuple[int, int]]]] = {}
        for p in doc.get("prefixes", []):
            n = ipaddress.ip_network(p["ip_prefix"])
            v4.append((int(n.network_address), int(n.broadcast_address), n.prefixlen, Owner(p["service"], p["region"])))
            self._by_service.setdefault(p["service"], []).append((4, v4[-1][0], v4[-1][1]))
        for p in doc.get("ipv6_prefixes", []):
            n = ipaddress.ip_network(p["ipv6_prefix"])
            v6.append((int(n.network_address), int(n.broadcast_address), n.prefixlen, Owner(p["service"], p["region"])))
            self._by_service.setdefault(p["service"], []).append((6, v6[-1][0], v6[-1][1]))
        self._v4 = _Table(v4) if v4 else None
        self._v6 = _Table(v6) if v6 else None
        if self._v4:
            self._v4_starts = np.array(self._v4._starts_list, dtype=np.int64)

    @classmethod
    def load(cls, path: str | Path | None = None) -> IpRanges:
        """From ``path`` (JSON, optionally gzipped), ``$EGRESS_IP_RANGES``, or the shipped snapshot."""
        path = path or os.environ.get("EGRESS_IP_RANGES")
        if path:
            raw = Path(path).read_bytes()
        else:
            raw = (resources.files("egress_optimizer") / "data" / "aws" / "ip-ranges.json.gz").read_bytes()
        return _parsed(raw)

    def owner(self, address: str) -> Owner | None:
        """The AWS owner of one address, or None when AWS does not publish it (the internet, private space)."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        table = self._v4 if ip.version == 4 else self._v6
        return table.find(int(ip)) if table else None

    def owners(self, addresses: Iterable[str | None]) -> list[Owner | None]:
        """Vectorised look-up: IPv4 through numpy, IPv6 one by one (rare in flow logs)."""
        addrs = list(addresses)
        out: list[Owner | None] = [None] * len(addrs)
        v4_idx, v4_vals = [], []
        for i, a in enumerate(addrs):
            if not isinstance(a, str) or not a:  # None, NaN from pandas, ''
                continue
            if ":" in a:
                out[i] = self.owner(a)
                continue
            parts = a.split(".")
            if len(parts) == 4 and all(p.isdigit() for p in parts):
                v4_idx.append(i)
                v4_vals.append((int(parts[0]) << 24) | (int(parts[1]) << 16) | (int(parts[2]) << 8) | int(parts[3]))
        if v4_idx and self._v4:
            pos = np.searchsorted(self._v4_starts, np.array(v4_vals, dtype=np.int64), side="right") - 1
            for i, p in zip(v4_idx, pos, strict=True):
                if p >= 0:
                    out[i] = self._v4.owners[p]
        return out

    def in_service(self, addresses: Iterable[str | None], service: str) -> list[bool]:
        """Whether each address is in any prefix AWS publishes for ``service`` (for example
        ``CLOUDFRONT_ORIGIN_FACING``), whichever prefix ``owners`` names as the most specific: a prefix can be
        published for several services at the same length."""
        if service not in self._members:
            spans = sorted(self._by_service.get(service, []))
            v4 = [(lo, hi) for v, lo, hi in spans if v == 4]
            v6 = [(lo, hi) for v, lo, hi in spans if v == 6]
            self._members[service] = (
                np.array([lo for lo, _ in v4], dtype=np.int64),
                np.array([hi for _, hi in v4], dtype=np.int64),
                v6,
            )
        lo4, hi4, v6 = self._members[service]
        out = []
        for a in addresses:
            try:
                ip = ipaddress.ip_address(a) if isinstance(a, str) and a else None
            except ValueError:
                ip = None
            if ip is None:
                out.append(False)
            elif ip.version == 4:
                # prefixes may nest, so compare against every earlier start (lists are a few dozen long)
                i = int(np.searchsorted(lo4, int(ip), side="right"))
                out.append(bool(i and (hi4[:i] >= int(ip)).any()))
            else:
                out.append(any(lo <= int(ip) <= hi for lo, hi in v6))
        return out


@lru_cache(maxsize=4)
def shipped() -> IpRanges:
    return IpRanges.load()


def refresh(dest: Path, url: str = AWS_URL, timeout: float = 30.0) -> dict:
    """Download the current ip-ranges.json, check it parses, and write it (gzipped) to ``dest``."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        raw = resp.read()
    doc = json.loads(raw)
    if "prefixes" not in doc:
        raise ValueError("downloaded document has no 'prefixes': not an ip-ranges.json")
    IpRanges(doc)  # validate before replacing anything
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(dest.suffix + ".tmp")
    tmp.write_bytes(gzip.compress(raw, mtime=0))
    tmp.replace(dest)
    return {"syncToken": doc.get("syncToken"), "createDate": doc.get("createDate"), "prefixes": len(doc["prefixes"])}


def _document(raw: bytes) -> dict:
    return json.loads(gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw)


@lru_cache(maxsize=4)
def _parsed(raw: bytes) -> IpRanges:
    """Parsing the ranges costs half a second and every stage loads them: the same bytes parse once per process
    (the key is the file's content, so a refreshed file is parsed again)."""
    return IpRanges(_document(raw))
