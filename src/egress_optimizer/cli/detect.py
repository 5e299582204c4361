"""``egress train`` / ``detect`` / ``score-series`` / ``evaluate`` / ``feedback`` / ``planned`` / ``schema``."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.display import Names, print_item, short_incident_id
from egress_optimizer.detection.materiality import MIN_IMPACT_SHARE
from egress_optimizer.detection.modes import DEFAULT_MODE, MODE_HELP
from egress_optimizer.errors import InputError
from egress_optimizer.lake import DEFAULT_LAKE, Lake

LAKE_OPT = typer.Option(DEFAULT_LAKE, "--lake", help="Lake root: a folder or s3://bucket/prefix.")
SHORT_IDS_NOTE = "Incident ids are shortened; explain, respond, remediate plan and feedback take them as shown."


@app.command("train")
def train_cmd(
    lake: str = LAKE_OPT,
    mode: str = typer.Option(DEFAULT_MODE, "--mode", help=MODE_HELP),
    seed: int = typer.Option(0, "--seed", help="Random seed of the Isolation Forest."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Train the detector on the lake's hourly features and store a new model version in the lake."""
    from egress_optimizer import stages
    from egress_optimizer.detection.detector import MODES, DetectorParams

    if mode not in MODES:
        raise InputError(f"--mode must be one of {', '.join(MODES)}")
    meta = stages.train(Lake.open(lake, create=False), DetectorParams(mode=mode, seed=seed))
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
    wide: bool = typer.Option(False, "--wide", help="Whole incident ids, ARNs and account ids (a wider table)."),
) -> None:
    """Score new hourly features with the current model; write 'anomalies' and 'incidents'."""
    import pandas as pd

    from egress_optimizer import stages
    from egress_optimizer.detection.events import PlannedWindow
    from egress_optimizer.detection.feedback import read_planned_file

    windows = [PlannedWindow.from_dict(w) for w in read_planned_file(planned)] if planned else []
    try:
        since_ts = pd.Timestamp(since, tz="UTC") if since else None
    except ValueError:
        raise InputError(f"--since {since!r} is not a date or time") from None
    if min_share_pct < 0:
        raise InputError("--min-share-pct must be 0 or more")
    store = Lake.open(lake, create=False)
    result = stages.detect(
        store,
        since_ts,
        windows,
        min_impact_usd,
        min_impact_pct,
        min_impact_share=min_share_pct / 100,
    )
    if json_out:
        print(json.dumps(result.to_json()))
        return
    print_incidents(
        result.incidents,
        f"Scored {result.scored_from} .. {result.scored_to}: {result.anomalies} anomalous "
        f"series-hours, {len(result.incidents)} incidents ({len(result.new_incidents)} new)",
        Names.from_lake(store),
        wide,
    )
    if result.incidents and not wide:
        print_item(f"{SHORT_IDS_NOTE} --wide or --json prints them whole.", indent=0)


def _cache_note(entity) -> str:
    """The edge cache hit ratio before and during, when the incident is a CloudFront cache that stopped caching."""
    if entity.cache_hit_ratio is not None and entity.cache_hit_ratio_before is not None:
        return f" cache hits {entity.cache_hit_ratio_before:.0%} -> {entity.cache_hit_ratio:.0%}"
    return ""


def print_incidents(incidents, title: str, names: Names | None = None, wide: bool = False) -> None:
    """One row per incident: its (short) id and when it started; what it cost and how severe; the resource that
    moved most, where its bytes went, and the account and region. ``wide``: whole ids and ARNs, account ids."""
    names = names or Names()
    table = Table(title=title)
    table.add_column("incident\nstart (UTC)", no_wrap=not wide, overflow="fold")
    table.add_column("impact $\nper day\nseverity", justify="right", no_wrap=True)
    table.add_column("top resource\n-> destination\naccount, region", overflow="fold")
    for i in incidents:
        top = i.entities[0]
        hours = int((i.window.end - i.window.start).total_seconds() // 3600)
        name = names.resource(top.id)
        resource = (f"{top.id} ({name})" if name else top.id) if wide else names.label(top.id)
        what = [
            resource,
            f"-> {top.destination_class}",
            _cache_note(top).strip(),
            f"{names.account(i.account, wide)}, {i.region}",
        ]
        incident_id = i.id if wide else short_incident_id(i.id)
        table.add_row(
            f"{incident_id}\n{i.window.start:%Y-%m-%d}\n{i.window.start:%H:%M}, {hours} h",
            f"{i.impact.total_usd:,.2f}\n{i.impact.per_day_usd:,.2f}/day\n{i.severity.value}",
            "\n".join(x for x in what if x),
        )
    stdout.print(table)


def full_incident_id(lake: Lake, incident_id: str) -> str:
    """The stored incident id ``incident_id`` is the start of (the tables show the first characters), or
    ``incident_id`` itself when it is whole or matches none."""
    from egress_optimizer.tables import INCIDENTS

    if not lake.has(INCIDENTS):
        return incident_id
    ids = set(lake.read_table(INCIDENTS, columns=["id"]).column("id").to_pylist())
    if incident_id in ids:
        return incident_id
    found = sorted(i for i in ids if i.startswith(incident_id))
    if len(found) > 1:
        raise InputError(f"incident id {incident_id!r} is ambiguous: {', '.join(found[:5])}")
    return found[0] if found else incident_id


@app.command("score-series")
def score_series_cmd(
    file: Path = typer.Argument(..., help="CSV with a timestamp column and a value column."),
    timestamp_col: str = typer.Option("timestamp", "--timestamp-col"),
    value_col: str = typer.Option("value", "--value-col"),
    out: Path = typer.Option(None, "--out", help="Write timestamp,value,anomaly_score here (default: stdout)."),
    key_cols: str = typer.Option(
        None,
        "--key-cols",
        help="Comma-separated columns naming a series (e.g. account,service,usage_type): many series in one file, "
        "each scored on its own at its own regular interval; the output keeps every input column.",
    ),
    events: Path = typer.Option(
        None,
        "--events",
        help="Write the incidents (runs of rows past the alert threshold) here as JSON, in the incident contract "
        "(egress schema incident); impact is in the value's units, dollars for cost series.",
    ),
    rules_only: bool = typer.Option(
        False,
        "--rules-only",
        help="Score with the statistical rules alone, without the Isolation Forest that confirms short, marginal "
        "alerts (faster on many series; see bench/RESULTS.md for what each scores).",
    ),
) -> None:
    """Online anomaly scores in [0, 1] for metric series (first 15 % of rows, at most 750, warm up); 0.9 is
    where the lake detector would alert."""

    import pandas as pd

    from egress_optimizer.detection.series_table import SCORE_COLUMN, score_table

    try:
        df = pd.read_csv(file)
    except (OSError, ValueError) as exc:
        raise InputError(f"{file}: {exc}") from None
    keys = [c.strip() for c in key_cols.split(",") if c.strip()] if key_cols else []
    incidents: list | None = [] if events else None
    try:
        result = score_table(df, timestamp_col, value_col, keys, incidents, forest=not rules_only)
    except InputError as exc:
        raise InputError(f"{file}: {exc}") from None
    if not keys:
        result = result[[timestamp_col, value_col, SCORE_COLUMN]].set_axis(["timestamp", "value", SCORE_COLUMN], axis=1)
    _write_scores(result, out)
    if events:
        events.write_text(json.dumps([i.to_json() for i in incidents], indent=1))
        note = f"Wrote {len(incidents):,} incident(s) to {events}"
        stdout.print(note) if out else typer.echo(note, err=True)  # stdout holds the scores


def _write_scores(result, out: Path | None) -> None:
    import sys

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
    mode: str = typer.Option(DEFAULT_MODE, "--mode", help=MODE_HELP),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    rca: bool = typer.Option(
        True,
        "--rca/--no-rca",
        help="Also explain each detected incident (the lake and the CloudTrail logs beside labels.json) and score "
        "the root causes against the labels (rca_accuracy).",
    ),
) -> None:
    """Event-level precision, recall, F1, time to detect and dollars caught against generated labels."""
    from egress_optimizer import stages
    from egress_optimizer.cli.progress import stage_progress

    try:
        label_doc = json.loads(labels.read_text())
        label_doc["incidents"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"--labels {labels}: not a labels.json ({exc})") from None
    with stage_progress("evaluate", enabled=not json_out) as update:
        from egress_optimizer.respond.explain import trail_roots_in

        result = stages.evaluate(
            Lake.open(lake, create=False),
            label_doc,
            seeds,
            mode,
            progress=lambda i, n: update(f"seed {i}/{n}", i / n),
            trail_roots=trail_roots_in(labels.parent) if rca else None,
        )
    if json_out:
        print(json.dumps(result, default=str))
        return
    print_evaluation(result, f"Detection ({mode}, mean over {seeds} seeds)")


def print_evaluation(result: dict, title: str) -> None:
    """Per-kind table and the headline metrics of an evaluation summary (``mean_over_runs`` output)."""
    from egress_optimizer.detection.evaluate import EVALUATION_COLUMNS, evaluation_headline, evaluation_rows

    table = Table(title=title)
    for col in EVALUATION_COLUMNS:
        table.add_column(col, justify="left" if col == "kind" else "right")
    for row in evaluation_rows(result):
        table.add_row(*row)
    stdout.print(table)
    stdout.print(evaluation_headline(result))
    if result.get("rca_accuracy") is not None:
        stdout.print(
            f"root cause (rules) right on {result['rca_accuracy']:.0%} of the {result['rca_explained']} detected "
            f"labelled incidents: "
            + ", ".join(f"{c} {v['correct']}/{v['incidents']}" for c, v in result["rca_by_cause"].items())
        )


@app.command("feedback")
def feedback_cmd(
    incident_id: str = typer.Argument(..., help="Incident id (evt-...) from `egress detect`."),
    verdict: str = typer.Option(..., "--verdict", help="true | false | planned"),
    note: str = typer.Option("", "--note"),
    lake: str = LAKE_OPT,
) -> None:
    """Mark an incident true, false or planned; future scoring of its series adjusts."""
    from egress_optimizer import stages

    store = Lake.open(lake, create=False)
    incident_id = full_incident_id(store, incident_id)
    fb = stages.record_feedback(store, incident_id, verdict, note)
    stdout.print(f"Recorded {fb.verdict!r} for {incident_id} ({len(fb.series)} series adjusted)")


@app.command("planned")
def planned_cmd(
    start: str = typer.Option(None, "--start", help="UTC start, e.g. 2026-10-08T08:00"),
    end: str = typer.Option(None, "--end", help="UTC end"),
    file: Path = typer.Option(None, "--file", help="Add every window of a JSON file (planned_activities.json)."),
    account: list[str] = typer.Option([], "--account", help="Account id (repeatable; default all)."),
    region: list[str] = typer.Option([], "--region", help="Region (repeatable)."),
    resource: list[str] = typer.Option(
        [],
        "--resource",
        help="Resource id or ARN (repeatable). Without one, the window leaves out what public endpoints serve the"
        " internet (a bucket's downloads): name them when the work changes that.",
    ),
    ticket: str = typer.Option("", "--id", help="Change ticket or id for this window."),
    lake: str = LAKE_OPT,
) -> None:
    """Declare planned work ahead of time; matching hours inside the window never alert."""
    import pandas as pd

    from egress_optimizer import stages
    from egress_optimizer.detection.feedback import read_planned_file

    if file:
        n = stages.declare_planned(Lake.open(lake, create=False), read_planned_file(file))
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
    n = stages.declare_planned(
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


@app.command("schema")
def schema_cmd(name: str = typer.Argument("incident", help="The contract: incident.")) -> None:
    """Print the JSON Schema of a contract between stages (what detection emits, what alerts read)."""
    from egress_optimizer.contracts import CONTRACTS, shipped_schema

    if name not in CONTRACTS:
        raise InputError(f"unknown contract {name!r}; choose one of {', '.join(CONTRACTS)}")
    print(json.dumps(shipped_schema(name), indent=2))
