-- Incidents with their latest explanation (the anomaly timeline sheet); unexplained ones have a null category.
CREATE OR REPLACE VIEW v_anomaly_timeline AS
WITH latest AS (
  SELECT incident_id, category, confidence, source, summary, action_ids,
         row_number() OVER (PARTITION BY incident_id ORDER BY "at" DESC) AS rn
  FROM explanations
)
SELECT i.id AS incident_id,
       i.account_id,
       i.region,
       i.start,
       i."end",
       i.detected_at,
       i.severity,
       i.status,
       i.impact_usd,
       l.category AS root_cause,
       l.confidence,
       l.source AS explained_by,
       l.summary,
       l.action_ids
FROM incidents i
LEFT JOIN latest l ON l.incident_id = i.id AND l.rn = 1
