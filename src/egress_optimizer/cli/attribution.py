"""``egress reconcile`` and ``egress top``: who paid for the bytes, and does it add up to the bill."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.display import print_item, words
from egress_optimizer.lake import DEFAULT_LAKE, Lake


class By(str, Enum):  # noqa: UP042 - typer needs the str mixin to list choices
    resource = "resource"
    peer = "peer"
    account = "account"
    team = "team"


LAKE_OPT = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix.")
INVENTORY_OPT = typer.Option(None, "--inventory", help="Inventory snapshot folder (default: the lake's copy).")
NETWORKS_OPT = typer.Option(
    None,
    "--networks",
    help="Networks file (YAML/JSON: on_premises, other_clouds, cloud_range_files; see egress_optimizer/networks.py). "
    "Default: $EGRESS_NETWORKS, else only the shipped cloud ranges.",
)


def open_for_attribution(lake: str, inventory: Path | None, networks: Path | None):
    """The lake and what attribution needs beside it."""
    from egress_optimizer import stages

    the_lake = Lake.open(lake, create=False)
    return the_lake, stages.attribution_inputs(the_lake, inventory, networks)


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
    print_item(
        f"Billed minus attributed: {rec.unexplained_pct:.2f}% of data-transfer dollars (absolute, per account, "
        f"region, usage type and day); {rec.unexplained_no_reason_pct:.2f}% without a reason. By reason (net):",
        indent=0,
    )
    for x in rec.by_reason(net=True):
        detail = f": {x['detail']}" if x["detail"] else ""
        print_item(f"{x['usd']:>12,.2f}  {words(x['reason'])}{detail}", hang=16)
    print_coverage(rec.coverage)


def print_coverage(cov: dict) -> None:
    """The coverage summary: what share is attributed and what to log to explain the rest."""
    if not cov:
        return
    print_item(
        f"Coverage: {cov['attributed_share']:.1%} of ${cov['billed_usd']:,.2f} billed data transfer (list) is "
        "attributed to a resource.",
        indent=0,
    )
    worth = [g for g in cov["enable_logging"] if g["explains_usd"]]
    for g in worth:
        print_item(
            f"enable {g['enable']} on {g['kind']} {g['resource']} ({g['account']}, {g['region']}): explains "
            f"${g['explains_usd']:,.2f} here, about ${g['explains_usd_per_month']:,.2f} a month"
        )
    idle = len(cov["enable_logging"]) - len(worth)
    if idle:
        print_item(f"{idle} more unlogged resources billed no data transfer in the period")
    for s in cov["services_without_logs"]:
        print_item(f"{s['product']}: ${s['usd']:,.2f} of data transfer no log we read can show")
    for g in cov["delivery_gaps"]:
        print_item(f"no log arrived for {g['source']} at {g['hour']} (${g['usd']:,.2f} billed)")
    for d in cov["late_deliveries"]:
        print_item(
            f"late: {d['table']} logs of {d['newest_hour'][:13]}:00Z arrived {d['lag_hours']:.0f} h after their hour"
            f" ({d['key'].rsplit('/', 1)[-1][:48]}...)"
        )
    for q in cov.get("quarantined", []):
        print_item(f"unreadable: {q['records']} {q['source']} records ({q['reason']}), in the quarantine table")
    for d in cov["duplicated_deliveries"]:
        print_item(f"delivered twice: {d['repeated_records']} records of {d['bucket']} at {d['hour']} (counted once)")


@app.command("reconcile")
def reconcile_cmd(
    lake: str = LAKE_OPT,
    inventory: Path = INVENTORY_OPT,
    json_out: bool = typer.Option(
        False, "--json", help="Print JSON: totals, unexplained dollars by reason (list and net), coverage, rows."
    ),
    networks: Path = NETWORKS_OPT,
) -> None:
    """Attributed dollars versus billed dollars per account, region, usage type and day."""
    from egress_optimizer import stages

    the_lake, inputs = open_for_attribution(lake, inventory, networks)
    rec = stages.reconcile(the_lake, inputs)
    if json_out:
        print(json.dumps(rec.to_json(), default=str))
    else:
        print_reconciliation(rec)


@app.command("top")
def top_cmd(
    lake: str = LAKE_OPT,
    by: By = typer.Option(By.resource, "--by", help="resource, peer, account or team."),
    since: str = typer.Option(None, "--since", help="Only the last N hours/days/weeks of data, e.g. 7d."),
    limit: int = typer.Option(10, "--limit", min=1, help="How many rows."),
    inventory: Path = INVENTORY_OPT,
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    networks: Path = NETWORKS_OPT,
) -> None:
    """Top talkers with dollars: which resources, destinations, accounts or teams pay for egress."""
    from egress_optimizer import stages
    from egress_optimizer.attribution.top_talkers import parse_window

    if since:
        parse_window(since)  # a bad window fails before any lake work
    the_lake, inputs = open_for_attribution(lake, inventory, networks)
    rows = stages.top_talkers(the_lake, by.value, since, limit, inputs)
    if json_out:
        print(json.dumps(rows.round({"gb": 3, "usd": 4}).to_dict("records"), default=str))
        return
    table = Table(title=f"Top {limit} by {by.value}" + (f" (last {since})" if since else ""))
    for c in rows.columns:
        table.add_column(c, justify="right" if c in ("gb", "usd") else "left")
    for r in rows.itertuples(index=False):
        table.add_row(*(f"{v:,.2f}" if isinstance(v, float) else str(v) for v in r))
    stdout.print(table)
