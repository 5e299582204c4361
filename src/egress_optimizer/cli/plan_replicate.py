"""``egress plan replicate``: cost-optimal replication trees to many regions (Cloudcast, NSDI'24; CloudMPcast)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import stdout
from egress_optimizer.cli.plan import plan_app
from egress_optimizer.errors import InputError

_ALGOS = "cloudcast|cloudmpcast|steiner|steiner-ilp|mdst|spider|direct"


def _split(dst: list[str]) -> list[str]:
    out = [r.strip() for item in dst for r in item.split(",") if r.strip()]
    if not out:
        raise InputError("give at least one destination with --dst")
    return out


def _print_plan(plan) -> None:
    head = Table(title=f"{plan.algo}: {plan.src} -> {len(plan.dsts)} regions, {plan.size_gb:g} GB")
    for col in ("stripe", "GB", "tree edges"):
        head.add_column(col, justify="right" if col != "tree edges" else "left")
    for t in plan.stripes:
        head.add_row(str(t.stripe), f"{t.gb:g}", ", ".join(f"{a}->{b}" for a, b in t.edges))
    stdout.print(head)
    vms = Table(title="VMs per region")
    vms.add_column("region")
    vms.add_column("VMs", justify="right")
    for r, n in sorted(plan.vms.items()):
        vms.add_row(r, str(n))
    stdout.print(vms)
    stdout.print(
        f"egress ${plan.egress_cost_usd:,.2f} + VMs ${plan.vm_cost_usd:,.2f} = ${plan.total_cost_usd:,.2f}; "
        f"predicted {plan.predicted_time_s:,.0f} s (budget {plan.time_budget_s:,.0f} s); "
        f"solved in {plan.solve_time_s:.2f} s ({plan.status})"
    )


def _chart(points: list[dict], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([p["predicted_time_s"] for p in points], [p["total_cost_usd"] for p in points], "o-", label="total")
    ax.plot([p["predicted_time_s"] for p in points], [p["egress_cost_usd"] for p in points], "s--", label="egress")
    ax.set_xlabel("predicted replication time (s)")
    ax.set_ylabel("cost (USD)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


@plan_app.command("replicate")
def replicate_cmd(
    src: str = typer.Option(..., "--src", help="Source region, provider:region (e.g. aws:us-east-1)."),
    dst: list[str] = typer.Option(..., "--dst", help="Destination region(s), comma-separated or repeated."),
    size_gb: float = typer.Option(..., "--size-gb", help="Object size in GB."),
    time_budget_s: float = typer.Option(None, "--time-budget-s", help="Replication-time budget (default: loose)."),
    stripes: int = typer.Option(10, "--stripes", help="Stripes the object is split into."),
    max_vms: int = typer.Option(2, "--max-vms", help="Most VMs per region."),
    algo: str = typer.Option("cloudcast", "--algo", help=_ALGOS),
    exact: bool = typer.Option(False, "--exact", help="Cloudcast without its approximations (slow)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    pareto: bool = typer.Option(False, "--pareto", help="Sweep time budgets and chart cost against time."),
    chart: Path = typer.Option(Path("pareto.png"), "--chart", help="PNG path for --pareto."),
) -> None:
    """Plan the cheapest replication trees from one region to many (Cloudcast MILP or a baseline)."""
    from egress_optimizer.planners.replication import pareto_points, plan_replication

    dsts = _split(dst)
    kw = {"stripes": stripes, "max_vms": max_vms, "algo": algo, "exact": exact}
    if pareto:
        if chart.parent and not chart.resolve().parent.exists():
            raise InputError(f"folder {str(chart.resolve().parent)!r} for --chart does not exist")
        plan_replication(src, dsts, size_gb, **kw)  # validates the input once, with a clear message
        points = pareto_points(src, dsts, size_gb, **kw)
        if not points:
            raise InputError("no time budget in the sweep is feasible")
        _chart(points, chart, f"{algo}: {src} -> {len(dsts)} regions, {size_gb:g} GB")
        if json_out:
            print(json.dumps({"points": points, "chart": str(chart)}))
            return
        table = Table(title=f"Cost / time trade-off ({algo}); chart in {chart}")
        for col in ("budget s", "predicted s", "egress $", "VM $", "total $"):
            table.add_column(col, justify="right")
        for p in points:
            table.add_row(*(f"{p[k]:,.2f}" for k in p))
        stdout.print(table)
        return
    plan = plan_replication(src, dsts, size_gb, time_budget_s=time_budget_s, **kw)
    if json_out:
        print(json.dumps(plan.to_dict()))
    else:
        _print_plan(plan)
