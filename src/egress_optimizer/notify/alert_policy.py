"""When an alert pages, updates, waits or stays quiet: severity ranks, quiet hours, suppression windows, and
the decision for one incident given what was already sent for it.

The rules (``decide``):
- an incident someone marked as planned, or whose resources are all inside a suppression window, is suppressed
  (recorded, listed in the daily digest, never paged);
- a new incident pages; one that crosses into a higher severity pages again (in its Slack thread);
- one that changed within the severity already paged updates its Slack message and notes the change in the
  thread, paging nobody; one that did not change does nothing (a redelivered event);
- a page is held while the incident is snoozed or during its route's quiet hours, unless it is critical: the
  hourly tick sends it when the snooze or the quiet hours end (it is also in the digest).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from enum import Enum
from fnmatch import fnmatchcase
from zoneinfo import ZoneInfo

from egress_optimizer.contracts.incident import Incident, Severity
from egress_optimizer.notify.alert_state import AlertState

RANK = {Severity.low: 0, Severity.medium: 1, Severity.high: 2, Severity.critical: 3}
CRITICAL = RANK[Severity.critical]
CENT = 0.005  # totals closer than half a cent are the same total


class Kind(str, Enum):  # noqa: UP042 - the str mixin keeps the stored value a plain string
    page = "paged"
    repage = "repaged"
    update = "updated"
    hold = "held"
    suppress = "suppressed"
    unchanged = "unchanged"


@dataclass(frozen=True)
class Decision:
    kind: Kind
    reason: str = ""
    until: float = 0.0  # a hold's end (epoch seconds)


@dataclass(frozen=True)
class QuietHours:
    """Local times between which only critical alerts page (``start`` after ``end`` spans midnight)."""

    start: time
    end: time
    zone: ZoneInfo

    def active(self, now: datetime) -> bool:
        local = now.astimezone(self.zone).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end

    def end_after(self, now: datetime) -> datetime:
        """The first end of quiet hours after ``now`` (UTC)."""
        local = now.astimezone(self.zone)
        end = local.replace(hour=self.end.hour, minute=self.end.minute, second=0, microsecond=0)
        if end <= local:
            end += timedelta(days=1)  # aware arithmetic in one zone keeps the wall-clock time across DST
        return end.astimezone(UTC)


@dataclass(frozen=True)
class Window:
    """A suppression window: resource keys matching ``resource`` (a glob), optionally of one account."""

    resource: str
    start: datetime
    end: datetime
    reason: str
    account: str | None = None

    def covers(self, key: str, account: str, start: datetime, end: datetime) -> bool:
        overlaps = self.start < end and start < self.end
        return overlaps and fnmatchcase(key, self.resource) and self.account in (None, account)


def resource_keys(incident: Incident) -> list[str]:
    """What a suppression names: the resources whose cost rose (entity ids), or, for an incident without
    entities (Cost Anomaly Detection's), its usage types as ``usage:<account>:<region>:<usage type>``."""
    keys = [e.id for e in incident.entities if e.impact_dollars > 0]
    keys += [f"usage:{c.linked_account}:{c.region}:{c.usage_type}" for c in incident.root_causes if not keys]
    return sorted(set(keys)) or [f"account:{incident.account}:{incident.region}"]


def suppressed_by(incident: Incident, windows: list[Window]) -> str | None:
    """The reason when every resource of the incident is inside a suppression window (None otherwise: a new
    resource in the incident is never hidden by another's window)."""
    start, end = incident.window.start, incident.window.end
    reasons = []
    for key in resource_keys(incident):
        match = next((w for w in windows if w.covers(key, incident.account, start, end)), None)
        if match is None:
            return None
        reasons.append(match.reason)
    return "suppressed: " + "; ".join(sorted(set(reasons)))


def decide(
    incident: Incident, state: AlertState | None, now: datetime, quiet: QuietHours | None, suppressed: str | None
) -> Decision:
    if state is not None and state.planned_by:
        return Decision(Kind.suppress, f"marked as planned by {state.planned_by}")
    if suppressed:
        return Decision(Kind.suppress, suppressed)
    level, paged = RANK[incident.severity], state.notified_rank if state else -1
    if level <= paged:
        changed = state is not None and abs(incident.impact.total_usd - state.total_usd) >= CENT
        return Decision(Kind.update if changed else Kind.unchanged)
    if level < CRITICAL:
        if state is not None and state.snoozed_until > now.timestamp():
            return Decision(Kind.hold, "snoozed", state.snoozed_until)
        if quiet is not None and quiet.active(now):
            return Decision(Kind.hold, "quiet hours", quiet.end_after(now).timestamp())
    return Decision(Kind.page if paged < 0 else Kind.repage)
