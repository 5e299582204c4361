"""Benchmark the hourly feature SQL against a plain DuckDB GROUP BY of the same rows, in one process.

Usage: .venv/bin/python bench/features.py [--rows 50000000] [--repeat 3]

Builds an ``attributed``-shaped table of ``--rows`` flow rows in DuckDB (400 entities, 30 days of hours,
realistic peer cardinality), then times:
- reference: ``GROUP BY hour, account, region, entity, destination, peer_region`` summing bytes, packets,
  records and cost (the columns the features start from);
- ``FEATURES_SQL``: the same aggregation plus distinct and never-seen peers and the trailing same-hour
  medians. Target: <= 1.5x the reference.

Both results are fetched whole as Arrow tables (as ``build_features`` does): under a ``SELECT count(*)`` DuckDB
drops the reference's unused sums and times a bare DISTINCT. The two queries alternate ``--repeat`` times and the
best wall and CPU (process, all threads) times count; on a shared machine the CPU ratio is the steadier one.
"""

from __future__ import annotations

import argparse
import os
import time

from rich.console import Console
from rich.table import Table

from egress_optimizer.attribution.features import FEATURES_SQL
from egress_optimizer.lake import embedded_engine
from egress_optimizer.tables import ATTRIBUTED, EGRESS_HOURLY, FIRST_SEEN

MAKE = f"""
CREATE TABLE {ATTRIBUTED.name} AS
SELECT TIMESTAMP '2026-10-01' + INTERVAL (i % 720) HOUR AS hour,
       'acct' || CAST((i // 7) % 3 AS VARCHAR) AS account,
       CASE (i // 11) % 3 WHEN 0 THEN 'us-east-1' WHEN 1 THEN 'us-west-2' ELSE 'eu-west-1' END AS region,
       'res-' || CAST((i * 2654435761) % 400 AS VARCHAR) AS resource_id,
       CASE (i // 13) % 4 WHEN 0 THEN 'internet' WHEN 1 THEN 'cross-az' WHEN 2 THEN 'inter-region'
            ELSE 'internet via NAT' END AS destination,
       CASE WHEN (i // 13) % 4 = 2 THEN 'us-west-2' END AS peer_region,
       'team-' || CAST((i * 2654435761) % 400 % 7 AS VARCHAR) AS team,
       'AmazonEC2' AS product,
       CASE (i // 13) % 4 WHEN 0 THEN 'DataTransfer-Out-Bytes' WHEN 1 THEN 'DataTransfer-Regional-Bytes'
            WHEN 2 THEN 'USE1-USW2-AWS-Out-Bytes' ELSE 'NatGateway-Bytes' END AS usage_type,
       '10.' || CAST((i * 40503) % 250 AS VARCHAR) || '.' || CAST((i * 69069) % 250 AS VARCHAR) || '.1' AS peer,
       CAST(NULL AS VARCHAR) AS via,  -- cross-AZ-to-NAT rows only (a few per cent of a real lake); none here
       CAST((i * 48271) % 5000000 AS BIGINT) AS bytes,
       CAST((i * 16807) % 5000 AS BIGINT) AS packets,
       1 AS records,
       ((i * 48271) % 5000000) / 1073741824.0 * 0.09 AS usd,
       CAST(NULL AS DOUBLE) AS cache_misses  -- CloudFront rows only; these are flow rows
FROM range(?) t(i)
"""
REFERENCE = f"""
SELECT hour, account, region, resource_id, destination, coalesce(peer_region, '') AS peer_region,
       sum(bytes), sum(packets), sum(records), sum(usd)
FROM {ATTRIBUTED.name} GROUP BY ALL
"""


def timed(con, sql: str) -> tuple[float, float, int]:
    """Wall and CPU seconds to compute and fetch the whole result, and its row count."""
    wall, cpu = time.perf_counter(), time.process_time()
    n = con.sql(sql).to_arrow_table().num_rows
    return time.perf_counter() - wall, time.process_time() - cpu, n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=50_000_000)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each query; the best counts")
    args = ap.parse_args()
    con = embedded_engine()
    t = time.perf_counter()
    con.execute(MAKE, [args.rows])
    # a lake built in one pass: nothing carried from earlier hours
    con.register("first_seen_before", FIRST_SEEN.schema.empty_table())
    con.register("history", EGRESS_HOURLY.schema.empty_table())
    build = time.perf_counter() - t
    ref_runs, feat_runs = [], []
    for _ in range(args.repeat):  # alternate, so a burst of load elsewhere hits both
        ref_runs.append(timed(con, REFERENCE))
        feat_runs.append(timed(con, FEATURES_SQL))
    ref_s, ref_c, ref_n = min(r[0] for r in ref_runs), min(r[1] for r in ref_runs), ref_runs[0][2]
    feat_s, feat_c, feat_n = min(r[0] for r in feat_runs), min(r[1] for r in feat_runs), feat_runs[0][2]
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    table = Table(
        title=f"Hourly features over {args.rows:,} attributed flow rows (table built in {build:.1f} s; "
        f"best of {args.repeat}; load average {load} on {os.cpu_count()} cores)"
    )
    for c in ("measure", "seconds", "CPU seconds", "output rows", "rows/s in"):
        table.add_column(c)
    rows = (("reference: plain GROUP BY", ref_s, ref_c, ref_n), ("FEATURES_SQL", feat_s, feat_c, feat_n))
    for name, wall, cpu, n in rows:
        table.add_row(name, f"{wall:.1f}", f"{cpu:.1f}", f"{n:,}", f"{args.rows / wall:,.0f}")
    table.add_row("features / reference", f"{feat_s / ref_s:.2f}x", f"{feat_c / ref_c:.2f}x", "", "target <= 1.5x")
    Console().print(table)


if __name__ == "__main__":
    main()
