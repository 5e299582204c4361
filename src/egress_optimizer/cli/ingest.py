"""``egress ingest`` and ``egress query``: load logs into the lake, then ask it questions with SQL."""

from __future__ import annotations

import json
from enum import Enum

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.display import print_item, size
from egress_optimizer.cli.progress import ingest_progress
from egress_optimizer.lake import DEFAULT_LAKE, Lake


class SourceChoice(str, Enum):  # noqa: UP042 - typer needs a str mixin to show choices
    auto = "auto"
    vpc_flow = "vpc-flow"
    s3_access = "s3-access"
    cloudfront = "cloudfront"
    cur = "cur"


class Format(str, Enum):  # noqa: UP042
    table = "table"
    csv = "csv"
    json = "json"


def print_ingest_report(report) -> None:
    """Objects, records and bytes per source. Every record read is parsed or quarantined, so the table shows
    the records read and how many were quarantined (--json has the parsed count too)."""
    table = Table(title="Ingested")
    for col in ("source", "objects", "failed", "records read", "quarantined", "size"):
        table.add_column(col, justify="left" if col == "source" else "right", min_width=max(map(len, col.split())))
    rows = [(src, t, None) for src, t in report.by_source().items()] + [("total", report.totals(), "bold")]
    for src, t, style in rows:
        table.add_row(
            src,
            f"{t['objects']:,}",
            f"{t['objects_failed']:,}",
            f"{t['records_read']:,}",
            f"{t['quarantined']:,}",
            size(t["bytes"]),
            style=style,
        )
    stdout.print(table)
    failed = [r for r in report.objects if r.failed]
    for r in failed[:10]:
        print_item(f"unreadable {r.uri}: {r.reason}", indent=0)
    if len(failed) > 10:
        stdout.print(f"... and {len(failed) - 10} more unreadable objects (see --json)")
    skipped = sum(r.skipped for r in report.objects)
    if skipped:
        stdout.print(f"{skipped:,} objects skipped (not logs or billing data, e.g. inventory and manifests)")


@app.command("ingest")
def ingest_cmd(
    paths: list[str] = typer.Argument(..., help="Files or folders, local paths or s3:// URIs."),
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    source: SourceChoice = typer.Option(SourceChoice.auto, "--source", help="Force a parser instead of detecting."),
    json_out: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Parse logs and billing files into the lake; quarantined records are data, not failure (exit 0)."""
    from egress_optimizer import stages

    with ingest_progress(not json_out) as update:
        report = stages.ingest(lake, paths, source.value, progress=update)
    if json_out:
        print(json.dumps(report.to_json()))
    else:
        print_ingest_report(report)


class Engine(str, Enum):  # noqa: UP042
    local = "local"
    athena = "athena"


@app.command("query")
def query_cmd(
    sql: str = typer.Argument(..., help="SQL over the lake's tables (vpc_flow, s3_access, cloudfront, cur, ...)."),
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    fmt: Format = typer.Option(Format.table, "--format", help="table, csv or json."),
    engine: Engine = typer.Option(Engine.local, "--engine", help="local (DuckDB over the files) or athena."),
    database: str = typer.Option("egress", "--database", help="Athena: the Glue database of the lake's tables."),
    workgroup: str = typer.Option(None, "--workgroup", help="Athena: the workgroup (default: primary)."),
    output: str = typer.Option(None, "--output", help="Athena: s3:// location for results (default: workgroup's)."),
) -> None:
    """Run SQL over the lake's tables: DuckDB over the files, or Athena over the Glue catalog."""
    from egress_optimizer import stages

    if engine is Engine.athena:
        columns, rows = stages.query_athena(sql, database, workgroup, output)
    else:
        columns, rows = stages.query(Lake.open(lake, create=False), sql)
    if fmt is Format.json:
        print(json.dumps([dict(zip(columns, r, strict=True)) for r in rows], default=str))
    elif fmt is Format.csv:
        import csv
        import sys

        w = csv.writer(sys.stdout, lineterminator="\n")
        w.writerow(columns)
        w.writerows(rows)
    else:
        table = Table()
        for c in columns:
            table.add_column(c)
        for r in rows:
            table.add_row(*("" if v is None else str(v) for v in r))
        stdout.print(table)
