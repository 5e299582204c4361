"""Notify Lambda: alerts for incidents (email through SNS, Slack, signed webhooks), one thread per incident.

Design, chosen so that nothing is dropped: EventBridge does not invoke this function directly. Rules put
events on an SQS queue, and the function consumes it (event source mapping, batch size 10,
``ReportBatchItemFailures``):
- the response workflow's ``Alert`` state: ``{"incident": {...}, "extras": {explanation, evidence,
  recommendations}}`` once the incident is explained (seconds after detection), so the first page already has
  its root cause, evidence and the dry-run diffs of the proposed fixes. Deployments route incident events (ours,
  ``egress.optimizer``, and Cost Anomaly Detection's, ``aws.ce``) to the workflow, not here;
- the incident rule straight to the queue (source ``egress.optimizer``, detail-type ``Egress Cost Anomaly``) still
  works, for deployments without the response workflow (alerts then carry the bill's usage types as root cause);
- an hourly schedule (detail-type ``Scheduled Event``): held alerts whose quiet hours or snooze ended, and
  the daily digest.
Each channel retries with backoff inside the run; a record whose deliveries still fail (or whose incident
another run holds) is reported as a batch item failure, so SQS delivers it again after its visibility timeout,
and after ``maxReceiveCount`` receives moves it to the queue's dead-letter queue (alarm on its depth; redrive
it to the source queue once the cause is fixed: the state table makes a redelivery send only what is missing).
A record that is not an event we know fails the same way (logged in one line), so it ends in the DLQ too.

Environment: ``ALERTS_TABLE`` (DynamoDB, hash key ``incident_id`` (S), TTL on ``expires_at``),
``ALERT_ROUTING_FILE`` (YAML routes; else ``SLACK_ALERT_CHANNEL``, ``ALERTS_TOPIC_ARN``, ``ALERT_WEBHOOK_URL`` +
``ALERT_WEBHOOK_SECRET_ARN`` make the default route), ``SLACK_BOT_TOKEN_SECRET_ARN``, ``SLACK_API_URL``
(GovSlack), ``REPORT_BASE_URL`` (incident page links), ``ALERT_SNOOZE_HOURS`` (4), ``ALERT_RETRY_ATTEMPTS`` (4),
``ALERT_RETRY_BASE_SECONDS`` (0.5), ``POWERTOOLS_SERVICE_NAME``.

Permissions: ``dynamodb:GetItem/UpdateItem/BatchGetItem/Scan`` on the table; ``sns:Publish`` on the routes'
topics; ``secretsmanager:GetSecretValue`` on the Slack token and webhook keys; ``sqs:ReceiveMessage/
DeleteMessage/GetQueueAttributes`` on the queue (whose policy lets the rules' ``events.amazonaws.com`` send to
it; its dead-letter queue after ``maxReceiveCount`` 5, retention 14 days). Timeout 60 s (deliveries with their
retries stay under the claim lease of two minutes); the queue's visibility timeout at least six times that.
The approval Lambda handles the alert buttons and needs ``ALERTS_TABLE`` (``GetItem/UpdateItem``),
``ce:ProvideAnomalyFeedback``, ``ALERT_RESPONDER_SLACK_IDS`` (optional; the approvers otherwise) and
``ALERT_PLANNED_HOURS`` (24).
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from functools import cache
from typing import Any

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from egress_optimizer.errors import InputError
from egress_optimizer.notify import alerts, channels, routing
from egress_optimizer.notify.alert_content import Extras
from egress_optimizer.notify.alert_state import Busy, StateTable
from egress_optimizer.respond.requests import incident_from_event

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "egress-notify"))
# Failed records are reported item by item even when all fail: the queue redelivers them, and our one-line log
# says why (raising would put Powertools' tracebacks in the function's error output instead).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)
SCHEDULED = "Scheduled Event"


@cache
def _alerts() -> alerts.Alerts:
    routes = routing.from_env()
    table = boto3.resource("dynamodb").Table(os.environ["ALERTS_TABLE"])
    return alerts.Alerts(StateTable(table), routes, channels.Outbound.from_env(routes))


def _event(body: str) -> dict[str, Any]:
    try:
        event = json.loads(body)
    except json.JSONDecodeError:
        raise InputError("queue message is not JSON") from None
    if not isinstance(event, dict):
        raise InputError("queue message is not a JSON object")
    return event


def _tick_time(event: dict[str, Any]) -> datetime:
    """The schedule's own time, so a redelivered tick does the same hour's work."""
    try:
        return datetime.fromisoformat(str(event["time"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return datetime.now(UTC)


def _record(record: SQSRecord) -> None:
    try:
        event = _event(record.body)
        if event.get("detail-type") == SCHEDULED:
            done = alerts.tick(_alerts(), _tick_time(event))
            logger.info("alert tick", extra={"released": [o.__dict__ for o in done]})
            return
        extras = Extras.model_validate(event.get("extras") or {})
        outcome = alerts.dispatch(_alerts(), incident_from_event(event), datetime.now(UTC), extras)
        logger.info("alert", extra=outcome.__dict__)
    except (InputError, ValidationError) as exc:
        logger.error("alert input refused", extra={"message_id": record.message_id, "error": str(exc).splitlines()[0]})
        raise
    except (alerts.DeliveryFailed, Busy) as exc:
        logger.warning("alert not complete; the queue redelivers it", extra={"error": str(exc)})
        raise


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return process_partial_response(event, _record, processor, context)
