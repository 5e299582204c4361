"""Minimum-cost, minimum-time and balanced overlay paths between cloud regions for one bulk transfer.

Data: the Skyplane 2022-11 measurement grid (Jain et al., "Skyplane: Optimizing Transfer Cost and Throughput
Using Cloud-Aware Overlays", NSDI 2023): ``cost.csv`` (src, dest, USD per GB of egress) and ``throughput.csv``
(iperf3 VM-to-VM throughput in bits/s, 64 connections).

Model: a path's dollar cost is ``size_GB x sum(per-hop $/GB)`` (every hop pays its source region's egress).
Its predicted time is ``size / bottleneck throughput + hops x hop_overhead_s``: relays forward chunks in a
pipeline (as Skyplane's gateways do), so the slowest hop sets the rate, and each hop adds a fixed overhead for
VM start-up, connection set-up and store-and-forward of the first chunk (default 10 s, a parameter). One VM
pair per hop; no parallel paths.

Objectives: ``cost`` is Dijkstra on $/GB over the networkx graph (ties broken towards fewer hops); ``latency``
and ``balanced`` enumerate every path of at most ``max_hops`` hops (default 3, vectorised over the dense
matrices: 71 regions give ~5,000 three-hop paths per pair) because bottleneck-plus-overhead is not additive.
``balanced`` minimises ``cost / min_cost + time / min_time`` over those paths: equal weight to the relative
penalty on each axis.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from itertools import pairwise
from pathlib import Path

import networkx as nx
import numpy as np

GRID = "skyplane_grid_2022-11"
OBJECTIVES = ("cost", "latency", "balanced")


@dataclass(frozen=True)
class RegionGraph:
    regions: tuple[str, ...]
    cost: np.ndarray  # USD/GB, inf where no edge
    bps: np.ndarray  # bits/s, 0 where no edge
    source: str

    @property
    def index(self) -> dict[str, int]:
        return {r: i for i, r in enumerate(self.regions)}

    def graph(self) -> nx.DiGraph:
        g = nx.DiGraph()
        g.add_nodes_from(self.regions)
        src, dst = np.nonzero(np.isfinite(self.cost) & (self.bps > 0))
        for i, j in zip(src, dst, strict=True):
            g.add_edge(self.regions[i], self.regions[j], cost=float(self.cost[i, j]), bps=float(self.bps[i, j]))
        return g

    def resolve(self, name: str) -> str:
        """Accept ``provider:region`` or an unambiguous bare region name (``us-east-1``)."""
        if name in self.index:
            return name
        matches = [r for r in self.regions if r.split(":", 1)[-1] == name]
        if len(matches) == 1:
            return matches[0]
        hint = (
            f"; did you mean one of {', '.join(matches)}?"
            if matches
            else " (write provider:region, e.g. aws:us-east-1)"
        )
        raise ValueError(f"unknown region {name!r}{hint}")


def _grid_dir(candidate: Path) -> Path | None:
    for d in (candidate, candidate / GRID, candidate / "cloud_profiles" / GRID):
        if (d / "cost.csv").is_file() and ((d / "throughput.csv").is_file() or (d / "throughput_gbps.csv").is_file()):
            return d
    return None


def find_profiles(profiles: Path | None = None) -> Path:
    """The grid directory: an explicit ``profiles`` folder if given, else the packaged copy.

    ``profiles`` may point at the grid itself, at a ``cloud_profiles`` folder or at a data root holding
    ``cloud_profiles/``.
    """
    if profiles is not None:
        found = _grid_dir(Path(profiles))
        if found is None:
            raise FileNotFoundError(f"no {GRID}/cost.csv and throughput.csv under {profiles}")
        return found
    # The package ships the grid reduced to Gbps (throughput_gbps.csv), flat under data/cloud_profiles.
    packaged = resources.files("egress_optimizer") / "data" / "cloud_profiles"
    if packaged.is_dir():  # installed from a wheel or the source tree; both are real directories here
        found = _grid_dir(Path(str(packaged)))
        if found is not None:
            return found
    raise FileNotFoundError("the packaged cloud profiles are not installed; pass --profiles DIR")


@lru_cache(maxsize=4)
def load_graph(profiles: Path | None = None) -> RegionGraph:
    import pandas as pd

    d = find_profiles(profiles)
    cost = pd.read_csv(d / "cost.csv")
    if (d / "throughput.csv").is_file():
        tput = pd.read_csv(d / "throughput.csv")
        if "success" in tput:
            tput = tput[tput["success"].astype(str).str.lower() == "true"]
    else:  # the packaged copy: the same measurements, already in Gbps
        tput = pd.read_csv(d / "throughput_gbps.csv")
        tput["throughput_sent"] = tput["throughput_gbps"] * 1e9
    regions = tuple(sorted(set(cost["src"]) | set(cost["dest"]) | set(tput["src_region"]) | set(tput["dst_region"])))
    ix = {r: i for i, r in enumerate(regions)}
    n = len(regions)
    c = np.full((n, n), np.inf)
    b = np.zeros((n, n))
    c[cost["src"].map(ix).to_numpy(), cost["dest"].map(ix).to_numpy()] = cost["cost"].to_numpy(float)
    # several measurements of one pair: keep the median
    med = tput.groupby(["src_region", "dst_region"])["throughput_sent"].median()
    for (s, t), v in med.items():
        b[ix[s], ix[t]] = float(v)
    np.fill_diagonal(c, np.inf)
    np.fill_diagonal(b, 0.0)
    return RegionGraph(regions, c, b, str(d))


@dataclass(frozen=True)
class Route:
    objective: str
    path: list[str]
    cost_usd: float
    seconds: float
    bottleneck_gbps: float
    usd_per_gb: float

    def to_dict(self) -> dict:
        return {
            "objective": self.objective,
            "path": self.path,
            "hops": len(self.path) - 1,
            "cost_usd": round(self.cost_usd, 4),
            "usd_per_gb": round(self.usd_per_gb, 5),
            "predicted_seconds": round(self.seconds, 2),
            "bottleneck_gbps": round(self.bottleneck_gbps, 3),
        }


def evaluate(rg: RegionGraph, path: list[str], size_gb: float, hop_overhead_s: float) -> tuple[float, float, float]:
    """(cost USD, seconds, bottleneck bits/s) of ``path`` under the module's model."""
    ix = rg.index
    ids = [ix[p] for p in path]
    per_gb = float(sum(rg.cost[a, b] for a, b in pairwise(ids)))
    bottleneck = float(min(rg.bps[a, b] for a, b in pairwise(ids)))
    seconds = size_gb * 8e9 / bottleneck + (len(ids) - 1) * hop_overhead_s
    return per_gb * size_gb, seconds, bottleneck


def _enumerate(rg: RegionGraph, s: int, t: int, size_gb: float, overhead: float, max_hops: int):
    """Every path of 1..max_hops hops (max 3) as (node ids, $/GB, seconds) arrays, vectorised."""
    c, b = rg.cost, rg.bps
    n = len(rg.regions)
    out: list[tuple[list[int], float, float]] = []

    def secs(bott: np.ndarray, hops: int) -> np.ndarray:
        with np.errstate(divide="ignore", over="ignore"):
            return np.where(bott > 0, size_gb * 8e9 / np.maximum(bott, 1e-300), np.inf) + hops * overhead

    if b[s, t] > 0 and np.isfinite(c[s, t]):
        out.append(([s, t], float(c[s, t]), float(secs(np.array([b[s, t]]), 1)[0])))
    mid = np.array([a for a in range(n) if a not in (s, t)])
    if max_hops >= 2 and len(mid):
        cost2 = c[s, mid] + c[mid, t]
        sec2 = secs(np.minimum(b[s, mid], b[mid, t]), 2)
        for a, cc, ss in zip(mid, cost2, sec2, strict=True):
            if np.isfinite(cc) and np.isfinite(ss):
                out.append(([s, int(a), t], float(cc), float(ss)))
    if max_hops >= 3 and len(mid) > 1:
        cost3 = c[s, mid][:, None] + c[np.ix_(mid, mid)] + c[mid, t][None, :]
        bott3 = np.minimum(np.minimum(b[s, mid][:, None], b[np.ix_(mid, mid)]), b[mid, t][None, :])
        sec3 = secs(bott3, 3)
        ok = np.isfinite(cost3) & np.isfinite(sec3)
        np.fill_diagonal(ok, False)
        for i, j in zip(*np.nonzero(ok), strict=True):
            out.append(([s, int(mid[i]), int(mid[j]), t], float(cost3[i, j]), float(sec3[i, j])))
    return out


def plan_route(
    rg: RegionGraph,
    src: str,
    dst: str,
    size_gb: float,
    objective: str = "cost",
    hop_overhead_s: float = 10.0,
    max_hops: int = 3,
) -> Route:
    """Best path from ``src`` to ``dst`` for ``size_gb`` under ``objective`` (cost, latency or balanced)."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}")
    if size_gb <= 0:
        raise ValueError("size must be > 0 GB")
    if not 1 <= max_hops <= 3:
        raise ValueError("max_hops must be 1, 2 or 3")
    src, dst = rg.resolve(src), rg.resolve(dst)
    if src == dst:
        raise ValueError("source and destination are the same region")
    if objective == "cost":
        g = rg.graph()
        # a tiny per-hop epsilon breaks price ties towards fewer relays without changing the optimum's price
        try:
            path = nx.dijkstra_path(g, src, dst, weight=lambda u, v, e: e["cost"] + 1e-9)
        except nx.NetworkXNoPath:
            raise ValueError(f"no path from {src} to {dst}") from None
    else:
        ix = rg.index
        cands = _enumerate(rg, ix[src], ix[dst], size_gb, hop_overhead_s, max_hops)
        if not cands:
            raise ValueError(f"no path from {src} to {dst} within {max_hops} hops")
        costs = np.array([c for _, c, _ in cands])
        times = np.array([t for _, _, t in cands])
        if objective == "latency":
            score = times + 1e-9 * costs  # ties: cheaper
        else:
            score = costs / max(costs.min(), 1e-12) + times / max(times.min(), 1e-12)
        path = [rg.regions[i] for i in cands[int(np.argmin(score))][0]]
    cost, seconds, bott = evaluate(rg, path, size_gb, hop_overhead_s)
    return Route(objective, path, cost, seconds, bott / 1e9, cost / size_gb)
