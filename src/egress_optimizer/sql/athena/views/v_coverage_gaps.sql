-- What to enable to explain the rest of the bill: each unlogged VPC, bucket and distribution with the billed
-- dollars its log would explain, from the latest reconciliation run (the coverage sheet).
CREATE OR REPLACE VIEW v_coverage_gaps AS
SELECT generated_at,
       account_id,
       region,
       kind,
       resource,
       "enable",
       explains_usd,
       explains_usd_per_month
FROM coverage_gaps
WHERE generated_at = (SELECT max(generated_at) FROM coverage_gaps)
  AND kind <> 'none'  -- a run that found no gap writes only this row
