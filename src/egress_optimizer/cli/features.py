"""``egress features``: build the attributed and hourly feature tables (and the daily CUR table) in the lake."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.attribution import NETWORKS_HELP
from egress_optimizer.lake import DEFAULT_LAKE


@app.command("features")
def features_cmd(
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    inventory: Path = typer.Option(None, "--inventory", help="Inventory snapshot folder (default: the lake's copy)."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    networks: Path = typer.Option(None, "--networks", help=NETWORKS_HELP),
) -> None:
    """Write 'attributed', 'egress_hourly' and 'cur_daily' with the embedded engine (DuckDB)."""
    from egress_optimizer.attribution.features import write_tables
    from egress_optimizer.attribution.reconcile import attribute
    from egress_optimizer.cli.attribution import _inputs

    the_lake, inv, catalog, ranges, nets = _inputs(lake, inventory, networks)
    counts = write_tables(the_lake, attribute(the_lake, inv, catalog, ranges, nets))
    if json_out:
        print(json.dumps(counts))
    else:
        stdout.print(", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))
