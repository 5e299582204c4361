"""Benchmarks for ``egress plan replicate`` (Cloudcast-style replication trees). Prints tables.

Usage: ``python bench/replicate.py [case1] [random N WALL_SECONDS [LIMIT_S]] [big] [gcp]`` (all by default).

- case1: aws:ap-northeast-1 to six AWS regions, 300 GB, 10 stripes, <= 2 VMs: every algorithm.
- random: N seeded instances (5 destinations on the 71-region grid): approximations vs the exact program
  (LIMIT_S solver time limit per instance, default 90), stopping early after WALL_SECONDS of wall time (the
  count actually run is printed, with how many exact runs were proven optimal).
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
    print("budget 0.75 x direct-send time; approx = clustering + <= 2 hops + stripe-iterative + refinement;")
    print(f"exact = no clustering, no hop limit, all stripes jointly ({limit_s:g} s solver limit), warm-started from")
    print("the approximate plan. error = approx vs the exact incumbent; bound error = approx vs the exact program's")
    print("proven lower bound (an upper bound on the true error; equal to error when exact is proven optimal).")
    print("Times are CPU seconds of this process (HiGHS runs one thread in it), robust to a shared machine's load;")
    print("speedup = exact CPU s / approx CPU s (wall seconds in the last column)")
    prof = load_profile()
    rng = random.Random(seed)
    row("#", "src", "approx $", "exact $", "exact bound $", "error %", "bound error %", "approx s", "exact s",
        "speedup", "exact status", "wall s approx / exact")  # fmt: skip
    row(*["---"] * 12)
    res: list[tuple[int, str, float, float, float, str]] = []  # (#, src, error, bound error, speedup, status)
    t_start = time.perf_counter()
    for i in range(n):
        if time.perf_counter() - t_start > wall_s:
            break
        regions = rng.sample(prof.regions, 6)
        src, dsts = regions[0], regions[1:]
        budget = 0.75 * direct_time(prof, src, dsts, size_gb, 2)
        kw = dict(stripes=stripes, max_vms=2, time_budget_s=budget)
        c0 = time.process_time()
        try:
            a = plan_replication(src, dsts, size_gb, **kw)
        except Exception as e:
            row(i, src, f"approx failed: {e}", *[""] * 9)
            continue
        c1 = time.process_time()
        try:
            x = plan_replication(src, dsts, size_gb, exact=True, time_limit_s=limit_s, **kw)
        except Exception as e:
            row(i, src, f"{a.total_cost_usd:.2f}", f"exact failed: {e}", *[""] * 8)
            continue
        ca, cx = c1 - c0, time.process_time() - c1
        lb = x.lower_bound_usd if x.lower_bound_usd is not None else x.total_cost_usd
        err = 100 * (a.total_cost_usd - x.total_cost_usd) / x.total_cost_usd
        berr = 100 * (a.total_cost_usd - lb) / lb
        sp = cx / max(ca, 1e-3)
        res.append((i, src, err, berr, sp, x.status))
        row(i, src, f"{a.total_cost_usd:.2f}", f"{x.total_cost_usd:.2f}", f"{lb:.2f}", f"{err:.2f}", f"{berr:.2f}",
            f"{ca:.2f}", f"{cx:.1f}", f"{sp:.0f}x", x.status,
            f"{a.solve_time_s:.2f} / {x.solve_time_s:.1f}")  # fmt: skip
    if res:
        errors = [r[2] for r in res]
        berrors = [r[3] for r in res]
        gm = math.exp(sum(math.log(r[4]) for r in res) / len(res))
        proven = sum(r[5] == "optimal" for r in res)
        wall = time.perf_counter() - t_start
        print(f"\ninstances run: {len(res)} of {n} (wall {wall:.0f} s); exact proven optimal: {proven};"
              f" mean cost error {sum(errors) / len(errors):.3f}% (max {max(errors):.2f}%, approx = exact on"
              f" {sum(abs(e) < 0.005 for e in errors)}); mean error vs the exact bound"
              f" {sum(berrors) / len(berrors):.3f}% (max {max(berrors):.2f}%); geometric-mean speedup {gm:.0f}x"
              f" (min {min(r[4] for r in res):.0f}x)")  # fmt: skip
        worst = sorted(res, key=lambda r: -r[3])[:5]
        print("worst by bound error: " + "; ".join(f"#{r[0]} {r[1]} {r[2]:.2f}% ({r[3]:.2f}% vs bound, {r[5]})"
                                                   for r in worst))  # fmt: skip


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
        limit = float(sections[i + 3]) if len(sections) > i + 3 and sections[i + 3].isdigit() else 90
        random_instances(n, wall, limit_s=limit)
    if "big" in sections:
        big()
    if "gcp" in sections:
        gcp()


if __name__ == "__main__":
    main(sys.argv[1:])
