-- The savings the planners found in their latest run (the savings sheet). A run covers the whole lake, so the
-- latest run is the answer for every account; one that found nothing writes a single row of kind 'none'.
CREATE OR REPLACE VIEW v_planner_savings AS
SELECT generated_at,
       account_id,
       region,
       kind,
       title,
       method,
       current_monthly_usd,
       proposed_monthly_usd,
       monthly_savings_usd,
       confidence
FROM savings
WHERE generated_at = (SELECT max(generated_at) FROM savings)
  AND kind <> 'none'
