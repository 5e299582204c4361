"""``egress features``: build the attributed and hourly feature tables (and the daily CUR table) in the lake."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.attribution import INVENTORY_OPT, LAKE_OPT, NETWORKS_OPT, open_for_attribution


@app.command("features")
def features_cmd(
    lake: str = LAKE_OPT,
    inventory: Path = INVENTORY_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    networks: Path = NETWORKS_OPT,
) -> None:
    """Write 'attributed', 'egress_hourly' and 'cur_daily' with the embedded engine (DuckDB)."""
    from egress_optimizer import stages

    the_lake, inputs = open_for_attribution(lake, inventory, networks)
    counts = stages.build_features(the_lake, inputs)
    if json_out:
        print(json.dumps(counts))
    else:
        stdout.print(", ".join(f"{k}: {v:,} rows" for k, v in counts.items()))
