"""``egress ipranges refresh``: download AWS's current ip-ranges.json (the shipped copy is the offline default)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.errors import EgressError

ipranges_app = typer.Typer(
    name="ipranges", help="AWS IP ranges used to classify traffic.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(ipranges_app, name="ipranges")


@ipranges_app.command("refresh")
def refresh_cmd(
    out: Path = typer.Option(..., "--out", help="Where to write the new (gzipped) ip-ranges.json."),
    url: str = typer.Option("https://ip-ranges.amazonaws.com/ip-ranges.json", "--url", help="Source URL."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Download, validate and save the current ranges; point EGRESS_IP_RANGES at the file to use them."""
    from egress_optimizer.ipranges import refresh

    try:
        info = refresh(out, url)
    except (OSError, ValueError) as e:
        raise EgressError(f"could not refresh IP ranges from {url}: {e}") from None
    if json_out:
        print(json.dumps(info))
    else:
        stdout.print(f"Saved {info['prefixes']:,} IPv4 prefixes (createDate {info['createDate']}) to {out}")
