"""Hourly features per account, region, entity and destination: the table detection reads.

The feature logic is one SQL text (``FEATURES_SQL``) in the dialect DuckDB and Spark SQL share
(``median``, ``dayofweek``, ``hour``, ``INTERVAL``), so the laptop engine and the Glue job compute the same
numbers. It reads ``attributed`` (one row per priced flow record, or per S3/CloudFront client and hour) and
writes ``egress_hourly``; ``CUR_DAILY_SQL`` writes ``cur_daily`` (billed data transfer per usage type and day).
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from egress_optimizer.attribution.reconcile import BILL_SQL, BILLED_TRANSFER
from egress_optimizer.lake import embedded_engine
from egress_optimizer.tables import ATTRIBUTED

FEATURES_SQL = f"""
WITH flows AS (
  -- The one pass over the input: sums per (group, hour, peer). Rows without a peer form their own group, so they
  -- count in the sums but not as a peer. team is a key here instead of a max(team) per row (a string comparison per
  -- input row): it follows the entity, so it adds no groups, and were it ever to, the max() below gives the same team.
  -- The product and usage type follow the entity's destination and region in the same way.
  SELECT hour, account, region, resource_id AS entity, destination, peer_region, peer, team, product, usage_type,
         sum(bytes) AS bytes, sum(packets) AS packets, sum(records) AS records, sum(usd) AS usd,
         sum(cache_misses) AS cache_misses
  FROM {ATTRIBUTED.name}
  WHERE resource_id IS NOT NULL
  GROUP BY hour, account, region, resource_id, destination, peer_region, peer, team, product, usage_type
), peer_hour AS (
  -- one row per (group, hour, peer) whatever the teams
  SELECT hour, account, region, entity, destination, coalesce(peer_region, '') AS peer_region, peer,
         max(team) AS team, max(product) AS product, max(usage_type) AS usage_type,
         sum(bytes) AS bytes, sum(packets) AS packets, sum(records) AS records, sum(usd) AS usd,
         sum(cache_misses) AS cache_misses
  FROM flows
  GROUP BY hour, account, region, entity, destination, coalesce(peer_region, ''), peer
), first_seen AS (
  SELECT entity, peer, min(hour) AS first_hour FROM peer_hour WHERE peer IS NOT NULL GROUP BY entity, peer
), hourly AS (
  -- roll up to (group, hour): the peers of a group and hour are its peer_hour rows
  SELECT p.hour, p.account, p.region, p.entity, p.destination, p.peer_region,
         max(p.team) AS team, max(p.product) AS product, max(p.usage_type) AS usage_type,
         sum(p.bytes) AS bytes, coalesce(sum(p.packets), 0) AS packets,
         sum(p.records) AS records, sum(p.usd) AS cost_usd, count(p.peer) AS distinct_peers,
         -- CloudFront only: of the hour's requests (records), those the edge cache missed
         coalesce(sum(p.cache_misses), 0) AS cache_misses,
         sum(CASE WHEN f.first_hour = p.hour THEN 1 ELSE 0 END) AS new_peers,
         -- bytes to peers first seen within the last day: exfiltration to fresh addresses hides in volume noise
         -- but not here (detection compares this share with its own history)
         sum(CASE WHEN f.first_hour > p.hour - INTERVAL 24 HOURS THEN p.bytes ELSE 0 END) AS recent_peer_bytes
  FROM peer_hour p LEFT JOIN first_seen f ON f.entity = p.entity AND f.peer = p.peer
  GROUP BY p.hour, p.account, p.region, p.entity, p.destination, p.peer_region
), week AS (
  -- the trailing medians join the hourly table (one row per group and hour, not the input) with itself; DuckDB
  -- hashes on the hour-of-day equality, so the two joins are ~1 % of the query (bench/RESULTS.md)
  SELECT h.hour, h.account, h.region, h.entity, h.destination, h.peer_region,
         median(p.bytes) AS median_same_hour_of_week,
         count(p.bytes) AS weeks_of_history
  FROM hourly h JOIN hourly p
    ON p.account = h.account AND p.region = h.region AND p.entity = h.entity
   AND p.destination = h.destination AND p.peer_region = h.peer_region
   AND p.hour < h.hour AND p.hour >= h.hour - INTERVAL 28 DAYS
   AND dayofweek(p.hour) = dayofweek(h.hour) AND hour(p.hour) = hour(h.hour)
  GROUP BY h.hour, h.account, h.region, h.entity, h.destination, h.peer_region
), day AS (
  SELECT h.hour, h.account, h.region, h.entity, h.destination, h.peer_region,
         median(p.bytes) AS median_same_hour_7d
  FROM hourly h JOIN hourly p
    ON p.account = h.account AND p.region = h.region AND p.entity = h.entity
   AND p.destination = h.destination AND p.peer_region = h.peer_region
   AND p.hour < h.hour AND p.hour >= h.hour - INTERVAL 7 DAYS AND hour(p.hour) = hour(h.hour)
  GROUP BY h.hour, h.account, h.region, h.entity, h.destination, h.peer_region
)
SELECT h.hour, h.account, h.region, h.entity, h.destination, h.peer_region, h.team, h.product, h.usage_type,
       h.bytes, h.packets, h.records, h.cost_usd, h.distinct_peers, h.new_peers, h.recent_peer_bytes, h.cache_misses,
       CASE WHEN h.distinct_peers > 0 THEN CAST(h.new_peers AS DOUBLE) / h.distinct_peers END AS new_peer_share,
       w.median_same_hour_of_week, coalesce(w.weeks_of_history, 0) AS weeks_of_history,
       CASE WHEN w.median_same_hour_of_week > 0 THEN h.bytes / w.median_same_hour_of_week END
         AS ratio_to_same_hour_of_week,
       d.median_same_hour_7d,
       CASE WHEN d.median_same_hour_7d > 0 THEN h.bytes / d.median_same_hour_7d END AS ratio_to_same_hour_7d
FROM hourly h
LEFT JOIN week w ON w.hour = h.hour AND w.account = h.account AND w.region = h.region AND w.entity = h.entity
  AND w.destination = h.destination AND w.peer_region = h.peer_region
LEFT JOIN day d ON d.hour = h.hour AND d.account = h.account AND d.region = h.region AND d.entity = h.entity
  AND d.destination = h.destination AND d.peer_region = h.peer_region
"""

CUR_DAILY_SQL = f"""
{BILL_SQL}
SELECT CAST(usage_start AS DATE) AS day, usage_account_id AS account, coalesce(region_code, 'global') AS region,
       usage_type, product_code, sum(usage_amount) AS usage_amount, sum(unblended_cost) AS cost_usd
FROM bill WHERE regexp_matches(usage_type, '{BILLED_TRANSFER}')
GROUP BY ALL
"""


def build_features(attributed: pd.DataFrame) -> pa.Table:
    """``egress_hourly`` rows from ``attributed`` rows (the embedded engine)."""
    con = embedded_engine()
    # Rows attributed by an older version lack the newer columns (cache misses, product, usage type): null.
    missing = {f.name: float("nan") if f.type == pa.float64() else None for f in ATTRIBUTED.schema}
    attributed = attributed.assign(**{c: v for c, v in missing.items() if c not in attributed.columns})
    con.register(ATTRIBUTED.name, attributed)
    return con.sql(FEATURES_SQL + " ORDER BY hour, account, region, entity, destination, peer_region").to_arrow_table()


def cur_daily(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``cur_daily`` rows from the ``cur`` table ``con`` holds."""
    return con.sql(CUR_DAILY_SQL + " ORDER BY ALL").to_arrow_table()
