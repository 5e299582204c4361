"""``egress demo``: the main job end to end on a small generated estate, with the embedded engine."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.attribution import print_reconciliation, run_reconcile, top_talkers
from egress_optimizer.cli.generate import print_estate_summary, run_generate
from egress_optimizer.cli.ingest import print_ingest_report, run_ingest
from egress_optimizer.lake import Lake


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
    rec = run_reconcile(str(lake_dir))
    from egress_optimizer.attribution.features import write_tables

    feature_counts = write_tables(Lake.open(str(lake_dir), create=False), rec.attributed)
    top = top_talkers(rec.attributed, "resource", None, 5)
    summary = {
        "raw": str(raw),
        "labels": str(raw / "labels.json"),
        "lake": str(lake_dir),
        "stages": {
            "generate": result.summary(),
            "ingest": {"totals": ingested["totals"], "by_source": ingested["by_source"]},
            "reconcile": {
                "unexplained_pct": round(rec.unexplained_pct, 4),
                "billed_usd": round(rec.billed_usd, 2),
                "attributed_usd": round(rec.attributed_usd, 2),
            },
            "top_resources": top.round({"gb": 3, "usd": 2}).to_dict("records"),
            "features": feature_counts,
        },
    }
    (out / "demo-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if json_out:
        print(json.dumps(summary))
        return
    print_estate_summary(result)
    print_ingest_report(report)
    print_reconciliation(rec, limit=8)
    stdout.print("Top resources by attributed data-transfer dollars:")
    for r in top.itertuples(index=False):
        stdout.print(f"  ${r.usd:>10,.2f}  {r.gb:>10,.1f} GB  {r.team}  {r.resource_id}")
    stdout.print(
        f"\n[bold green]Demo complete.[/] Raw logs: {raw}  Labels: {raw / 'labels.json'}  "
        f"Lake: {lake_dir}  Summary: {out / 'demo-summary.json'}"
    )
