"""Networks outside AWS that egress goes to: on-premises sites and other clouds.

Two sources, the user's first:

- a networks file (``$EGRESS_NETWORKS``, YAML or JSON) that declares on-premises CIDRs, the link they are
  reached over, and other clouds' CIDRs::

      on_premises:
        - cidr: 10.200.0.0/16
          name: frankfurt-dc
          via: direct_connect        # or vpn; omitted: what the route tables say, else direct_connect
          dx_location: EqFA5         # optional: the Direct Connect location code the CUR usage type names
      other_clouds:
        - cidr: 203.0.113.0/24
          provider: hetzner
      cloud_range_files:             # optional: current lists downloaded from the providers
        - downloads/cloud.json       # (relative paths are relative to this file)
      shipped_cloud_ranges: true     # default: also use the copy shipped in data/networks/

- the published ranges of Google Cloud, Azure and Oracle Cloud (a dated copy is shipped, see
  ``data/networks/README.md``); ``load_cloud_ranges`` also reads the providers' own files as published.

Look-ups pick the longest matching prefix among the user's declarations, then among the clouds' ranges,
so a declaration always wins over a shipped range.
"""

from __future__ import annotations

import gzip
import ipaddress
import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

import numpy as np
import yaml

from egress_optimizer.errors import InputError

ON_PREMISES = "on_premises"
OTHER_CLOUD = "other_cloud"
LINKS = ("direct_connect", "vpn")
ENV = "EGRESS_NETWORKS"

T = TypeVar("T")


@dataclass(frozen=True)
class Network:
    kind: str  # ON_PREMISES or OTHER_CLOUD
    name: str  # the site's name, or the provider's key (gcp, azure, oracle, or the user's label)
    cidr: str
    via: str | None = None  # on-premises only: direct_connect or vpn; None leaves it to the route tables
    dx_location: str | None = None  # Direct Connect location code (EqDC2), for the CUR usage type
    source: str = "user"


def _parse_ipv4(a: str) -> int | None:
    parts = a.split(".")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    v = [int(p) for p in parts]
    if any(x > 255 for x in v):
        return None
    return (v[0] << 24) | (v[1] << 16) | (v[2] << 8) | v[3]


class PrefixTable(Generic[T]):
    """Longest-prefix match of addresses against CIDRs; IPv4 vectorised with numpy (flow logs have many
    distinct peers), IPv6 one by one. The first value given for a CIDR wins."""

    def __init__(self, entries: Iterable[tuple[str, T]]):
        self._by_len: dict[int, dict[int, dict[int, T]]] = {4: {}, 6: {}}
        for cidr, value in entries:
            n = ipaddress.ip_network(cidr, strict=False)
            bits = 32 if n.version == 4 else 128
            self._by_len[n.version].setdefault(n.prefixlen, {}).setdefault(
                int(n.network_address) >> (bits - n.prefixlen), value
            )
        self._v4_lengths = sorted(self._by_len[4], reverse=True)
        self._v4_keys = {n: np.array(sorted(d), dtype=np.int64) for n, d in self._by_len[4].items()}
        self._v6_lengths = sorted(self._by_len[6], reverse=True)

    def __len__(self) -> int:
        return sum(len(d) for v in self._by_len.values() for d in v.values())

    def lookup_one(self, address: str | None) -> T | None:
        return self.lookup([address])[0]

    def lookup(self, addresses: Iterable[str | None]) -> list[T | None]:
        addrs = list(addresses)
        out: list[T | None] = [None] * len(addrs)
        v4_idx, v4_vals = [], []
        for i, a in enumerate(addrs):
            if not isinstance(a, str) or not a:
                continue
            v = _parse_ipv4(a)
            if v is not None:
                v4_idx.append(i)
                v4_vals.append(v)
            elif ":" in a and self._v6_lengths:
                out[i] = self._lookup_v6(a)
        if v4_idx and self._v4_lengths:
            vals = np.array(v4_vals, dtype=np.int64)
            pending = np.ones(vals.size, dtype=bool)
            for length in self._v4_lengths:
                keys = vals >> (32 - length)
                table = self._v4_keys[length]
                pos = np.minimum(np.searchsorted(table, keys), table.size - 1)
                hit = pending & (table[pos] == keys)
                values = self._by_len[4][length]
                for j in np.flatnonzero(hit):
                    out[v4_idx[j]] = values[int(keys[j])]
                pending &= ~hit
                if not pending.any():
                    break
        return out

    def _lookup_v6(self, a: str) -> T | None:
        try:
            ip = ipaddress.ip_address(a)
        except ValueError:
            return None
        if ip.version != 6:
            return None
        v = int(ip)
        for length in self._v6_lengths:
            hit = self._by_len[6][length].get(v >> (128 - length))
            if hit is not None:
                return hit
        return None


# ---- other clouds' published lists ----


def _read_doc(path: str | Path) -> dict:
    try:
        raw = Path(path).expanduser().read_bytes()
    except OSError as e:
        raise InputError(f"cannot read {path}: {e.strerror or e}") from None
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    try:
        return json.loads(raw)
    except ValueError:
        raise InputError(f"{path} is not JSON") from None


def _clouds_from_doc(doc: dict, source: str) -> list[Network]:
    """Networks from our shipped format or a provider's list as published (format recognised by its keys)."""
    nets: list[Network] = []
    if "providers" in doc:  # this package's format
        for key, p in doc["providers"].items():
            src = f"{p.get('source', source)} ({p.get('as_of', '?')})"
            nets += [Network(OTHER_CLOUD, key, c, source=src) for c in [*p.get("ipv4", []), *p.get("ipv6", [])]]
    elif "prefixes" in doc and any("ipv4Prefix" in p or "ipv6Prefix" in p for p in doc["prefixes"]):
        # Google Cloud cloud.json: {"syncToken", "creationTime", "prefixes": [{"ipv4Prefix", "service", "scope"}]}
        src = f"{source} ({doc.get('creationTime', '?')[:10]})"
        for p in doc["prefixes"]:
            c = p.get("ipv4Prefix") or p.get("ipv6Prefix")
            if c:
                nets.append(Network(OTHER_CLOUD, "gcp", c, source=src))
    elif "values" in doc and "cloud" in doc:
        # Azure ServiceTags_*.json: {"changeNumber", "cloud", "values": [{"name", "properties": {"addressPrefixes"}}]}
        src = f"{source} (changeNumber {doc.get('changeNumber', '?')})"
        for v in doc["values"]:
            for c in (v.get("properties") or {}).get("addressPrefixes", []):
                nets.append(Network(OTHER_CLOUD, "azure", c, source=src))
    elif "regions" in doc:
        # Oracle public_ip_ranges.json: {"last_updated_timestamp", "regions": [{"region", "cidrs": [{"cidr"}]}]}
        src = f"{source} ({str(doc.get('last_updated_timestamp', '?'))[:10]})"
        for r in doc["regions"]:
            for c in r.get("cidrs", []):
                nets.append(Network(OTHER_CLOUD, "oracle", c["cidr"], source=src))
    else:
        raise InputError(
            f"{source}: not a cloud range list (expected Google's cloud.json, Azure's ServiceTags_*.json, "
            "Oracle's public_ip_ranges.json or this package's other_clouds.json.gz)"
        )
    return nets


def load_cloud_ranges(path: str | Path | None = None) -> list[Network]:
    """Other clouds' ranges from a user-supplied file (any supported format, gzipped or not), or the shipped
    copy when ``path`` is None."""
    if path is None:
        ref = resources.files("egress_optimizer") / "data" / "networks" / "other_clouds.json.gz"
        return _clouds_from_doc(json.loads(gzip.decompress(ref.read_bytes())), "shipped other_clouds.json.gz")
    return _clouds_from_doc(_read_doc(path), str(path))


@lru_cache(maxsize=1)
def _shipped_clouds() -> tuple[Network, ...]:
    return tuple(load_cloud_ranges())


# ---- the user's networks file ----


def _cidr(value: Any, where: str) -> str:
    try:
        return str(ipaddress.ip_network(str(value), strict=False))
    except ValueError:
        raise InputError(f"{where}: {value!r} is not a CIDR") from None


def _declared(entries: Any, kind: str, where: str) -> list[Network]:
    if entries is None:
        return []
    if not isinstance(entries, list):
        raise InputError(f"{where}: {kind} must be a list")
    allowed = {"cidr", "name", "via", "dx_location"} if kind == "on_premises" else {"cidr", "provider", "name"}
    out = []
    for i, e in enumerate(entries):
        at = f"{where}: {kind}[{i}]"
        if not isinstance(e, dict) or "cidr" not in e:
            raise InputError(f"{at} needs a cidr")
        unknown = set(e) - allowed
        if unknown:
            raise InputError(f"{at}: unknown key(s) {', '.join(sorted(unknown))}")
        cidr = _cidr(e["cidr"], at)
        if kind == "on_premises":
            via = e.get("via")
            if via is not None and via not in LINKS:
                raise InputError(f"{at}: via must be one of {', '.join(LINKS)}, not {via!r}")
            out.append(Network(ON_PREMISES, str(e.get("name") or cidr), cidr, via, e.get("dx_location"), where))
        else:
            name = e.get("provider") or e.get("name")
            if not name:
                raise InputError(f"{at} needs a provider")
            out.append(Network(OTHER_CLOUD, str(name), cidr, source=where))
    return out


class Networks:
    """The user's declarations and other clouds' ranges, with longest-prefix look-ups (declarations first)."""

    def __init__(self, declared: Iterable[Network] = (), clouds: Iterable[Network] = ()):
        self.declared = list(declared)
        self.clouds = list(clouds)
        self._declared = PrefixTable((n.cidr, n) for n in self.declared)
        self._clouds = PrefixTable((n.cidr, n) for n in self.clouds)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Networks:
        """From ``path`` or ``$EGRESS_NETWORKS``; without either, just the shipped cloud ranges."""
        path = path or os.environ.get(ENV) or None
        if not path:
            return cls((), _shipped_clouds())
        p = Path(path).expanduser()
        try:
            doc = yaml.safe_load(p.read_text()) or {}
        except OSError as e:
            raise InputError(f"cannot read networks file {path}: {e.strerror or e}") from None
        except yaml.YAMLError as e:
            raise InputError(f"networks file {path} is not valid YAML/JSON: {e}") from None
        return cls.from_config(doc, where=str(path), base=p.parent)

    @classmethod
    def from_config(cls, doc: dict, where: str = "networks", base: Path | None = None) -> Networks:
        if not isinstance(doc, dict):
            raise InputError(f"{where}: expected a mapping with on_premises / other_clouds")
        unknown = set(doc) - {"on_premises", "other_clouds", "cloud_range_files", "shipped_cloud_ranges"}
        if unknown:
            raise InputError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
        declared = _declared(doc.get("on_premises"), "on_premises", where) + _declared(
            doc.get("other_clouds"), "other_clouds", where
        )
        clouds: list[Network] = list(_shipped_clouds()) if doc.get("shipped_cloud_ranges", True) else []
        for f in doc.get("cloud_range_files") or []:
            fp = Path(str(f)).expanduser()
            # Files named later take precedence over the shipped copy (first value per CIDR wins).
            clouds = load_cloud_ranges(fp if fp.is_absolute() or base is None else base / fp) + clouds
        return cls(declared, clouds)

    def lookup(self, addresses: Iterable[str | None]) -> list[Network | None]:
        addrs = list(addresses)
        out = self._declared.lookup(addrs) if self.declared else [None] * len(addrs)
        missing = [i for i, n in enumerate(out) if n is None]
        if missing and self.clouds:
            for i, n in zip(missing, self._clouds.lookup([addrs[i] for i in missing]), strict=True):
                out[i] = n
        return out

    def lookup_one(self, address: str | None) -> Network | None:
        return self.lookup([address])[0]
