"""Alerts for incidents: one incident, one thread. ``dispatch`` decides (``alert_policy.decide``) and delivers on
every channel of the incident's route; ``tick`` (hourly) sends the alerts held by quiet hours or a snooze whose
time has come, and the daily digest.

- New: the Slack message (chat.postMessage), an email (SNS) and each webhook (the signed incident contract).
- Crossed into a higher severity: the Slack message is rewritten and a reply broadcast in its thread, a new
  email, the webhooks again (``X-Egress-Event: incident.escalated``).
- Changed within the severity paged: the Slack message is rewritten and a note added to its thread; no email,
  no webhook.
- Held or suppressed: recorded (and in the digest), nothing sent.

Dedupe: the state table keeps, per incident, the severity paged and, per channel, the severity it delivered;
a channel that delivered this severity is never sent it again, however often the incident arrives. A run claims
the incident before sending (``alert_state``), so concurrent runs cannot both page.

Nothing is dropped: a channel that fails after its retries does not stop the others; the run then raises
``DeliveryFailed`` (after recording what went out), so the queue redelivers the event and, after its last
attempt, moves it to the dead-letter queue, from which it can be redriven (only the missing channels are sent).
"""

from __future__ import annotations

import glob
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from boto3.dynamodb.conditions import Attr

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.notify import alert_content, digest
from egress_optimizer.notify.alert_content import Extras
from egress_optimizer.notify.alert_policy import RANK, Decision, Kind, Window, decide, resource_keys, suppressed_by
from egress_optimizer.notify.alert_state import AlertState, Busy, Conflict, StateTable
from egress_optimizer.notify.channels import Outbound
from egress_optimizer.notify.retry import Exhausted
from egress_optimizer.notify.routing import Route, Routes

MAX_STORED_BYTES = 300_000  # an item holds 400 KB; the rest of it is small
CLAIM_TRIES = 3


class DeliveryFailed(Exception):
    """Some channels did not deliver after their retries (the others did, and are recorded)."""

    def __init__(self, what: str, failures: list[str]) -> None:
        super().__init__(f"{what}: {len(failures)} delivery(ies) failed: " + "; ".join(failures))
        self.failures = failures


@dataclass
class Alerts:
    store: StateTable
    routes: Routes
    out: Outbound


@dataclass
class Outcome:
    incident_id: str
    action: str  # a Kind's value
    route: str
    reason: str = ""
    channels: list[str] = field(default_factory=list)


def dispatch(alerts: Alerts, incident: Incident, now: datetime, extras: Extras | None = None) -> Outcome:
    """Alert on ``incident`` as its state and the rules say; ``Busy`` when another run holds it."""
    for _ in range(CLAIM_TRIES):
        state = alerts.store.load(incident.id)
        if state is not None and state.claim_until > time.time():
            raise Busy(f"incident {incident.id}: another run is alerting on it")
        given = extras or Extras()
        # an event without recommendations (EventBridge's) keeps those an earlier caller added
        if given == Extras() and state is not None and state.extras:
            given = Extras.model_validate_json(state.extras)
        route = alerts.routes.named(state.route if state else None) or alerts.routes.route_for(
            incident, given.owner_tags
        )
        decision = decide(incident, state, now, route.quiet, _suppression(alerts, incident))
        if decision.kind is Kind.unchanged:
            return Outcome(incident.id, decision.kind.value, route.name)
        owner = uuid.uuid4().hex
        try:
            alerts.store.claim(incident.id, state, owner)
        except Conflict:
            continue  # a button press or another run changed it: decide again on what is there now
        return _act(alerts, incident, state, route, decision, owner, now, given)
    raise Busy(f"incident {incident.id}: its alert state keeps changing")


def _suppression(alerts: Alerts, incident: Incident) -> str | None:
    def at(epoch: float) -> datetime:
        return datetime.fromtimestamp(float(epoch), UTC)

    stored = alerts.store.windows(resource_keys(incident))
    # a stored window names one resource exactly: its key is escaped so brackets or stars in ids match literally
    dynamic = [Window(glob.escape(w["resource"]), at(w["start"]), at(w["end"]), w["reason"], w.get("account"))
               for w in stored]  # fmt: skip
    return suppressed_by(incident, [*alerts.routes.suppressions, *dynamic])


def _act(
    alerts: Alerts, incident: Incident, state: AlertState | None, route: Route, decision: Decision, owner: str,
    now: datetime, extras: Extras,
) -> Outcome:  # fmt: skip
    sent: list[str] = []
    try:
        if decision.kind in (Kind.page, Kind.repage):
            sent = _page(alerts, incident, state, route, decision, owner, extras, now)
        elif decision.kind is Kind.update and state is not None:
            sent = _update(alerts, incident, state, extras, now)
    except BaseException:
        alerts.store.release(incident.id, owner)
        raise
    alerts.store.commit(incident.id, owner, _record(incident, route, decision, extras), now.timestamp())
    return Outcome(incident.id, decision.kind.value, route.name, decision.reason, sent)


def _record(incident: Incident, route: Route, decision: Decision, extras: Extras) -> dict:
    attrs = {
        "route": route.name,
        "outcome": decision.kind.value,
        "reason": decision.reason,
        "held_until": decision.until if decision.kind is Kind.hold else 0,
        "incident": incident.within(MAX_STORED_BYTES).model_dump_json(by_alias=True),
        "extras": extras.model_dump_json(),
    }
    if decision.kind in (Kind.page, Kind.repage, Kind.update):  # what the Slack message now shows
        attrs |= {"total_usd": incident.impact.total_usd, "severity": incident.severity.value}
    if decision.kind in (Kind.page, Kind.repage):
        attrs["notified_rank"] = RANK[incident.severity]
    return attrs


def _page(
    alerts: Alerts, incident: Incident, state: AlertState | None, route: Route, decision: Decision, owner: str,
    extras: Extras, now: datetime,
) -> list[str]:  # fmt: skip
    """Every channel of the route that has not delivered this severity yet; each recorded as it goes out."""
    rank, done = RANK[incident.severity], state.sent if state else {}
    before = state.severity if state else ""
    note = alert_content.escalation_note(incident, before) if decision.kind is Kind.repage else ""
    sent, failures = [], []
    for channel in route.channels:
        if done.get(channel, -1) >= rank:
            continue
        try:
            extra = _deliver(alerts, channel, incident, state, route, extras, note, now)
        except Exhausted as exc:
            failures.append(str(exc))
            continue
        alerts.store.mark_sent(incident.id, owner, channel, rank, extra)
        sent.append(channel)
    if failures:
        raise DeliveryFailed(f"incident {incident.id}", failures)
    return sent


def _deliver(
    alerts: Alerts, channel: str, incident: Incident, state: AlertState | None, route: Route, extras: Extras,
    note: str, now: datetime,
) -> dict:  # fmt: skip
    """One channel's page; the attributes to record with it (the Slack message's channel and ts)."""
    out = alerts.out
    if channel == "slack":
        return _slack_page(alerts, incident, state, route, extras, note, now)
    if channel == "email" and route.email_topic_arn:
        text = alert_content.email_text(incident, extras, out.report_url, note)
        attrs = {"team": route.name, "severity": incident.severity.value}
        out.email(route.email_topic_arn, alert_content.subject(incident), text, attrs)
        return {}
    hook = next(w for w in route.webhooks if channel == f"webhook:{w.name}")
    event = "incident.escalated" if note else "incident.opened"
    # the same id for every retry of this severity's delivery: receivers handle it once
    out.webhook(hook, incident, event, f"{incident.id}:{incident.severity.value}")
    return {}


def _slack_page(
    alerts: Alerts, incident: Incident, state: AlertState | None, route: Route, extras: Extras, note: str,
    now: datetime,
) -> dict:  # fmt: skip
    out = alerts.out
    status = alert_content.status_line(state, now.timestamp())
    blocks = alert_content.slack_blocks(incident, extras, status, out.report_url, out.snooze_hours)
    text = alert_content.fallback_text(incident)
    if state is not None and state.slack_ts and state.slack_channel:  # one incident, one thread
        out.update(state.slack_channel, state.slack_ts, text, blocks)
        out.broadcast(state.slack_channel, state.slack_ts, note or alert_content.escalation_note(incident, ""))
        return {}
    posted = out.post(str(route.slack_channel), text, blocks)
    return {"slack_channel": posted.channel, "slack_ts": posted.ts}


def _update(alerts: Alerts, incident: Incident, state: AlertState, extras: Extras, now: datetime) -> list[str]:
    """Rewrite the Slack message and note the change in its thread: nobody is paged."""
    if not (state.slack_ts and state.slack_channel):
        return []
    out = alerts.out
    status = alert_content.status_line(state, now.timestamp())
    blocks = alert_content.slack_blocks(incident, extras, status, out.report_url, out.snooze_hours)
    try:
        out.update(state.slack_channel, state.slack_ts, alert_content.fallback_text(incident), blocks)
        out.post(state.slack_channel, alert_content.growth_note(incident, state.total_usd), None, state.slack_ts)
    except Exhausted as exc:
        raise DeliveryFailed(f"incident {incident.id}", [str(exc)]) from exc
    return ["slack"]


def tick(alerts: Alerts, now: datetime) -> list[Outcome]:
    """The hourly run: send held alerts whose hold ended, then the daily digest when it is due."""
    outcomes, failures = [], []
    for state in alerts.store.scan(Attr("held_until").between(1, int(now.timestamp()))):
        incident = Incident.from_json(str(state.incident))
        try:
            outcomes.append(dispatch(alerts, incident, now))
        except (DeliveryFailed, Busy) as exc:
            failures.append(str(exc))
    failures += digest.send_due(alerts.store, alerts.routes, alerts.out, now)
    if failures:
        raise DeliveryFailed("hourly alert run", failures)
    return outcomes
