"""``egress demo``: the main job end to end on a small generated estate, with the embedded engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import typer

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.attribution import print_reconciliation, run_reconcile, top_talkers
from egress_optimizer.cli.detect import print_events
from egress_optimizer.cli.generate import print_estate_summary, run_generate
from egress_optimizer.cli.ingest import print_ingest_report, run_ingest
from egress_optimizer.errors import InputError
from egress_optimizer.lake import MARKER as LAKE_MARKER
from egress_optimizer.lake import Lake


def run_detection(lake: Lake, raw: Path) -> dict:
    """Declare the estate's planned work, train, detect every hour, and score the result against the labels."""
    import pandas as pd

    from egress_optimizer.detection.evaluate import evaluate_events
    from egress_optimizer.detection.feedback import add_planned, read_planned_file
    from egress_optimizer.detection.service import detect, train
    from egress_optimizer.detection.signals import WARMUP_HOURS
    from egress_optimizer.errors import InputError

    add_planned(lake, read_planned_file(raw / "planned_activities.json"))
    try:
        meta = train(lake)
    except InputError as exc:  # too few days for baselines (the demo allows short runs)
        return {"summary": {"skipped": str(exc)}, "events": []}
    result = detect(lake)
    labels = json.loads((raw / "labels.json").read_text())
    start = pd.Timestamp(meta["training_window"]["start"]) + pd.Timedelta(hours=WARMUP_HOURS)
    end = pd.Timestamp(meta["training_window"]["end"]) + pd.Timedelta(hours=1)
    ev = evaluate_events(result.events, labels, start, end)
    summary = {
        "model_version": meta["version"],
        "events": len(result.events),
        "evaluation": {k: ev[k] for k in ("precision", "recall", "f1", "planned_alerts", "false_alerts")},
    }
    return {"summary": summary, "events": result.events}


def _fresh_lake(lake_dir: Path) -> None:
    """The demo builds its lake from scratch, as `generate` does its raw folder: a lake left by an earlier demo
    would carry that estate's rows and the detector's "already scored" state into this run."""
    if not lake_dir.exists() or not any(lake_dir.iterdir()):
        return
    if not (lake_dir / LAKE_MARKER).exists():
        raise InputError(f"{lake_dir} is not empty and is not a lake written by egress; choose another --out")
    shutil.rmtree(lake_dir)


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for raw data, the lake and reports."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the generated estate."),
    days: int = typer.Option(14, "--days", min=1, max=60, help="Days of data to generate."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Generate a small estate and run every pipeline stage on it locally."""
    raw, lake_dir = out / "raw", out / "lake"
    _fresh_lake(lake_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = run_generate(raw, days, seed, "small", "2026-10-01", show_progress=not json_out)
    report = run_ingest([str(raw)], str(lake_dir), show_progress=not json_out)
    ingested = report.to_json()
    rec = run_reconcile(str(lake_dir))
    from egress_optimizer.attribution.features import write_tables

    the_lake = Lake.open(str(lake_dir), create=False)
    feature_counts = write_tables(the_lake, rec.attributed)
    top = top_talkers(rec.attributed, "resource", None, 5)
    detection = run_detection(the_lake, raw)
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
            "detection": detection["summary"],
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
    if "skipped" in detection["summary"]:
        stdout.print(f"Detection skipped: {detection['summary']['skipped']}")
    else:
        print_events(detection["events"], "Detected incidents (planned work declared ahead is suppressed)")
        ev = detection["summary"]["evaluation"]
        stdout.print(
            f"Against the generator's labels: precision {ev['precision']:.2f}, recall {ev['recall']:.2f}, "
            f"F1 {ev['f1']:.2f}, planned-work alerts {ev['planned_alerts']}"
        )
    stdout.print(
        f"\n[bold green]Demo complete.[/] Raw logs: {raw}  Labels: {raw / 'labels.json'}  "
        f"Lake: {lake_dir}  Summary: {out / 'demo-summary.json'}"
    )
