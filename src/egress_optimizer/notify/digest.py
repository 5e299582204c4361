"""The daily digest: per route, one Slack message and one email listing the incidents of the last 24 hours
(paged, updated, held, suppressed, snoozed, planned), at the routing file's ``digest.hour``.

The hourly tick calls ``send_due``; a marker item per route and day (claimed with a conditional write, marked
done after sending) makes a redelivered or concurrent tick send each digest once. A route that only has
webhooks gets no digest (webhooks are for what follows an alert, not for summaries).
"""

from __future__ import annotations

import uuid
from datetime import datetime

from boto3.dynamodb.conditions import Attr

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.notify import alert_content
from egress_optimizer.notify.alert_content import usd
from egress_optimizer.notify.alert_state import AlertState, StateTable
from egress_optimizer.notify.channels import Outbound
from egress_optimizer.notify.retry import Exhausted
from egress_optimizer.notify.routing import Route, Routes
from egress_optimizer.notify.slack import escape

DAY_SECONDS = 24 * 3600
MAX_LINES = 40  # a section's text holds at most 3,000 characters


def line(state: AlertState, now: float) -> str:
    """One incident of the digest (plain text)."""
    incident = Incident.from_json(str(state.incident))
    what = {"held": "held", "suppressed": "not sent"}.get(state.outcome, "alerted")
    why = f" ({state.reason})" if state.reason else ""
    people = alert_content.status_line(state, now)
    return (
        f"{incident.severity.value.upper()} {incident.id}: {usd(incident.impact.total_usd)} in total "
        f"({usd(incident.impact.per_day_usd)}/day), {alert_content.top_resource(incident)}; {what}{why}"
        + ("" if people == "open" else f"; {people}")
    )


def summary(route: Route, states: list[AlertState], day: str, now: float) -> tuple[str, list[str]]:
    """The digest's title and lines (most costly first)."""
    ranked = sorted(states, key=lambda s: -Incident.from_json(str(s.incident)).impact.total_usd)
    total = sum(Incident.from_json(str(s.incident)).impact.total_usd for s in states)
    title = f"Egress alerts digest {day} ({route.name}): {len(states)} incident(s), {usd(total)} in total"
    lines = [line(s, now) for s in ranked[:MAX_LINES]]
    return title, lines + ([f"... and {len(ranked) - MAX_LINES} more"] if len(ranked) > MAX_LINES else [])


def _send(route: Route, out: Outbound, title: str, lines: list[str]) -> None:
    if route.slack_channel:
        text = "\n".join(f"• {escape(x)}" for x in lines)[: alert_content.SECTION_CHARS]
        blocks = [
            {"type": "header", "text": {"type": "plain_text", "text": title[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        ]
        out.post(route.slack_channel, escape(title), blocks)
    if route.email_topic_arn:
        subject = "".join(c if 32 <= ord(c) < 127 else "?" for c in title)[: alert_content.SUBJECT_CHARS]
        out.email(route.email_topic_arn, subject, "\n".join([title, "", *lines]), {"team": route.name})


def send_due(store: StateTable, routes: Routes, out: Outbound, now: datetime) -> list[str]:
    """Send each route's digest when it is due and not sent yet today; the failures (each route is tried)."""
    if routes.digest is None or not routes.digest.due(now):
        return []
    stamp, day = now.timestamp(), routes.digest.day(now)
    recent = store.scan(Attr("last_seen").gte(int(stamp) - DAY_SECONDS))
    failures = []
    for route in routes.all:
        states = [s for s in recent if s.route == route.name]
        if not states or not (route.slack_channel or route.email_topic_arn):
            continue
        owner, marker = uuid.uuid4().hex, f"{route.name}#{day}"
        if not store.once(marker, owner):
            continue
        try:
            _send(route, out, *summary(route, states, day, stamp))
        except Exhausted as exc:
            store.forget(marker, owner)
            failures.append(f"digest for {route.name}: {exc}")
            continue
        store.done(marker, owner, stamp)
    return failures
