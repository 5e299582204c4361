"""``egress plan links`` (percentile-billing link allocation, CASCARA) and ``egress plan route`` (overlay paths)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import stdout
from egress_optimizer.cli.plan import plan_app
from egress_optimizer.errors import InputError


@plan_app.command("links")
def links_cmd(
    demand: Path = typer.Option(None, "--demand", help="CSV timestamp,demand_mbps (5-minute slots)."),
    links: Path = typer.Option(None, "--links", help="YAML: links: [{name, capacity_mbps, rate_usd_per_mbps}]."),
    synthetic_days: int = typer.Option(0, "--synthetic-days", min=0, max=366, help="Use a synthetic trace instead."),
    seed: int = typer.Option(0, "--seed", help="Seed of the synthetic trace and links."),
    history: Path = typer.Option(None, "--history", help="Previous period's CSV to tune the online heuristic on."),
    cf: float = typer.Option(None, "--cf", min=0.0, max=1.0, help="Billable capacity fraction (skips tuning)."),
    strategies: str = typer.Option("online,offline,load_balance,greedy,top10", "--strategies", help="Comma list."),
    time_limit: float = typer.Option(30.0, "--time-limit", min=1.0, help="MILP time limit in seconds."),
    out: Path = typer.Option(None, "--out", help="Write the per-slot allocation of the cheapest strategy (CSV)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Split 5-minute demand across links billed on their 95th percentile; compare CASCARA with baselines."""
    from egress_optimizer.planners import cascara as c
    from egress_optimizer.planners.traces import synthetic_links, synthetic_trace

    chosen = [s.strip() for s in strategies.split(",") if s.strip()]
    try:
        c.check_strategies(chosen)  # before any solving
        if synthetic_days:
            d = synthetic_trace(synthetic_days, seed)
        elif demand is not None:
            d = c.load_demand_csv(demand)
        else:
            raise InputError("pass --demand CSV or --synthetic-days N")
        if links is not None:
            link_set = c.load_links_yaml(links)
        elif synthetic_days:
            link_set = synthetic_links(seed, peak_mbps=float(d.max()))
        else:
            raise InputError("pass --links YAML")
        c.check_feasible(d, link_set)
        if cf is not None:
            params, tuned_on = c.OnlineParams(cf=cf), "given --cf"
        elif history is not None:
            params, tuned_on = c.tune_online(c.load_demand_csv(history), link_set), f"history {history.name}"
        else:
            params, tuned_on = c.tune_online(d, link_set), "this trace (hindsight)"
        results = c.compare_strategies(d, link_set, chosen, params, tuned_on, time_limit)
    except ValueError as e:
        raise InputError(str(e)) from None
    best = min(results, key=lambda s: results[s].cost)
    if out is not None:
        _write_allocation(out, results[best])
    if json_out:
        doc = {
            "slots": len(d),
            "free_slots_per_link": c.free_slots(len(d)),
            "cheapest": best,
            "strategies": {k: v.to_dict() for k, v in results.items()},
        }
        print(json.dumps(doc, default=float))
        return
    t = Table(title=f"Percentile billing over {len(d):,} slots ({c.free_slots(len(d))} free per link)")
    t.add_column("strategy")
    for link in link_set:
        t.add_column(f"{link.name} p95 Mbps", justify="right")
    t.add_column("bill $", justify="right")
    for name, a in results.items():
        t.add_row(name, *[f"{p:,.1f}" for p in a.p95], f"{a.cost:,.2f}")
    stdout.print(t)
    if "offline" in results:
        info = results["offline"].info
        stdout.print(
            f"offline MILP: {info['status']}, gap {100 * info['mip_gap']:.2f}%, "
            f"lower bound ${info['lower_bound_usd']:,.2f}, {info['solve_seconds']}s"
        )
    if "load_balance" in results and best != "load_balance":
        saving = 1 - results[best].cost / results["load_balance"].cost
        stdout.print(f"cheapest: {best}, {100 * saving:.1f}% below load balancing")
    if out is not None:
        stdout.print(f"allocation ({best}) written to {out}")


def _write_allocation(path: Path, a) -> None:
    try:
        with open(path, "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["slot", *[link.name for link in a.links]])
            for i, row in enumerate(a.alloc):
                w.writerow([i, *[f"{v:.3f}" for v in row]])
    except OSError as e:
        raise InputError(f"cannot write {path}: {e.strerror}") from None


@plan_app.command("route")
def route_cmd(
    src: str = typer.Option(..., "--src", help="Source region, provider:region (e.g. aws:us-east-1)."),
    dst: str = typer.Option(..., "--dst", help="Destination region."),
    size_gb: float = typer.Option(..., "--size-gb", help="Transfer size in GB."),
    objective: str = typer.Option("cost", "--objective", help="cost, latency or balanced."),
    hop_overhead_s: float = typer.Option(10.0, "--hop-overhead-s", min=0.0, help="Fixed seconds added per hop."),
    max_hops: int = typer.Option(3, "--max-hops", min=1, max=3, help="Longest path considered (latency/balanced)."),
    profiles: Path = typer.Option(None, "--profiles", help="Folder with the Skyplane grid (if not packaged)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Cheapest, fastest or balanced path for one transfer over the measured inter-region grid."""
    from egress_optimizer.planners.routing import load_graph, plan_route

    try:
        rg = load_graph(profiles)
        route = plan_route(rg, src, dst, size_gb, objective, hop_overhead_s, max_hops)
    except FileNotFoundError as e:
        raise InputError(str(e)) from None
    except ValueError as e:
        raise InputError(str(e)) from None
    doc = route.to_dict() | {"size_gb": size_gb}
    if json_out:
        print(json.dumps(doc))
        return
    stdout.print(f"{objective} path: {' -> '.join(route.path)}")
    stdout.print(
        f"${route.cost_usd:,.2f} (${route.usd_per_gb:.4f}/GB), predicted {route.seconds:,.1f} s "
        f"(bottleneck {route.bottleneck_gbps:.2f} Gbit/s)"
    )
