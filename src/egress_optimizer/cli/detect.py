"""``egress train`` / ``detect`` / ``score-series`` / ``evaluate`` / ``feedback`` / ``planned``: detection."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.detection.events import MIN_IMPACT_SHARE
from egress_optimizer.errors import InputError
from egress_optimizer.lake import DEFAULT_LAKE, Lake

LAKE_OPT = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix.")


@app.command("train")
def train_cmd(
    lake: str = LAKE_OPT,
    mode: str = typer.Option("ensemble", "--mode", help="baseline | forest | ensemble"),
    seed: int = typer.Option(0, "--seed", help="Random seed of the Isolation Forest."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train the detector on the lake's hourly features and store a new model version in the lake."""
    from egress_optimizer.detection.detector import MODES, DetectorParams
    from egress_optimizer.detection.service import train

    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}")
    meta = train(Lake.open(lake, create=False), DetectorParams(mode=mode, seed=seed))
    if json_out:
        print(json.dumps(meta, default=str))
        return
    w = meta["training_window"]
    stdout.print(
        f"Model {meta['version']} trained on {meta['series']:,} series x {meta['hours']:,} hours "
        f"({w['start']} .. {w['end']}); stored at {meta['artifact']}"
    )


@app.command("detect")
def detect_cmd(
    lake: str = LAKE_OPT,
    since: str = typer.Option(None, "--since", help="Score hours from this UTC time (default: after the last run)."),
    planned: Path = typer.Option(None, "--planned", help="JSON list of planned windows to honour in this run."),
    min_impact_usd: float = typer.Option(0.0, "--min-impact-usd", help="Only report events costing at least this."),
    min_impact_pct: float = typer.Option(0.0, "--min-impact-pct", help="...and at least this % above expected."),
    min_share_pct: float = typer.Option(
        100 * MIN_IMPACT_SHARE,
        "--min-share-pct",
        help="...and at least this % of the account's daily egress spend (materiality; 0 turns it off).",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score new hourly features with the current model; write 'anomalies' and 'anomaly_events'."""
    import pandas as pd

    from egress_optimizer.detection.events import PlannedWindow
    from egress_optimizer.detection.feedback import read_planned_file
    from egress_optimizer.detection.service import detect

    windows = [PlannedWindow.from_dict(w) for w in read_planned_file(planned)] if planned else []
    try:
        since_ts = pd.Timestamp(since, tz="UTC") if since else None
    except ValueError:
        raise InputError(f"--since {since!r} is not a date or time") from None
    if min_share_pct < 0:
        raise InputError("--min-share-pct must be 0 or more")
    result = detect(
        Lake.open(lake, create=False),
        since_ts,
        windows,
        min_impact_usd,
        min_impact_pct,
        min_impact_share=min_share_pct / 100,
    )
    if json_out:
        print(json.dumps(result.to_json(), default=str))
        return
    print_events(
        result.events,
        f"Scored {result.scored_from} .. {result.scored_to}: {result.anomalies} anomalous "
        f"series-hours, {len(result.events)} events ({len(result.new_events)} new)",
    )


def _cache_note(entity: dict) -> str:
    """The edge cache hit ratio before and during, when the event is a CloudFront cache that stopped caching."""
    if "cache_hit_ratio" in entity and "cache_hit_ratio_before" in entity:
        return f" cache hits {entity['cache_hit_ratio_before']:.0%} -> {entity['cache_hit_ratio']:.0%}"
    return ""


def print_events(events, title: str) -> None:
    table = Table(title=title)
    for col in ("start (UTC)", "h", "account", "region", "severity", "impact $", "$/day", "top entity (destination)"):
        table.add_column(col, justify="right" if "$" in col or col == "h" else "left", overflow="fold")
    for e in events:
        top = e.entities[0]
        table.add_row(
            e.start[:13],
            str(e.hours),
            e.account,
            e.region,
            e.severity,
            f"{e.impact_usd:,.2f}",
            f"{e.impact_usd_per_day:,.2f}",
            f"{top['entity'].rsplit('/', 1)[-1]} ({top['destination']}){_cache_note(top)}",
        )
    stdout.print(table)


@app.command("score-series")
def score_series_cmd(
    file: Path = typer.Argument(..., help="CSV with a timestamp column and a value column."),
    timestamp_col: str = typer.Option("timestamp", "--timestamp-col"),
    value_col: str = typer.Option("value", "--value-col"),
    out: Path = typer.Option(None, "--out", help="Write timestamp,value,anomaly_score here (default: stdout)."),
) -> None:
    """Online anomaly scores in [0, 1] for one metric series (first 15 % of rows, at most 750, warm up)."""
    import sys

    import numpy as np
    import pandas as pd

    from egress_optimizer.detection.univariate import OnlineSeriesScorer

    try:
        df = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise InputError(f"{file}: {exc}") from None
    for col in (timestamp_col, value_col):
        if col not in df.columns:
            raise InputError(f"{file}: no column {col!r} (columns: {', '.join(map(str, df.columns))})")
    values = pd.to_numeric(df[value_col], errors="coerce").to_numpy(dtype=float)
    ts = pd.to_datetime(df[timestamp_col], errors="coerce", utc=True)
    stamps = None if ts.isna().any() else ts.dt.tz_localize(None).to_numpy()
    scores = OnlineSeriesScorer().score(values, stamps)
    result = pd.DataFrame(
        {"timestamp": df[timestamp_col], "value": df[value_col], "anomaly_score": np.round(scores, 6)}
    )
    if out:
        result.to_csv(out, index=False)
        stdout.print(f"Wrote {len(result):,} scores to {out}")
    else:
        result.to_csv(sys.stdout, index=False)


@app.command("evaluate")
def evaluate_cmd(
    lake: str = LAKE_OPT,
    labels: Path = typer.Option(..., "--labels", help="labels.json written by `egress generate`."),
    seeds: int = typer.Option(5, "--seeds", min=1, max=50, help="Model seeds to average over."),
    mode: str = typer.Option("ensemble", "--mode", help="baseline | forest | ensemble"),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Event-level precision, recall, F1, time to detect and dollars caught against generated labels."""
    from egress_optimizer.cli.progress import stage_progress
    from egress_optimizer.detection.evaluate import evaluate_lake

    try:
        label_doc = json.loads(labels.read_text())
        label_doc["incidents"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--labels {labels}: not a labels.json ({exc})") from None
    with stage_progress("evaluate", enabled=not json_out) as update:
        result = evaluate_lake(
            Lake.open(lake, create=False), label_doc, seeds, mode, progress=lambda i, n: update(f"seed {i}/{n}", i / n)
        )
    if json_out:
        print(json.dumps(result, default=str))
        return
    print_evaluation(result, f"Detection ({mode}, mean over {seeds} seeds)")


def print_evaluation(result: dict, title: str) -> None:
    """Per-kind table and the headline metrics of an evaluation summary (``mean_over_runs`` output)."""
    table = Table(title=title)
    for col in ("kind", "incidents", "detected", "recall", "median TTD h"):
        table.add_column(col, justify="left" if col == "kind" else "right")
    for kind, k in result["by_kind"].items():
        ttd = "-" if k["median_ttd_hours"] is None else f"{k['median_ttd_hours']:.1f}"
        table.add_row(kind, str(k["incidents"]), str(k["detected"]), f"{k['recall']:.2f}", ttd)
    stdout.print(table)
    stdout.print(
        f"precision {result['precision']:.3f}  recall {result['recall']:.3f}  F1 {result['f1']:.3f}  "
        f"false alerts/account-week {result['false_alerts_per_account_week']:.2f}  "
        f"planned alerts {result['planned_alerts']:.0f}  median TTD step {result['median_ttd_hours_step']} h, "
        f"ramp {result['median_ttd_hours_ramp']} h  dollars caught ${result['dollars_caught_usd']:,.2f} of "
        f"${result['dollars_total_usd']:,.2f}"
    )


@app.command("feedback")
def feedback_cmd(
    event_id: str = typer.Argument(..., help="Event id (evt-...) from `egress detect`."),
    verdict: str = typer.Option(..., "--verdict", help="true | false | planned"),
    note: str = typer.Option("", "--note"),
    lake: str = LAKE_OPT,
) -> None:
    """Mark an event true, false or planned; future scoring of its series adjusts."""
    from egress_optimizer.detection.feedback import record_feedback

    the_lake = Lake.open(lake, create=False)
    event = _find_event(the_lake, event_id)
    fb = record_feedback(the_lake, event, verdict, note)
    stdout.print(f"Recorded {fb.verdict!r} for {event_id} ({len(fb.series)} series adjusted)")


def _find_event(lake: Lake, event_id: str) -> dict:
    import pyarrow.dataset as ds

    if not lake.exists("anomaly_events"):
        raise InputError("the lake has no anomaly_events yet: run `egress detect` first")
    rows = lake.read("anomaly_events", filter=ds.field("id") == event_id).to_pylist()
    if not rows:
        raise InputError(f"no event {event_id!r} in the lake")
    row = rows[-1]
    row["account"] = row.get("account_id") or row.get("account")
    row["entities"] = json.loads(row["entities"])
    return row


@app.command("planned")
def planned_cmd(
    start: str = typer.Option(None, "--start", help="UTC start, e.g. 2026-10-08T08:00"),
    end: str = typer.Option(None, "--end", help="UTC end"),
    file: Path = typer.Option(None, "--file", help="Add every window of a JSON file (planned_activities.json)."),
    account: list[str] = typer.Option([], "--account", help="Account id (repeatable; default all)."),
    region: list[str] = typer.Option([], "--region", help="Region (repeatable)."),
    resource: list[str] = typer.Option([], "--resource", help="Resource id or ARN (repeatable)."),
    ticket: str = typer.Option("", "--id", help="Change ticket or id for this window."),
    lake: str = LAKE_OPT,
) -> None:
    """Declare planned work ahead of time; matching hours inside the window never alert."""
    import pandas as pd

    from egress_optimizer.detection.feedback import add_planned, read_planned_file

    if file:
        n = add_planned(Lake.open(lake, create=False), read_planned_file(file))
        stdout.print(f"{n} planned windows added from {file}")
        return
    if not start or not end:
        raise InputError("give --start and --end, or --file")
    try:
        s, e = pd.Timestamp(start, tz="UTC"), pd.Timestamp(end, tz="UTC")
    except ValueError as exc:
        raise InputError(f"--start/--end: {exc}") from None
    if e <= s:
        raise InputError("--end must be after --start")
    n = add_planned(
        Lake.open(lake, create=False),
        [
            {
                "id": ticket,
                "start": s.isoformat(),
                "end": e.isoformat(),
                "accounts": account,
                "regions": region,
                "resources": resource,
            }
        ],
    )
    stdout.print(f"{n} planned window added ({s} .. {e})")
