"""``egress features``: build the attributed and hourly feature tables (and the daily CUR table) in the lake."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.attribution import INVENTORY_OPT, LAKE_OPT, NETWORKS_OPT, open_for_attribution
from egress_optimizer.cli.progress import stage_progress

NOTHING_NEW = "Nothing new since the last run: the tables are up to date."


@app.command("features")
def features_cmd(
    lake: str = LAKE_OPT,
    inventory: Path = INVENTORY_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    networks: Path = NETWORKS_OPT,
    rebuild: bool = typer.Option(False, "--rebuild", help="Rebuild the tables whole instead of what changed."),
) -> None:
    """Bring 'attributed', 'egress_hourly' and 'cur_daily' up to date with the logs (the hours that changed
    since the last run), with the embedded engine (DuckDB)."""
    from egress_optimizer.attribution.up_to_date import QUIET_RUN, up_to_date
    from egress_optimizer.lake import Lake

    # The hourly run usually finds nothing new: answer that before loading the engines.
    if not rebuild and up_to_date(Lake.open(lake, create=False), inventory, networks):
        if json_out:
            print(json.dumps(QUIET_RUN))
        else:
            stdout.print(NOTHING_NEW)
        return
    from egress_optimizer import stages

    the_lake, inputs = open_for_attribution(lake, inventory, networks)
    with stage_progress("features", not json_out) as update:
        built = stages.build_features(the_lake, inputs, rebuild=rebuild, progress=update)
    if json_out:
        print(json.dumps(built.to_json()))
        return
    a, f = built.attribution, built.features
    if not (a.attributed_hours or a.repriced_hours or f.hours or built.cur_daily_rows):
        stdout.print(NOTHING_NEW)
        return
    stdout.print(
        f"{'Rebuilt' if a.rebuild else 'Updated'}: attributed {len(a.attributed_hours):,} hours "
        f"({a.rows:,} rows; {len(a.repriced_hours):,} later hours re-priced), egress_hourly {len(f.hours):,} "
        f"hours ({f.rows:,} rows), cur_daily {built.cur_daily_rows:,} rows"
    )
