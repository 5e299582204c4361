"""``egress pricing refresh``: pull current AWS prices into a new price table (the shipped one stays the default)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.errors import EgressError

pricing_app = typer.Typer(
    name="pricing", help="The AWS price table used to price every byte.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(pricing_app, name="pricing")


def _pricing_client():
    import boto3

    # The Price List API is served from us-east-1 (and ap-south-1) only.
    return boto3.client("pricing", region_name="us-east-1")


@pricing_app.command("refresh")
def refresh_cmd(
    out: Path = typer.Option(..., "--out", help="Where to write the new price table (JSON)."),
    json_out: bool = typer.Option(False, "--json", help="Print the changes as JSON."),
) -> None:
    """Query the AWS Price List API and write a table; use it with EGRESS_PRICE_TABLE=PATH."""
    import botocore.exceptions

    from egress_optimizer.pricing import load_catalog
    from egress_optimizer.pricing.refresh import refresh_table

    try:
        table, changes = refresh_table(_pricing_client(), load_catalog(), dt.date.today().isoformat())
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise EgressError(f"AWS Price List API call failed: {e}") from None
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(table, indent=1, sort_keys=True) + "\n")
    if json_out:
        print(json.dumps({"out": str(out), "version": table["version"], "changes": changes}))
    else:
        stdout.print(f"Wrote price table {table['version']} to {out} ({len(changes)} prices changed)")
        for c in changes[:30]:
            stdout.print(f"  {c}")
