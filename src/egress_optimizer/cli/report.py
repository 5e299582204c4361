"""``egress report``: the self-contained HTML report of a lake."""

from __future__ import annotations

from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.lake import DEFAULT_LAKE, Lake


@app.command("report")
def report_cmd(
    lake: str = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix."),
    out: Path = typer.Option(Path("report.html"), "--out", help="The HTML file to write."),
    coverage: bool = typer.Option(
        True, "--coverage/--no-coverage", help="Reconcile with the bill first, to say which logs to enable."
    ),
) -> None:
    """One HTML file, no network needed to open it: dollars by destination, service, account and team; top
    talkers; coverage; the anomaly timeline with root causes; the remediation log; planner savings; a page per
    incident (expected against actual, evidence, root cause, proposed actions and their diffs, status)."""
    from egress_optimizer import stages

    opened = Lake.open(lake, create=False)
    found = stages.reconcile(opened).coverage if coverage else None
    path = stages.write_report(opened, out, found)
    stdout.print(f"Report: {path.resolve().as_uri()}")
