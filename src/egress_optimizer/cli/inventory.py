"""``egress inventory collect``: snapshot ENIs, subnets, NAT gateways, endpoints, buckets and distributions."""

from __future__ import annotations

from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.errors import EgressError

inventory_app = typer.Typer(
    name="inventory", help="The inventory attribution needs.", no_args_is_help=True, rich_markup_mode=None
)
app.add_typer(inventory_app, name="inventory")


@inventory_app.command("collect")
def collect_cmd(
    out: Path = typer.Option(..., "--out", help="Snapshot folder to write (point egress ingest at it)."),
    regions: str = typer.Option("us-east-1", "--regions", help="Comma-separated regions to describe."),
    profile: str = typer.Option(None, "--profile", help="AWS profile (default credential chain otherwise)."),
) -> None:
    """Describe the account's network, buckets and distributions with boto3 and save the responses."""
    import boto3
    import botocore.exceptions

    from egress_optimizer.attribution.collect import collect

    session = boto3.Session(profile_name=profile) if profile else boto3.Session()
    try:
        docs = collect(session, [r.strip() for r in regions.split(",") if r.strip()])
    except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
        raise EgressError(f"inventory collection failed: {e}") from None
    for rel, text in docs.items():
        path = out / "inventory" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    stdout.print(f"Wrote {len(docs)} inventory documents to {out / 'inventory'}")
