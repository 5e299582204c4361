"""Detect Lambda: hourly (EventBridge schedule) scoring of new feature rows with the current model.

Thin on purpose: scoring, events and state live in ``egress_optimizer.detection.service``. Per run:
- new hours of ``egress_hourly`` are scored, ``anomalies`` and ``anomaly_events`` are written to the lake;
- each event never reported before is sent to EventBridge (one entry per event, for the response workflow);
  events are marked as reported only after EventBridge accepted them, so a failed put is retried on the next
  run (and the invocation fails, so Lambda's retry and on-failure destination / DLQ see it).

Environment: ``LAKE_URI`` (s3://bucket/prefix), ``EVENT_BUS_NAME``, ``MIN_IMPACT_USD`` / ``MIN_IMPACT_PCT`` /
``MIN_SHARE_PCT`` (materiality: % of the account's daily egress spend)
(optional thresholds), ``POWERTOOLS_SERVICE_NAME`` / ``POWERTOOLS_METRICS_NAMESPACE``.
"""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from egress_optimizer.detection.events import MIN_IMPACT_SHARE
from egress_optimizer.detection.service import detect, mark_emitted
from egress_optimizer.lake import Lake

SOURCE = "egress.optimizer"
DETAIL_TYPE = "Egress Cost Anomaly"

logger = Logger()
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "EgressOptimizer"))
events_client = boto3.client("events")


class DeliveryError(Exception):
    """EventBridge refused some entries; the run fails so they are retried."""


def _entries(events: list) -> list[dict]:
    bus = os.environ["EVENT_BUS_NAME"]
    return [
        {
            "Source": SOURCE,
            "DetailType": DETAIL_TYPE,
            "EventBusName": bus,
            "Resources": [],
            # Log-derived text stays inside the detail as data; nothing here is interpreted downstream.
            "Detail": json.dumps(e.to_dict(), default=str),
        }
        for e in events
    ]


@metrics.log_metrics
@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    lake = Lake.open(os.environ["LAKE_URI"], create=False)
    result = detect(
        lake,
        min_impact_usd=float(os.environ.get("MIN_IMPACT_USD", "0")),
        min_impact_pct=float(os.environ.get("MIN_IMPACT_PCT", "0")),
        min_impact_share=float(os.environ.get("MIN_SHARE_PCT", str(100 * MIN_IMPACT_SHARE))) / 100,
        record_emitted=False,
    )
    delivered = []
    for i in range(0, len(result.new_events), 10):  # PutEvents takes at most 10 entries
        batch = result.new_events[i : i + 10]
        resp = events_client.put_events(Entries=_entries(batch))
        for ev, entry in zip(batch, resp["Entries"], strict=True):
            if entry.get("EventId"):
                delivered.append(ev)
            else:
                logger.error("event not delivered", extra={"event_id": ev.id, "error": entry.get("ErrorCode")})
        if resp.get("FailedEntryCount"):
            break  # EventBridge is refusing: stop here, the next run retries everything not delivered
    mark_emitted(lake, delivered)
    metrics.add_metric(name="AnomalousSeriesHours", unit=MetricUnit.Count, value=result.anomalies)
    metrics.add_metric(name="IncidentsEmitted", unit=MetricUnit.Count, value=len(delivered))
    summary = {
        "model_version": result.model_version,
        "scored_to": result.scored_to.isoformat() if result.scored_to is not None else None,
        "anomalies": result.anomalies,
        "new_events": [e.id for e in delivered],
    }
    logger.info("detect run", extra=summary)
    if len(delivered) < len(result.new_events):
        raise DeliveryError(f"{len(result.new_events) - len(delivered)} events not accepted by EventBridge")
    return summary
