"""``egress generate``: write a labelled synthetic AWS estate."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path

import typer
from rich.table import Table

from egress_optimizer.cli import app, stdout
from egress_optimizer.cli.display import words
from egress_optimizer.cli.progress import stage_progress
from egress_optimizer.errors import InputError


class Scale(StrEnum):
    small = "small"
    medium = "medium"
    large = "large"


def check_output_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"output path {str(out)!r} exists and is not a directory")
    parent = out.resolve().parent
    if not parent.exists():
        raise InputError(f"parent folder {str(parent)!r} does not exist")


def run_generate(
    out: Path,
    days: int,
    seed: int,
    scale: str,
    start: str | None,
    show_progress: bool = True,
    profile: str = "realistic",
):
    from egress_optimizer.estate.generate import generate, parse_start
    from egress_optimizer.estate.profiles import profile as check_profile

    check_output_dir(out)
    try:
        check_profile(profile)  # bad input fails before the progress bar
        if start:
            parse_start(start)
        with stage_progress("generate", show_progress) as update:
            return generate(out, days, seed, scale, start, progress=update, profile=profile)
    except ValueError as e:  # invalid date, days out of range
        raise InputError(str(e)) from None


def print_estate_summary(result) -> None:
    files = Table(title=f"Synthetic estate in {result.out}")
    for col in ("source", "objects", "records"):
        files.add_column(col, justify="right" if col != "source" else "left")
    for src, c in result.counts.items():
        files.add_row(src, f"{c['objects']:,}", f"{c['records']:,}")
    stdout.print(files)
    inc = Table(title="Injected incidents (ground truth in labels.json)")
    inc.add_column("id", no_wrap=True)
    inc.add_column("kind")
    inc.add_column("start (UTC)", min_width=10)
    inc.add_column("hours", justify="right")
    inc.add_column("magnitude", justify="right")
    inc.add_column("impact $", justify="right")
    for i in result.incidents:
        inc.add_row(
            _short_label_id(i.id),
            words(i.kind) + (" (planned)" if i.planned else ""),
            _hour_label(result, i.start_hour),
            str(i.end_hour - i.start_hour),
            "-" if i.magnitude_pct is None else f"+{i.magnitude_pct:,.0f}%",
            f"{i.dollar_impact_usd:,.2f}",
        )
    stdout.print(inc)
    stdout.print(
        f"CUR: {result.line_items:,} line items, ${result.cur_cost_usd:,.2f} billed; generated in {result.seconds:.1f}s"
    )


def _short_label_id(label_id: str) -> str:
    """``inc-001`` of ``inc-001-public-s3-exfiltration`` (the rest is its kind, in the next column)."""
    return "-".join(label_id.split("-", 2)[:2])


def _hour_label(result, hour: int) -> str:
    import time

    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(result.start_epoch + hour * 3600))


@app.command("generate")
def generate_cmd(
    out: Path = typer.Option(..., "--out", help="Folder to write the estate into (replaced if it exists)."),
    days: int = typer.Option(14, "--days", min=1, max=366, help="Days of logs and billing."),
    seed: int = typer.Option(42, "--seed", help="Random seed: the same seed gives byte-identical output."),
    scale: Scale = typer.Option(Scale.small, "--scale", help="small (tests, demo), medium (a month), large (GBs)."),
    start: str | None = typer.Option(
        None, "--start", help="First day (UTC), YYYY-MM-DD (default: 2026-10-19 realistic, 2026-10-01 clean)."
    ),
    profile: str = typer.Option(
        "realistic",
        "--profile",
        help="realistic: real-world noise, benign bursts, logging gaps and an enterprise bill; clean: i.i.d. "
        "noise on a completely logged estate billed at list price, for focused tests.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Print a JSON summary instead of tables."),
) -> None:
    """Generate a realistic, labelled AWS organisation and its logs, exactly as AWS delivers them."""
    result = run_generate(out, days, seed, scale.value, start, show_progress=not json_out, profile=profile)
    if json_out:
        print(json.dumps(result.summary()))
    else:
        print_estate_summary(result)
