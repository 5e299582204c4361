"""Small egress-cost calculators: tiered internet egress (AWS, Azure, GCP), CDN vs origin, compression and
delta-transfer savings, interconnect break-even, and a scheduler for deferrable transfers.

AWS prices come from the package's catalog (``egress_optimizer.pricing``); Azure and GCP tiers and the
interconnect port prices from ``data/prices/other_clouds.json`` (versioned, with source and date).
Delta transfer uses content-defined chunking with a rolling (gear) hash, the technique of LBFS
(Muthitacharoen et al., SOSP 2001), so an insertion shifts only the chunks around it.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from egress_optimizer.pricing import load_catalog
from egress_optimizer.pricing.tiers import tiered_cost

CLOUDS = ("aws", "azure", "gcp")
HOURS_PER_MONTH = 730.0


@lru_cache(maxsize=1)
def other_clouds() -> dict[str, Any]:
    ref = resources.files("egress_optimizer") / "data" / "prices" / "other_clouds.json"
    return json.loads(ref.read_text())


def egress_cost(cloud: str, gb: float, region: str = "us-east-1", already_used_gb: float = 0.0) -> float:
    """Monthly internet egress cost of ``gb`` on top of ``already_used_gb``, with the cloud's free allowance."""
    if gb < 0 or already_used_gb < 0:
        raise ValueError("GB must be >= 0")
    if cloud == "aws":
        cat = load_catalog()
        return tiered_cost(gb, cat.internet_egress_tiers(region), already_used_gb, cat.internet_free_gb)
    if cloud in ("azure", "gcp"):
        spec = other_clouds()["internet_egress"][cloud]
        tiers = [(t[0], float(t[1])) for t in spec["tiers_gb"]]
        return tiered_cost(gb, tiers, already_used_gb, float(spec["free_tier_gb_per_month"]))
    raise ValueError(f"cloud must be one of {', '.join(CLOUDS)}")


def cdn_vs_direct(gb: float, region: str = "us-east-1", geo: str = "US") -> dict[str, float]:
    """Serving ``gb`` a month straight from an AWS origin vs through CloudFront (origin fetches are free).

    Request fees are left out: they depend on object size, not volume.
    """
    cat = load_catalog()
    if geo not in cat.raw["cloudfront"]["tiers_gb"]:
        raise ValueError(f"unknown CloudFront geography {geo!r}")
    direct = egress_cost("aws", gb, region)
    cdn = tiered_cost(gb, cat.cloudfront_tiers(geo), 0.0, cat.cloudfront_free_gb)
    return {"direct_usd": direct, "cdn_usd": cdn, "saving_usd": direct - cdn}


def compression_savings(sample: Path, gb_per_month: float, level: int = 3, cloud: str = "aws") -> dict[str, float]:
    """Measure zstd's ratio on a sample of the user's data and price the egress it saves."""
    import zstandard

    data = Path(sample).read_bytes()
    if not data:
        raise ValueError(f"{sample} is empty")
    compressed = len(zstandard.ZstdCompressor(level=level).compress(data))
    ratio = compressed / len(data)
    before = egress_cost(cloud, gb_per_month)
    after = egress_cost(cloud, gb_per_month * ratio)
    return {"ratio": ratio, "before_usd": before, "after_usd": after, "saving_usd": before - after}


def _gear_table() -> list[int]:
    return [int.from_bytes(hashlib.blake2b(bytes([i]), digest_size=8).digest(), "little") for i in range(256)]


_GEAR = _gear_table()


def chunks(data: bytes, avg_bits: int = 12, min_size: int = 512, max_size: int = 65536) -> list[bytes]:
    """Content-defined chunks: cut where the rolling gear hash's top ``avg_bits`` bits are zero (~4 KiB)."""
    mask = ((1 << avg_bits) - 1) << (64 - avg_bits)
    out, start, h = [], 0, 0
    full = (1 << 64) - 1
    for i, byte in enumerate(data):
        h = ((h << 1) + _GEAR[byte]) & full
        size = i - start + 1
        if (size >= min_size and not h & mask) or size >= max_size:
            out.append(data[start : i + 1])
            start, h = i + 1, 0
    if start < len(data):
        out.append(data[start:])
    return out


def delta_savings(old: Path, new: Path, gb_per_month: float | None = None, cloud: str = "aws") -> dict[str, float]:
    """Bytes of ``new`` whose chunks are not already in ``old`` (what a delta transfer would send)."""
    old_b, new_b = Path(old).read_bytes(), Path(new).read_bytes()
    have = {hashlib.sha256(c).digest() for c in chunks(old_b)}
    changed = sum(len(c) for c in chunks(new_b) if hashlib.sha256(c).digest() not in have)
    frac = changed / len(new_b) if new_b else 0.0
    out = {"new_bytes": float(len(new_b)), "changed_bytes": float(changed), "send_fraction": frac}
    if gb_per_month is not None:
        full, delta = egress_cost(cloud, gb_per_month), egress_cost(cloud, gb_per_month * frac)
        out |= {"full_usd": full, "delta_usd": delta, "saving_usd": full - delta}
    return out


def interconnect_breakeven(cloud: str, region: str = "us-east-1") -> dict[str, float]:
    """GB/month above which a dedicated port (hourly fee + cheaper per-GB) beats internet egress.

    Internet egress is tiered, so the break-even is found by bisection on the monthly totals.
    """
    if cloud not in CLOUDS:
        raise ValueError(f"cloud must be one of {', '.join(CLOUDS)}")
    spec = other_clouds()["interconnect"][cloud]
    port = float(spec["port_usd_per_hour"]) * HOURS_PER_MONTH
    per_gb = float(load_catalog().raw["direct_connect_out"]["default"]) if cloud == "aws" else float(spec["per_gb_out"])

    def gain(gb: float) -> float:
        return egress_cost(cloud, gb, region) - (port + per_gb * gb)

    lo, hi = 0.0, 1e9
    if gain(hi) <= 0:
        return {"port_usd_per_month": port, "per_gb": per_gb, "breakeven_gb": float("inf")}
    for _ in range(100):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if gain(mid) <= 0 else (lo, mid)
    return {"port_usd_per_month": port, "per_gb": per_gb, "breakeven_gb": hi, "name": spec["name"]}


@dataclass(frozen=True)
class Transfer:
    name: str
    gb: float
    earliest_hour: int
    deadline_hour: int  # exclusive


def schedule_transfers(
    transfers: list[Transfer], hourly_price: list[float], hourly_capacity_gb: float
) -> dict[str, dict[int, float]]:
    """Place deferrable transfers into the cheapest hours of their windows, earliest deadline first.

    ``hourly_price`` is USD/GB per hour of the horizon (e.g. 0 for hours under a percentile-billed link's
    already-paid level, the marginal rate above it); each hour carries at most ``hourly_capacity_gb``.
    Raises ValueError when a transfer cannot finish by its deadline.
    """
    free = [hourly_capacity_gb] * len(hourly_price)
    plan: dict[str, dict[int, float]] = {}
    for tr in sorted(transfers, key=lambda t: (t.deadline_hour, t.earliest_hour)):
        if not 0 <= tr.earliest_hour < tr.deadline_hour <= len(hourly_price):
            raise ValueError(f"transfer {tr.name}: window outside the horizon")
        left, placed = tr.gb, {}
        for h in sorted(range(tr.earliest_hour, tr.deadline_hour), key=lambda h: (hourly_price[h], h)):
            take = min(left, free[h])
            if take > 0:
                placed[h] = take
                free[h] -= take
                left -= take
            if left <= 1e-9:
                break
        if left > 1e-9:
            raise ValueError(f"transfer {tr.name} does not fit before hour {tr.deadline_hour}")
        plan[tr.name] = dict(sorted(placed.items()))
    return plan
