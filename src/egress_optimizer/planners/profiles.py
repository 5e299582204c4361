"""Inter-region network profiles for the replication planner: measured throughput, egress prices, VM limits.

The bundled grid (``egress_optimizer/data/cloud_profiles``) is the 2022-11 Skyplane measurement used by
Cloudcast (Wooders et al., "Cloudcast: High-Throughput, Cost-Aware Overlay Multicast in the Cloud",
NSDI'24): 71 regions of AWS, GCP and Azure, a complete directed graph of VM-to-VM iperf3 throughput and
list egress prices. Apache-2.0, see the README and license file next to the data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from egress_optimizer.errors import InputError

_PACKAGE_DATA = "egress_optimizer.data"
_DIR = "cloud_profiles"


@dataclass(frozen=True)
class Profile:
    """Dense matrices over ``regions``: ``cost[i, j]`` USD/GB and ``gbps[i, j]`` per-VM-pair throughput.

    Missing pairs (and the diagonal) have ``cost = inf`` and ``gbps = 0``: they cannot carry data.
    """

    regions: tuple[str, ...]
    cost: np.ndarray
    gbps: np.ndarray
    egress_gbps: np.ndarray  # per-VM egress limit of each region
    ingress_gbps: np.ndarray  # per-VM ingress limit of each region
    vm_usd_per_hour: float
    index: dict[str, int] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        self.index.update({r: i for i, r in enumerate(self.regions)})

    def idx(self, region: str) -> int:
        """Index of ``region``; unknown regions are an input error."""
        try:
            return self.index[region]
        except KeyError:
            hint = ", ".join(r for r in self.regions if r.split(":")[-1] == region.split(":")[-1])
            raise InputError(
                f"unknown region {region!r} (write provider:region, e.g. aws:us-east-1"
                + (f"; did you mean {hint}?)" if hint else ")")
            ) from None

    def subset(self, regions: list[str]) -> Profile:
        """The profile restricted to ``regions`` (in that order)."""
        ix = np.array([self.idx(r) for r in regions])
        return Profile(
            tuple(regions),
            self.cost[np.ix_(ix, ix)],
            self.gbps[np.ix_(ix, ix)],
            self.egress_gbps[ix],
            self.ingress_gbps[ix],
            self.vm_usd_per_hour,
        )


def _data_file(name: str):
    return resources.files(_PACKAGE_DATA).joinpath(_DIR).joinpath(name)


def _read_csv(source: Path | None, default: str) -> pd.DataFrame:
    if source is None:
        with _data_file(default).open("rb") as fh:
            return pd.read_csv(fh)
    path = Path(source)
    if not path.is_file():
        raise InputError(f"profile file {str(path)!r} does not exist")
    try:
        return pd.read_csv(path)
    except Exception as e:  # malformed user file
        raise InputError(f"cannot read {str(path)!r}: {e}") from None


def _read_limits(source: Path | None) -> dict:
    try:
        if source is None:
            return json.loads(_data_file("vm_limits.json").read_text())
        return json.loads(Path(source).read_text())
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read VM limits {str(source)!r}: {e}") from None


def _throughput_gbps(df: pd.DataFrame) -> pd.DataFrame:
    """Accept the compact bundled format (Gbps) or Skyplane's raw grid (``throughput_sent`` in bits/s)."""
    cols = set(df.columns)
    if {"src_region", "dst_region", "throughput_gbps"} <= cols:
        out = df[["src_region", "dst_region", "throughput_gbps"]].copy()
    elif {"src_region", "dst_region", "throughput_sent"} <= cols:
        out = df[["src_region", "dst_region"]].copy()
        out["throughput_gbps"] = df["throughput_sent"] / 1e9
    else:
        raise InputError(
            "throughput file needs columns src_region, dst_region and throughput_gbps (or throughput_sent in bits/s)"
        )
    # Duplicated measurements (older grids): keep the median per ordered pair.
    return out.groupby(["src_region", "dst_region"], as_index=False)["throughput_gbps"].median()


def _costs(df: pd.DataFrame) -> pd.DataFrame:
    df = df.rename(columns={"dst": "dest", "src_region": "src", "dst_region": "dest"})
    if not {"src", "dest", "cost"} <= set(df.columns):
        raise InputError("price file needs columns src, dest (or dst) and cost (USD/GB)")
    return df.groupby(["src", "dest"], as_index=False)["cost"].max()


def build_profile(tput: pd.DataFrame, cost: pd.DataFrame, limits: dict) -> Profile:
    """Build dense matrices from a throughput table, a price table and the VM-limits document."""
    tput = _throughput_gbps(tput)
    cost = _costs(cost)
    regions = sorted(set(tput.src_region) | set(tput.dst_region) | set(cost.src) | set(cost.dest))
    ix = {r: i for i, r in enumerate(regions)}
    n = len(regions)
    gbps = np.zeros((n, n))
    gbps[tput.src_region.map(ix).to_numpy(), tput.dst_region.map(ix).to_numpy()] = tput.throughput_gbps.to_numpy()
    price = np.full((n, n), np.inf)
    price[cost.src.map(ix).to_numpy(), cost.dest.map(ix).to_numpy()] = cost.cost.to_numpy()
    # A pair is usable only with both a price and a positive throughput.
    unusable = ~np.isfinite(price) | (gbps <= 0)
    np.fill_diagonal(unusable, True)
    price[unusable] = np.inf
    gbps[unusable] = 0.0
    per_vm = limits.get("per_vm_limits_gbps", {})
    try:
        eg = np.array([float(per_vm[r.split(":")[0]]["egress"]) for r in regions])
        ing = np.array([float(per_vm[r.split(":")[0]]["ingress"]) for r in regions])
        vm_price = float(limits["cost_per_instance_hr_usd"])
    except KeyError as e:
        raise InputError(f"VM limits file has no entry for {e}") from None
    return Profile(tuple(regions), price, gbps, eg, ing, vm_price)


@lru_cache(maxsize=1)
def _default_profile() -> Profile:
    return build_profile(_read_csv(None, "throughput_gbps.csv"), _read_csv(None, "cost.csv"), _read_limits(None))


def load_profile(throughput: Path | None = None, prices: Path | None = None, limits: Path | None = None) -> Profile:
    """The bundled 2022-11 grid, or user-supplied throughput / price / VM-limit files in the same formats."""
    if throughput is None and prices is None and limits is None:
        return _default_profile()
    return build_profile(
        _read_csv(throughput, "throughput_gbps.csv"), _read_csv(prices, "cost.csv"), _read_limits(limits)
    )
