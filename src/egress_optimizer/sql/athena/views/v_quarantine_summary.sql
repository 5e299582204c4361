-- What ingestion could not parse, by source and reason: the first place to look when data looks thin.
CREATE OR REPLACE VIEW v_quarantine_summary AS
SELECT source, reason, count(*) AS records, count(DISTINCT source_object) AS objects
FROM quarantine
GROUP BY source, reason
