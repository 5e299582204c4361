"""``egress plan from-lake``: replication fan-outs, NAT and internet paths found in the lake, priced cheaper."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from egress_optimizer.cli import stdout
from egress_optimizer.cli.display import Names, print_item
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

    store = Lake.open(lake, create=False)
    recs = stages.recommend(store, min_monthly_usd=min_usd, top=top)
    total = total_monthly_savings(recs)
    if json_out:
        doc = {"recommendations": [r.to_dict() for r in recs], "total_monthly_savings_usd": round(total, 4)}
        print(json.dumps(doc))
        return
    if not recs:
        stdout.print(f"no recommendation saves at least ${min_usd:,.2f} a month")
        return
    print_recommendations(recs, f"Recommendations from {lake}", Names.from_lake(store))
    stdout.print(f"total: ${total:,.2f} a month across {len(recs)} recommendations")


def print_recommendations(recs, title: str, names: Names | None = None) -> None:
    """One row per recommendation: what to do (ARNs as short ids, resources with their names), its kind, where,
    what was observed; its monthly figures; then how each kind was priced, in words."""
    from egress_optimizer.planners.record import method

    names = names or Names()
    window = recs[0].evidence
    table = Table(title=f"{title} ({window.window_days:g} days observed, scaled to 30)")
    table.add_column("#", justify="right")
    table.add_column("recommendation")
    table.add_column("now $/mo", justify="right", min_width=9)
    table.add_column("saving $/mo", justify="right", min_width=9)
    for i, r in enumerate(recs, 1):
        ev = r.evidence
        kind = r.kind + (", to review" if r.confidence == "review" else "")
        where = " ".join(x for x in (names.account(r.account) if r.account else None, r.region) if x)
        table.add_row(
            str(i),
            Text.assemble(
                names.shorten(r.title),
                (f"\n{kind}; {where}; seen {ev.gib:,.1f} GiB, ${ev.observed_usd:,.2f}", "dim"),
            ),
            f"{r.current_monthly_usd:,.2f}",
            f"{r.monthly_savings_usd:,.2f}",
        )
    stdout.print(table)
    stdout.print("How each kind is priced:")
    for kind, rec in {r.kind: r for r in recs}.items():
        print_item(f"{kind}: {method(rec)}")
