-- Daily data-transfer cost and volume by account, region, team and destination class (dashboards).
CREATE OR REPLACE VIEW v_egress_daily_by_team AS
SELECT CAST(hour AS DATE) AS day,
       account_id,
       region,
       coalesce(team, 'untagged') AS team,
       destination,
       sum(bytes) AS bytes,
       sum(cost_usd) AS cost_usd
FROM egress_hourly
GROUP BY CAST(hour AS DATE), account_id, region, coalesce(team, 'untagged'), destination
