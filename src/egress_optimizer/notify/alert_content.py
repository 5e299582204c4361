"""What an alert says, from the incident contract: an email subject and body, and Slack Block Kit.

Both carry the same content: expected versus actual, the impact in total over the window and per day (each
labelled), the root causes as Cost Anomaly Detection spells them, the evidence, the top talkers, and, when the
caller has them, the recommended actions with their dry-run diff and the approval waiting for a decision (the
approval request itself, with its buttons and signed links, is the response workflow's). Slack adds
Acknowledge / Snooze / "This was planned" buttons and a link to the report's incident page when a report URL
is configured (there is no image: the incident carries no hourly series to draw).

Everything from the incident (ids, names, tags, summaries, diffs) is data: escaped for mrkdwn in Slack, kept
to printable ASCII in the email subject (SNS's rule), never read as instructions.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, model_validator

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.notify.alert_state import AlertState
from egress_optimizer.notify.slack import button, escape

SUBJECT_CHARS = 99  # SNS: an email subject is "less than 100 characters"
SECTION_CHARS = 2900  # a section's text holds at most 3,000 characters
TOP_TALKERS = 5
MAX_EVIDENCE = 5
MAX_DIFF_LINES = 12


class Recommendation(BaseModel):
    """A proposed action as the response workflow planned it (its dry-run diff), shown, never applied here. The
    workflow's plans name their resource as ``target.id``."""

    model_config = ConfigDict(extra="ignore")
    action_id: str
    resource: str
    changes: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _from_plan(cls, value: Any) -> Any:
        if isinstance(value, dict) and "resource" not in value and isinstance(value.get("target"), dict):
            return {**value, "resource": value["target"].get("id")}
        return value


class Cited(BaseModel):
    """A piece of evidence an explanation rests on (written by our code from the facts it collected)."""

    model_config = ConfigDict(extra="ignore")
    id: str
    kind: str
    source: str
    summary: str


class Explained(BaseModel):
    """The response workflow's root cause: a category with its confidence and summary."""

    model_config = ConfigDict(extra="ignore")
    category: str
    confidence: float
    summary: str
    source: str = "rules"


class Extras(BaseModel):
    """What a caller that knows more than the incident may add to its alert."""

    model_config = ConfigDict(extra="forbid")
    explanation: Explained | None = None
    evidence: list[Cited] = Field(default_factory=list)
    # resource (as the tagging API names it) -> its owner tags (team, owner, app), for routing by owner
    owner_tags: dict[str, dict[str, str]] = Field(default_factory=dict)
    recommendations: list[Recommendation] = Field(default_factory=list)
    approval_id: str | None = Field(None, pattern=r"^apr-[\w-]+$")
    approval_url: str | None = Field(None, pattern=r"^https://")


def usd(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:,.0f} {unit}" if unit == "B" else f"{size:,.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")


def _when(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def top_resource(incident: Incident) -> str:
    """What the subject names: the resource that cost the most, else the largest root cause's usage type."""
    if incident.entities:
        return max(incident.entities, key=lambda e: e.impact_dollars).id
    if incident.root_causes:
        cause = max(incident.root_causes, key=lambda c: c.impact.contribution)
        return f"{cause.usage_type} in {cause.linked_account}"
    return f"account {incident.account} {incident.region}"


def subject(incident: Incident) -> str:
    """At most 99 printable ASCII characters: severity, dollar impact (total and per day), the resource."""
    head = (
        f"[{incident.severity.value.upper()}] Egress +{usd(incident.impact.total_usd)} "
        f"({usd(incident.impact.per_day_usd)}/day): "
    )
    room = SUBJECT_CHARS - len(head)
    name = "".join(c if 32 <= ord(c) < 127 else "?" for c in top_resource(incident))
    return head + (name if len(name) <= room else name[: room - 3] + "...")


def page_url(base: str | None, incident_id: str) -> str | None:
    return f"{base.rstrip('/')}/incidents/{quote(incident_id, safe='')}" if base else None


def status_line(state: AlertState | None, now: float) -> str:
    """What people said about the incident so far (plain text)."""
    if state is None:
        return "open"
    parts = [f"acknowledged by {state.acknowledged_by}"] if state.acknowledged_by else []
    if state.snoozed_until > now:
        parts.append(f"snoozed until {_when(datetime.fromtimestamp(state.snoozed_until, UTC))}")
    if state.planned_by:
        parts.append(f"marked as planned by {state.planned_by}")
    return ", ".join(parts) or "open"


def _window(incident: Incident) -> str:
    w = incident.window
    hours = (w.end - w.start).total_seconds() / 3600
    return f"{_when(w.start)} to {_when(w.end)} ({hours:g} h), detected {_when(w.detected_at)}"


def cost_lines(incident: Incident) -> list[str]:
    i = incident.impact
    pct = f" ({i.percentage:+,.0f}%)" if i.percentage is not None else ""
    return [
        f"Expected {usd(i.expected_usd)}, actual {usd(i.actual_usd)} over the window{pct}",
        f"Impact in total over the window: {usd(i.total_usd)}",
        f"Impact per day at this rate: {usd(i.per_day_usd)}",
        f"Worst single hour: +{usd(i.max_hourly_usd)}",
    ]


def cause_lines(incident: Incident, extras: Extras | None = None) -> list[str]:
    """The explained root cause when the response workflow gave one, then what the bill says (usage types)."""
    explained = extras.explanation if extras else None
    lines = [f"{explained.category} ({explained.confidence:.0%}, {explained.source}): {explained.summary}"] if (
        explained
    ) else []  # fmt: skip
    return (
        lines
        + [
            f"{c.service} {c.usage_type}, account {c.linked_account}, {c.region}: "
            f"{usd(c.impact.contribution)} of the impact"
            for c in sorted(incident.root_causes, key=lambda c: -c.impact.contribution)
        ]
        or lines
        or ["not known yet"]
    )


def evidence_lines(incident: Incident, extras: Extras | None = None) -> list[str]:
    cited = list(extras.evidence) if extras else []
    items = cited + [e for e in incident.evidence if e.id not in {c.id for c in cited}]
    lines = [f"[{e.kind}] {e.summary} ({e.source}, {e.id})" for e in items[:MAX_EVIDENCE]]
    more = len(items) - MAX_EVIDENCE
    return lines + ([f"... {more} more"] if more > 0 else []) or ["none attached"]


def talker_lines(incident: Incident) -> list[str]:
    ranked = sorted(incident.entities, key=lambda e: -e.impact_dollars)[:TOP_TALKERS]
    lines = []
    for n, e in enumerate(ranked, 1):
        peer = f" ({e.peer})" if e.peer else ""
        team = f" [team {e.team}]" if e.team else ""
        lines.append(
            f"{n}. {e.kind.value} {e.id} ({e.account}, {e.region}) -> {e.destination_class}{peer}: "
            f"+{usd(e.impact_dollars)} ({e.share:.0%}), {_bytes(e.bytes)}{team}"
        )
    return lines or ["no resource named yet (the response workflow looks for them)"]


def action_lines(extras: Extras) -> list[str]:
    lines = []
    for r in extras.recommendations:
        diff = r.changes[:MAX_DIFF_LINES] or ["no change (already in place)"]
        more = [f"  ... {len(r.changes) - len(diff)} more change(s)"] if len(r.changes) > len(diff) else []
        lines += [f"{r.action_id} on {r.resource}:"] + [f"  {d}" for d in diff] + more
    if extras.approval_id:
        where = f": {extras.approval_url}" if extras.approval_url else " (asked in Slack and by email)"
        lines.append(f"Approval {extras.approval_id} is waiting for a decision{where}")
    return lines or ["none with this alert (the response workflow proposes fixes and asks approvers itself)"]


def email_text(incident: Incident, extras: Extras, report_url: str | None, note: str = "") -> str:
    """The plain-text email body (``note`` first: why this alert, when it is not the first)."""
    head = [note, ""] if note else []
    head += [
        f"{incident.severity.value.upper()} egress-cost incident {incident.id} ({incident.source})",
        f"Accounts {', '.join(incident.accounts)}, region {incident.region}",
        f"Window {_window(incident)}; score {incident.score:.2f}",
    ]
    sections = [
        ("Cost (US dollars at list price)", cost_lines(incident)),
        ("Root cause", cause_lines(incident, extras)),
        ("Evidence", evidence_lines(incident, extras)),
        ("Top talkers", talker_lines(incident)),
        ("Recommended actions (dry run)", action_lines(extras)),
    ]
    body = head + [line for title, lines in sections for line in ["", title, *(f"  {x}" for x in lines)]]
    url = page_url(report_url, incident.id)
    return "\n".join(body + ([f"\nIncident page: {url}"] if url else []))


def _section(title: str, lines: list[str], code: bool = False) -> dict[str, Any]:
    body = escape("\n".join(lines))
    text = f"*{title}*\n```{body}```" if code else f"*{title}*\n" + "\n".join(f"• {escape(x)}" for x in lines)
    if len(text) > SECTION_CHARS:
        text = text[: SECTION_CHARS - 4] + ("…```" if code else " …")
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


PLANNED_CONFIRM = ("Mark as planned?", "Alerts for these resources stop for this window.", "It was planned")


def _button(label: str, action: str, value: str, style: str | None = None) -> dict[str, Any]:
    confirm = PLANNED_CONFIRM if action == "planned" else None
    return button(label, f"egress_alert_{action}", value, style, confirm)


def buttons(incident_id: str, snooze_hours: int, url: str | None, approval_id: str | None = None) -> dict[str, Any]:
    """Approve and Reject when a fix waits for approval (values ``approve:<approval id>``, decided by the approval
    Lambda, which checks the clicking user against the approvers), then Acknowledge, Snooze, "This was planned"
    (values ``alert-<kind>:<incident>[:<hours>]``) and the page."""
    elements = [
        *(
            [
                _button("Approve fix", "approve", f"approve:{approval_id}", "primary"),
                _button("Reject fix", "reject", f"reject:{approval_id}", "danger"),
            ]
            if approval_id
            else []
        ),
        _button("Acknowledge", "ack", f"alert-ack:{incident_id}", None if approval_id else "primary"),
        _button(f"Snooze {snooze_hours} h", "snooze", f"alert-snooze:{incident_id}:{snooze_hours}"),
        _button("This was planned", "planned", f"alert-planned:{incident_id}"),
    ]
    if url:
        elements.append({"type": "button", "action_id": "egress_alert_open", "url": url,
                         "text": {"type": "plain_text", "text": "Incident page"}})  # fmt: skip
    return {"type": "actions", "block_id": f"alert:{incident_id}"[:255], "elements": elements}


def slack_blocks(
    incident: Incident, extras: Extras, status: str, report_url: str | None, snooze_hours: int
) -> list[dict[str, Any]]:
    """The alert in Block Kit; ``status`` is what people said about it so far."""
    i = incident.impact
    fields = [
        ("Expected", usd(i.expected_usd)),
        ("Actual", usd(i.actual_usd)),
        ("Impact, total over the window", usd(i.total_usd)),
        ("Impact per day at this rate", usd(i.per_day_usd)),
        ("Window", _window(incident)),
        ("Accounts, region", f"{', '.join(incident.accounts)}, {incident.region}"),
    ]
    context = f"{incident.id} · {incident.source} · score {incident.score:.2f} · {status}"
    return [
        {"type": "header", "text": {"type": "plain_text", "text": subject(incident)[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f"*{t}*\n{escape(v)}"} for t, v in fields]},
        _section("Root cause", cause_lines(incident, extras)),
        _section("Evidence", evidence_lines(incident, extras)),
        _section("Top talkers", talker_lines(incident)),
        _section("Recommended actions (dry run)", action_lines(extras), code=bool(extras.recommendations)),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": escape(context)}]},
        buttons(incident.id, snooze_hours, page_url(report_url, incident.id), extras.approval_id),
    ]


def fallback_text(incident: Incident) -> str:
    """What notifications and screen readers show for the message."""
    return escape(subject(incident))


def growth_note(incident: Incident, before_usd: float) -> str:
    """The threaded note when an incident changed within the severity already paged (mrkdwn)."""
    i = incident.impact
    verb = "Grew" if i.total_usd > before_usd else "Changed"
    return (
        f"{verb} to *{usd(i.total_usd)}* in total over the window ({usd(i.per_day_usd)}/day), from "
        f"{usd(before_usd)}; still *{incident.severity.value}*. Window now ends {_when(incident.window.end)}."
    )


def escalation_note(incident: Incident, before: str) -> str:
    """Why an incident pages again (its thread, broadcast to the channel; the email's first line)."""
    i = incident.impact
    was = f"from {before} " if before else ""
    return (
        f"Severity rose {was}to {incident.severity.value}: {usd(i.total_usd)} in total over the window "
        f"({usd(i.per_day_usd)}/day)."
    )
