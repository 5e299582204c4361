"""``egress demo``: the main job end to end on a small generated estate, with the embedded engine."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.attribution import print_reconciliation
from egress_optimizer.cli.detect import SHORT_IDS_NOTE, print_incidents
from egress_optimizer.cli.display import Names, print_item, short_id, short_incident_id, words
from egress_optimizer.cli.generate import check_output_dir, print_estate_summary
from egress_optimizer.cli.ingest import print_ingest_report
from egress_optimizer.cli.progress import demo_progress
from egress_optimizer.cli.respond import print_responses


def demo_summary(run) -> dict:
    """The demo's machine-readable summary (``--json`` and ``demo-summary.json``)."""
    ingested = run.ingest.to_json()
    rec = run.reconciliation
    return {
        "raw": str(run.raw),
        "labels": str(run.raw / "labels.json"),
        "lake": run.lake.root,
        "stages": {
            "generate": run.estate.summary(),
            "ingest": {"totals": ingested["totals"], "by_source": ingested["by_source"]},
            "reconcile": {
                "unexplained_pct": round(rec.unexplained_pct, 4),
                "unexplained_no_reason_pct": round(rec.unexplained_no_reason_pct, 4),
                "billed_usd": round(rec.billed_usd, 2),
                "attributed_usd": round(rec.attributed_usd, 2),
                "unexplained_by_reason": rec.reasons_json(),
                "coverage": rec.coverage,
            },
            "top_resources": run.top_resources.round({"gb": 3, "usd": 2}).to_dict("records"),
            "features": run.features,
            "detection": run.detection,
            "responses": run.responses,
        },
        "report": str(run.report),
    }


def plan_diff(current: Any, proposed: Any, path: str = "") -> Iterator[str]:
    """A plan's diff one changed leaf a line: ``path: before -> after``, or ``path: - item`` / ``path: + item`` for
    what a list loses or gains. ``Plan.changes`` has a line per top-level key with whole documents on both
    sides (a replication configuration, a bucket policy); this is the same diff, down to what changes."""
    if current == proposed:
        return
    if isinstance(current, dict | None) and isinstance(proposed, dict | None):
        before, after = current or {}, proposed or {}
        for key in sorted(set(before) | set(after), key=str):
            yield from plan_diff(before.get(key), after.get(key), f"{path}.{key}" if path else str(key))
        return
    if isinstance(current, list | None) and isinstance(proposed, list | None):
        before, after = current or [], proposed or []
        if len(before) == len(after) and all(isinstance(x, dict) for x in before + after):
            for i, (b, a) in enumerate(zip(before, after, strict=True)):
                label = b.get("ID") if b.get("ID") and b.get("ID") == a.get("ID") else i
                yield from plan_diff(b, a, f"{path}[{label}]")
            return
        yield from (f"{path}: - {_compact(x)}" for x in before if x not in after)
        yield from (f"{path}: + {_compact(x)}" for x in after if x not in before)
        return
    yield f"{path}: {_compact(current)} -> {_compact(proposed)}"


def _compact(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


def print_planned_changes(responses: list[dict], width: int = 80) -> None:
    """Per incident, each planned action and its diff (at most ``width`` columns a line)."""
    planned = [r for r in responses if r.get("actions")]
    stdout.print("Planned changes (dry runs: nobody approved them, so nothing was applied):")
    if not planned:
        stdout.print("  none: no recommended action found a resource to change")
    for r in planned:
        category = (r.get("explanation") or {}).get("category", "")
        stdout.print(f"{short_incident_id(r['incident_id'])}  {words(category)}", markup=False)
        for action in r["actions"]:
            target = str(action.get("target", {}).get("id", "?"))
            stdout.print(f"  {action['action_id']} on {short_id(target)}", markup=False)
            lines = list(plan_diff(action.get("current"), action.get("proposed"))) or action.get("changes", [])
            for line in lines:
                wrapped = textwrap.wrap(line, width - 1, initial_indent="    ", subsequent_indent="        ",
                                        break_on_hyphens=False)  # fmt: skip
                for part in wrapped:
                    stdout.print(part, markup=False, highlight=False, soft_wrap=True)


@app.command("demo")
def demo_cmd(
    out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for raw data, the lake and reports."),
    seed: int = typer.Option(42, "--seed", help="Random seed of the generated estate."),
    days: int = typer.Option(14, "--days", min=1, max=60, help="Days of data to generate."),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary."),
) -> None:
    """Generate a small estate and run every pipeline stage on it locally."""
    from egress_optimizer import stages

    check_output_dir(out)
    with demo_progress(not json_out) as (gen_update, ingest_update):
        run = stages.run_demo(out, seed, days, generate_progress=gen_update, ingest_progress=ingest_update)
    summary = demo_summary(run)
    (out / "demo-summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if json_out:
        print(json.dumps(summary))
        return
    print_estate_summary(run.estate)
    print_ingest_report(run.ingest)
    print_reconciliation(run.reconciliation, limit=8)
    names = Names.from_lake(run.lake)
    print_top_resources(run.top_resources, names)
    if "skipped" in run.detection:
        print_item(f"Detection skipped: {run.detection['skipped']}", indent=0)
    else:
        print_incidents(run.incidents, "Detected incidents (planned work declared ahead is suppressed)", names)
        ev = run.detection["evaluation"]
        print_item(
            f"Against the generator's labels: precision {ev['precision']:.2f}, recall {ev['recall']:.2f}, "
            f"F1 {ev['f1']:.2f}, planned-work alerts {ev['planned_alerts']}",
            indent=0,
        )
        if run.responses:
            print_responses(run.responses)
            print_planned_changes(run.responses)
            rc = run.detection["root_causes"]
            stdout.print(
                f"Root causes agreeing with the labels: {rc['agree_with_labels']} of {rc['explained']} detected"
            )
        elif "responses_skipped" in run.detection:
            print_item(f"Responses skipped: {run.detection['responses_skipped']}", indent=0)
        if run.incidents:
            print_item(f"{SHORT_IDS_NOTE} The whole ids are in {out / 'demo-summary.json'}.", indent=0)
    stdout.print("\n[bold green]Demo complete.[/]")
    for label, path in (("Raw logs:", run.raw), ("Labels:", run.raw / "labels.json"), ("Lake:", run.lake.root),
                        ("Summary:", out / "demo-summary.json")):  # fmt: skip
        print_item(f"{label:<9} {path}", hang=10)
    stdout.print(f"[bold]Report:[/] {run.report.resolve().as_uri()}", soft_wrap=True)
    stdout.print("  (one file; open it in a browser)")


def print_top_resources(top, names: Names) -> None:
    """The resources that paid most for data transfer (``top_talkers`` by resource): the id is never broken (its
    name wraps under it), dollars above gigabytes."""
    table = Table(title="Top resources by attributed data-transfer dollars")
    longest = max((len(short_id(r)) for r in top.resource_id), default=8)
    table.add_column("resource", width=min(longest, 36), overflow="fold")
    table.add_column("account, region")
    table.add_column("team", overflow="fold")
    table.add_column("$\nGB", justify="right", no_wrap=True)
    for r in top.itertuples(index=False):
        where = f"{names.account(r.account)}, {names.region(r.resource_id)}"
        table.add_row(
            names.label(r.resource_id),
            where,
            r.team if isinstance(r.team, str) and r.team else "-",
            f"{r.usd:,.2f}\n{r.gb:,.1f} GB",
        )
    stdout.print(table)
