-- Billed (CUR) versus attributed data-transfer dollars per account, region, usage type and day.
CREATE OR REPLACE VIEW v_reconciliation_daily AS
WITH billed_daily AS (
  -- one row per key: several products (EC2, ELB) share a usage type such as DataTransfer-Out-Bytes
  SELECT day, account_id, region, usage_type, sum(cost_usd) AS cost_usd
  FROM cur_daily
  GROUP BY day, account_id, region, usage_type
), attributed_daily AS (
  SELECT CAST(hour AS DATE) AS day, account_id, coalesce(region, 'global') AS region, usage_type,
         sum(usd) AS attributed_usd
  FROM attributed
  GROUP BY CAST(hour AS DATE), account_id, coalesce(region, 'global'), usage_type
)
SELECT coalesce(c.day, a.day) AS day,
       coalesce(c.account_id, a.account_id) AS account_id,
       coalesce(c.region, a.region) AS region,
       coalesce(c.usage_type, a.usage_type) AS usage_type,
       coalesce(c.cost_usd, 0) AS billed_usd,
       coalesce(a.attributed_usd, 0) AS attributed_usd,
       coalesce(c.cost_usd, 0) - coalesce(a.attributed_usd, 0) AS unexplained_usd
FROM billed_daily c
FULL OUTER JOIN attributed_daily a
  ON c.day = a.day AND c.account_id = a.account_id AND c.region = a.region AND c.usage_type = a.usage_type
