"""``egress price``: small calculators for egress, CDN, compression, delta transfer, interconnects, scheduling."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.errors import InputError

price_app = typer.Typer(name="price", help="Egress price calculators.", no_args_is_help=True, rich_markup_mode=None)
app.add_typer(price_app, name="price")


def _emit(doc: dict, json_out: bool) -> None:
    if json_out:
        print(json.dumps(doc))
    else:
        for k, v in doc.items():
            stdout.print(f"{k}: {v:,.4f}" if isinstance(v, float) else f"{k}: {v}")


def _calc(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except (ValueError, OSError) as e:
        raise InputError(str(e)) from None


@price_app.command("egress")
def egress_cmd(
    cloud: str = typer.Option("aws", "--cloud", help="aws, azure or gcp."),
    region: str = typer.Option("us-east-1", "--region", help="AWS region (tiers differ by region)."),
    gb: float = typer.Option(..., "--gb", help="GB to the internet this month."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Tiered internet egress cost for one month."""
    from egress_optimizer.planners.calculators import egress_cost

    _emit({"cloud": cloud, "gb": gb, "cost_usd": _calc(egress_cost, cloud, gb, region)}, json_out)


@price_app.command("cdn")
def cdn_cmd(
    gb: float = typer.Option(..., "--gb"),
    region: str = typer.Option("us-east-1", "--region"),
    geo: str = typer.Option("US", "--geo", help="CloudFront price class geography (US, EU, AP, ...)."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Direct-from-origin vs CloudFront egress cost."""
    from egress_optimizer.planners.calculators import cdn_vs_direct

    _emit(_calc(cdn_vs_direct, gb, region, geo), json_out)


@price_app.command("compression")
def compression_cmd(
    sample: Path = typer.Option(..., "--sample", help="A sample file of the data you send."),
    gb: float = typer.Option(..., "--gb", help="GB per month sent uncompressed today."),
    level: int = typer.Option(3, "--level", min=1, max=22),
    cloud: str = typer.Option("aws", "--cloud"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Egress saved by zstd, with the ratio measured on your sample."""
    from egress_optimizer.planners.calculators import compression_savings

    _emit(_calc(compression_savings, sample, gb, level, cloud), json_out)


@price_app.command("delta")
def delta_cmd(
    old: Path = typer.Option(..., "--old"),
    new: Path = typer.Option(..., "--new"),
    gb: float = typer.Option(None, "--gb", help="GB per month of full transfers (to price the saving)."),
    cloud: str = typer.Option("aws", "--cloud"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Bytes a chunk-level delta transfer would send instead of the whole new file."""
    from egress_optimizer.planners.calculators import delta_savings

    _emit(_calc(delta_savings, old, new, gb, cloud), json_out)


@price_app.command("interconnect")
def interconnect_cmd(
    cloud: str = typer.Option("aws", "--cloud"),
    region: str = typer.Option("us-east-1", "--region"),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """GB/month at which a dedicated interconnect port pays off against internet egress."""
    from egress_optimizer.planners.calculators import interconnect_breakeven

    _emit(_calc(interconnect_breakeven, cloud, region), json_out)


@price_app.command("schedule")
def schedule_cmd(
    transfers: Path = typer.Option(..., "--transfers", help="JSON: [{name, gb, earliest_hour, deadline_hour}]."),
    prices: str = typer.Option(..., "--prices", help="Comma list of USD/GB per hour of the horizon."),
    capacity_gb: float = typer.Option(..., "--capacity-gb", help="GB one hour can carry."),
    json_out: bool = typer.Option(False, "--json"),
) -> None:
    """Place deferrable transfers into the cheapest hours before their deadlines."""
    from egress_optimizer.planners.calculators import Transfer, schedule_transfers

    try:
        items = [Transfer(str(t["name"]), float(t["gb"]), int(t["earliest_hour"]), int(t["deadline_hour"]))
                 for t in json.loads(transfers.read_text())]  # fmt: skip
        hourly = [float(p) for p in prices.split(",")]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"bad --transfers or --prices: {e}") from None
    plan = _calc(schedule_transfers, items, hourly, capacity_gb)
    cost = sum(gb * hourly[h] for placed in plan.values() for h, gb in placed.items())
    _emit({"plan": {k: {str(h): v for h, v in p.items()} for k, p in plan.items()}, "cost_usd": cost}, json_out)
