"""Benchmark VPC flow log ingestion against the references it must beat, in one process run.

Usage: .venv/bin/python bench/ingest.py [--gz-mb 1024] [--cache bench/.cache]

1. Writes (once, cached) a gzipped v5 VPC flow log of at least ``--gz-mb`` MB with realistic values.
2. Measures, on that same file:
   - decompression only (pyarrow's C++ gzip stream, reading 1 MiB chunks): the floor for any ingest;
   - DuckDB ``read_csv`` of the file (count and sum of bytes);
   - ``egress ingest`` end to end (parse, partition, write Parquet to a temporary lake), in a child process
     so its peak RSS is its own.
3. Prints a table with seconds, rows/s, peak RSS and the targets (ingest <= 1.25x decompression time,
   rows/s >= 1.2x DuckDB's, peak RSS <= 1 GB).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from rich.console import Console
from rich.table import Table

from egress_optimizer.lake import embedded_engine

HEADER = (
    "version account-id vpc-id subnet-id instance-id interface-id type srcaddr dstaddr srcport dstport "
    "pkt-srcaddr pkt-dstaddr protocol packets bytes start end action tcp-flags region az-id "
    "pkt-src-aws-service pkt-dst-aws-service flow-direction traffic-path log-status"
)
KEY = (
    "AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/10/01/"
    "123456789012_vpcflowlogs_us-east-1_fl-0123456789abcdef0_20261001T0000Z_bench001.log.gz"
)


def _block(rng: np.random.Generator, n: int, t0: int) -> bytes:
    """n realistic v5 records as text (vectorised)."""

    def ip(prefix: str, k: int) -> pa.Array:
        a, b = rng.integers(0, 256, k), rng.integers(1, 255, k)
        return pc.binary_join_element_wise(
            prefix, pc.cast(pa.array(a), pa.string()), ".", pc.cast(pa.array(b), pa.string()), ""
        )

    enis = np.array([f"eni-{i:017x}" for i in rng.integers(0, 2**60, 200)], dtype=object)
    idx = rng.integers(0, 200, n)
    egress = rng.random(n) < 0.5
    src = ip("10.20.", n)
    dst = pc.if_else(pa.array(rng.random(n) < 0.6), ip("52.216.", n), ip("81.2.", n))
    start = t0 + rng.integers(0, 3600, n)
    cols = [
        pa.array(["5"] * n),
        pa.array(["123456789012"] * n),
        pa.array(["vpc-0a1b2c3d4e5f60718"] * n),
        pa.array(["subnet-0a1b2c3d4e5f60718"] * n),
        pa.array(["i-0a1b2c3d4e5f60718"] * n),
        pa.array(enis[idx], pa.string()),
        pa.array(["IPv4"] * n),
        src,
        dst,
        pc.cast(pa.array(rng.integers(1024, 65535, n)), pa.string()),
        pa.array(["443"] * n),
        src,
        dst,
        pa.array(["6"] * n),
        pc.cast(pa.array(rng.integers(1, 5000, n)), pa.string()),
        pc.cast(pa.array(rng.integers(40, 5_000_000, n)), pa.string()),
        pc.cast(pa.array(start), pa.string()),
        pc.cast(pa.array(start + rng.integers(1, 600, n)), pa.string()),
        pa.array(np.where(rng.random(n) < 0.97, "ACCEPT", "REJECT")),
        pa.array(["3"] * n),
        pa.array(["us-east-1"] * n),
        pa.array(["use1-az1"] * n),
        pa.array(["-"] * n),
        pa.array(np.where(rng.random(n) < 0.5, "S3", "-")),
        pa.array(np.where(egress, "egress", "ingress")),
        pa.array(np.where(egress, "8", "-")),
        pa.array(["OK"] * n),
    ]
    lines = pc.binary_join_element_wise(*cols, " ")
    return ("\n".join(lines.to_pylist()) + "\n").encode()


def make_file(path: Path, gz_mb: int) -> int:
    rng = np.random.default_rng(7)
    rows = 0
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
        gz.write((HEADER + "\n").encode())
        t0 = 1_790_000_000
        while raw.tell() < gz_mb * 1024**2:
            gz.write(_block(rng, 500_000, t0))
            rows += 500_000
            t0 += 3600
    return rows


def decompress_only(path: Path) -> float:
    t = time.perf_counter()
    with pa.CompressedInputStream(pa.OSFile(str(path)), "gzip") as s:
        while s.read(1 << 20):
            pass
    return time.perf_counter() - t


def duckdb_read(path: Path) -> tuple[float, int]:
    t = time.perf_counter()
    con = embedded_engine()
    n = con.execute(
        "SELECT count(*), sum(bytes) FROM read_csv(?, delim=' ', header=true, nullstr='-')", [str(path)]
    ).fetchone()[0]
    return time.perf_counter() - t, int(n)


CHILD = """
import json, resource, sys, time
from egress_optimizer.ingest.objects import open_object
from egress_optimizer.ingest.pipeline import ingest_object
from egress_optimizer.ingest.base import SourceObject
from egress_optimizer.lake import Lake
path, key, lake_dir = sys.argv[1:4]
obj, body = open_object(path)
obj = SourceObject(uri=obj.uri, key=key, size=obj.size, version=obj.version)
t = time.perf_counter()
r = ingest_object(Lake.open(lake_dir), obj, body, "vpc-flow")
dt = time.perf_counter() - t
print(json.dumps({"seconds": dt, "parsed": r.parsed, "quarantined": r.quarantined, "failed": r.failed,
                  "rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2}))
"""


def egress_ingest(path: Path) -> dict:
    with tempfile.TemporaryDirectory() as lake:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), KEY, lake], capture_output=True, text=True, check=True
        )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gz-mb", type=int, default=1024)
    ap.add_argument("--cache", type=Path, default=Path(__file__).parent / ".cache")
    args = ap.parse_args()
    args.cache.mkdir(parents=True, exist_ok=True)
    path = args.cache / f"vpcflow-{args.gz_mb}mb.log.gz"
    meta = path.with_suffix(".json")
    if not (path.exists() and meta.exists()):
        rows = make_file(path, args.gz_mb)
        meta.write_text(json.dumps({"rows": rows}))
    rows = json.loads(meta.read_text())["rows"]
    size = path.stat().st_size

    dec = decompress_only(path)
    dd_s, dd_rows = duckdb_read(path)
    ing = egress_ingest(path)
    assert dd_rows == rows == ing["parsed"] + ing["quarantined"], (dd_rows, rows, ing)

    table = Table(title=f"VPC flow ingest: {size / 1e9:.2f} GB gzip, {rows:,} records ({os.cpu_count()} CPUs)")
    for c in ("measure", "seconds", "rows/s", "peak RSS", "target", "met"):
        table.add_column(c)
    table.add_row("decompress only (pyarrow gzip)", f"{dec:.1f}", f"{rows / dec:,.0f}", "", "", "")
    table.add_row("DuckDB read_csv", f"{dd_s:.1f}", f"{rows / dd_s:,.0f}", "", "", "")
    ratio, speed = ing["seconds"] / dec, (rows / ing["seconds"]) / (rows / dd_s)
    table.add_row(
        "egress ingest (end to end)",
        f"{ing['seconds']:.1f}",
        f"{rows / ing['seconds']:,.0f}",
        f"{ing['rss_gb']:.2f} GB",
        "",
        "",
    )
    table.add_row("ingest / decompress time", f"{ratio:.2f}x", "", "", "<= 1.25x", "yes" if ratio <= 1.25 else "no")
    table.add_row("ingest / DuckDB rows/s", f"{speed:.2f}x", "", "", ">= 1.2x", "yes" if speed >= 1.2 else "no")
    table.add_row("peak RSS", f"{ing['rss_gb']:.2f} GB", "", "", "<= 1 GB", "yes" if ing["rss_gb"] <= 1 else "no")
    Console().print(table)


if __name__ == "__main__":
    main()
