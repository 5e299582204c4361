-- Every remediation step, newest first (the remediation log sheet).
CREATE OR REPLACE VIEW v_remediation_log AS
SELECT "at",
       account_id,
       region,
       incident_id,
       event,
       action_id,
       resource,
       actor,
       substr(plan_hash, 1, 12) AS plan,
       detail
FROM remediation_audit
