-- What share of each day's billed data transfer the lake attributes to a resource (the coverage sheet).
CREATE OR REPLACE VIEW v_coverage_daily AS
WITH billed AS (
  SELECT day, sum(cost_usd) AS billed_usd FROM cur_daily GROUP BY day
), attributed_daily AS (
  SELECT CAST(hour AS DATE) AS day,
         sum(usd) AS attributed_usd,
         sum(CASE WHEN resource_id IS NOT NULL THEN usd ELSE 0 END) AS to_resource_usd
  FROM attributed
  GROUP BY CAST(hour AS DATE)
)
SELECT coalesce(b.day, a.day) AS day,
       coalesce(b.billed_usd, 0) AS billed_usd,
       coalesce(a.attributed_usd, 0) AS attributed_usd,
       coalesce(a.to_resource_usd, 0) AS to_resource_usd,
       CASE WHEN coalesce(b.billed_usd, 0) > 0 THEN coalesce(a.to_resource_usd, 0) / b.billed_usd END AS resource_share
FROM billed b
FULL OUTER JOIN attributed_daily a ON b.day = a.day
