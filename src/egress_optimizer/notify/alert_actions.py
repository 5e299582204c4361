"""Acknowledge, Snooze and "This was planned" on an alert's Slack message.

The approval Lambda verifies Slack's signature and hands over the interaction when a button's value starts
with ``alert-`` (``alert-ack:<incident>``, ``alert-snooze:<incident>:<hours>``, ``alert-planned:<incident>``;
approval buttons are ``approve:``/``reject:``/``snooze:apr-...``). The pressing user must be an alert
responder (``ALERT_RESPONDER_SLACK_IDS``, else the approvers). Each press is one write to the alert state
table, repeatable without harm:
- Acknowledge records who; the message shows it at its next update; a higher severity still pages.
- Snooze holds pages for that many hours (critical still pages); the hourly tick sends a held page after.
- "This was planned" suppresses the incident and, for the incident's window and ``ALERT_PLANNED_HOURS``
  (24 by default) after it, any incident whose resources are all the same ones; it tells Cost Anomaly
  Detection ``PLANNED_ACTIVITY`` when the incident is a CAD anomaly. A failed feedback call is reported to the
  user, who presses again to retry (the suppression is already recorded).
The user gets the outcome as a message only they see (through the interaction's ``response_url``).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.errors import InputError
from egress_optimizer.notify import cad_feedback, slack
from egress_optimizer.notify.alert_policy import resource_keys
from egress_optimizer.notify.alert_state import StateTable

PREFIX = "alert-"
MAX_SNOOZE_HOURS = 7 * 24
DEFAULT_PLANNED_HOURS = 24.0


class Refused(InputError):
    """A press that must change nothing (unknown button, a user who is not a responder)."""


@dataclass(frozen=True)
class Press:
    kind: str  # ack | snooze | planned
    incident_id: str
    hours: int
    user_id: str
    response_url: str | None


def _payload(body: bytes) -> dict[str, Any] | None:
    try:
        payload = json.loads(parse_qs(body.decode())["payload"][0])
        return payload if isinstance(payload, dict) else None
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        return None


def _value(payload: dict[str, Any] | None) -> str:
    try:
        return str(payload["actions"][0].get("value", "")) if payload else ""
    except (KeyError, IndexError, TypeError, AttributeError):
        return ""


def is_alert_press(body: bytes) -> bool:
    """Whether a Slack interaction is a press of an alert's button (not an approval's)."""
    return _value(_payload(body)).startswith(PREFIX)


def parse(body: bytes) -> Press:
    payload = _payload(body)
    kind, _, rest = _value(payload).removeprefix(PREFIX).partition(":")
    incident_id, _, hours = rest.partition(":") if kind == "snooze" else (rest, "", "0")
    user = (payload or {}).get("user")
    user = user.get("id", "") if isinstance(user, dict) else ""
    if kind not in ("ack", "snooze", "planned") or not incident_id or not user:
        raise Refused("unknown alert button")
    if not hours.isdigit() or (kind == "snooze" and not 1 <= int(hours) <= MAX_SNOOZE_HOURS):
        raise Refused(f"snooze hours must be 1 to {MAX_SNOOZE_HOURS}")
    return Press(kind, incident_id, int(hours), str(user), (payload or {}).get("response_url"))


def apply(press: Press, store: StateTable, ce: Any, responders: set[str], now: float, planned_hours: float) -> str:
    """Record the press; the answer for the user (mrkdwn)."""
    if press.user_id not in responders:
        raise Refused(f"Slack user {press.user_id} is not an alert responder")
    who, incident_id = press.user_id, press.incident_id
    if press.kind == "ack":
        store.press(incident_id, {"acknowledged_by": who, "acknowledged_at": now})
        return f"{slack.escape(incident_id)} acknowledged by <@{who}>"
    if press.kind == "snooze":
        store.press(incident_id, {"snoozed_until": now + press.hours * 3600, "snoozed_by": who})
        return f"{slack.escape(incident_id)} snoozed for {press.hours} h by <@{who}> (a critical alert still pages)"
    return _planned(press, store, ce, now, planned_hours)


def _planned(press: Press, store: StateTable, ce: Any, now: float, planned_hours: float) -> str:
    state = store.load(press.incident_id)
    if state is None or not state.incident:
        raise InputError(f"no alert was sent for incident {press.incident_id}")
    incident = Incident.from_json(state.incident)
    store.press(incident.id, {"planned_by": press.user_id, "planned_at": now})
    start, end = incident.window.start.timestamp(), incident.window.end.timestamp() + planned_hours * 3600
    reason = f"planned ({incident.id}, marked by {press.user_id})"
    for key in resource_keys(incident):
        store.add_window(key, {"start": start, "end": end, "reason": reason, "account": incident.account}, now)
    said = f"{slack.escape(incident.id)} marked as planned by <@{press.user_id}>; alerts for its resources stop"
    try:
        sent = cad_feedback.send(ce, incident, cad_feedback.PLANNED)
    except (ClientError, BotoCoreError) as exc:
        return f"{said}. Cost Anomaly Detection feedback failed ({slack.escape(type(exc).__name__)}): press again"
    return f"{said}; Cost Anomaly Detection was told {sent}" if sent else said


def handle_from_env(body: bytes, approvers: set[str]) -> str:
    """A verified alert press, with the table, responders and hosts the environment names (``ALERTS_TABLE``,
    ``ALERT_RESPONDER_SLACK_IDS``, ``SLACK_RESPONSE_HOSTS``, ``ALERT_PLANNED_HOURS``); the answer."""
    env = os.environ.get
    responders = {u.strip() for u in env("ALERT_RESPONDER_SLACK_IDS", "").split(",") if u.strip()} or approvers
    press = parse(body)
    store = StateTable(boto3.resource("dynamodb").Table(os.environ["ALERTS_TABLE"]))
    ce = boto3.client("ce", region_name=cad_feedback.CE_REGION)
    text = apply(press, store, ce, responders, time.time(), float(env("ALERT_PLANNED_HOURS", DEFAULT_PLANNED_HOURS)))
    if press.response_url:
        hosts = tuple(h.strip() for h in env("SLACK_RESPONSE_HOSTS", "").split(",") if h.strip())
        slack.reply_privately(press.response_url, text, hosts or slack.RESPONSE_URL_HOSTS)
    return text
