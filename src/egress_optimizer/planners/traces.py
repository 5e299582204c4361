"""Synthetic 5-minute egress demand traces and link sets for the percentile-billing planner.

The shape follows what the CASCARA paper (Singh et al., "Cost-effective cloud edge traffic engineering with
CASCARA", NSDI 2021) reports for cloud-edge traffic: a strong diurnal cycle, a weaker weekly cycle (quieter
weekends), multiplicative noise, and short bursts (flash crowds, backups) that dominate the top slots of a month.
Everything is seeded so benchmarks and tests are reproducible.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

SLOT_MINUTES = 5
SLOTS_PER_DAY = 24 * 60 // SLOT_MINUTES  # 288
MONTH_SLOTS = 30 * SLOTS_PER_DAY  # 8,640 slots: one 30-day billing period


@dataclass(frozen=True)
class Link:
    """A transit/peering link billed on its 95th-percentile utilisation."""

    name: str
    capacity_mbps: float
    rate_usd_per_mbps: float


def synthetic_trace(
    days: int = 30,
    seed: int = 0,
    mean_mbps: float = 4000.0,
    diurnal_amplitude: float = 0.45,
    weekend_dip: float = 0.2,
    noise: float = 0.06,
    bursts_per_day: float = 1.5,
) -> np.ndarray:
    """Demand in Mbps for ``days`` x 288 five-minute slots.

    Diurnal: a sinusoid peaking in the evening with a random phase offset per trace; weekly: weekend days are
    ``weekend_dip`` lower; noise: log-normal, AR(1)-correlated so neighbouring slots move together; bursts:
    Poisson arrivals lasting 15 min to 3 h adding 30-120% of the mean.
    """
    if days < 1:
        raise ValueError("days must be >= 1")
    rng = np.random.default_rng(seed)
    n = days * SLOTS_PER_DAY
    t = np.arange(n)
    hour = (t % SLOTS_PER_DAY) * SLOT_MINUTES / 60.0
    phase = rng.uniform(-2.0, 2.0)
    diurnal = 1.0 + diurnal_amplitude * np.sin(2 * np.pi * (hour - 14.0 - phase) / 24.0)
    weekday = (t // SLOTS_PER_DAY + rng.integers(0, 7)) % 7
    weekly = np.where(weekday >= 5, 1.0 - weekend_dip, 1.0)
    # AR(1) noise: a month of independent noise would be unrealistically jagged at 5-minute resolution
    eps = rng.normal(0.0, noise, n)
    ar = np.empty(n)
    ar[0] = eps[0]
    rho = 0.8
    scale = np.sqrt(1 - rho**2)
    for i in range(1, n):
        ar[i] = rho * ar[i - 1] + scale * eps[i]
    demand = mean_mbps * diurnal * weekly * np.exp(ar)
    n_bursts = rng.poisson(bursts_per_day * days)
    for start in rng.integers(0, n, n_bursts):
        length = int(rng.integers(3, 37))
        demand[start : start + length] += mean_mbps * rng.uniform(0.3, 1.2)
    return np.maximum(demand, 0.0)


def synthetic_links(seed: int = 0, n_links: int = 4, peak_mbps: float = 10000.0) -> list[Link]:
    """A seeded link set whose total capacity covers ``peak_mbps`` with headroom, with distinct rates.

    Rates are in the range transit/IX ports are quoted at ($0.3-$4 per Mbps per month); cheaper links tend to be
    smaller, as with settlement-free peering vs paid transit.
    """
    rng = np.random.default_rng(seed + 10_000)
    rates = np.sort(rng.uniform(0.3, 4.0, n_links))
    weights = rng.uniform(0.6, 1.4, n_links) * np.linspace(0.7, 1.3, n_links)
    caps = weights / weights.sum() * peak_mbps * rng.uniform(1.3, 1.6)
    return [
        Link(f"link{i + 1}", float(round(c, 1)), float(round(r, 3)))
        for i, (c, r) in enumerate(zip(caps, rates, strict=True))
    ]


def write_trace_csv(path: Path, demand: np.ndarray, start: datetime | None = None) -> None:
    """Write ``timestamp,demand_mbps`` rows, one per 5-minute slot."""
    start = start or datetime(2026, 11, 1, tzinfo=UTC)
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["timestamp", "demand_mbps"])
        for i, d in enumerate(demand):
            ts = start + timedelta(minutes=SLOT_MINUTES * i)
            w.writerow([ts.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{float(d):.3f}"])
