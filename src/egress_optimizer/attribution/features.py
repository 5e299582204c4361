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
from egress_optimizer.tables import ATTRIBUTED, EGRESS_HOURLY, FIRST_SEEN

# The rows of the hours being built, summed per (group, hour, peer): the input of both statements below.
_PEER_HOURS = f"""
flows AS (
  -- The one pass over the input: sums per (group, hour, peer). Rows without a peer form their own group, so they
  -- count in the sums but not as a peer. team is a key here instead of a max(team) per row (a string comparison per
  -- input row): it follows the entity, so it adds no groups, and were it ever to, the max() below gives the same team.
  -- The product and usage type follow the entity's destination and region in the same way.
  -- Dollars are summed as exact decimals: a sum of doubles depends on the order the engine adds them in (threads,
  -- batch size), and a rebuild, an hourly run and Spark must write the same numbers.
  -- The gateway crossed (via) follows the entity and its destination too.
  SELECT hour, account, region, resource_id AS entity, destination, peer_region, peer, team, product, usage_type, via,
         sum(bytes) AS bytes, sum(packets) AS packets, sum(records) AS records,
         sum(CAST(usd AS DECIMAL(38, 18))) AS usd,
         sum(cache_misses) AS cache_misses
  FROM {ATTRIBUTED.name}
  WHERE resource_id IS NOT NULL
  GROUP BY hour, account, region, resource_id, destination, peer_region, peer, team, product, usage_type, via
), peer_hour AS (
  -- one row per (group, hour, peer) whatever the teams
  SELECT hour, account, region, entity, destination, coalesce(peer_region, '') AS peer_region, peer,
         max(team) AS team, max(product) AS product, max(usage_type) AS usage_type, max(via) AS via,
         sum(bytes) AS bytes, sum(packets) AS packets, sum(records) AS records, sum(usd) AS usd,
         sum(cache_misses) AS cache_misses
  FROM flows
  GROUP BY hour, account, region, entity, destination, coalesce(peer_region, ''), peer
), batch_first AS (
  SELECT entity, peer, min(hour) AS first_hour FROM peer_hour WHERE peer IS NOT NULL GROUP BY entity, peer
)"""

FEATURES_SQL = f"""
WITH {_PEER_HOURS}, first_met AS (
  -- the first hour each entity met each peer: before these hours (the carried table), or in them
  SELECT entity, peer, min(first_hour) AS first_hour
  FROM (SELECT entity, peer, first_hour FROM first_seen_before
        UNION ALL SELECT entity, peer, first_hour FROM batch_first) s
  GROUP BY entity, peer
), hourly AS (
  -- roll up to (group, hour): the peers of a group and hour are its peer_hour rows
  SELECT p.hour, p.account, p.region, p.entity, p.destination, p.peer_region,
         max(p.team) AS team, max(p.product) AS product, max(p.usage_type) AS usage_type, max(p.via) AS via,
         sum(p.bytes) AS bytes, coalesce(sum(p.packets), 0) AS packets,
         sum(p.records) AS records, CAST(sum(p.usd) AS DOUBLE) AS cost_usd, count(p.peer) AS distinct_peers,
         -- CloudFront only: of the hour's requests (records), those the edge cache missed
         coalesce(sum(p.cache_misses), 0) AS cache_misses,
         sum(CASE WHEN f.first_hour = p.hour THEN 1 ELSE 0 END) AS new_peers,
         -- bytes to peers first seen within the last day: exfiltration to fresh addresses hides in volume noise
         -- but not here (detection compares this share with its own history)
         sum(CASE WHEN f.first_hour > p.hour - INTERVAL 24 HOURS THEN p.bytes ELSE 0 END) AS recent_peer_bytes
  FROM peer_hour p LEFT JOIN first_met f ON f.entity = p.entity AND f.peer = p.peer
  GROUP BY p.hour, p.account, p.region, p.entity, p.destination, p.peer_region
), series AS (
  -- every known (group, hour): these hours, and the four weeks before them as the table holds them
  SELECT hour, account, region, entity, destination, peer_region, bytes FROM hourly
  UNION ALL
  SELECT hour, account, region, entity, destination, peer_region, bytes FROM history
), week AS (
  -- the trailing medians join the hourly rows (one per group and hour, not the input) with the series; DuckDB
  -- hashes on the hour-of-day equality, so the two joins are ~1 % of the query (bench/RESULTS.md)
  SELECT h.hour, h.account, h.region, h.entity, h.destination, h.peer_region,
         median(p.bytes) AS median_same_hour_of_week,
         count(p.bytes) AS weeks_of_history
  FROM hourly h JOIN series p
    ON p.account = h.account AND p.region = h.region AND p.entity = h.entity
   AND p.destination = h.destination AND p.peer_region = h.peer_region
   AND p.hour < h.hour AND p.hour >= h.hour - INTERVAL 28 DAYS
   AND dayofweek(p.hour) = dayofweek(h.hour) AND hour(p.hour) = hour(h.hour)
  GROUP BY h.hour, h.account, h.region, h.entity, h.destination, h.peer_region
), day AS (
  SELECT h.hour, h.account, h.region, h.entity, h.destination, h.peer_region,
         median(p.bytes) AS median_same_hour_7d
  FROM hourly h JOIN series p
    ON p.account = h.account AND p.region = h.region AND p.entity = h.entity
   AND p.destination = h.destination AND p.peer_region = h.peer_region
   AND p.hour < h.hour AND p.hour >= h.hour - INTERVAL 7 DAYS AND hour(p.hour) = hour(h.hour)
  GROUP BY h.hour, h.account, h.region, h.entity, h.destination, h.peer_region
)
SELECT h.hour, h.account, h.region, h.entity, h.destination, h.peer_region, h.team, h.product, h.usage_type, h.via,
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

# The pairs these hours met for the first time: the rows they add to the carried ``first_seen`` table.
NEW_FIRST_SEEN_SQL = f"""
WITH {_PEER_HOURS}
SELECT b.first_hour, b.entity, b.peer
FROM batch_first b LEFT JOIN first_seen_before f ON f.entity = b.entity AND f.peer = b.peer
WHERE f.entity IS NULL
ORDER BY b.first_hour, b.entity, b.peer
"""

CUR_DAILY_SQL = f"""
{BILL_SQL}
SELECT CAST(usage_start AS DATE) AS day, usage_account_id AS account, coalesce(region_code, 'global') AS region,
       usage_type, product_code, CAST(sum(CAST(usage_amount AS DECIMAL(38, 18))) AS DOUBLE) AS usage_amount,
       CAST(sum(CAST(unblended_cost AS DECIMAL(38, 18))) AS DOUBLE) AS cost_usd
FROM bill WHERE regexp_matches(usage_type, '{BILLED_TRANSFER}')
GROUP BY ALL
"""


def build_features(
    attributed: pd.DataFrame, first_seen_before: pa.Table | None = None, history: pa.Table | None = None
) -> tuple[pa.Table, pa.Table]:
    """``egress_hourly`` rows for the hours of ``attributed`` (the embedded engine), and the pairs they met
    first. ``first_seen_before``: the carried first-seen pairs of earlier hours; ``history``: ``egress_hourly``
    of the four weeks before (both empty for a lake built in one pass)."""
    con = embedded_engine()
    # Frames made without the optional columns (cache misses, product, usage type, via) get them null; rows read
    # from the lake already have every column (Lake.dataset reads derived tables with the registry's schema).
    missing = {f.name: float("nan") if f.type == pa.float64() else None for f in ATTRIBUTED.schema}
    attributed = attributed.assign(**{c: v for c, v in missing.items() if c not in attributed.columns})
    con.register(ATTRIBUTED.name, attributed)
    con.register(
        "first_seen_before", first_seen_before if first_seen_before is not None else FIRST_SEEN.schema.empty_table()
    )
    con.register("history", history if history is not None else EGRESS_HOURLY.schema.empty_table())
    order = " ORDER BY hour, account, region, entity, destination, peer_region"
    return con.sql(FEATURES_SQL + order).to_arrow_table(), con.sql(NEW_FIRST_SEEN_SQL).to_arrow_table()


def cur_daily(con: duckdb.DuckDBPyConnection) -> pa.Table:
    """``cur_daily`` rows from the ``cur`` table ``con`` holds."""
    return con.sql(CUR_DAILY_SQL + " ORDER BY ALL").to_arrow_table()


# Billed data transfer per account, region, resource (the usage type where the CUR names none) and hour: the
# series detection scores on a lake that holds only the CUR. Usage amounts of transfer lines are GB.
CUR_HOURLY_SQL = f"""
{BILL_SQL}
SELECT date_trunc('hour', usage_start) AS hour, usage_account_id AS account, coalesce(region_code, 'global') AS region,
       coalesce(nullif(resource_id, ''), usage_type) AS entity, 'billed' AS destination, '' AS peer_region,
       CAST(NULL AS VARCHAR) AS team, product_code AS product, usage_type,
       CAST(round(sum(CAST(usage_amount AS DECIMAL(38, 18))) * 1073741824) AS BIGINT) AS bytes,
       CAST(sum(CAST(unblended_cost AS DECIMAL(38, 18))) AS DOUBLE) AS cost_usd
FROM bill WHERE regexp_matches(usage_type, '{BILLED_TRANSFER}') AND usage_start IS NOT NULL
GROUP BY ALL
"""
