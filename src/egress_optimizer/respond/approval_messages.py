"""What approvers receive: a Slack message with Approve, Reject and Snooze buttons, and an email with a signed
link of their own. Both name the approval by its short id (never the workflow's task token) and show each
plan's dry-run diff, so what is approved is what was seen.

Values from the incident and the resources (ids, names, diffs) are data, escaped for Slack's mrkdwn.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from egress_optimizer.contracts.incident import Incident
from egress_optimizer.notify.slack import button, escape
from egress_optimizer.respond.actions import Plan

MAX_DIFF_LINES = 12  # per plan in Slack; a section's text holds at most 3,000 characters
MAX_SECTION_CHARS = 2900


def headline(incident: Incident) -> str:
    return (
        f"Approval needed: {incident.severity.value} egress incident {incident.id}, "
        f"${incident.impact.total_usd:,.2f} over the window (${incident.impact.per_day_usd:,.2f}/day)"
    )


def _diff_text(plan: Plan, limit: int | None = None) -> str:
    lines = plan.changes or ["no change (already in place)"]
    shown = lines if limit is None else lines[:limit]
    more = [] if len(shown) == len(lines) else [f"... {len(lines) - len(shown)} more change(s)"]
    return "\n".join(shown + more)


def slack_blocks(approval_id: str, incident: Incident, plans: list[Plan], expires_at: int) -> list[dict[str, Any]]:
    """Block Kit: the incident, each plan's diff, then the buttons (their values carry only the approval id)."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": headline(incident)[:150]}},
    ]
    for p in plans:
        title = f"*{escape(p.action_id)}* on `{escape(p.resource)}` ({escape(p.account)}, {escape(p.region)})"
        body = f"{title}\n```{escape(_diff_text(p, MAX_DIFF_LINES))}```"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": body[:MAX_SECTION_CHARS]}})
    blocks.append(
        {
            "type": "actions",
            "block_id": f"approval:{approval_id}",
            "elements": [
                _button("Approve", "approve", approval_id, "primary"),
                _button("Reject", "reject", approval_id, "danger"),
                _button("Snooze", "snooze", approval_id, None),
            ],
        }
    )
    until = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    context = f"Approval {approval_id} · plan hashes {', '.join(p.hash[:12] for p in plans)} · expires {until}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]})
    return blocks


APPROVE_CONFIRM = (
    "Apply these changes?",
    "The plans shown are applied as they are; each can be rolled back.",
    "Approve",
)


def _button(label: str, kind: str, approval_id: str, style: str | None) -> dict[str, Any]:
    confirm = APPROVE_CONFIRM if kind == "approve" else None
    return button(label, f"egress_{kind}", f"{kind}:{approval_id}", style, confirm)


def email_text(approval_id: str, incident: Incident, plans: list[Plan], link: str | None, expires_at: int) -> str:
    """Plain text: the diff of every plan and, when links are configured, the approver's own link (a page
    that asks to confirm: opening a link decides nothing, as mail scanners open links)."""
    until = datetime.fromtimestamp(expires_at, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [headline(incident), ""]
    for p in plans:
        lines += [f"{p.action_id} on {p.resource} ({p.account}, {p.region}), plan {p.hash[:12]}:"]
        lines += [f"  {line}" for line in _diff_text(p).splitlines()] + [""]
    if link:
        lines.append(f"Approve or reject (this link is yours, works once and expires {until}):\n{link}")
    else:
        lines.append(f"Decide approval {approval_id} in Slack before {until}.")
    return "\n".join(lines)


def approval_link(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/approve?{urlencode({'token': token})}"
