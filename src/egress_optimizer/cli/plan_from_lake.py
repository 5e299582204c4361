"""``egress plan from-lake``: replication fan-outs, NAT and internet paths found in the lake, priced cheaper."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from egress_optimizer.cli import stdout
from egress_optimizer.cli.plan import plan_app
from egress_optimizer.lake import DEFAULT_LAKE, Lake


@plan_app.command("from-lake")
def from_lake_cmd(
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    min_usd: float = typer.Option(1.0, "--min-usd", min=0.0, help="Smallest monthly saving listed."),
    top: int = typer.Option(5, "--top", min=1, help="Most CloudFront and AZ-affinity candidates listed."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Recommendations with monthly savings from the ingested lake (needs `egress features` first)."""
    from egress_optimizer import stages
    from egress_optimizer.planners.from_lake import total_monthly_savings

    recs = stages.recommend(Lake.open(lake, create=False), min_monthly_usd=min_usd, top=top)
    total = total_monthly_savings(recs)
    if json_out:
        doc = {"recommendations": [r.to_dict() for r in recs], "total_monthly_savings_usd": round(total, 4)}
        print(json.dumps(doc))
        return
    if not recs:
        stdout.print(f"no recommendation saves at least ${min_usd:,.2f} a month")
        return
    window = recs[0].evidence
    table = Table(title=f"Recommendations from {lake} ({window.window_days:g} days observed, scaled to 30)")
    for col in ("#", "kind", "recommendation", "region", "observed", "planner", "now $/mo", "saving $/mo"):
        table.add_column(col, justify="right" if col in ("#", "now $/mo", "saving $/mo") else "left", overflow="fold")
    for i, r in enumerate(recs, 1):
        ev = r.evidence
        table.add_row(
            str(i),
            r.kind + (" (review)" if r.confidence == "review" else ""),
            r.title,
            f"{r.account or '-'} {r.region or '-'}",
            f"{ev.gib:,.1f} GiB, ${ev.observed_usd:,.2f}",
            r.planner,
            f"{r.current_monthly_usd:,.2f}",
            f"{r.monthly_savings_usd:,.2f}",
        )
    stdout.print(table)
    stdout.print(f"total: ${total:,.2f} a month across {len(recs)} recommendations")
