"""``egress demo``: the main job end to end on a small generated estate, with the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.generate import print_estate_summary, run_generate
from egress_optimizer.cli.ingest import print_ingest_report, run_ingest


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for raw data, the lake and reports."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the generated estate."),
    days: int = typer.Option(14, "--days", min=1, max=60, help="Days of data to generate."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Generate a small estate and run every pipeline stage on it locally."""
    raw, lake_dir = out / "raw", out / "lake"
    out.mkdir(parents=True, exist_ok=True)
    result = run_generate(raw, days, seed, "small", "2026-10-01", show_progress=not json_out)
    report = run_ingest([str(raw)], str(lake_dir), show_progress=not json_out)
    ingested = report.to_json()
    summary = {
        "raw": str(raw),
        "labels": str(raw / "labels.json"),
        "lake": str(lake_dir),
        "stages": {
            "generate": result.summary(),
            "ingest": {"totals": ingested["totals"], "by_source": ingested["by_source"]},
        },
    }
    (out / "demo-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if json_out:
        print(json.dumps(summary))
        return
    print_estate_summary(result)
    print_ingest_report(report)
    stdout.print(
        f"\n[bold green]Demo complete.[/] Raw logs: {raw}  Labels: {raw / 'labels.json'}  "
        f"Lake: {lake_dir}  Summary: {out / 'demo-summary.json'}"
    )
