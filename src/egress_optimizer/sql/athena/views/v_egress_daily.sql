-- Daily data-transfer dollars by account, region, service, team and destination class (the overview sheet).
CREATE OR REPLACE VIEW v_egress_daily AS
SELECT CAST(hour AS DATE) AS day,
       account_id,
       coalesce(region, 'global') AS region,
       product AS service,
       coalesce(team, 'untagged') AS team,
       destination,
       sum(bytes) AS bytes,
       sum(usd) AS cost_usd
FROM attributed
GROUP BY CAST(hour AS DATE), account_id, coalesce(region, 'global'), product, coalesce(team, 'untagged'), destination
