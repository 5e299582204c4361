"""Arrow schemas of the tables the pipeline derives from the logs: attribution, features, detection.

These are the logical columns: what a stage writes and what a reader gets back. In the files the account
column is stored as ``account_id`` (``account`` is the partition column), as in the log tables; the
registry (``egress_optimizer.tables``) does that renaming, so stages never see it.
"""

from __future__ import annotations

import pyarrow as pa

_STR = pa.string()
_F64 = pa.float64()
_I64 = pa.int64()
_HOUR = pa.timestamp("us", tz="UTC")

# One row per priced flow record, or per S3 / CloudFront client and hour (``attribution``).
ATTRIBUTED_SCHEMA = pa.schema(
    [
        pa.field("hour", _HOUR),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("product", _STR),  # the CUR's product code (AmazonEC2, AmazonS3, ...)
        pa.field("usage_type", _STR),  # as the CUR spells it
        pa.field("resource_id", _STR),
        pa.field("team", _STR),
        pa.field("app", _STR),
        pa.field("destination", _STR),  # destination class (attribution.destinations)
        pa.field("peer_region", _STR),
        pa.field("peer", _STR),  # the other end's address
        pa.field("via", _STR),  # the gateway the bytes crossed to reach the peer, when it is not the resource
        pa.field("bytes", _I64),
        pa.field("packets", _I64),
        pa.field("records", _I64),
        pa.field("gb", _F64),
        pa.field("cache_misses", _F64),  # CloudFront rows only: requests the edge cache missed
        pa.field("usd", _F64),
    ]
)

# One row per (account, region, entity, destination, peer region) and hour: what detection reads.
# A detection series and its hour: the key of egress_hourly and of anomalies.
_SERIES_HOUR = [
    pa.field("hour", _HOUR),
    pa.field("account", _STR),
    pa.field("region", _STR),
    pa.field("entity", _STR),
    pa.field("destination", _STR),
    pa.field("peer_region", _STR),
    pa.field("team", _STR),
]

EGRESS_HOURLY_SCHEMA = pa.schema(
    [
        *_SERIES_HOUR,
        pa.field("product", _STR),
        pa.field("usage_type", _STR),
        pa.field("via", _STR),  # the gateway the series' bytes crossed (attributed.via), when they crossed one
        pa.field("bytes", _I64),
        pa.field("packets", _I64),
        pa.field("records", _I64),
        pa.field("cost_usd", _F64),
        pa.field("distinct_peers", _I64),
        pa.field("new_peers", _I64),
        pa.field("recent_peer_bytes", _I64),
        pa.field("cache_misses", _F64),
        pa.field("new_peer_share", _F64),
        pa.field("median_same_hour_of_week", _F64),
        pa.field("weeks_of_history", _I64),
        pa.field("ratio_to_same_hour_of_week", _F64),
        pa.field("median_same_hour_7d", _F64),
        pa.field("ratio_to_same_hour_7d", _F64),
    ]
)

# Billed data transfer per account, region, usage type and day, from the CUR.
CUR_DAILY_SCHEMA = pa.schema(
    [
        pa.field("day", pa.date32()),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("usage_type", _STR),
        pa.field("product_code", _STR),
        pa.field("usage_amount", _F64),
        pa.field("cost_usd", _F64),
    ]
)

# One row per anomalous series-hour, with the signals that scored it.
ANOMALIES_SCHEMA = pa.schema(
    [
        *_SERIES_HOUR,
        pa.field("bytes", _F64),
        pa.field("cost_usd", _F64),
        pa.field("expected_usd", _F64),
        pa.field("score", _F64),
        pa.field("evidence", _F64),
        pa.field("forest_score", _F64),
        pa.field("signals", pa.map_(_STR, _F64)),  # signal name -> value (detection.signals.SIGNALS)
        pa.field("incident_id", _STR),
        pa.field("model_version", _STR),
    ]
)

# One row per incident; ``incident`` holds the whole incident contract as JSON.
INCIDENTS_SCHEMA = pa.schema(
    [
        pa.field("id", _STR),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("start", _HOUR),
        pa.field("end", _HOUR),
        pa.field("detected_at", _HOUR),
        pa.field("severity", _STR),
        pa.field("status", _STR),
        pa.field("impact_usd", _F64),
        pa.field("schema_version", _STR),
        pa.field("incident", _STR),
    ]
)


# State the incremental stages carry from one run to the next (see attribution.incremental).

# Bytes each tier pool took per hour: a month's free allowance (``internet``, ``cloudfront``: all their bytes)
# or a tier ladder (``internet:<region>``, ``cloudfront:<geo>``: its paid bytes).
TIER_METER_SCHEMA = pa.schema(
    [
        pa.field("hour", _HOUR),
        pa.field("period", pa.int32()),  # the billing month, 202610
        pa.field("pool", _STR),
        pa.field("bytes", _I64),
    ]
)

# The first hour each entity talked to each peer (new peers and bytes to fresh peers come from it).
FIRST_SEEN_SCHEMA = pa.schema(
    [
        pa.field("first_hour", _HOUR),
        pa.field("entity", _STR),
        pa.field("peer", _STR),
    ]
)

# Every remediation step, one row each, never rewritten: who, what, when, the state before and after.
# One row per explanation the response workflow gave (an incident explained again gets a newer row).
EXPLANATIONS_SCHEMA = pa.schema(
    [
        pa.field("at", _HOUR),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("incident_id", _STR),
        pa.field("category", _STR),  # respond.rootcause.Category
        pa.field("confidence", _F64),
        pa.field("source", _STR),  # rules, or the Bedrock model that narrated them
        pa.field("summary", _STR),
        pa.field("action_ids", _STR),  # comma-separated catalogue ids
        pa.field("evidence_ids", _STR),  # comma-separated
        pa.field("evidence", _STR),  # JSON list of {id, kind, source, summary}: what the explanation rests on
    ]
)

REMEDIATION_AUDIT_SCHEMA = pa.schema(
    [
        pa.field("at", _HOUR),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("incident_id", _STR),
        pa.field("event", _STR),  # planned, applied, verified, not_verified, rolled_back, apply_failed
        pa.field("action_id", _STR),
        pa.field("resource", _STR),
        pa.field("plan_hash", _STR),
        pa.field("actor", _STR),
        pa.field("before", _STR),  # JSON of the configuration the action touches
        pa.field("after", _STR),
        pa.field("detail", _STR),
    ]
)

# What the dashboard reads of the planners and the reconciliation; both are appended to, one batch per run
# (``generated_at``), and the views show the latest run.

# One row per saving the planners found (``planners.from_lake.Recommendation``), per run.
SAVINGS_SCHEMA = pa.schema(
    [
        pa.field("generated_at", _HOUR),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("kind", _STR),  # replication-tree, gateway-endpoint, cloudfront, az-affinity, ...
        pa.field("title", _STR),
        pa.field("method", _STR),  # how the saving was priced, in words
        pa.field("current_monthly_usd", _F64),
        pa.field("proposed_monthly_usd", _F64),
        pa.field("monthly_savings_usd", _F64),
        pa.field("confidence", _STR),  # high, or review (real only if a person confirms the traffic is not needed)
    ]
)

# One row per unlogged VPC, bucket or distribution and the billed dollars its log would explain, per run.
COVERAGE_GAPS_SCHEMA = pa.schema(
    [
        pa.field("generated_at", _HOUR),
        pa.field("account", _STR),
        pa.field("region", _STR),
        pa.field("kind", _STR),  # vpc | bucket | distribution
        pa.field("resource", _STR),
        pa.field("enable", _STR),  # the log to turn on (VPC flow logs, S3 server access logs, CloudFront logs)
        pa.field("explains_usd", _F64),  # in the reconciled period
        pa.field("explains_usd_per_month", _F64),
    ]
)
