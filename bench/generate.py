"""Benchmark the estate generator against the floor it cannot beat: re-compressing the same flow-log text.

Usage: .venv/bin/python bench/generate.py [--scale small|medium|large] [--days N] [--out DIR]

Prints one table: generator wall time and rows/s, and, in the same process, the time plain gzip needs to
compress the flow-log text the generator produced (decompressed first, not timed). The ratio says how much
of the generator's time is modelling and formatting rather than unavoidable compression.
"""

from __future__ import annotations

import argparse
import gzip
import resource
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from egress_optimizer.estate.generate import generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", default="small", choices=["small", "medium", "large"])
    ap.add_argument("--days", type=int, default=14)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    out = args.out or Path(tempfile.mkdtemp(prefix="bench-estate-"))
    t0 = time.perf_counter()
    result = generate(out / "estate", args.days, args.seed, args.scale)
    gen_s = time.perf_counter() - t0
    rss_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2

    texts = [gzip.decompress(p.read_bytes()) for p in sorted((out / "estate").glob("*/AWSLogs/**/*.log.gz"))]
    raw_bytes = sum(len(t) for t in texts)
    t0 = time.perf_counter()
    for t in texts:
        gzip.compress(t, compresslevel=6, mtime=0)
    gzip_s = time.perf_counter() - t0

    rows = sum(c["records"] for c in result.counts.values())
    size = sum(p.stat().st_size for p in (out / "estate").rglob("*") if p.is_file())
    table = Table(title=f"egress generate --scale {args.scale} --days {args.days}")
    for col in ("measure", "seconds", "rows/s", "notes"):
        table.add_column(col)
    table.add_row(
        "generate (all sources)",
        f"{gen_s:.1f}",
        f"{rows / gen_s:,.0f}",
        f"{rows:,} rows, {size / 1e9:.2f} GB on disk, peak RSS {rss_gb:.2f} GB",
    )
    table.add_row(
        "reference: gzip of the flow-log text only",
        f"{gzip_s:.1f}",
        f"{result.counts['vpc_flow']['records'] / gzip_s:,.0f}",
        f"{raw_bytes / 1e9:.2f} GB of text; generator / gzip = {gen_s / gzip_s:.1f}x",
    )
    Console().print(table)


if __name__ == "__main__":
    main()
