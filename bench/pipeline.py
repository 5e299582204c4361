"""Benchmark incremental processing: hourly `egress features` runs on lakes of growing age, beside a full rebuild.

Usage: .venv/bin/python bench/pipeline.py [--scale small] [--ages 7 14 28] [--seed 23] [--profile realistic|clean]
       [--work /tmp/bench-pipeline]

One estate of ``max(ages) + 1`` days is generated and ingested once. For each age N a copy of the lake keeps the
logs of its first N days and is built whole (`egress features --rebuild`: the reference, in the same process
kind); then the logs of the next hour are ingested and `egress features` runs (one new hour), then runs again
with nothing new, then the logs of the next six hours arrive and it runs again (six new hours). Every run is a
fresh process (`egress features --lake ... --json`); its wall time (from the CLI call, imports excluded) and
peak RSS (``VmHWM``) are reported.
Flat in N and linear in the new hours is the goal; the quiet run should cost a fraction of the first.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from egress_optimizer import stages
from egress_optimizer.estate.deliveries import by_delivery_hour
from egress_optimizer.estate.generate import generate
from egress_optimizer.lake import Lake
from egress_optimizer.tables import CLOUDFRONT, S3_ACCESS, VPC_FLOW

LOGS = (VPC_FLOW, S3_ACCESS, CLOUDFRONT)
# Runs `egress features` in a child process and prints its own peak RSS, so each run is measured alone.
# VmHWM, not ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child would report this driver's peak.
CHILD = """
import json, re, sys, time
from egress_optimizer.cli import run
t = time.perf_counter()
code = run(["features", "--lake", sys.argv[1], "--json", *sys.argv[2:]])
seconds = time.perf_counter() - t
hwm = int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1))
print(json.dumps({"code": code, "seconds": seconds, "peak_mb": hwm / 1024}))
"""


def features_run(lake: Path, *extra: str) -> dict:
    """One `egress features` process: its stage summary, wall seconds (in-process) and peak RSS in MB."""
    out = (
        subprocess.run([sys.executable, "-c", CHILD, str(lake), *extra], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()
    )
    summary, measure = json.loads(out[-2]), json.loads(out[-1])
    return {**measure, "rows": summary["attributed"], "hours": summary["attribution"]["hours_attributed"]}


def lake_of_age(source: Path, dst: Path, days: list[str]) -> Lake:
    """A copy of the ingested lake keeping only these days of logs."""
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(source, dst)
    for table in LOGS:
        for folder in dst.joinpath(table.name).rglob("dt=*"):
            if folder.name.removeprefix("dt=") not in days:
                shutil.rmtree(folder)
    return Lake.open(str(dst), create=False)


def deliver(lake: Lake, estate: Path, objects: dict[pd.Timestamp, list[Path]], hours: list[pd.Timestamp]) -> int:
    files = [str(p) for h in hours for p in objects.get(h, [])]
    return stages.ingest(lake, files, key_base=str(estate)).totals()["parsed"] if files else 0


def bench_age(source: Path, estate: Path, objects: dict, all_days: list[str], age: int, work: Path) -> list[dict]:
    lake = lake_of_age(source, work / f"age{age}", all_days[:age])
    first = pd.Timestamp(all_days[age], tz="UTC")
    rows = [{"run": "full rebuild", **features_run(Path(lake.root), "--rebuild")}]
    records = deliver(lake, estate, objects, [first])
    rows.append({"run": "1 new hour", "new_records": records, **features_run(Path(lake.root))})
    rows.append({"run": "nothing new", **features_run(Path(lake.root))})
    records = deliver(lake, estate, objects, [first + pd.Timedelta(hours=h) for h in range(1, 7)])
    rows.append({"run": "6 new hours", "new_records": records, **features_run(Path(lake.root))})
    for row in rows:
        row["age_days"] = age
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small", choices=["small", "medium"])
    ap.add_argument("--ages", type=int, nargs="+", default=[7, 14, 28])
    ap.add_argument("--seed", type=int, default=23)
    ap.add_argument("--profile", default="realistic", choices=["realistic", "clean"], help="estate generator profile")
    ap.add_argument("--work", type=Path, default=Path("/tmp/bench-pipeline"))
    ap.add_argument("--out", type=Path, help="write the rows as JSON here too")
    args = ap.parse_args()
    console = Console()
    work = args.work / f"{args.scale}-{args.seed}-{args.profile}"
    estate, source = work / "estate", work / "ingested"
    days = max(args.ages) + 1
    if not (estate / ".done").exists():
        with console.status(f"generating a {days}-day {args.scale} estate"):
            generate(estate, days=days, seed=args.seed, scale=args.scale, profile=args.profile)
        (estate / ".done").touch()
    if not (source / ".done").exists():
        with console.status("ingesting it"):
            t = time.perf_counter()
            stages.ingest(str(source), [str(estate)])
            console.print(f"ingested in {time.perf_counter() - t:.0f} s")
        (source / ".done").touch()
    objects = by_delivery_hour(estate)
    all_days = sorted(Lake.open(str(source), create=False).days(VPC_FLOW))
    results = []
    for age in sorted(args.ages):
        with console.status(f"lake of {age} days"):
            results += bench_age(source, estate, objects, all_days, age, work)
    render(console, args.scale, results)
    if args.out:
        args.out.write_text(json.dumps(results, indent=1))
    print(f"machine peak of this driver: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")


def render(console: Console, scale: str, rows: list[dict]) -> None:
    table = Table(title=f"egress features on a {scale} estate: hourly runs vs a full rebuild")
    for col in ("lake age (days)", "run", "new log records", "hours attributed", "rows", "wall s", "peak MB"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            str(r["age_days"]), r["run"], f"{r.get('new_records', ''):,}" if "new_records" in r else "",
            str(r["hours"]), f"{r['rows']:,}", f"{r['seconds']:.1f}", f"{r['peak_mb']:.0f}",
        )  # fmt: skip
    console.print(table)


if __name__ == "__main__":
    main()
