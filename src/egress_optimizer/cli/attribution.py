"""``egress reconcile`` and ``egress top``: who paid for the bytes, and does it add up to the bill."""

from __future__ import annotations

import json
import re
from enum import Enum
from pathlib import Path

import pandas as pd
import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.errors import InputError
from egress_optimizer.lake import DEFAULT_LAKE, Lake


class By(str, Enum):  # noqa: UP042 - typer needs the str mixin to list choices
    resource = "resource"
    peer = "peer"
    account = "account"
    team = "team"


NETWORKS_HELP = (
    "Networks file (YAML/JSON: on_premises, other_clouds, cloud_range_files; see egress_optimizer/networks.py). "
    "Default: $EGRESS_NETWORKS, else only the shipped cloud ranges."
)


def _inputs(lake_root: str, inventory: Path | None, networks: Path | None = None):
    """Lake, inventory, price catalog, IP ranges and networks (``networks`` file, else ``$EGRESS_NETWORKS``)."""
    from egress_optimizer.attribution.inventory import Inventory
    from egress_optimizer.ipranges import IpRanges
    from egress_optimizer.networks import Networks
    from egress_optimizer.pricing import load_catalog

    nets = Networks.load(networks)  # first: a bad networks file fails before any lake work
    lake = Lake.open(lake_root, create=False)
    inv = Inventory.from_snapshot(inventory) if inventory else Inventory.from_lake(lake)
    return lake, inv, load_catalog(), IpRanges.load(), nets


def run_reconcile(lake_root: str, inventory: Path | None = None, networks: Path | None = None):
    from egress_optimizer.attribution.reconcile import reconcile

    return reconcile(*_inputs(lake_root, inventory, networks))


def print_reconciliation(rec, limit: int = 15) -> None:
    by_type = rec.rows.groupby("usage_type")[["billed_usd", "attributed_usd", "unexplained_usd"]].sum()
    table = Table(title="Reconciliation with the CUR (data transfer)")
    for col in ("usage type", "billed $", "attributed $", "unexplained $"):
        table.add_column(col, justify="left" if col == "usage type" else "right")
    for ut, r in by_type.sort_values("billed_usd", ascending=False).head(limit).iterrows():
        table.add_row(ut, f"{r.billed_usd:,.2f}", f"{r.attributed_usd:,.2f}", f"{r.unexplained_usd:,.2f}")
    table.add_row(
        "total",
        f"{rec.billed_usd:,.2f}",
        f"{rec.attributed_usd:,.2f}",
        f"{rec.billed_usd - rec.attributed_usd:,.2f}",
        style="bold",
    )
    stdout.print(table)
    stdout.print(
        f"Unexplained: {rec.unexplained_pct:.2f}% of data-transfer dollars (absolute, per account, region, "
        "usage type and day)"
    )


@app.command("reconcile")
def reconcile_cmd(
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    inventory: Path = typer.Option(None, "--inventory", help="Inventory snapshot folder (default: the lake's copy)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON with unexplained_pct and the per-group rows."),
    networks: Path = typer.Option(None, "--networks", help=NETWORKS_HELP),
) -> None:
    """Attributed dollars versus billed dollars per account, region, usage type and day."""
    rec = run_reconcile(lake, inventory, networks)
    if json_out:
        print(json.dumps(rec.to_json(), default=str))
    else:
        print_reconciliation(rec)


def _since(value: str) -> pd.Timedelta:
    m = re.fullmatch(r"(\d+)([hdw])", value.strip())
    if not m:
        raise InputError(f"--since {value!r}: use a number and h, d or w (for example 7d)")
    return pd.Timedelta(int(m.group(1)), {"h": "h", "d": "D", "w": "W"}[m.group(2)])


def top_talkers(attributed: pd.DataFrame, by: str, since: str | None, limit: int) -> pd.DataFrame:
    df = attributed
    if since:
        end = pd.to_datetime(df.hour).max()
        df = df[pd.to_datetime(df.hour) > end - _since(since)]
    key = {
        "resource": ["resource_id", "account", "team"],
        "peer": ["destination", "peer_region"],
        "account": ["account"],
        "team": ["team"],
    }[by]
    out = df.fillna({k: "-" for k in key}).groupby(key, dropna=False)[["gb", "usd"]].sum()
    return out.sort_values("usd", ascending=False).head(limit).reset_index()


@app.command("top")
def top_cmd(
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    by: By = typer.Option(By.resource, "--by", help="resource, peer, account or team."),
    since: str = typer.Option(None, "--since", help="Only the last N hours/days/weeks of data, e.g. 7d."),
    limit: int = typer.Option(10, "--limit", min=1, help="How many rows."),
    inventory: Path = typer.Option(None, "--inventory", help="Inventory snapshot folder (default: the lake's copy)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    networks: Path = typer.Option(None, "--networks", help=NETWORKS_HELP),
) -> None:
    """Top talkers with dollars: which resources, destinations, accounts or teams pay for egress."""
    from egress_optimizer.attribution.reconcile import attribute

    if since:
        _since(since)
    rows = top_talkers(attribute(*_inputs(lake, inventory, networks)), by.value, since, limit)
    if json_out:
        print(json.dumps(rows.round({"gb": 3, "usd": 4}).to_dict("records"), default=str))
        return
    table = Table(title=f"Top {limit} by {by.value}" + (f" (last {since})" if since else ""))
    for c in rows.columns:
        table.add_column(c, justify="right" if c in ("gb", "usd") else "left")
    for r in rows.itertuples(index=False):
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in r))
    stdout.print(table)
