"""Benchmarks for ``egress plan replicate`` (Cloudcast-style replication trees). Prints tables.

Usage: ``python bench/replicate.py [case1] [random N WALL_SECONDS] [big] [gcp]`` (all sections by default).

- case1: aws:ap-northeast-1 to six AWS regions, 300 GB, 10 stripes, <= 2 VMs: every algorithm.
- random: N seeded instances (5 destinations on the 71-region grid): approximations vs the exact program,
  stopping early after SECONDS of wall time (the count actually run is printed).
- big: 20 destinations with the approximations on.
- gcp: a GCP source to six AWS regions, $/TB direct vs planned.
"""

from __future__ import annotations

import math
import random
import sys
import time

from egress_optimizer.planners.profiles import load_profile
from egress_optimizer.planners.replication import ALGOS, direct_time, plan_replication

CASE1_SRC = "aws:ap-northeast-1"
CASE1_DSTS = [
    "aws:me-south-1",
    "aws:eu-south-1",
    "aws:us-west-2",
    "aws:us-east-1",
    "aws:sa-east-1",
    "aws:ap-southeast-1",
]


def row(*cells: object) -> None:
    print("| " + " | ".join(str(c) for c in cells) + " |", flush=True)


def case1() -> None:
    print("\n### Case 1: aws:ap-northeast-1 -> 6 AWS regions, 300 GB, 10 stripes, <= 2 VMs/region")
    prof = load_profile()
    direct_check = 300 * sum(prof.cost[prof.idx(CASE1_SRC), prof.idx(d)] for d in CASE1_DSTS)
    print(f"direct from cost.csv: 300 GB x sum of six $/GB = ${direct_check:.2f}")
    row("algo", "egress $", "VM $", "total $", "predicted s", "budget s", "solve s", "status")
    row(*["---"] * 8)
    for algo in ALGOS:
        p = plan_replication(CASE1_SRC, CASE1_DSTS, 300, algo=algo, stripes=10, max_vms=2)
        row(algo, f"{p.egress_cost_usd:.2f}", f"{p.vm_cost_usd:.2f}", f"{p.total_cost_usd:.2f}",
            f"{p.predicted_time_s:.0f}", f"{p.time_budget_s:.0f}", f"{p.solve_time_s:.2f}", p.status)  # fmt: skip
    p = plan_replication(CASE1_SRC, CASE1_DSTS, 300, stripes=10, max_vms=2, exact=True, time_limit_s=120)
    row("cloudcast --exact", f"{p.egress_cost_usd:.2f}", f"{p.vm_cost_usd:.2f}", f"{p.total_cost_usd:.2f}",
        f"{p.predicted_time_s:.0f}", f"{p.time_budget_s:.0f}", f"{p.solve_time_s:.2f}", p.status)  # fmt: skip


def random_instances(
    n: int, wall_s: float, stripes: int = 2, size_gb: float = 100.0, seed: int = 2026, limit_s: float = 90
) -> None:
    print(f"\n### {n} random instances (seed {seed}): 5 destinations, {size_gb:g} GB, {stripes} stripes, <= 2 VMs,")
    print("budget 0.75 x direct-send time; exact = no clustering, no hop limit, all stripes jointly")
    print(f"({limit_s:g} s solver limit),")
    print("warm-started from the approximate plan")
    prof = load_profile()
    rng = random.Random(seed)
    row("#", "src", "approx $", "exact $", "error %", "approx s", "exact s", "speedup", "exact status")
    row(*["---"] * 9)
    errors, speedups, proven = [], [], 0
    t_start = time.perf_counter()
    for i in range(n):
        if time.perf_counter() - t_start > wall_s:
            break
        regions = rng.sample(prof.regions, 6)
        src, dsts = regions[0], regions[1:]
        budget = 0.75 * direct_time(prof, src, dsts, size_gb, 2)
        kw = dict(stripes=stripes, max_vms=2, time_budget_s=budget)
        try:
            a = plan_replication(src, dsts, size_gb, **kw)
        except Exception as e:
            row(i, src, f"approx failed: {e}", "", "", "", "", "", "")
            continue
        try:
            x = plan_replication(src, dsts, size_gb, exact=True, time_limit_s=limit_s, **kw)
        except Exception as e:
            row(i, src, f"{a.total_cost_usd:.2f}", f"exact failed: {e}", "", "", "", "", "")
            continue
        err = 100 * (a.total_cost_usd - x.total_cost_usd) / x.total_cost_usd
        sp = x.solve_time_s / max(a.solve_time_s, 1e-3)
        errors.append(err)
        speedups.append(sp)
        proven += x.status == "optimal"
        row(i, src, f"{a.total_cost_usd:.2f}", f"{x.total_cost_usd:.2f}", f"{err:.2f}", f"{a.solve_time_s:.2f}",
            f"{x.solve_time_s:.1f}", f"{sp:.0f}x", x.status)  # fmt: skip
    if errors:
        gm = math.exp(sum(math.log(s) for s in speedups) / len(speedups))
        wall = time.perf_counter() - t_start
        print(f"\ninstances run: {len(errors)} of {n} (wall {wall:.0f} s); exact proven optimal:"
              f" {proven}; mean cost error {sum(errors) / len(errors):.2f}% (max {max(errors):.2f}%);"
              f" geometric-mean speedup {gm:.0f}x")  # fmt: skip


def big() -> None:
    print("\n### 20 destinations (approximations on), 300 GB, 10 stripes, <= 2 VMs")
    prof = load_profile()
    rng = random.Random(20)
    row("src", "direct $", "cloudcast $", "predicted s", "solve s")
    row(*["---"] * 5)
    for _ in range(3):
        regions = rng.sample(prof.regions, 21)
        d = plan_replication(regions[0], regions[1:], 300, algo="direct")
        p = plan_replication(regions[0], regions[1:], 300)
        row(regions[0], f"{d.total_cost_usd:.2f}", f"{p.total_cost_usd:.2f}", f"{p.predicted_time_s:.0f}",
            f"{p.solve_time_s:.2f}")  # fmt: skip


def gcp() -> None:
    print("\n### gcp:us-central1-a -> six AWS regions, 1 TB (1000 GB), 10 stripes, <= 2 VMs")
    dsts = [
        "aws:us-east-1",
        "aws:us-west-2",
        "aws:eu-west-1",
        "aws:ap-northeast-1",
        "aws:ap-southeast-2",
        "aws:sa-east-1",
    ]
    row("algo", "egress $/TB", "VM $", "total $/TB", "predicted s", "solve s")
    row(*["---"] * 6)
    for algo in ("direct", "steiner", "cloudmpcast", "cloudcast"):
        p = plan_replication("gcp:us-central1-a", dsts, 1000, algo=algo)
        row(algo, f"{p.egress_cost_usd:.2f}", f"{p.vm_cost_usd:.2f}", f"{p.total_cost_usd:.2f}",
            f"{p.predicted_time_s:.0f}", f"{p.solve_time_s:.2f}")  # fmt: skip
    print("tree (cloudcast, stripe 0): " + ", ".join(f"{a}->{b}" for a, b in p.stripes[0].edges))


def main(argv: list[str]) -> None:
    sections = argv or ["case1", "random", "big", "gcp"]
    if "case1" in sections:
        case1()
    if "random" in sections:
        i = sections.index("random")
        n = int(sections[i + 1]) if len(sections) > i + 1 and sections[i + 1].isdigit() else 100
        wall = float(sections[i + 2]) if len(sections) > i + 2 and sections[i + 2].isdigit() else 1800
        random_instances(n, wall)
    if "big" in sections:
        big()
    if "gcp" in sections:
        gcp()


if __name__ == "__main__":
    main(sys.argv[1:])
