"""Approval Lambda behind API Gateway (HTTP API, payload 2.0): Slack buttons and email links decide approvals.

- ``POST /slack/actions``: Slack's interaction payload, verified as Slack specifies (signing secret, five
  minutes) and from a user on the allowlist; Approve or Reject is recorded once (a retried or repeated click is
  told it was already decided), Snooze changes nothing.
- ``GET /approve?token=...``: a confirmation page (a GET never decides: mail scanners follow links).
- ``POST /approve`` (form: token, decision): the signed token's decision, once.
- SQS records (the resume queue): resume the waiting workflow with a recorded decision and, for Slack, replace
  the message's buttons with the outcome.

A request only records the decision (one conditional write) and queues the resumption, so Slack gets its answer
well inside its three seconds; resuming is idempotent (a redelivered message finds the workflow resumed), and a
message that keeps failing lands in the queue's dead-letter queue. Without ``RESUME_QUEUE_URL`` the request
resumes the workflow itself.

Environment: ``APPROVALS_TABLE``, ``APPROVAL_KEY_SECRET_ARN`` (HMAC key for email tokens),
``SLACK_SIGNING_SECRET_ARN``, ``APPROVER_SLACK_IDS`` (comma-separated Slack user ids), ``RESUME_QUEUE_URL``,
``SLACK_RESPONSE_HOSTS`` (hosts a Slack ``response_url`` may name; Slack's own by default),
``APPROVAL_SNOOZE_SECONDS`` (how long Snooze puts an approval off before a reminder; 900, SQS's longest delay).
Alert buttons (Acknowledge, Snooze, "This was planned"; values ``alert-…``) go to ``notify.alert_actions``, which reads
``ALERTS_TABLE`` and ``ALERT_RESPONDER_SLACK_IDS`` (see ``lambdas/notify/handler.py``).
"""

from __future__ import annotations

import base64
import html
import json
import os
import time
from functools import cache
from typing import Any
from urllib.parse import parse_qs

import boto3
from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from egress_optimizer.errors import InputError
from egress_optimizer.notify import alert_actions, slack
from egress_optimizer.respond import approval_tokens, approvals

logger = Logger(service=os.environ.get("POWERTOOLS_SERVICE_NAME", "egress-approval"))
processor = BatchProcessor(event_type=EventType.SQS)
SQS_MAX_DELAY = 900


@cache
def _secret(arn: str) -> bytes:
    return boto3.client("secretsmanager").get_secret_value(SecretId=arn)["SecretString"].encode()


def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["APPROVALS_TABLE"])


def _body(event: dict[str, Any]) -> bytes:
    raw = event.get("body") or ""
    return base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()


def _respond(status: int, text: str, html_page: bool = False) -> dict[str, Any]:
    if html_page:
        page = f"<!doctype html><meta charset=utf-8><title>Approval</title><p>{html.escape(text)}</p>"
        return {"statusCode": status, "headers": {"content-type": "text/html; charset=utf-8"}, "body": page}
    return {"statusCode": status, "headers": {"content-type": "application/json"}, "body": json.dumps({"text": text})}


def _resume_later(approval_id: str, response_url: str | None = None) -> None:
    """Queue the workflow's resumption (or resume now when no queue is configured)."""
    queue = os.environ.get("RESUME_QUEUE_URL")
    if queue:
        body = {"approval_id": approval_id, "response_url": response_url}
        boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=json.dumps(body))
    else:
        _resume({"approval_id": approval_id, "response_url": response_url})


def _slack_reply(response_url: str, text: str, replace: bool = True) -> None:
    """Replace the pressed message with ``text``, or tell the one who pressed (``replace`` False)."""
    hosts = tuple(h.strip() for h in os.environ.get("SLACK_RESPONSE_HOSTS", "").split(",") if h.strip())
    answer = slack.replace_interactive if replace else slack.reply_privately
    answer(response_url, text, hosts or slack.RESPONSE_URL_HOSTS)


def _remind(message: dict[str, Any]) -> None:
    """A snoozed approval's reminder to the one who snoozed it, if it still waits for a decision."""
    item = approvals.still_pending(_table(), message["remind"])
    if item is not None and message.get("response_url"):
        until = time.strftime("%H:%M UTC", time.gmtime(int(item["expires_at"])))
        text = f"Reminder: approval {item['approval_id']} still waits for a decision; it expires at {until}."
        _slack_reply(message["response_url"], text, replace=False)


def _resume(message: dict[str, Any]) -> None:
    if "remind" in message:
        return _remind(message)
    approval_id, response_url = message["approval_id"], message.get("response_url")
    try:
        out = approvals.resume(_table(), boto3.client("stepfunctions"), approval_id)
        text = f"{approval_id}: {out['decision']} by {out['approver']}; the response continues"
    except InputError as exc:  # the workflow stopped waiting: nothing to retry, but say so
        text = str(exc)
    logger.info("approval resumed", extra={"approval_id": approval_id, "result": text})
    if response_url:
        _slack_reply(response_url, text)
    return None


def _resume_record(record: SQSRecord) -> None:
    _resume(json.loads(record.body))


def _snooze(choice: approval_tokens.SlackDecision) -> dict[str, Any]:
    """Put the approval off: a reminder comes back through the resume queue after ``APPROVAL_SNOOZE_SECONDS``
    (at most SQS's 15-minute delay, which is also well inside the 30 minutes a Slack response URL stays valid)."""
    seconds = min(int(os.environ.get("APPROVAL_SNOOZE_SECONDS", SQS_MAX_DELAY)), SQS_MAX_DELAY)
    try:
        approvals.snooze(_table(), choice.approval_id, choice.user_id, seconds)
    except InputError as exc:
        return _respond(200, str(exc))
    queue = os.environ.get("RESUME_QUEUE_URL")
    if not queue or not choice.response_url:
        return _respond(200, f"{choice.approval_id} snoozed; no reminder can be sent here, and it expires on time")
    body = json.dumps({"remind": choice.approval_id, "response_url": choice.response_url})
    boto3.client("sqs").send_message(QueueUrl=queue, MessageBody=body, DelaySeconds=seconds)
    return _respond(200, f"{choice.approval_id} snoozed by <@{choice.user_id}>: a reminder in {seconds // 60} min")


def _slack(event: dict[str, Any]) -> dict[str, Any]:
    body = _body(event)
    approval_tokens.verify_slack(_secret(os.environ["SLACK_SIGNING_SECRET_ARN"]), event.get("headers") or {}, body)
    approvers = {u.strip() for u in os.environ.get("APPROVER_SLACK_IDS", "").split(",") if u.strip()}
    if alert_actions.is_alert_press(body):  # Acknowledge / Snooze / "This was planned" on an alert (notify's)
        try:
            return _respond(200, alert_actions.handle_from_env(body, approvers))
        except alert_actions.Refused as exc:
            raise approval_tokens.Refused(str(exc)) from None
    choice = approval_tokens.slack_decision(body, approvers)
    if choice.decision == "snoozed":
        return _snooze(choice)
    try:
        approvals.record(_table(), choice.approval_id, choice.decision, choice.user_id)
    except InputError as exc:  # already decided (a Slack retry, a second click) or no longer awaited
        return _respond(200, str(exc))
    _resume_later(choice.approval_id, choice.response_url)
    return _respond(200, f"{choice.approval_id} {choice.decision} by <@{choice.user_id}>")


def _confirm_page(token: str) -> dict[str, Any]:
    safe = html.escape(token, quote=True)
    form = "".join(
        f'<form method=post action=approve><input type=hidden name=token value="{safe}">'
        f"<button name=decision value={d}>{label}</button></form>"
        for d, label in (("approved", "Approve"), ("refused", "Reject"))
    )
    page = f"<!doctype html><meta charset=utf-8><title>Approval</title><p>Decide this remediation:</p>{form}"
    return {"statusCode": 200, "headers": {"content-type": "text/html; charset=utf-8"}, "body": page}


def _email(event: dict[str, Any]) -> dict[str, Any]:
    form = {k: v[0] for k, v in parse_qs(_body(event).decode()).items()}
    decision = form.get("decision", "")
    if decision not in approvals.DECISIONS:
        raise approval_tokens.Refused("the form names no decision")
    key = _secret(os.environ["APPROVAL_KEY_SECRET_ARN"])
    claims = approvals.record_with_token(_table(), key, form.get("token", ""), decision)
    _resume_later(claims.approval_id)
    return _respond(200, f"Recorded: {decision} by {claims.approver}.", html_page=True)


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if "Records" in event:  # the resume queue
        return process_partial_response(event, _resume_record, processor, context)
    method = event.get("requestContext", {}).get("http", {}).get("method", "")
    path = event.get("rawPath", "")
    try:
        if method == "POST" and path.endswith("/slack/actions"):
            return _slack(event)
        if method == "GET" and path.endswith("/approve"):
            return _confirm_page((event.get("queryStringParameters") or {}).get("token", ""))
        if method == "POST" and path.endswith("/approve"):
            return _email(event)
    except approval_tokens.Refused as exc:
        logger.warning("approval refused", extra={"path": path, "reason": str(exc)})
        return _respond(403, str(exc), html_page=not path.endswith("/slack/actions"))
    except InputError as exc:
        return _respond(409, str(exc), html_page=True)
    return _respond(404, "no such route")
