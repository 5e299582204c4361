-- The entities (ENIs' resources, buckets, distributions) that paid the most for data transfer in the
-- last 7 days of data, with their destinations.
CREATE OR REPLACE VIEW v_top_talkers_7d AS
WITH latest AS (SELECT max(hour) AS last_hour FROM egress_hourly)
SELECT e.account_id,
       e.entity,
       coalesce(e.team, 'untagged') AS team,
       e.destination,
       sum(e.bytes) AS bytes,
       sum(e.cost_usd) AS cost_usd,
       max(e.distinct_peers) AS max_distinct_peers_per_hour
FROM egress_hourly e CROSS JOIN latest l
WHERE e.hour > l.last_hour - INTERVAL '7' DAY
GROUP BY e.account_id, e.entity, coalesce(e.team, 'untagged'), e.destination
