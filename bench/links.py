"""Benchmark the percentile-billing planner: CASCARA online vs the offline optimum and the baselines.

Usage: .venv/bin/python bench/links.py [--traces 12] [--time-limit 45] [--append-results]

Each trace is 60 synthetic days (seeded): the first 30 days are the history the online heuristic is tuned on
(C_f, alpha, beta, as CASCARA tunes C_f on the previous billing period); the last 30 days (8,640 slots) are
billed. The offline optimum is the MILP of ``planners/cascara.py`` warm-started with the best heuristic and
run under a time limit; its HiGHS dual bound is a proven lower bound on the optimal bill, so
``online / lower bound`` is a conservative (upper) estimate of ``online / optimum``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from egress_optimizer.planners import cascara as c
from egress_optimizer.planners.traces import MONTH_SLOTS, synthetic_links, synthetic_trace


def run_one(seed: int, time_limit: float) -> dict:
    d = synthetic_trace(60, seed=seed)
    hist, month = d[:MONTH_SLOTS], d[MONTH_SLOTS:]
    links = synthetic_links(seed, n_links=3 + seed % 3, peak_mbps=float(d.max()))
    t0 = time.perf_counter()
    params = c.tune_online(hist, links)
    online = c.cascara_online(month, links, params)
    online_s = time.perf_counter() - t0
    lb = c.load_balance(month, links)
    greedy = c.greedy_cheapest(month, links)
    top10 = c.top10_proxy(month, links)
    start = min((online, greedy, top10, c.hindsight_online(month, links)), key=lambda a: a.cost)
    off = c.offline_optimum(month, links, time_limit=time_limit, warm_start=start)
    bound = off.info["lower_bound_usd"]
    return {
        "seed": seed,
        "links": len(links),
        "cf": params.cf,
        "online": online.cost,
        "offline": off.cost,
        "bound": bound,
        "gap": off.info["mip_gap"],
        "lb": lb.cost,
        "greedy": greedy.cost,
        "top10": top10.cost,
        "online_s": online_s,
        "milp_s": off.info["solve_seconds"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--traces", type=int, default=12)
    ap.add_argument("--time-limit", type=float, default=45.0)
    ap.add_argument("--append-results", action="store_true", help="Append the markdown table to bench/RESULTS.md")
    args = ap.parse_args()
    rows = []
    for seed in range(args.traces):
        r = run_one(seed, args.time_limit)
        rows.append(r)
        print(
            f"seed {seed}: online {r['online']:.0f} offline {r['offline']:.0f} bound {r['bound']:.0f} "
            f"ratio {r['online'] / r['offline']:.3f} (vs bound {r['online'] / r['bound']:.3f})",
            flush=True,
        )
    head = [
        "trace", "links", "C_f", "online $", "offline best $", "MILP bound $", "MILP gap",
        "online/offline", "online/bound", "load-bal $", "greedy $", "top-10% $", "saving vs load-bal", "MILP s",
    ]  # fmt: skip
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table = Table(title="Percentile billing: CASCARA online vs offline optimum and baselines")
    for h in head:
        table.add_column(h, justify="right")
    for r in rows:
        cells = [
            str(r["seed"]), str(r["links"]), f"{r['cf']:.3f}", f"{r['online']:,.0f}", f"{r['offline']:,.0f}",
            f"{r['bound']:,.0f}", f"{100 * r['gap']:.1f}%", f"{r['online'] / r['offline']:.3f}",
            f"{r['online'] / r['bound']:.3f}", f"{r['lb']:,.0f}", f"{r['greedy']:,.0f}", f"{r['top10']:,.0f}",
            f"{100 * (1 - r['online'] / r['lb']):.1f}%", f"{r['milp_s']:.0f}",
        ]  # fmt: skip
        table.add_row(*cells)
        md.append("| " + " | ".join(cells) + " |")
    ratios = np.array([r["online"] / r["offline"] for r in rows])
    bound_ratios = np.array([r["online"] / r["bound"] for r in rows])
    savings = np.array([1 - r["online"] / r["lb"] for r in rows])
    summary = (
        f"{len(rows)} traces: online/offline max {ratios.max():.3f} (mean {ratios.mean():.3f}); "
        f"online/MILP-lower-bound max {bound_ratios.max():.3f} (mean {bound_ratios.mean():.3f}); "
        f"acceptance (<= 1.10x optimum) {'met' if bound_ratios.max() <= 1.10 else 'not proven' if ratios.max() <= 1.10 else 'not met'}; "  # noqa: E501
        f"saving vs load balancing mean {100 * savings.mean():.1f}% (min {100 * savings.min():.1f}%, "
        f"max {100 * savings.max():.1f}%)"
    )
    Console().print(table)
    print(summary)
    if args.append_results:
        path = Path(__file__).with_name("RESULTS.md")
        text = "\n".join(md)
        with open(path, "a") as f:
            f.write(f"\n{text}\n\n{summary}\n")


if __name__ == "__main__":
    main()
