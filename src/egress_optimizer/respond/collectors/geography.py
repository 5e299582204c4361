"""Where a peer address is, by country: from a GeoIP database the user supplies in MaxMind's GeoLite2 CSV
format (``GeoLite2-Country-Blocks-IPv4.csv`` / ``-IPv6.csv`` and ``GeoLite2-Country-Locations-en.csv``), named by
``EGRESS_GEOIP_DIR``. Its licence forbids shipping it with the product, so without it countries are unknown and
the evidence says so; AWS and other clouds' addresses are placed by their published ranges regardless.
"""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path

from egress_optimizer.errors import InputError
from egress_optimizer.networks import PrefixTable

ENV = "EGRESS_GEOIP_DIR"
LOCATIONS = "GeoLite2-Country-Locations-en.csv"
BLOCKS = ("GeoLite2-Country-Blocks-IPv4.csv", "GeoLite2-Country-Blocks-IPv6.csv")


def load(folder: str | Path) -> PrefixTable[str]:
    """Network -> ISO country code (the registered country when the block has no located one)."""
    base = Path(folder)
    if not (base / LOCATIONS).exists():
        raise InputError(f"{ENV}={folder}: no {LOCATIONS} there")
    with open(base / LOCATIONS, newline="", encoding="utf-8") as f:
        iso = {r["geoname_id"]: r.get("country_iso_code") or r.get("continent_code") or "" for r in csv.DictReader(f)}
    entries = []
    for name in BLOCKS:
        if not (base / name).exists():
            continue
        with open(base / name, newline="", encoding="utf-8") as f:
            for r in csv.DictReader(f):
                code = iso.get(r.get("geoname_id") or "") or iso.get(r.get("registered_country_geoname_id") or "")
                if code:
                    entries.append((r["network"], code))
    return PrefixTable(entries)


@cache
def _configured(folder: str) -> PrefixTable[str]:
    return load(folder)


def countries(addresses: list[str]) -> list[str | None] | None:
    """The country of each address, or None when no database is configured."""
    folder = os.environ.get(ENV)
    if not folder:
        return None
    return _configured(folder).lookup(addresses)
